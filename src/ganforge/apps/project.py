"""Inversion: find the latent whose image G(z) reconstructs a given image (a GAN projector).

For each target x, ``starts`` latents drawn from the prior are optimised together with Adam on

    L(z) = ||G(z) - x||^2 / D  +  feature_weight * ||f(G(z)) - f(x)||^2 / F  +  latent_weight * r(z)

with D pixels and F features: a pixel loss, a feature loss in the run's class reader space
(the digit classifier, or one trained on the data's labels; no downloaded perceptual network),
and a prior term r(z) that keeps z where G was trained (for N(0, I): (|z|^2 / d - 1)^2, the
shell that almost all of a Gaussian's mass lies on; a uniform prior is clamped to its box).
This follows the spirit of StyleGAN2's projector (Karras et al. 2020, appendix D: several
starts, a perceptual term, latent regularisation), with the classifier's features standing in
for LPIPS. The best start by final loss wins. A conditional run is projected under the class
the class reader reads in the target (or the class given).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor

from ..data.kinds.base import Inputs
from ..data.kinds.image import read_files
from ..errors import GanforgeError
from ..files import write_output
from ..metrics.evaluators import class_reader
from ..metrics.features import to_classifier_input
from ..trained import check_class


@dataclass
class Projection:
    z: Tensor  # (N, z_dim) the latents found
    labels: Optional[Tensor]  # (N,) the classes used (conditional runs), else None
    recon: Tensor  # (N, *shape) G(z) in data space
    mse: Tensor  # (N,) pixel mean squared error in data space
    feature_dist: Optional[Tensor]  # (N,) mean squared feature difference, when a class reader exists
    resized: Optional[str] = None  # what --resize brought to the run's size, in words


def _features(clf, x: Tensor) -> Tensor:
    """The class reader's features of images in [0, 1], differentiably (the classifier's own call is no_grad)."""
    xi = to_classifier_input(x, clf.per_channel, clf.resolution)
    return clf.net.features(xi).reshape(len(x), -1)


def read_images(run, path: Path, resize: bool = False) -> Inputs:
    """Images of a file or a folder as (N, C, H, W) in [0, 1], in the run's channels; their names.
    Every image must already have the run's size (a mismatch is one line, not a silent resize)
    unless ``resize``: then it is resized as the run's data was (``.resized`` says so); the image
    kind reads them (``data/kinds/image.py``)."""
    return read_files(tuple(run.data.shape), Path(path), getattr(run.data, "resize", "bilinear") if resize else None)


def check_targets(run, x: Tensor) -> None:
    if x.dim() != 4 or tuple(x.shape[1:]) != tuple(run.data.shape):
        raise GanforgeError(f"the image(s) have shape {tuple(x.shape[1:])}; this run makes {tuple(run.data.shape)} "
                            "(channels, height, width): resize or convert them first")


def project(run, x: Tensor, steps: int = 300, starts: int = 4, seed: int = 0, lr: float = 0.05,
            feature_weight: float = 1.0, latent_weight: float = 1e-4, labels: Optional[Tensor] = None,
            z_init: Optional[Tensor] = None) -> Projection:
    """Project images ``x`` (N, C, H, W) in data space into ``run``'s latent space.

    ``z_init`` (N, z_dim): start from these latents (e.g. an encoder's guess) as one of the starts.
    """
    check_targets(run, x)
    if steps < 0 or starts < 1:
        raise GanforgeError("--steps must be >= 0 and --starts >= 1")
    G, prior = run.G, run.prior
    device = next(G.parameters()).device
    G.eval().requires_grad_(False)
    clf = class_reader(run.data) if feature_weight > 0 else None
    n, S = len(x), starts
    target = x.to(device)
    if run.n_classes and labels is None:
        if clf is None:
            raise GanforgeError("a conditional run needs the class of each image (--class), or a class reader to read it")
        with torch.no_grad():
            labels = clf.logits(x).view(n, -1, clf.n_classes)[:, 0].argmax(1)  # (N,)
    gen = torch.Generator().manual_seed(seed)
    z0 = prior.sample(n * S, gen).view(n, S, -1)  # (N, S, z_dim)
    if z_init is not None:
        z0[:, 0] = z_init
    z = z0.reshape(n * S, -1).to(device).requires_grad_(True)  # every start of every image, one batch
    y = labels.to(device).repeat_interleave(S) if labels is not None else None  # (N * S,)
    tgt = target.repeat_interleave(S, 0)  # (N * S, C, H, W)
    tgt_model = run.data.encode(tgt)  # model space: where G's output lives
    tgt_feat = _features(clf, tgt).detach() if clf is not None else None
    opt = torch.optim.Adam([z], lr=lr)

    def loss_per_start() -> Tensor:
        out = G(z, y)  # (N * S, C, H, W) model space
        loss = (out - tgt_model).pow(2).flatten(1).mean(1)
        if clf is not None:
            loss = loss + feature_weight * (_features(clf, run.data.decode(out)) - tgt_feat).pow(2).mean(1)
        if prior.kind == "normal":
            loss = loss + latent_weight * (z.pow(2).mean(1) - 1).pow(2)
        return loss  # (N * S,)

    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss_per_start().sum().backward()
        opt.step()
        if prior.kind == "uniform":
            with torch.no_grad():
                z.clamp_(-1, 1)
    with torch.no_grad():
        best = loss_per_start().view(n, S).argmin(1)  # (N,)
        zb = z.view(n, S, -1)[torch.arange(n), best]  # (N, z_dim)
        recon = run.data.decode(G(zb, labels.to(device) if labels is not None else None)).cpu()
        mse = (recon - x.cpu()).pow(2).flatten(1).mean(1)
        fd = (_features(clf, recon) - _features(clf, x.cpu())).pow(2).mean(1) if clf is not None else None
    return Projection(zb.cpu(), labels, recon, mse, fd)


def project_files(run, src: Path, out: Path, steps: int = 300, starts: int = 4, seed: int = 0,
                  label: Optional[int] = None, use_encoder: bool = True,
                  watermark: bool = True, resize: bool = False) -> tuple[Projection, list[Path]]:
    """``ganforge project``: the images of ``src`` (a file or a folder) projected into ``run``
    (from ``RUN/encoder.pt``'s guess when one exists and ``use_encoder``), written to the folder
    ``out``: ``latents.npy`` (N, z_dim), ``side_by_side.png`` (each input beside its
    reconstruction), ``errors.json`` (per image) and ``manifest.json``."""
    from .encoder import encode, load_encoder

    if steps < 0 or starts < 1:
        raise GanforgeError("--steps must be >= 0 and --starts >= 1")
    check_class(label, run.n_classes)
    inputs = read_images(run, Path(src), resize)
    x, names = inputs
    z_init = None
    if use_encoder and (Path(run.run_dir) / "encoder.pt").is_file():
        z_init = encode(load_encoder(Path(run.run_dir), run), run, x)
    labels = torch.full((len(x),), label) if label is not None else None
    p = project(run, x, steps=steps, starts=starts, seed=seed, labels=labels, z_init=z_init)
    p.resized = inputs.resized
    pairs = torch.stack([x, p.recon], 1).reshape(-1, *x.shape[1:])  # (2N, C, H, W): input, reconstruction
    rows = []
    for i, name in enumerate(names):
        row = {"image": name, "mse": float(p.mse[i])}
        if p.feature_dist is not None:
            row["feature_distance"] = float(p.feature_dist[i])
        if p.labels is not None:
            row["class"] = int(p.labels[i])
        rows.append(row)
    prov = run.provenance("project", seed, watermark=watermark, images=names, steps=steps, starts=starts,
                          encoder_start=z_init is not None, resized=inputs.resized)
    files = write_output(Path(out), {"latents.npy": p.z, "side_by_side.png": pairs, "errors.json": rows}, prov,
                         nrow=2, folder=True)
    return p, files
