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
import functools
import statistics
from pathlib import Path

import torch

import _harness as H


# mean ± standard error; statistics.mean as the published tables had it (see _harness.pm)
_pm = functools.partial(H.pm, center=statistics.mean)


def _train(preset: str, seed: int, threads: int, overrides: list):
    """A run of ``preset`` in a temporary directory (the block's ``Trained``), no evaluation during training."""
    return H.trained(preset, ["eval.every=0", *overrides], seed=seed, threads=threads)


def stacked_run(job: tuple) -> dict:
    preset, seed, threads, n, overrides = job
    with _train(preset, seed, threads, overrides) as t:
        run = t.load()
    modes, kl = H.stacked_modes(run.generate(n, seed=10_000 + seed))  # of (n, 3, H, W) in [0, 1]
    return {"preset": preset, "seed": seed, "modes": modes, "kl": kl, "wall_s": t.wall_s, "steps": run.step}


def stacked_real(n: int, resolution: int = 16) -> dict:
    """The same measurement on real stacked digits: the ceiling the metric allows (the
    classifier's errors and a finite sample make even real data miss KL = 0)."""
    from ganforge.config import DataConfig
    from ganforge.data.images import stacked_digits

    x = stacked_digits(DataConfig(name="stacked_digits", resolution=resolution), 0).reference(n, 10_000)
    modes, kl = H.stacked_modes(x)
    return {"modes": modes, "kl": kl}


def digits_run(job: tuple) -> dict:
    from ganforge.evaluation import sample_metrics

    preset, seed, threads, n, overrides = job
    with _train(preset, seed, threads, overrides) as t:
        run, wall = t.load(), t.wall_s
    labels = torch.arange(n) % 10 if run.n_classes else None
    x = run.generate(n, seed=10_000 + seed, label=labels)
    m = sample_metrics(x, run.data, seed=10_000 + seed, labels=labels)
    if labels is not None:
        from ganforge.metrics.features import digit_classifier

        pred = digit_classifier().logits(x).argmax(1)
        m["per_class"] = [float((pred[labels == c] == c).double().mean()) for c in range(10)]
    return {"preset": preset, "conditional": bool(run.n_classes), "seed": seed, "wall_s": wall, **m}


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
    for r in H.pool_map(fn, jobs, 1):
        print({k: v for k, v in r.items() if k != "provenance"}, flush=True)
        rows.append(r)
    cmd = f"python benchmarks/images.py {a.which} --seeds {seeds} --threads {a.threads}" + \
        (f" {' '.join(a.overrides)}" if a.overrides else "")
    lines = [f"# {'Stacked digits: mode coverage' if stacked else 'Digits: image metrics'}", "",
             f"{seeds} seeds per row, {n} generated samples per evaluation, mean ± standard error; "
             f"{a.threads} threads per run, one run at a time. Command: `{cmd}`.", ""]
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
            cells = [_pm([r[k] for r in rs]) for k in keys]
            lines.append(f"| `{pr}` | {'yes' if extra else 'no'} | " + " | ".join(cells)
                         + f" | {acc} | {statistics.mean(r['wall_s'] for r in rs):.0f} |")
        cond = [r for r in rows if "per_class" in r]
        if cond:
            per = [statistics.mean(r["per_class"][c] for r in cond) for c in range(10)]
            lines += ["", "Conditional: the classifier's accuracy on samples of each requested class "
                      "(target >= 95 % each):", "", "| class | " + " | ".join(map(str, range(10))) + " |",
                      "|---" * 11 + "|", "| accuracy | " + " | ".join(f"{100 * v:.1f} %" for v in per) + " |"]
        lines += ["", f"Feature space: {rows[0]['provenance']['feature_space']}."]
    H.write_results(lines, a.out or H.RESULTS / f"{'stacked_digits' if stacked else 'digits'}.md", threads=a.threads)


if __name__ == "__main__":
    main()
