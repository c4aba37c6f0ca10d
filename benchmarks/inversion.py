"""Inversion of real digits into a trained run's latent space: optimisation only, encoder only,
encoder + optimisation (issue: applications I, part 3).

On the held-out split of scikit-learn's digits (never seen in training), each image is
projected; reported per method: pixel MSE (data space, [0, 1]), the judge's feature distance,
and class agreement, the share of reconstructions that the digit classifier reads as the
input's true class. Writes ``benchmarks/results/inversion.md``.

    python benchmarks/inversion.py                 # trains the default digits run first (a few minutes)
    python benchmarks/inversion.py --run runs/001-digits --n 200
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import _harness as H
from ganforge import api
from ganforge.apps.encoder import encode, train_encoder
from ganforge.apps.project import project
from ganforge.metrics.evaluators import class_reader

OUT = H.RESULTS / "inversion.md"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", help="a trained digits run directory (default: train the digits preset)")
    p.add_argument("--n", type=int, default=200, help="held-out digits to project")
    p.add_argument("--steps", type=int, default=300, help="optimisation steps")
    p.add_argument("--starts", type=int, default=4)
    p.add_argument("--encoder-steps", type=int, default=3000)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    with H.temp_dir() as tmp:
        run_dir = Path(a.run) if a.run else tmp / "digits"
        if not a.run:  # the run's own sample grids and TensorBoard files stay on, as `ganforge train` has them
            H.train(H.config("digits", threads=a.threads, quiet=["train.progress=false"]), run_dir, via_api=True)
        run = api.load_run(run_dir)
    images, labels = run.data.holdout
    x, y = images[: a.n].float() / 255, labels[: a.n]  # (n, 1, R, R) in [0, 1], true classes
    clf = class_reader(run.data)
    E = train_encoder(run, steps=a.encoder_steps)
    rows = []
    for name, kw in (("optimisation only", {"steps": a.steps, "starts": a.starts}),
                     ("encoder only", {"steps": 0, "starts": 1, "z_init": encode(E, run, x)}),
                     ("encoder + optimisation", {"steps": a.steps, "starts": a.starts, "z_init": encode(E, run, x)})):
        t = time.perf_counter()
        r = project(run, x, **kw)
        agree = (clf.logits(r.recon).argmax(1) == y).float().mean().item()
        rows.append((name, r.mse.mean().item(), r.feature_dist.mean().item(), agree, time.perf_counter() - t))
        print(rows[-1], flush=True)
    lines = [
        "# Inversion of held-out digits",
        "",
        f"Run: `{run_dir}` (step {run.step}, {run.cfg.model.name}, data {run.cfg.data.name} at "
        f"{run.cfg.data.resolution} px); {a.n} held-out digits; {a.steps} Adam steps from {a.starts} starts; "
        f"encoder: {a.encoder_steps} steps on G's samples; {a.threads} torch thread(s). "
        f"Command: `python benchmarks/inversion.py"
        f"{' --run ' + a.run if a.run else ''} --n {a.n}`. Total {time.perf_counter() - t0:.0f} s.",
        "",
        "| method | pixel MSE | feature distance | class agreement | seconds |",
        "|---|---|---|---|---|",
        *[f"| {n} | {m:.4f} | {f:.3f} | {100 * c:.1f} % | {s:.0f} |" for n, m, f, c, s in rows],
        "",
        "Class agreement: the digit classifier reads G(z*) as the input's true class. Target: >= 90 % for the best.",
    ]
    H.write_results(lines, OUT, threads=a.threads)


if __name__ == "__main__":
    main()
