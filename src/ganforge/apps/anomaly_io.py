"""Files of the anomaly detector (:mod:`.anomaly`): ``RUN/anomaly/encoder.pt`` and
``RUN/anomaly/anomaly.json``, the user's inputs to score, and the threshold chosen."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from ..errors import GanforgeError
from ..files import check_output, provenance, save_atomic, write_output, write_text_atomic
from .anomaly import Fitted, Parts, normal_data
from .encoder import Encoder, saved_kind

DIR, CKPT, META = "anomaly", "encoder.pt", "anomaly.json"
WHAT = "score = pixel + kappa * feature (f-AnoGAN izi_f); flag = score > threshold"


def _round(t: Tensor) -> list:
    return [float(f"{v:.7g}") for v in t.tolist()]


def save(fitted: Fitted, run_dir: Path) -> Path:
    """Write E (state_dict and settings) and the calibration; returns ``RUN/anomaly``. The
    json is written last: a folder without it is an unfinished fit."""
    out = Path(run_dir) / DIR
    out.mkdir(exist_ok=True)
    E = fitted.E
    save_atomic({"state": E.state_dict(), "shape": list(E.shape), "z_dim": E.z_dim, "width": E.width,
                 "kind": E.kind.name, "g_step": fitted.g_step, "kappa": fitted.kappa}, out / CKPT)
    c = fitted.calibration
    meta = {"method": "f-AnoGAN izi_f (Schlegl et al. 2019): E trained on the run's real data with G and D frozen",
            "score": "pixel + kappa * feature; pixel = mean squared residual |x - G(E(x))|^2 in model space, "
                     "feature = mean squared difference of D's penultimate features",
            "weights": {"pixel": 1.0, "feature": fitted.kappa}, "kappa": fitted.kappa, "g_step": fitted.g_step,
            **fitted.info,
            "calibration": {"what": "scores of the held-out split of the run's training data (kept out of E's "
                                    "training; G saw it)",
                            "score": _round(c.score), "pixel": _round(c.pixel), "feature": _round(c.feature)}}
    write_text_atomic(out / META, json.dumps(meta, indent=1) + "\n")
    return out


def load(run_dir: Path, run) -> Fitted:
    """The run's fitted anomaly encoder; refused (one line naming the command that fits one)
    when missing, unreadable or fitted to another checkpoint's G."""
    d = Path(run_dir) / DIR
    fit_cmd = f"`ganforge anomaly fit {run_dir}`"
    if not (d / CKPT).is_file() or not (d / META).is_file():
        raise GanforgeError(f"{run_dir}: no fitted anomaly encoder ({DIR}/{CKPT}); run {fit_cmd} first")
    try:
        saved = torch.load(d / CKPT, map_location="cpu", weights_only=True)
        E = Encoder(tuple(saved["shape"]), int(saved["z_dim"]), int(saved["width"]), saved_kind(saved, run))
        E.load_state_dict(saved["state"])
        meta = json.loads((d / META).read_text())
        cal = meta["calibration"]
        parts = Parts(*(torch.tensor(cal[k], dtype=torch.float64) for k in ("pixel", "feature", "score")))
    except Exception as e:  # noqa: BLE001 - any failure means: not a fit of ours
        raise GanforgeError(f"{d}: not a readable anomaly encoder ({type(e).__name__}); run {fit_cmd} again") from None
    if int(saved["g_step"]) != run.step or tuple(saved["shape"]) != tuple(run.data.shape):
        raise GanforgeError(f"{d / CKPT} was fitted to the generator of step {saved['g_step']}, the run is at step "
                            f"{run.step}; run {fit_cmd} again")
    info = {k: v for k, v in meta.items() if k not in ("calibration",)}
    return Fitted(E.eval(), float(saved["kappa"]), int(saved["g_step"]), parts, info)


def pick_threshold(fitted, threshold: Optional[float], fpr: Optional[float], n_cal: Optional[int] = None) -> tuple[float, str]:
    """(T, how it was chosen): ``threshold`` as given, else the held-out normals' (1 - fpr)
    quantile (``fpr`` default 0.05). ``fitted``: an f-AnoGAN :class:`Fitted` or another method's
    ``Detector`` (``n_cal``: its number of held-out normals)."""
    if threshold is not None:
        if not np.isfinite(threshold):
            raise GanforgeError(f"--threshold {threshold}: must be a finite number")
        return float(threshold), "given (--threshold)"
    fpr = 0.05 if fpr is None else fpr
    n_cal = len(fitted.calibration.score) if n_cal is None else n_cal
    return fitted.threshold(fpr), f"false-positive rate {fpr} on {n_cal} held-out normals"


def read_data(data, path: Path, resize: bool = False) -> tuple[Tensor, list[str]]:
    """The user's inputs in data space and their names, as the data's kind reads them: for
    image runs a folder of images, an image or an .npz of images; for point runs a
    .csv/.npy/.npz of rows; for table runs a table. Anything that does not match is one line,
    unless ``resize`` (images of another size resized as the run's data was: ``.resized``)."""
    return data.kind.read_inputs(data, Path(path), resize)


# ----------------------------------------------------------------------------- what the API and the command call


def fit_run(run_dir: Path, run, steps: int = 2000, kappa: float = 1.0, seed: int = 0, progress=None,
            method: str = "fanogan", data: Optional[Path] = None, train_steps: int = 3000, patch: int = 8,
            resize: bool = False, residual_weight: float = 1.0):
    """Fit and save the anomaly detector ``method`` of the run in ``run_dir`` (``run``: its
    TrainedRun); returns (what was written, the fitted detector). ``fanogan``: f-AnoGAN's
    encoder (``steps``), starting from ``RUN/encoder.pt`` when one was fitted to this G (`ganforge
    encoder`); ``patch``: the patch GAN (``train_steps``) and, when ``residual_weight`` > 0, its
    encoder (``steps``); ``knn``;
    ``autoencoder`` (``train_steps``). The other methods learn from ``data`` (the user's folder or
    file of normal inputs) when given, else from the run's real training data.
    ``progress(step, loss)``."""
    from . import anomaly_methods as M

    M.check_method(method, run)
    if method != "fanogan":
        if data is not None:
            x = read_data(run.data, Path(data), resize)[0]
            source = str(data)
        else:
            x = normal_data(run.data, seed)[0]
            source = "the run's training data"
        stage = (lambda name, step, loss: progress(step, loss, name)) if progress is not None else None
        det = M.fit(method, run, x, steps=train_steps, encoder_steps=steps, residual_weight=residual_weight,
                    patch=patch, seed=seed,
                    progress=stage)
        return M.save(det, run_dir, run, source), det
    if data is not None:
        raise GanforgeError("--data: f-AnoGAN learns from the run's own data (its G was trained on it); "
                            "give --data with another --method")
    from ..trained import load_run
    from .anomaly import fit
    from .encoder import load_encoder

    init = None
    if (Path(run_dir) / "encoder.pt").is_file():
        try:
            init = load_encoder(Path(run_dir), run)
        except GanforgeError:  # fitted to another step or unreadable: start fresh
            init = None
    D = load_run(run_dir, parts=("D",)).D
    fitted = fit(run, D, steps=steps, kappa=kappa, seed=seed, init=init, progress=progress,
                 width=init.width if init is not None else 32)
    fitted.info["init"] = "RUN/encoder.pt" if init is not None else "random"
    return save(fitted, run_dir), fitted


def score_rows(run_dir: Path, run, data_path: Path, threshold: Optional[float] = None,
               fpr: Optional[float] = None, resize: bool = False,
               method: str = "fanogan") -> tuple[list[dict], dict, Parts]:
    """One row per input of ``data_path`` (name, score, flag; f-AnoGAN: its pixel and feature
    parts too), what was used (``about``: the method, weights, threshold and how it was set),
    and the scores with their maps."""
    from ..trained import load_run
    from . import anomaly_methods as M
    from .anomaly import score

    if threshold is not None and fpr is not None:
        raise GanforgeError("give --threshold or --fpr, not both")
    M.check_method(method, run)
    if method == "fanogan":
        fitted = load(run_dir, run)
        T, how = pick_threshold(fitted, threshold, fpr)
        what, weights = WHAT, {"pixel": 1.0, "feature": fitted.kappa}
    else:
        fitted = M.load(run_dir, run, method)
        T, how = pick_threshold(fitted, threshold, fpr, len(fitted.calibration))
        what, weights = M.ABOUT[method] + "; flag = score > threshold", None
    inputs = read_data(run.data, Path(data_path), resize)
    x, names = inputs
    # a table row holding a category never seen in training is anomalous whatever its score
    unseen = run.data.kind.unseen(run.data, x)
    if method == "fanogan":
        D = load_run(run_dir, parts=("D",)).D if fitted.kappa > 0 else None
        parts = score(fitted, run, D, x)
    else:
        parts = M.score(fitted, run, x)
    rows = []
    for i, name in enumerate(names):
        row = {"name": name, "score": float(f"{parts.score[i]:.7g}")}
        if method == "fanogan":
            row.update(pixel=float(f"{parts.pixel[i]:.7g}"), feature=float(f"{parts.feature[i]:.7g}"))
        row["flag"] = int(parts.score[i] > T)
        if unseen is not None:
            row["unseen_category"] = int(unseen[i])
            row["flag"] = int(row["flag"] or unseen[i])
        if parts.label is not None:
            row["class"] = int(parts.label[i])
        rows.append(row)
    extra = {"weights": weights} if weights is not None else {}
    about = provenance("anomaly", run_dir, run.step, run.ckpt_path, synthetic=False, data=str(data_path), what=what,
                       method=method, **extra, threshold=T, threshold_from=how, n=len(rows),
                       flagged=sum(r["flag"] for r in rows), resized=inputs.resized)
    return rows, about, parts


def score_file(run_dir: Path, run, data_path: Path, out: Optional[Path] = None, threshold: Optional[float] = None,
               fpr: Optional[float] = None, maps: Optional[Path] = None,
               resize: bool = False, method: str = "fanogan") -> tuple[list[dict], dict]:
    """``ganforge anomaly score``: :func:`score_rows` written to ``out`` (a CSV, one row per
    input; None: not written) with its provenance, and with ``maps`` each image input's
    residual map in that folder; every input is scored before anything is written."""
    if out is not None:
        check_output(out, "--out", (".csv",))
    if maps is not None:
        check_output(Path(maps), "--maps", ())
        if not run.data.kind.pixels:
            raise GanforgeError("--maps: residual maps exist for image runs only")
    rows, about, parts = score_rows(run_dir, run, Path(data_path), threshold, fpr, resize, method)
    if maps is not None:
        about["maps"] = str(write_maps(parts, [r["name"] for r in rows], Path(maps), about))
    if out is not None:
        write_output(Path(out), rows, about)
    return rows, about


def write_maps(parts: Parts, names: list[str], folder: Path, about: dict) -> Path:
    """The residual maps of image inputs as grey PNGs in ``folder`` (one per input, in input
    order: ``000000.png``...; white = the largest residual), with a ``manifest.json`` naming
    each map's input and the common scale: every map is divided by the same value (the 99.5th
    percentile of all the maps' pixels), so brightness compares across inputs."""
    if parts.maps is None:
        raise GanforgeError("--maps: residual maps exist for image runs only")
    scale = max(float(torch.quantile(parts.maps.flatten().double()[:16_000_000], 0.995)), 1e-12)
    x = (parts.maps / scale).clamp(0, 1)[:, None]  # (N, 1, H, W) in [0, 1]
    files = [f"{i:06d}.png" for i in range(len(x))]
    what = {"fanogan": "anomaly residual map |x - G(E(x))|^2, mean over channels",
            "patch": "the patch GAN's anomaly map (D-feature distance to the nearest normal patch, over covering patches)",
            "knn": "squared residual to the nearest normal sample, mean over channels",
            "patch-knn": "distance of each patch's pixels to the nearest normal patch, over covering patches",
            "autoencoder": "autoencoder residual |x - AE(x)|^2, mean over channels"}[about.get("method", "fanogan")]
    prov = {**about, "what": what + ", divided by scale",
            "scale": scale, "maps": dict(zip(files, names))}
    write_output(Path(folder), zip(files, x), prov, folder=True)
    return Path(folder)
