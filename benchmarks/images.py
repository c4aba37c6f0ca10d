"""Image benchmarks on the bundled digits, written to benchmarks/results/.

    python benchmarks/images.py stacked --seeds 5     # stacked_digits: modes out of 1,000, KL
    python benchmarks/images.py digits --seeds 3      # digits: FID, KID, PRDC, classes, class KL
                                                      # unconditional and conditional

``stacked`` compares the vanilla DCGAN preset with the best one (Stacked-MNIST protocol: modes
covered out of 1,000 and KL(mode histogram || uniform) on 26,000 samples; published on Stacked
MNIST: DCGAN 99 modes / KL 3.40, PacDCGAN2 1,000 / 0.06). ``digits`` reports every digit metric
at a fixed budget of steps, and for the conditional model the classifier's accuracy on samples
of each requested class. Every run goes through ganforge's own loop, one at a time, in a
spawned process with the given number of torch threads.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

RESULTS = Path(__file__).parent / "results"


def _train(preset: str, seed: int, threads: int, overrides: list) -> tuple:
    from ganforge.config import load_config
    from ganforge.api import load_run
    from ganforge.train.loop import train

    torch.set_num_threads(threads)
    cfg = load_config(preset, [f"train.seed={seed}", f"train.threads={threads}", "train.progress=false",
                               "train.tensorboard=false", "train.sample_every=0", "eval.every=0", *overrides])
    d = tempfile.mkdtemp()
    t0 = time.perf_counter()
    train(cfg, Path(d))
    return load_run(Path(d)), time.perf_counter() - t0


def stacked_run(job: tuple) -> dict:
    from ganforge.metrics.features import digit_classifier
    from ganforge.metrics.distances import class_histogram_kl

    preset, seed, threads, n, overrides = job
    run, wall = _train(preset, seed, threads, overrides)
    x = run.generate(n, seed=10_000 + seed)  # (n, 3, H, W) in [0, 1]
    digits = digit_classifier().logits(x).argmax(1).view(n, 3)
    modes, kl = class_histogram_kl(digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2], 1000)
    return {"preset": preset, "seed": seed, "modes": modes, "kl": kl, "wall_s": wall, "steps": run.step}


def stacked_real(n: int, resolution: int = 16) -> dict:
    """The same measurement on real stacked digits: the ceiling the metric allows (the
    classifier's errors and a finite sample make even real data miss KL = 0)."""
    from ganforge.config import DataConfig
    from ganforge.data.images import stacked_digits
    from ganforge.metrics.features import digit_classifier
    from ganforge.metrics.distances import class_histogram_kl

    x = stacked_digits(DataConfig(name="stacked_digits", resolution=resolution), 0).reference(n, 10_000)
    digits = digit_classifier().logits(x).argmax(1).view(n, 3)
    modes, kl = class_histogram_kl(digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2], 1000)
    return {"modes": modes, "kl": kl}


def digits_run(job: tuple) -> dict:
    from ganforge.evaluation import sample_metrics

    preset, seed, threads, n, overrides = job
    run, wall = _train(preset, seed, threads, overrides)
    labels = torch.arange(n) % 10 if run.n_classes else None
    x = run.generate(n, seed=10_000 + seed, label=labels)
    m = sample_metrics(x, run.data, seed=10_000 + seed, labels=labels)
    if labels is not None:
        from ganforge.metrics.features import digit_classifier

        pred = digit_classifier().logits(x).argmax(1)
        m["per_class"] = [float((pred[labels == c] == c).double().mean()) for c in range(10)]
    return {"preset": preset, "conditional": bool(run.n_classes), "seed": seed, "wall_s": wall, **m}


def _se(xs):
    return statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else 0.0


def _pm(xs, fmt="{:.3g}"):
    return f"{fmt.format(statistics.mean(xs))} ± {fmt.format(_se(xs))}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("which", choices=["stacked", "digits"])
    p.add_argument("--seeds", type=int, default=None, help="default: 5 (stacked), 3 (digits)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--presets", nargs="+", default=None)
    p.add_argument("--n", type=int, default=None, help="generated samples (default 26,000 / 2,000)")
    p.add_argument("--out", default=None)
    p.add_argument("--resume", metavar="LOG", help="reuse the result lines an interrupted run of this script printed")
    p.add_argument("overrides", nargs="*", help="key=value applied to every run")
    a = p.parse_intermixed_args()  # overrides may follow the flags
    stacked = a.which == "stacked"
    seeds = a.seeds or (5 if stacked else 3)
    n = a.n or (26_000 if stacked else 2_000)
    if stacked:
        runs = [(pr, []) for pr in (a.presets or ["stacked_digits_vanilla", "stacked_digits"])]
    else:
        runs = [(pr, extra) for pr in (a.presets or ["digits"]) for extra in ([], ["model.conditional=true"])]
    jobs = [(pr, s, a.threads, n, extra + a.overrides) for pr, extra in runs for s in range(seeds)]
    fn = stacked_run if stacked else digits_run
    rows = []
    if a.resume:  # results already printed by an interrupted run with the same settings
        import ast

        done = [ast.literal_eval(line) for line in Path(a.resume).read_text().splitlines() if line.startswith("{")]
        for r in done:
            if any(j[0] == r["preset"] and j[1] == r["seed"] and (not stacked or r["steps"]) for j in jobs):
                rows.append(r)
        jobs = [j for j in jobs if not any(r["preset"] == j[0] and r["seed"] == j[1] for r in rows)]
        print(f"reusing {len(rows)} results from {a.resume}; {len(jobs)} runs to go", flush=True)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        for r in pool.map(fn, jobs):
            print({k: v for k, v in r.items() if k != "provenance"}, flush=True)
            rows.append(r)
    cmd = f"python benchmarks/images.py {a.which} --seeds {seeds} --threads {a.threads}" + \
        (f" {' '.join(a.overrides)}" if a.overrides else "")
    lines = [f"# {'Stacked digits: mode coverage' if stacked else 'Digits: image metrics'}", "",
             f"{seeds} seeds per row, {n} generated samples per evaluation, mean ± standard error; "
             f"torch {torch.__version__}, {a.threads} threads per run, one run at a time. Command: `{cmd}`.", ""]
    if stacked:
        lines += ["| preset | modes (of 1,000) | KL | wall s / run |", "|---|---|---|---|"]
        for pr, _ in runs:
            rs = [r for r in rows if r["preset"] == pr]
            lines.append(f"| `{pr}` | {_pm([r['modes'] for r in rs], '{:.1f}')} | {_pm([r['kl'] for r in rs])} | "
                         f"{statistics.mean(r['wall_s'] for r in rs):.0f} |")
        real = stacked_real(n)
        lines += [f"| real stacked digits (the metric's ceiling) | {real['modes']} | {real['kl']:.3f} | |",
                  "| DCGAN (published, Stacked MNIST) | 99 | 3.40 | |", "| PacDCGAN2 (published) | 1,000 | 0.06 | |"]
    else:
        keys = ["fid", "kid", "precision", "recall", "density", "coverage", "classes", "class_kl", "classifier_score"]
        lines += ["| preset | conditional | " + " | ".join(keys) + " | class accuracy | wall s / run |",
                  "|---" * (len(keys) + 4) + "|"]
        for pr, extra in runs:
            rs = [r for r in rows if r["preset"] == pr and r["conditional"] == bool(extra)]
            acc = _pm([r["class_accuracy"] for r in rs]) if "class_accuracy" in rs[0] else ""
            lines.append(f"| `{pr}` | {'yes' if extra else 'no'} | " + " | ".join(_pm([r[k] for r in rs]) for k in keys)
                         + f" | {acc} | {statistics.mean(r['wall_s'] for r in rs):.0f} |")
        cond = [r for r in rows if "per_class" in r]
        if cond:
            per = [statistics.mean(r["per_class"][c] for r in cond) for c in range(10)]
            lines += ["", "Conditional: the classifier's accuracy on samples of each requested class "
                      "(target >= 95 % each):", "", "| class | " + " | ".join(map(str, range(10))) + " |",
                      "|---" * 11 + "|", "| accuracy | " + " | ".join(f"{100 * v:.1f} %" for v in per) + " |"]
        lines += ["", f"Feature space: {rows[0]['provenance']['feature_space']}."]
    table = "\n".join(lines) + "\n"
    print(table)
    out = Path(a.out or RESULTS / f"{'stacked_digits' if stacked else 'digits'}.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table)


if __name__ == "__main__":
    main()
