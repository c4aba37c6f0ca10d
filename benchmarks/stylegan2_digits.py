"""StyleGAN2 vs DCGAN on the bundled digits at an equal wall-clock budget, written to
benchmarks/results/stylegan2_digits.md.

    python benchmarks/stylegan2_digits.py --budget 300 --seeds 1            # the quick run
    python benchmarks/stylegan2_digits.py --budget 300 --seeds 3 --conditional  # the full protocol

Each preset trains until ``--budget`` seconds of training steps have passed (counted from the
first step; checkpoints every 10 steps, so the run stops within 10 steps of the budget) and is
measured like ``benchmarks/images.py digits``: 2,000 samples from G_ema against
the real digits in the digit classifier's space (FID, KID, precision, recall, density,
coverage, classes). Seconds per 1,000 training images counts real images seen by D (batch x D
steps per step). One run at a time, each in a spawned process, ``--threads`` torch threads.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time

import torch

import _harness as H

KEYS = ["fid", "kid", "precision", "recall", "density", "coverage", "classes", "class_kl"]


def _timed_train(preset: str, seed: int, threads: int, budget: float, overrides: list) -> tuple:
    """Train for ``budget`` seconds in a temporary directory; returns (the trained run, seconds per
    step after the first 10, batch x d_steps)."""
    from ganforge.api import callbacks_for
    from ganforge.errors import RunStopped
    from ganforge.train.callbacks import Callback

    class Clock(Callback):
        times: list = []

        def on_step_end(self, run, step: int) -> None:
            self.times.append(time.perf_counter())
            if self.times[-1] - self.times[0] > budget:
                run.stop_reason = f"the budget of {budget:g} s"

    cfg = H.config(preset, ["eval.every=0", "doctor.enabled=false", "train.steps=1000000", "train.ckpt_every=10",
                            *overrides], seed=seed, threads=threads)
    clock = Clock()
    clock.times = []
    # the budget ran out (RunStopped): the newest checkpoint (at most 10 steps back) is measured
    with H.trained(cfg, threads=threads, stop_ok=(RunStopped,),
                   callbacks=[cb for cb in callbacks_for(cfg, [clock]) if type(cb).__name__ != "Evaluation"]) as tr:
        run = tr.load()
    t = clock.times[10:]
    per_step = (t[-1] - t[0]) / (len(t) - 1)
    return run, per_step, cfg.train.batch_size * cfg.train.d_steps


def job(args: tuple) -> dict:
    from ganforge.evaluation import sample_metrics

    preset, seed, threads, budget, n, overrides = args
    run, s_step, imgs = _timed_train(preset, seed, threads, budget, overrides)
    steps = run.step
    labels = torch.arange(n) % 10 if run.n_classes else None
    x = run.generate(n, seed=10_000 + seed, label=labels)
    m = sample_metrics(x, run.data, seed=10_000 + seed, labels=labels)
    if labels is not None:
        from ganforge.metrics.features import digit_classifier

        pred = digit_classifier().logits(x).argmax(1)
        m["min_class_acc"] = min(float((pred[labels == c] == c).double().mean()) for c in range(10))
    return {"preset": preset, "overrides": overrides, "seed": seed, "steps": steps,
            "s_per_kimg": 1000 * s_step / imgs, **m}


# mean ± s.e.; one seed: its value alone; statistics.mean as the published tables had it
_pm = functools.partial(H.pm, alone=None, center=statistics.mean)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=300, help="seconds of training per run")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--conditional", action="store_true", help="also the conditional models")
    p.add_argument("--only-conditional", action="store_true", help="only the conditional models (a second "
                   "invocation beside one without --conditional)")
    p.add_argument("--presets", nargs="+", default=["digits", "stylegan2_digits"])
    p.add_argument("--out", default=str(H.RESULTS / "stylegan2_digits.md"))
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    variants = ([] if a.only_conditional else [[]]) + \
        ([["model.conditional=true"]] if a.conditional or a.only_conditional else [])
    jobs = [(pr, s, a.threads, a.budget, a.n, v) for v in variants for pr in a.presets for s in range(a.seeds)]
    rows = []
    for r in H.pool_map(job, jobs, 1):
        print({k: v for k, v in r.items() if k != "provenance"}, flush=True)
        rows.append(r)
    cmd = f"python benchmarks/stylegan2_digits.py --budget {a.budget:g} --seeds {a.seeds} --threads {a.threads}" + \
        (" --conditional" if a.conditional else "") + (" --only-conditional" if a.only_conditional else "")
    lines = ["# StyleGAN2 vs DCGAN on digits at an equal training budget", "",
             f"{a.seeds} seed(s) per row, {a.budget:g} s of training per run (stopped by the clock), "
             f"{a.n} samples from G_ema per evaluation; {a.threads} thread(s) per run, "
             f"one run at a time. Command: `{cmd}`.", "",
             "| preset | conditional | steps | s / 1,000 images | " + " | ".join(KEYS) + " | min class acc |",
             "|---" * (len(KEYS) + 5) + "|"]
    for v in variants:
        for pr in a.presets:
            rs = [r for r in rows if r["preset"] == pr and r["overrides"] == v]
            acc = _pm([r["min_class_acc"] for r in rs]) if "min_class_acc" in rs[0] else ""
            lines.append(f"| `{pr}` | {'yes' if v else 'no'} | {_pm([r['steps'] for r in rs], '{:.0f}')} | "
                         f"{_pm([r['s_per_kimg'] for r in rs])} | " + " | ".join(_pm([r[k] for r in rs]) for k in KEYS)
                         + f" | {acc} |")
    lines += ["", f"Feature space: {rows[0]['provenance']['feature_space']}."]
    H.write_results(lines, a.out, threads=a.threads)


if __name__ == "__main__":
    main()
