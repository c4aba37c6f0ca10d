"""The anomaly detectors other than f-AnoGAN, behind ``ganforge anomaly fit|score --method``:

- ``patch``: the patch GAN of :mod:`.anomaly_patch` (image runs): an anomaly map at the input's
  size from a patch encoder's reconstruction error and D's feature residual; the image score is
  the mean of the map's top 1 %;
- ``patch-knn``: the patch method's map and score on the pixels of patches, no GAN: each
  patch's distance to the nearest of 4,000 normal patches (a classical baseline);
- ``knn``: the mean Euclidean distance to the 5 nearest normal samples (flattened data space);
  map: the squared residual to the nearest one;
- ``autoencoder``: ganforge's encoder network and a fresh copy of the run's G architecture,
  trained end to end with MSE on the normal data (the size of f-AnoGAN's G + E); score: the
  mean squared residual, map: the squared residual.

Every method is fitted on the run's real training data (``DataKind.normal_data``) or on the
user's folder/file (``--data``), with 20 % held out: their scores calibrate the threshold at a
false-positive rate, as f-AnoGAN's do. Saved in ``RUN/anomaly/`` as ``METHOD.pt`` (tensors
and settings, read with ``weights_only=True``) and ``METHOD.json`` (provenance, settings, the
calibration scores; written last: a ``.pt`` without its json is an unfinished fit).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import torch
from torch import Tensor

from ..errors import GanforgeError
from ..files import provenance, save_atomic, write_text_atomic
from .anomaly import Parts

METHODS = ("fanogan", "patch", "knn", "autoencoder", "patch-knn")  # fanogan: apps/anomaly.py, the others here
ABOUT = {"patch": "patch GAN: mean of the anomaly map's top 1 %; map = distance of each patch's D features to the "
                  "nearest normal patch's (+ residual_weight * the patch encoder's residual), averaged over the "
                  "patches covering each pixel",
         "knn": "mean distance to the 5 nearest normal samples (flattened data space); map = squared residual to "
                "the nearest",
         "patch-knn": "mean of the anomaly map's top 1 %; map = distance of each patch's pixels to the nearest "
                      "normal patch's, averaged over the patches covering each pixel (no GAN)",
         "autoencoder": "mean squared residual of an autoencoder (encoder + G architecture) trained on the normal "
                        "data; map = squared residual"}
K_NEAREST = 5
TOP = 0.01  # the patch method's image score: the mean of the map's top 1 % of pixels
BANK = 4000  # the patch method's normal patches whose D features a patch is compared with


@dataclass
class Detector:
    """A fitted detector: ``method``, its tensors and settings (``state``), the scores of the
    held-out normal split (``calibration``) and what it was fitted on (``info``)."""

    method: str
    state: dict
    calibration: Tensor
    info: dict = field(default_factory=dict)

    def threshold(self, fpr: float) -> float:
        if not 0 < fpr < 1:
            raise GanforgeError(f"--fpr {fpr}: must be in (0, 1), e.g. 0.05")
        return float(torch.quantile(self.calibration.double(), 1 - fpr))


def check_method(method: str, run) -> None:
    """Refuse an unknown method, or the patch method on a run whose samples are not pictures."""
    if method not in METHODS:
        raise GanforgeError(f"--method {method}: choose from {', '.join(METHODS)}")
    if method in ("patch", "patch-knn") and not run.data.kind.pixels:
        raise GanforgeError(f"--method {method}: patch maps need image runs; this run's data is {run.data.kind.name} "
                            "(use knn, autoencoder or fanogan)")


def _autoencoder(run, settings: dict):
    from ..build import build_models
    from .encoder import Encoder

    G, _ = build_models(run.cfg, run.data.shape, 0)
    E = Encoder(run.data.shape, int(settings["z_dim"]), int(settings["width"]), run.data.kind)
    return E, G


def fit(method: str, run, x: Tensor, steps: int = 2000, encoder_steps: int = 1500, residual_weight: float = 1.0,
        patch: int = 8, seed: int = 0, holdout: float = 0.2,
        progress: Optional[Callable[[str, int, float], None]] = None) -> Detector:
    """Fit ``method`` on normal samples ``x`` (N, *shape) in data space; ``steps``: the patch GAN's
    or the autoencoder's training steps; ``patch``, ``residual_weight`` (the weight of the patch
    encoder's residual map, trained ``encoder_steps`` when > 0): the patch method's."""
    check_method(method, run)
    if method == "fanogan":
        raise GanforgeError("--method fanogan is fitted by apps.anomaly.fit")
    if steps < 1 or encoder_steps < 1:
        raise GanforgeError(f"--steps {steps} / --encoder-steps {encoder_steps}: must be >= 1")
    if residual_weight < 0:
        raise GanforgeError(f"--residual-weight {residual_weight}: must be >= 0")
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(x), generator=gen)
    n_cal = max(int(round(holdout * len(x))), 1)
    if len(x) - n_cal < 2:
        raise GanforgeError(f"anomaly fit: {len(x)} normal samples; at least 3 are needed")
    cal, tr = x[order[:n_cal]].float(), x[order[n_cal:]].float()
    info = {"n_train": len(tr), "n_calibration": n_cal, "seed": seed}
    if method == "knn":
        state = {"train": tr.contiguous(), "k": min(K_NEAREST, len(tr))}
    elif method == "patch-knn":
        from . import anomaly_patch as P

        P.check_patch(tuple(tr.shape[1:]), patch)
        bank = P.random_patches(run.data.encode(tr), BANK, patch, torch.Generator().manual_seed(seed + 1))
        state = {"bank": bank, "patch": patch, "top": TOP}
        info.update(patch=patch, bank=len(bank))
    elif method == "patch":
        from . import anomaly_patch as P

        xm = run.data.encode(tr)
        n_scale = max(1, min(64, len(xm) // 10))  # normal images kept out of the bank, to scale the maps
        xs, xf = xm[:n_scale], xm[n_scale:]
        nets = P.train(xf, patch=patch, gan_steps=steps, encoder_steps=encoder_steps if residual_weight > 0 else 0,
                       seed=seed, progress=progress)
        bank = P.make_bank(nets, xf, BANK, seed)
        normal = P.parts(nets, xs, bank, residual=residual_weight > 0)
        scales = {k: max(float(torch.quantile(v.flatten().double(), 0.99)), 1e-12) for k, v in normal.items()}
        state = {"nets": nets.state_dict(), "settings": nets.settings(), "bank": bank, "scales": scales,
                 "residual_weight": residual_weight, "top": TOP}
        info.update(gan_steps=steps, encoder_steps=encoder_steps if residual_weight > 0 else 0, patch=patch,
                    residual_weight=residual_weight, bank=len(bank))
    else:  # autoencoder
        torch.manual_seed(seed)
        settings = {"z_dim": run.prior.dim, "width": 32}
        E, G = _autoencoder(run, settings)
        params = list(E.parameters()) + list(G.parameters())
        opt = torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.99))
        xm = run.data.encode(tr)
        G.train()
        loss = torch.zeros(())
        for step in range(1, steps + 1):
            xb = xm[torch.randint(len(xm), (64,), generator=gen)]
            loss = (G(E(xb), None) - xb).pow(2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if progress is not None and (step % 500 == 0 or step == steps):
                progress("autoencoder", step, loss.item())
        state = {"E": E.state_dict(), "G": G.state_dict(), "settings": settings}
        info.update(steps=steps, final_loss=round(loss.item(), 6), n_params=sum(p.numel() for p in params))
    det = Detector(method, state, torch.zeros(0), info)
    det.calibration = score(det, run, cal, maps=False).score
    return det


@torch.no_grad()
def score(det: Detector, run, x: Tensor, maps: bool = True, batch: int = 256) -> Parts:
    """Scores (N,) of inputs ``x`` (N, *shape) in data space, with their maps (N, H, W) for
    image runs (``maps``); ``pixel`` holds the score, ``feature`` zeros (f-AnoGAN's parts)."""
    image = run.data.kind.pixels and maps
    scores, out_maps = [], []
    if det.method == "patch":
        from . import anomaly_patch as P

        nets = P.PatchNets(**det.state["settings"])
        nets.load_state_dict(det.state["nets"])
        nets.eval()
        rw = float(det.state["residual_weight"])
        for i in range(0, len(x), batch):
            p = P.parts(nets, run.data.encode(x[i: i + batch].float()), det.state["bank"], residual=rw > 0)
            m = P.combine(p, det.state["scales"], rw)
            scores.append(P.top_score(m, float(det.state["top"])))
            out_maps.append(m)
    elif det.method == "patch-knn":
        from . import anomaly_patch as P

        for i in range(0, len(x), batch):
            m = P.knn_map(run.data.encode(x[i: i + batch].float()), det.state["bank"], int(det.state["patch"]))
            scores.append(P.top_score(m, float(det.state["top"])))
            out_maps.append(m)
    elif det.method == "knn":
        tr = det.state["train"].flatten(1)
        for i in range(0, len(x), batch):
            xb = x[i: i + batch].float()
            d = torch.cdist(xb.flatten(1), tr)  # (B, N)
            near = d.topk(int(det.state["k"]), dim=1, largest=False)
            scores.append(near.values.mean(1))
            out_maps.append((det.state["train"][near.indices[:, 0]] - xb).pow(2).mean(1) if image else None)
    else:
        E, G = _autoencoder(run, det.state["settings"])
        E.load_state_dict(det.state["E"])
        G.load_state_dict(det.state["G"])
        E.eval(), G.eval()
        for i in range(0, len(x), batch):
            xb = x[i: i + batch].float()
            res = (run.data.decode(G(E(run.data.encode(xb)), None)) - xb).pow(2)
            scores.append(res.flatten(1).mean(1))
            out_maps.append(res.mean(1) if image else None)
    s = torch.cat(scores)
    return Parts(s, torch.zeros_like(s), s, None, torch.cat(out_maps) if image else None)


# ----------------------------------------------------------------------------- files


def paths(run_dir: Path, method: str) -> tuple[Path, Path]:
    d = Path(run_dir) / "anomaly"
    return d / f"{method}.pt", d / f"{method}.json"


def save(det: Detector, run_dir: Path, run, data_source: str) -> Path:
    """``RUN/anomaly/METHOD.pt`` and ``METHOD.json`` (with provenance); returns the .pt."""
    pt, meta = paths(run_dir, det.method)
    pt.parent.mkdir(exist_ok=True)
    save_atomic({"method": det.method, "shape": list(run.data.shape), "state": det.state}, pt)
    prov = provenance("anomaly fit", run_dir, run.step, run.ckpt_path, seed=det.info.get("seed"), synthetic=False,
                      method=det.method, data=data_source, what=ABOUT[det.method])
    body = {**prov, **det.info, "calibration": {"what": "scores of the held-out 20 % of the normal data",
                                                "score": [float(f"{v:.7g}") for v in det.calibration.tolist()]}}
    write_text_atomic(meta, json.dumps(body, indent=1) + "\n")
    return pt


def load(run_dir: Path, run, method: str) -> Detector:
    """The run's fitted ``method``; one line naming the command that fits it when missing,
    unreadable or fitted to data of another shape."""
    check_method(method, run)
    pt, meta = paths(run_dir, method)
    fit_cmd = f"`ganforge anomaly fit {run_dir} --method {method}`"
    if not pt.is_file() or not meta.is_file():
        raise GanforgeError(f"{run_dir}: no fitted {method} detector (anomaly/{pt.name}); run {fit_cmd} first")
    try:
        saved = torch.load(pt, map_location="cpu", weights_only=True)
        body = json.loads(meta.read_text())
        cal = torch.tensor(body["calibration"]["score"], dtype=torch.float64)
        shape = tuple(saved["shape"])
    except Exception as e:  # noqa: BLE001 - any failure means: not a fit of ours
        raise GanforgeError(f"{pt}: not a readable {method} detector ({type(e).__name__}); run {fit_cmd} again") from None
    if shape != tuple(run.data.shape):
        raise GanforgeError(f"{pt} was fitted to data of shape {shape}, the run's is {tuple(run.data.shape)}; "
                            f"run {fit_cmd} again")
    return Detector(method, saved["state"], cal, {k: v for k, v in body.items() if k != "calibration"})
