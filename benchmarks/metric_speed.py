"""Metric speed: FID and KID of 10,000 generated samples, with and without the feature cache.

The real images' features are cached on disk (``$GANFORGE_CACHE/features/``), keyed by a hash
of the images and of the feature network (``ganforge.metrics.image.features_key``). This
script times, on the same samples and in the same run:

- ``before``: the previous path, torchmetrics' FID and KID each given the images and a
  feature module, so every image set went through the classifier twice and nothing was cached;
- ``cold``: the current path with an empty feature cache (features once per set, hashing,
  writing the cache file);
- ``warm``: the same call again, the real features read from the cache.

Data: ``stacked_digits`` at 32x32 (3 channels, each judged by the digit classifier), 10,000
reference images; samples from a randomly initialised DCGAN generator (speed does not depend
on quality). The digit classifier itself comes from ``$GANFORGE_CACHE`` (trained once if
missing, not timed); the feature cache is a fresh temporary folder, so the user's stays intact.

    python benchmarks/metric_speed.py             # n = 10,000
    python benchmarks/metric_speed.py --n 500     # a quick check

Writes ``benchmarks/results/metric_speed.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import torch

import _harness as H


def before(real, fake, clf, batch_size: int = 500) -> dict:
    """FID and KID as computed before the cache: each metric runs the classifier on the images."""
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    from ganforge.metrics.image import ClassifierFeatures

    feat = ClassifierFeatures(clf, real.shape[1])
    fid = FrechetInceptionDistance(feature=feat, normalize=True)
    fid.set_dtype(torch.float64)
    subset = min(1000, len(real), len(fake))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        kid = KernelInceptionDistance(feature=feat, normalize=True, subset_size=subset, subsets=50)
    for x, is_real in ((real, True), (fake, False)):
        for i in range(0, len(x), batch_size):
            fid.update(x[i : i + batch_size], real=is_real)
            kid.update(x[i : i + batch_size], real=is_real)
    kid_mean, kid_std = kid.compute()
    return {"fid": float(fid.compute()), "kid": float(kid_mean), "kid_std": float(kid_std)}


def timed(fn, repeats: int) -> tuple[float, dict]:
    times, out = [], None
    for _ in range(repeats):
        torch.manual_seed(0)  # KID's subsets
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10_000, help="generated and real samples")
    p.add_argument("--repeats", type=int, default=3, help="timings per row (median)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--out", default=str(H.RESULTS / "metric_speed.md"))
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)

    from ganforge.build import build_data, build_models
    from ganforge.config import load_config
    from ganforge.evaluation import generate
    from ganforge.metrics.features import digit_classifier
    from ganforge.metrics.image import features_key, fid_kid, image_features
    from ganforge.priors import Prior

    cfg = load_config("stacked_digits", ["data.resolution=32", "model.name=dcgan"])
    data = build_data(cfg)
    clf = digit_classifier()  # from the user's cache (trained once if missing)
    torch.manual_seed(0)
    G, _ = build_models(cfg, data.shape)
    t0 = time.perf_counter()
    fake = generate(G, Prior(cfg.model.prior, cfg.model.z_dim), a.n, 0, data).clamp(0, 1)  # (n, 3, 32, 32)
    gen_s = time.perf_counter() - t0
    real = data.reference(a.n, 0)  # (n, 3, 32, 32) in [0, 1]

    rows = []
    old_env = os.environ.get("GANFORGE_CACHE")
    with H.temp_dir() as tmp:
        os.environ["GANFORGE_CACHE"] = str(tmp)  # a fresh feature cache; the classifier is already loaded
        try:
            t_before, m_before = timed(lambda: before(real, fake, clf), a.repeats)
            rows.append(("before: each metric runs the classifier, no cache", t_before, m_before))
            colds = []
            for _ in range(a.repeats):
                for f in tmp.glob("features/*.pt"):
                    f.unlink()
                colds.append(timed(lambda: fid_kid(real, fake, clf, cache=True), 1))
            rows.append(("cold cache: features once per set, real ones hashed and written",
                         statistics.median(t for t, _ in colds), colds[-1][1]))
            t_warm, m_warm = timed(lambda: fid_kid(real, fake, clf, cache=True), a.repeats)
            rows.append(("warm cache: real features read from disk", t_warm, m_warm))
            t_key, _ = timed(lambda: {"key": features_key(real, clf)}, a.repeats)
            t_feat, _ = timed(lambda: {"f": image_features(fake, clf)}, a.repeats)
        finally:
            if old_env is None:
                os.environ.pop("GANFORGE_CACHE", None)
            else:
                os.environ["GANFORGE_CACHE"] = old_env

    lines = [
        "# Metric speed: FID and KID",
        "",
        f"FID and KID (torchmetrics, 50 KID subsets of {min(1000, a.n)}) of {a.n:,} generated samples against "
        f"{len(real):,} real ones, stacked_digits 32x32x3 in the digit classifier's feature space (128 features per "
        f"channel). {torch.get_num_threads()} torch threads. Median of "
        f"{a.repeats}. Command: `python benchmarks/metric_speed.py --n {a.n} --repeats {a.repeats}"
        f"{f' --threads {a.threads}' if a.threads else ''}`.",
        "",
        "| path | seconds | FID | KID |",
        "|---|---|---|---|",
    ]
    lines += [f"| {name} | {t:.2f} | {m['fid']:.4f} | {m['kid']:.5f} |" for name, t, m in rows]
    lines += ["", f"Parts: generating the {a.n:,} samples {gen_s:.2f} s (not in the rows); hashing the real images and "
                  f"the network for the cache key {t_key:.2f} s; the features of one set of {a.n:,} images {t_feat:.2f} s.",
              "", "All three paths give the same FID and KID up to float rounding (the features are the same; only "
                  "batch boundaries differ)."]
    H.write_results(lines, a.out)


if __name__ == "__main__":
    main()
