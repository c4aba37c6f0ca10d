"""Latent editing: directions in a run's latent space, and images moved along them.

Two kinds of direction, saved by :func:`find_directions` to ``RUN/directions.pt`` (tensors only):

- ``pc0``, ``pc1``, ...: principal directions of the generator, GANSpace-style (Härkönen et al.
  2020). For a style-based G (one with ``mapping``), PCA of w = mapping(z) itself, as the paper
  does for StyleGAN. Otherwise PCA of G's outputs on many z, each component carried back to the
  latent space by least squares (the z direction that best moves the output along it), as the
  paper does for BigGAN's activations.
- ``class_K``: InterFaceGAN-style (Shen et al. 2020): latents labelled by the class reader,
  a logistic regression of "class K or not" on z (scikit-learn), its unit normal.

A conditional run also edits by changing the class while keeping z (:func:`change_class`).
Directions are unit vectors in z (or w for a style-based G); a strength s moves z by s, so
strengths are in units of the prior's standard deviation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence

import torch
from torch import Tensor

from ..errors import GanforgeError
from ..files import save_atomic, write_output
from ..metrics.evaluators import class_reader
from ..trained import check_class

FILE = "directions.pt"


@torch.no_grad()
def principal_directions(run, k: int = 8, n: int = 2000, seed: int = 0) -> dict[str, Tensor]:
    """``pc0``..``pc{k-1}``: unit latent directions (z_dim,) of the generator's largest variations."""
    gen = torch.Generator().manual_seed(seed)
    z = run.prior.sample(n, gen)  # (n, z_dim)
    device = next(run.G.parameters()).device
    y = torch.randint(run.n_classes, (n,), generator=gen) if run.n_classes else None
    out = run.G(z.to(device), y.to(device) if y is not None else None).float().flatten(1).cpu()  # (n, D)
    out = out - out.mean(0)
    k = min(k, z.shape[1], out.shape[1])
    _, _, V = torch.pca_lowrank(out, q=k, center=False)  # (D, k): principal axes of the outputs
    coords = out @ V  # (n, k): each sample's coordinates along them
    zc = z - z.mean(0)
    B = torch.linalg.lstsq(coords.double(), zc.double()).solution.float()  # (k, z_dim): coords -> z
    dirs = B / B.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return {f"pc{i}": dirs[i] for i in range(k)}


@torch.no_grad()
def class_directions(run, n: int = 2000, seed: int = 0) -> dict[str, Tensor]:
    """``class_K``: the unit normal of a linear probe separating latents whose image the class reader
    reads as class K from the rest (only classes that occur often enough to fit)."""
    from sklearn.linear_model import LogisticRegression  # scikit-learn is slow to import

    clf = class_reader(run.data)
    if clf is None:
        raise GanforgeError(f"class directions need a classifier for data.name={run.cfg.data.name}; "
                            "use the principal directions (pc0, ...)")
    gen = torch.Generator().manual_seed(seed)
    z = run.prior.sample(n, gen)
    y = torch.randint(run.n_classes, (n,), generator=gen) if run.n_classes else None
    x = run.data.decode(run.G(z.to(next(run.G.parameters()).device), y).float().cpu())
    read = clf.logits(x).view(n, -1, clf.n_classes)[:, 0].argmax(1)  # (n,) the class the class reader reads
    out = {}
    for k in range(clf.n_classes):
        hits = int((read == k).sum())
        if 10 <= hits <= n - 10:  # enough of both sides to fit a hyperplane
            probe = LogisticRegression(max_iter=1000).fit(z.numpy(), (read == k).numpy())
            w = torch.as_tensor(probe.coef_[0], dtype=torch.float32)
            out[f"class_{k}"] = w / w.norm()
    return out


def find_directions(run, run_dir: Path, k: int = 8, n: int = 2000, seed: int = 0) -> dict[str, Tensor]:
    """Both kinds of direction (class ones where a class reader exists), written to ``RUN/directions.pt``."""
    if k < 1:
        raise GanforgeError(f"--k {k}: must be >= 1")
    dirs = principal_directions(run, k, n, seed)
    if class_reader(run.data) is not None:
        dirs.update(class_directions(run, n, seed))
    save_atomic({"step": run.step, "directions": dirs}, Path(run_dir) / FILE)
    return dirs


def load_directions(run_dir: Path) -> dict[str, Tensor]:
    path = Path(run_dir) / FILE
    if not path.is_file():
        raise GanforgeError(f"{run_dir}: no {FILE}; run `ganforge directions {run_dir}` first")
    return torch.load(path, weights_only=True)["directions"]


def direction(dirs: dict[str, Tensor], name: str) -> Tensor:
    if name not in dirs:
        raise GanforgeError(f"--direction {name}: no such direction; choose one of: {', '.join(sorted(dirs))}")
    return dirs[name]


@torch.no_grad()
def edit(run, z: Tensor, d: Tensor, strengths: Sequence[float], labels: Optional[Tensor] = None) -> Tensor:
    """Images of z + s d for every strength s: (N * len(strengths), *shape), row after row."""
    zs = torch.stack([z + s * d for s in strengths], 1).reshape(-1, z.shape[1])  # (N * S, z_dim)
    y = labels.repeat_interleave(len(strengths)) if labels is not None else None
    device = next(run.G.parameters()).device
    return run.data.decode(run.G(zs.to(device), y.to(device) if y is not None else None).float().cpu())


@torch.no_grad()
def change_class(run, z: Tensor, to_class: int) -> Tensor:
    """A conditional run's images of the same z under class ``to_class``: (N, *shape)."""
    check_class(to_class, run.n_classes, "--to-class")
    device = next(run.G.parameters()).device
    y = torch.full((len(z),), to_class, device=device)
    return run.data.decode(run.G(z.to(device), y).float().cpu())


def edit_file(run, out: Path, strengths: Sequence[float] = (-3, -1, 0, 1, 3), direction_name: Optional[str] = None,
              to_class: Optional[int] = None, latent: Optional[Path] = None, image: Optional[Path] = None,
              watermark: bool = True, resize: bool = False, say: Optional[Callable[[str], None]] = None) -> Path:
    """``ganforge edit``: the latents of ``latent`` (z.npy, one per row) or of ``image``
    (projected first; ``resize``: of any size, resized as the run's data was, and ``say`` told
    so), moved along the direction ``direction_name`` by each of ``strengths`` (one row of
    images per latent) or drawn under the class ``to_class``: a PNG grid at ``out``."""
    import numpy as np

    from .project import project, read_images

    if not strengths:
        raise GanforgeError("--strengths: give at least one number")
    if Path(out).suffix != ".png":
        raise GanforgeError(f"--out {out}: expected a .png file")
    if not run.data.kind.pixels:
        raise GanforgeError(f"{run.run_dir}: edit draws image strips; this run generates {run.data.kind.name} "
                            "samples")
    if to_class is None:
        d = direction(load_directions(run.run_dir), direction_name)  # checked before any projection
    else:
        check_class(to_class, run.n_classes, "--to-class")
    if latent is not None:
        if not Path(latent).is_file():
            raise GanforgeError(f"--latent {latent}: no such file")
        try:
            z = torch.as_tensor(np.load(latent, allow_pickle=False), dtype=torch.float32)
        except (OSError, ValueError) as e:
            raise GanforgeError(f"--latent {latent}: not a .npy array ({e})") from None
        z = z[None] if z.dim() == 1 else z
        if z.dim() != 2 or z.shape[1] != run.prior.dim:
            raise GanforgeError(f"--latent {latent}: expected latents of size {run.prior.dim}, got {tuple(z.shape)}")
        labels = None
    else:
        inputs = read_images(run, Path(image), resize)
        if inputs.resized and say is not None:
            say(inputs.resized)
        p = project(run, inputs[0])
        z, labels = p.z, p.labels
    if to_class is not None:
        grid, nrow = change_class(run, z, to_class), len(z)
    else:
        grid, nrow = edit(run, z, d, strengths, labels), len(strengths)
    prov = run.provenance("edit", None, watermark=watermark, direction=direction_name, to_class=to_class,
                          strengths=list(strengths))
    write_output(Path(out), grid, prov, nrow=nrow)
    return Path(out)


def interpolate_file(run, out: Path, rows: int = 4, steps: int = 10, seed: int = 0, label: Optional[int] = None,
                     truncation: Optional[float] = None, from_image: Optional[Path] = None,
                     to_image: Optional[Path] = None, watermark: bool = True, resize: bool = False,
                     say: Optional[Callable[[str], None]] = None) -> Path:
    """``ganforge interpolate``: ``rows`` latent paths of ``steps`` images each, drawn from the
    prior, or one path between the projections of two real images (``resize``: of any size,
    resized as the run's data was, and ``say`` told so); a PNG grid at ``out``. Audio runs: a
    ``.wav`` of each path's clips back to back (a sound that morphs), or their spectrograms."""
    from ..files import check_output
    from .project import project, read_images

    if steps < 2 or rows < 1:
        raise GanforgeError("--steps must be >= 2 and --rows >= 1")
    check_output(out, "--out", (".png", ".wav"))
    if (from_image is None) != (to_image is None):
        raise GanforgeError("--from and --to go together: the two images to interpolate between")
    kind = run.data.kind
    sound = ".wav" in kind.suffixes  # audio: the path as one WAV of its clips, or their spectrograms
    if not kind.pixels and not sound:
        raise GanforgeError(f"{run.run_dir}: interpolate draws image strips; this run generates {run.data.kind.name} "
                            "samples")
    if Path(out).suffix == ".wav" and not sound or from_image is not None and not kind.pixels:
        raise GanforgeError(f"--out {out}: a .wav is for audio runs and --from/--to for image runs; this run "
                            f"generates {kind.name} samples")
    check_class(label, run.n_classes)
    if from_image is None:
        x = run.interpolate(rows, steps, seed, label, truncation=truncation)  # (rows * steps, C, H, W)
    else:  # between two real images: project both, then walk between their latents
        ends = [read_images(run, Path(p), resize) for p in (from_image, to_image)]
        for note in (e.resized for e in ends if e.resized and say is not None):
            say(note)
        imgs = torch.cat([e[0] for e in ends])  # (2, C, H, W)
        p = project(run, imgs, seed=seed)
        label = label if label is not None else (int(p.labels[0]) if p.labels is not None else None)
        x = run.interpolate(1, steps, seed, label, ends=(p.z[:1], p.z[1:]), truncation=truncation)
    prov = run.provenance("interpolate", seed, truncation, watermark and kind.pixels, rows=rows, steps=steps,
                          **{"class": label})
    if kind.pixels:
        write_output(Path(out), x, prov, nrow=steps)
    else:  # audio: the clips of each path back to back (a WAV that morphs), or their spectrograms
        write_output(Path(out), kind.content(x, Path(out).suffix, run.data), prov)
    return Path(out)
