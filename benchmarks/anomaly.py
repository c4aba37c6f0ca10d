"""Anomaly detection benchmark (issue 20, part 1): f-AnoGAN's izi_f encoder on a ganforge GAN
(``Run.anomaly_fit``) against scikit-learn baselines in pixel space and a plain autoencoder,
on exactly the same splits.

Parts (data: benchmarks/anomaly_data.py, seeded):

- ``textures``: 32 px grey crops of scikit-image's brick, grass and gravel photographs; train
  on crops of the left 60 %, test on crops of the right 40 %, half with a synthetic defect
  (scratch, stain, rotated patch, blur/fade; three sizes) with pixel masks. Image-level AUROC
  and AUPRC, and per-pixel localisation AUROC of the residual maps against the masks.
- ``digits``: one-class 8x8 digits: train on one digit (ganforge's training split), score the
  held-out split of all digits (another digit = anomalous).
- ``ring``: ring8 (the preset's GAN), normal = its mixture, anomalous = points off the circle.

Methods: ``f-AnoGAN`` (score = pixel + kappa * feature; its two parts also alone),
``IsolationForest``, ``OneClassSVM`` (RBF, nu 0.1), ``PCA`` reconstruction error (90 % of the
variance), ``kNN`` (mean distance to the 5 nearest training samples; map: residual to the
nearest), ``autoencoder``: ganforge's encoder network + the run's G architecture, trained end
to end on the same data for as many steps as the GAN (the same size as G + E).

Each job writes ``benchmarks/results/anomaly/PART-NAME-sSEED.json``; ``--report`` gathers them
into ``benchmarks/results/anomaly.md``. A first run (about 25 min of one core):

    python benchmarks/anomaly.py --part textures --seeds 0
    python benchmarks/anomaly.py --part digits --classes 0 3 5 8 --seeds 0
    python benchmarks/anomaly.py --part ring --seeds 0
    python benchmarks/anomaly.py --report

The full protocol: ``--seeds 0 1 2`` for each part and ``--classes`` left out (all ten).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
import _harness as H  # noqa: E402
import anomaly_data  # noqa: E402

from ganforge import api  # noqa: E402
from ganforge.apps.anomaly import score as anomaly_score  # noqa: E402
from ganforge.trained import load_run  # noqa: E402

RESULTS = H.RESULTS
JOBS = RESULTS / "anomaly"
# with the harness's quiet overrides
COMMON = ["eval.every=0", "doctor.enabled=false", "train.threads=1", "train.ckpt_every=100000"]


# ----------------------------------------------------------------------------- methods


def autoencoder(run, train: np.ndarray, test: np.ndarray, steps: int, seed: int):
    """A plain autoencoder of the same size as G + E: ganforge's encoder network and a freshly
    initialised copy of the run's G architecture, trained end to end with MSE in model space.
    Returns (test scores (M,), test maps (M, H, W) or None)."""
    from ganforge.apps.encoder import Encoder
    from ganforge.build import build_models

    torch.manual_seed(seed)
    data = run.data
    G, _ = build_models(run.cfg, data.shape, 0)
    E = Encoder(data.shape, run.prior.dim, 32)
    params = list(G.parameters()) + list(E.parameters())
    opt = torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.99))
    x_tr = data.encode(torch.from_numpy(train))
    gen = torch.Generator().manual_seed(seed)
    G.train()
    for _ in range(steps):
        xb = x_tr[torch.randint(len(x_tr), (64,), generator=gen)]
        loss = (G(E(xb), None) - xb).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    G.eval()
    with torch.no_grad():
        x = torch.from_numpy(test)
        rec = data.decode(G(E(data.encode(x)), None))
        res = (rec - x).pow(2)
    n_params = sum(p.numel() for p in params)
    return res.flatten(1).mean(1).numpy(), (res.mean(1).numpy() if res.dim() == 4 else None), n_params


def sklearn_methods(train: np.ndarray, test: np.ndarray, seed: int) -> dict:
    """name -> (test scores (M,), maps (M, *pixels) or None), in flattened pixel space."""
    from sklearn.decomposition import PCA
    from sklearn.ensemble import IsolationForest
    from sklearn.neighbors import NearestNeighbors
    from sklearn.svm import OneClassSVM

    tr, te = train.reshape(len(train), -1), test.reshape(len(test), -1)
    shape = test.shape[1:] if test.ndim == 4 else None
    out = {}
    iso = IsolationForest(n_estimators=200, random_state=seed).fit(tr)
    out["IsolationForest"] = (-iso.score_samples(te), None)
    svm = OneClassSVM(kernel="rbf", gamma="scale", nu=0.1).fit(tr)
    out["OneClassSVM"] = (-svm.score_samples(te), None)
    pca = PCA(n_components=0.9, random_state=seed).fit(tr)
    res = (pca.inverse_transform(pca.transform(te)) - te) ** 2
    out["PCA"] = (res.mean(1), res.reshape(len(te), *shape).mean(1) if shape else None)
    nn_ = NearestNeighbors(n_neighbors=min(5, len(tr))).fit(tr)
    dist, idx = nn_.kneighbors(te)
    res = (tr[idx[:, 0]] - te) ** 2
    out["kNN"] = (dist.mean(1), res.reshape(len(te), *shape).mean(1) if shape else None)
    return out


def gan_scores(run_dir: Path, test: np.ndarray, encoder_steps: int, kappa: float, seed: int):
    """Fit the anomaly encoder of the run (the library's own path) and score the test set:
    {f-AnoGAN, its pixel part, its feature part} -> (scores, maps), and the fit's info."""
    r = api.load(run_dir)
    _, fitted = r.anomaly_fit(steps=encoder_steps, kappa=kappa, seed=seed)
    g = r.generator
    D = load_run(run_dir, parts=("D",)).D
    parts = anomaly_score(fitted, g, D, torch.from_numpy(test))
    maps = parts.maps.numpy() if parts.maps is not None else None
    return {"f-AnoGAN": (parts.score.numpy(), maps), "f-AnoGAN pixel part": (parts.pixel.numpy(), maps),
            "f-AnoGAN feature part": (parts.feature.numpy(), None)}, fitted.info


def metrics(scores: dict, labels: np.ndarray, masks=None, kinds=None) -> dict:
    from sklearn.metrics import average_precision_score, roc_auc_score

    out = {}
    for name, (s, maps) in scores.items():
        m = {"auroc": roc_auc_score(labels, s), "auprc": average_precision_score(labels, s)}
        if masks is not None and maps is not None:
            m["loc_auroc"] = roc_auc_score(masks.ravel(), maps.ravel())
        if kinds is not None:
            normal = labels == 0
            for kind in anomaly_data.KINDS:
                sel = normal | (np.array(kinds) == kind)
                m[f"auroc_{kind}"] = roc_auc_score(labels[sel], s[sel])
        out[name] = {k: round(float(v), 4) for k, v in m.items()}
    return out


# ----------------------------------------------------------------------------- parts


def _train(preset: str, overrides: list, out: Path) -> float:
    """Train ``preset`` into ``out`` as ``ganforge train`` does; its wall seconds."""
    return H.train(H.config(preset, [*overrides, *COMMON]), out, via_api=True).wall_s


def texture_job(name: str, seed: int, a, work: Path) -> dict:
    sp = anomaly_data.texture_split(name, seed, n_train=a.n_train)
    npz = work / f"{name}.npz"
    np.savez(npz, images=(sp.train * 255).round().astype(np.uint8))
    run_dir = work / f"{name}-run"
    ov = ["data.name=npz", f"data.path={npz}", "data.resolution=32", "data.channels=1", "model.z_dim=64",
          "model.g_width=32", "model.d_width=32", f"train.steps={a.gan_steps}", f"train.seed={seed}"]
    t_gan = _train("digits", ov, run_dir)
    test = sp.test[:, None]  # (M, 1, 32, 32)
    t = time.perf_counter()
    scores, info = gan_scores(run_dir, test, a.encoder_steps, a.kappa, seed)
    t_fit = time.perf_counter() - t
    scores.update(sklearn_methods(sp.train[:, None], test, seed))
    s, maps, n_ae = autoencoder(api.load_run(run_dir), sp.train[:, None], test, a.gan_steps, seed)
    scores["autoencoder"] = (s, maps)
    res = metrics(scores, sp.labels, sp.masks, sp.kinds)
    if seed == a.seeds[0]:
        maps_png(name, sp, scores, RESULTS / f"anomaly_maps_{name}.png")
    return {"metrics": res, "seconds": {"gan": round(t_gan), "encoder": round(t_fit)}, "fit": info,
            "n_params_ae": n_ae, "n_train": len(sp.train), "n_test": len(test), "n_defective": int(sp.labels.sum())}


PATCH = {"patch GAN": 0.0, "patch GAN + residual": 1.0}  # row -> the patch method's residual_weight


def patch_scores(name: str, seed: int, a, work: Path) -> dict:
    """The patch method through the library (``Run.anomaly_fit(method="patch")``) on the job's
    training crops: a 1-step run holds the crops as its data (its G is not used), the patch GAN
    and its encoder are fitted on them (20 % held out for calibration, as every method of
    ``ganforge anomaly``), and the test crops are scored with and without the encoder's residual."""
    from dataclasses import replace

    from ganforge.apps import anomaly_methods as M

    sp = anomaly_data.texture_split(name, seed, n_train=a.n_train)
    npz = work / f"{name}.npz"
    np.savez(npz, images=(sp.train * 255).round().astype(np.uint8))
    run_dir = work / f"{name}-patch-run"
    _train("digits", ["data.name=npz", f"data.path={npz}", "data.resolution=32", "data.channels=1",
                      "train.steps=1", f"train.seed={seed}"], run_dir)
    t = time.perf_counter()
    _, det = api.load(run_dir).anomaly_fit(a.patch_encoder_steps, seed=seed, method="patch", train_steps=a.patch_steps,
                                           patch=a.patch, residual_weight=1.0)
    t_fit = time.perf_counter() - t
    run = api.load_run(run_dir)
    test = torch.from_numpy(sp.test[:, None])
    out = {}
    t = time.perf_counter()
    for row, rw in PATCH.items():
        parts = M.score(replace(det, state={**det.state, "residual_weight": rw}), run, test)
        out[row] = (parts.score.numpy(), parts.maps.numpy())
    t_score = time.perf_counter() - t
    out["patch kNN (pixels)"] = patch_knn_pixels(run.data.encode(torch.from_numpy(sp.train[:, None])),
                                                 run.data.encode(test), a.patch, seed)
    return out, sp, {"fit_s": round(t_fit), "score_s": round(t_score), **det.info}


@torch.no_grad()
def patch_knn_pixels(train: torch.Tensor, test: torch.Tensor, p: int, seed: int, bank: int = 4000):
    """A classical baseline of the patch method's shape without a GAN: the distance of each p x p
    patch's pixels (model space) to the nearest of ``bank`` random normal patches, averaged over
    the patches covering each pixel; image score: the mean of the map's top 1 %."""
    from ganforge.apps import anomaly_patch as P

    rows = P.random_patches(train, bank, p, torch.Generator().manual_seed(seed + 1))
    m = P.knn_map(test, rows, p)  # (N, H, W): each pixel's mean distance of its patches to the bank
    return P.top_score(m).numpy(), m.numpy()


def add_patch(name: str, seed: int, a, work: Path) -> dict:
    """Add the patch method's rows to the texture job already measured (the same seeded split)."""
    path = JOBS / f"textures-{name}-s{seed}.json"
    res = json.loads(path.read_text())
    scores, sp, info = patch_scores(name, seed, a, work)
    res["metrics"].update(metrics(scores, sp.labels, sp.masks, sp.kinds))
    res["patch"] = {**info, "command": "python " + " ".join(sys.argv)}
    path.write_text(json.dumps(res, indent=1) + "\n")
    if seed == 0:
        maps_png(name, sp, scores, RESULTS / f"anomaly_maps_patch_{name}.png",
                 methods=(*PATCH, "patch kNN (pixels)"))
    return res


def digits_job(digit: int, seed: int, a, work: Path) -> dict:
    xtr, xte, labels = anomaly_data.digits_one_class(digit)
    npz = work / f"digit{digit}.npz"
    np.savez(npz, images=xtr)
    run_dir = work / f"digit{digit}-run"
    ov = ["data.name=npz", f"data.path={npz}", "data.resolution=8", "data.channels=1",
          f"train.steps={a.digit_steps}", f"train.seed={seed}"]
    t_gan = _train("digits", ov, run_dir)
    test = xte[:, None].astype(np.float32)
    scores, info = gan_scores(run_dir, test, a.digit_encoder_steps, a.kappa, seed)
    scores.update(sklearn_methods(xtr[:, None].astype(np.float32), test, seed))
    s, _, n_ae = autoencoder(api.load_run(run_dir), xtr[:, None].astype(np.float32), test, a.digit_steps, seed)
    scores["autoencoder"] = (s, None)
    return {"metrics": metrics(scores, labels), "seconds": {"gan": round(t_gan)}, "fit": info, "n_params_ae": n_ae,
            "n_train": len(xtr), "n_test": len(test)}


def ring_job(seed: int, a, work: Path) -> dict:
    run_dir = work / "ring-run"
    t_gan = _train("ring8", [f"train.steps={a.ring_steps}", f"train.seed={seed}"], run_dir)
    x, labels = anomaly_data.ring_points(seed)
    g = api.load_run(run_dir)
    train = g.data.reference(10000, seed + 7919).numpy()  # the same draws the encoder trains on
    scores, info = gan_scores(run_dir, x, a.encoder_steps, a.kappa, seed)
    scores.update(sklearn_methods(train[:5000], x, seed))  # OneClassSVM is quadratic in N
    s, _, n_ae = autoencoder(g, train, x, a.ring_steps, seed)
    scores["autoencoder"] = (s, None)
    return {"metrics": metrics(scores, labels), "seconds": {"gan": round(t_gan)}, "fit": info, "n_params_ae": n_ae}


def maps_png(name: str, sp, scores: dict, path: Path, per_kind: int = 2,
             methods: tuple = ("f-AnoGAN", "autoencoder", "PCA", "kNN")) -> None:
    """Rows: input, true mask, then each map method's residual (scaled by its 99.5th percentile
    over the test set); columns: ``per_kind`` defective crops of every kind."""
    pick = [i for kind in anomaly_data.KINDS for i in np.flatnonzero(np.array(sp.kinds) == kind)[:per_kind]]
    rows = [sp.test[pick], sp.masks[pick].astype(np.float32)]
    names = ["input", "mask"]
    for method in methods:
        m = scores[method][1]
        rows.append(np.clip(m[pick] / np.quantile(m, 0.995), 0, 1))
        names.append(method)
    H.save_grid(rows, path)
    print(f"wrote {path} (rows: {', '.join(names)}; columns: {per_kind} per kind of {', '.join(anomaly_data.KINDS)})")


# ----------------------------------------------------------------------------- the report

MARK = "<!-- reading: kept when the tables are rebuilt -->"
ORDER = [*PATCH, "f-AnoGAN", "f-AnoGAN pixel part", "f-AnoGAN feature part", "IsolationForest", "OneClassSVM", "PCA", "kNN",
         "autoencoder", "patch kNN (pixels)"]
BASELINES = ["IsolationForest", "OneClassSVM", "PCA", "kNN", "autoencoder", "patch kNN (pixels)"]


def _values(jobs: list, method: str, key: str) -> list:
    """The jobs' values of ``key`` for ``method`` (empty when none measured it)."""
    return [j["metrics"][method][key] for j in jobs if key in j["metrics"].get(method, {})]


def _mean(jobs: list, method: str, key: str):
    v = _values(jobs, method, key)
    return float(np.mean(v)) if v else None


def _cell(v: list) -> str:
    """'mean ± sd' (the standard deviation of the values themselves), 'n/a' when there is none.
    numpy's mean and std, as the published tables had them: the jobs' values are rounded to 4
    places, so a mean often lies on a rounding boundary of the 3 printed ones."""
    return H.pm(v, "{:.3f}", center=np.mean, spread=np.std, alone=None) if v else "n/a"


def _table(jobs: list, keys: list, heads: list) -> list:
    lines = ["| method | " + " | ".join(heads) + " |", "|---" * (len(heads) + 1) + "|"]
    for method in ORDER:
        lines.append(f"| {method} | " + " | ".join(_cell(_values(jobs, method, k)) for k in keys) + " |")
    return lines


def report() -> None:
    jobs = [json.loads(p.read_text()) for p in sorted(JOBS.glob("*.json"))]
    by = {part: [j for j in jobs if j["part"] == part] for part in ("textures", "digits", "ring")}
    L = ["# Anomaly detection (issue 20, part 1; issue 37, part 2)", "",
         "f-AnoGAN's izi_f encoder (`ganforge anomaly fit`) on a ganforge GAN, against scikit-learn baselines in "
         "pixel space and an autoencoder of the same size as G + E, on exactly the same splits. Data: "
         "`benchmarks/anomaly_data.py` (seeded). Mean over jobs; ± is the standard deviation over the seeds (and "
         "textures or digit classes) averaged. Timings were taken on a shared 2-core machine, one torch thread.", ""]
    tex = by["textures"]
    if tex:
        names = sorted({j["name"] for j in tex})
        seeds = sorted({j["seed"] for j in tex})
        a = tex[0]["args"]
        L += ["## Textures with defects", "",
              f"Textures: {', '.join(names)}; seeds: {', '.join(map(str, seeds))}; {tex[0]['n_train']} training crops "
              f"(32 px, grey) from the left 60 % of each photograph, {tex[0]['n_test']} test crops from the right 40 % "
              f"({tex[0]['n_defective']} with a defect). DCGAN {a['gan_steps']} steps (digits preset's recipe, z 64, "
              f"widths 32); anomaly encoder {a['encoder_steps']} steps, kappa {a['kappa']}; autoencoder "
              f"{tex[0]['n_params_ae']:,} parameters, {a['gan_steps']} steps.", ""]
        pj = [j["patch"] for j in tex if "patch" in j]
        if pj:
            L += [f"Patch rows (issue 37, part 2; `ganforge anomaly fit RUN --method patch --residual-weight 0`): a GAN on "
                  f"{pj[0]['patch']} px patches ({pj[0]['gan_steps']} steps, MLPs, R1), fitted on "
                  f"{pj[0]['n_train']} of the training crops ({pj[0]['n_calibration']} held out to calibrate "
                  f"thresholds, as every `ganforge anomaly` method does); map: the distance of each patch's D "
                  f"features to the nearest of {pj[0]['bank']} normal patches', averaged over the patches covering "
                  "a pixel; image score: the mean of the map's top 1 %. **patch GAN + residual**: the same GAN "
                  f"with its patch encoder ({pj[0]['encoder_steps']} steps, izi_f) and its reconstruction residual "
                  "added to the map, each part scaled by its 99th percentile on normal crops (`--method patch`, "
                  "whose default is `--residual-weight 1`). **patch kNN (pixels)**: the same map and score on raw "
                  "pixel patches, no GAN: a classical baseline of the same shape (`--method patch-knn` computes it "
                  "with its bank drawn from 80 % of the crops; here from all of them). Fit + score "
                  f"{np.mean([q['fit_s'] + q['score_s'] for q in pj]):.0f} s a job (mean; shared machine, one thread).",
                  ""]
        L += ["### Mean over textures", ""]
        L += _table(tex, ["auroc", "auprc", "loc_auroc"], ["image AUROC", "image AUPRC", "pixel AUROC (localisation)"])
        for name in names:
            L += ["", f"### {name}", ""]
            L += _table([j for j in tex if j["name"] == name], ["auroc", "auprc", "loc_auroc"],
                        ["image AUROC", "image AUPRC", "pixel AUROC"])
        L += ["", "### Image AUROC by kind of defect (mean over textures)", ""]
        L += _table(tex, [f"auroc_{k}" for k in anomaly_data.KINDS], list(anomaly_data.KINDS))
        L += ["", "Residual maps (rows: input, mask, f-AnoGAN, autoencoder, PCA, kNN; two crops of each kind of "
                  "defect): " + ", ".join(f"`anomaly_maps_{n}.png`" for n in names) + "; the patch rows' maps (rows: "
                  "input, mask, patch GAN, patch GAN + residual, patch kNN (pixels); seed 0): "
                  + ", ".join(f"`anomaly_maps_patch_{n}.png`" for n in names) + ".", ""]
        gans = [m for m in (*PATCH, "f-AnoGAN") if _mean(tex, m, "auroc") is not None]
        top = {k: max(gans, key=lambda m: _mean(tex, m, k)) for k in ("auroc", "loc_auroc")}
        f = {k: _mean(tex, top[k], k) for k in ("auroc", "loc_auroc")}
        def verdict(baselines: list) -> str:
            best = {k: max((b for b in baselines if _mean(tex, b, k) is not None), key=lambda b: _mean(tex, b, k))
                    for k in ("auroc", "loc_auroc")}
            return "; ".join(f"{what} {top[k]} {f[k]:.3f} vs {best[k]} {_mean(tex, best[k], k):.3f} "
                             f"({'met' if f[k] > _mean(tex, best[k], k) else 'missed'})"
                             for what, k in (("image level", "auroc"), ("localisation", "loc_auroc")))

        L += ["**Target** (the best GAN method's mean AUROC above every baseline, image level and localisation): "
              f"against the issue's baselines, {verdict(BASELINES[:-1])}; with the patch kNN baseline added here, "
              f"{verdict(BASELINES)}.", ""]
    dig = by["digits"]
    if dig:
        classes = sorted({j["name"] for j in dig})
        L += ["## One-class digits (a sanity check)", "",
              f"Digits {', '.join(classes)} (seeds {', '.join(map(str, sorted({j['seed'] for j in dig})))}): train on one "
              f"digit of ganforge's training split (~{int(np.mean([j['n_train'] for j in dig]))} images, 8x8), score "
              f"the {dig[0]['n_test']} held-out digits of all classes (another digit = anomalous). DCGAN "
              f"{dig[0]['args']['digit_steps']} steps, encoder {dig[0]['args']['digit_encoder_steps']} steps.", ""]
        L += _table(dig, ["auroc", "auprc"], ["AUROC", "AUPRC"])
        L += [""]
    ring = by["ring"]
    if ring:
        L += ["## 2D: ring8", "",
              f"The ring8 preset's GAN ({ring[0]['args']['ring_steps']} steps); normal: 1,000 points of the mixture, "
              "anomalous: 1,000 points uniform in [-1.5, 1.5]^2 at least 0.1 off the unit circle. Seeds: "
              f"{', '.join(map(str, sorted({j['seed'] for j in ring})))}.", ""]
        L += _table(ring, ["auroc", "auprc"], ["AUROC", "AUPRC"])
        L += [""]
    cmds = sorted({j["command"] for j in jobs})
    L += ["Commands: " + "; ".join(f"`{c}`" for c in cmds) + "; then `python benchmarks/anomaly.py --report`.", ""]
    # no machine footer: the jobs gathered here may have run elsewhere (the text says where they ran)
    H.write_results(L, RESULTS / "anomaly.md", keep=MARK, footer=False)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=("textures", "digits", "ring"))
    p.add_argument("--report", action="store_true", help="gather the jobs' results into results/anomaly.md")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--textures", nargs="+", default=list(anomaly_data.TEXTURES))
    p.add_argument("--classes", type=int, nargs="+", default=list(range(10)))
    p.add_argument("--n-train", type=int, default=2000)
    p.add_argument("--gan-steps", type=int, default=3000)
    p.add_argument("--encoder-steps", type=int, default=2000)
    p.add_argument("--digit-steps", type=int, default=1500)
    p.add_argument("--digit-encoder-steps", type=int, default=1000)
    p.add_argument("--ring-steps", type=int, default=3000)
    p.add_argument("--kappa", type=float, default=1.0)
    p.add_argument("--add-patch", action="store_true",
                   help="textures: add the patch method's rows to the jobs already measured (same splits)")
    p.add_argument("--patch", type=int, default=8)
    p.add_argument("--patch-steps", type=int, default=3000)
    p.add_argument("--patch-encoder-steps", type=int, default=1500)
    a = p.parse_args()
    torch.set_num_threads(1)
    if a.report:
        return report()
    JOBS.mkdir(parents=True, exist_ok=True)
    if a.add_patch:
        for seed in a.seeds:
            for name in a.textures:
                t = time.perf_counter()
                with H.temp_dir() as tmp:
                    res = add_patch(name, seed, a, tmp)
                print(f"textures {name} seed {seed} ({time.perf_counter() - t:.0f} s): " + "; ".join(
                    f"{m} {res['metrics'][m]['auroc']:.3f}/{res['metrics'][m]['loc_auroc']:.3f}"
                    for m in (*PATCH, "patch kNN (pixels)", "autoencoder", "kNN")), flush=True)
        return
    names = {"textures": a.textures, "digits": a.classes, "ring": ["ring8"]}[a.part]
    command = "python " + " ".join(sys.argv)
    for seed in a.seeds:
        for name in names:
            t = time.perf_counter()
            with H.temp_dir() as tmp:
                if a.part == "textures":
                    res = texture_job(name, seed, a, tmp)
                elif a.part == "digits":
                    res = digits_job(name, seed, a, tmp)
                else:
                    res = ring_job(seed, a, tmp)
            res.update(part=a.part, name=str(name), seed=seed, args=vars(a), command=command,
                       wall_s=round(time.perf_counter() - t))
            (JOBS / f"{a.part}-{name}-s{seed}.json").write_text(json.dumps(res, indent=1) + "\n")
            print(f"{a.part} {name} seed {seed} ({res['wall_s']} s): " +
                  "; ".join(f"{m} {v['auroc']:.3f}" + (f"/{v['loc_auroc']:.3f}" if "loc_auroc" in v else "")
                            for m, v in res["metrics"].items()), flush=True)


if __name__ == "__main__":
    main()
