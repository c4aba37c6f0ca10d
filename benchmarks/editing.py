"""Class edits of real digits with a conditional run (issue: applications I, part 4).

Each of 100 held-out digits is projected into the conditional digits run under the class the
class reader reads in it (``apps/project.py``), then re-drawn with the same z under another class
(``apps/edit.change_class``). Reported: edit success (the digit classifier reads the target
class), and how much else changed: the class reader's feature distance between the edit and its
source, next to the distance between two unrelated digits of the target class (what a
complete change of the image would cost). Writes ``benchmarks/results/editing.md``.

    python benchmarks/editing.py [--run RUN] [--n 100]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import _harness as H
from ganforge import api
from ganforge.apps.edit import change_class
from ganforge.apps.project import project
from ganforge.metrics.evaluators import class_reader

OUT = H.RESULTS / "editing.md"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", help="a trained conditional digits run (default: train digits with model.conditional=true)")
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    with H.temp_dir() as tmp:
        run_dir = Path(a.run) if a.run else tmp / "cdigits"
        if not a.run:  # the run's own sample grids and TensorBoard files stay on, as `ganforge train` has them
            cfg = H.config("digits", ["model.conditional=true"], threads=a.threads, quiet=["train.progress=false"])
            H.train(cfg, run_dir, via_api=True)
        run = api.load_run(run_dir)
    clf = class_reader(run.data)
    images, labels = run.data.holdout
    x, y = images[: a.n].float() / 255, labels[: a.n]
    proj = project(run, x)
    target = (y + 1 + torch.arange(len(y)) % 9) % 10  # another class for each, all nine spread evenly
    edited = torch.cat([change_class(run, proj.z[i : i + 1], int(target[i])) for i in range(len(y))])
    read = clf.logits(edited).argmax(1)
    success = (read == target).float().mean().item()
    with torch.no_grad():  # the class reader's features (n, 128): one grey channel, so one row per image
        f_src, f_edit = clf.features(proj.recon), clf.features(edited)
        moved = (f_edit - f_src).pow(2).mean(1)  # (n,)
        same_class_other = torch.stack([  # distance from the edit to an unrelated real digit of its target class
            (f_edit[i] - clf.features(images[labels == int(target[i])][i % 5][None].float() / 255)[0]).pow(2).mean()
            for i in range(len(y))])
    proj_agree = (clf.logits(proj.recon).argmax(1) == y).float().mean().item()
    lines = [
        "# Class edits of held-out digits",
        "",
        f"Conditional run: digits preset with model.conditional=true (step {run.step}); {a.n} held-out digits, each "
        f"projected (300 steps, 4 starts) under the class the class reader reads, then re-drawn under another class "
        f"(each of the nine others equally often). {a.threads} torch thread(s). Command: "
        f"`python benchmarks/editing.py --n {a.n}`. Total "
        f"{time.perf_counter() - t0:.0f} s.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| projection: reconstruction read as the input's class | {100 * proj_agree:.1f} % |",
        f"| edit success: the classifier reads the target class | {100 * success:.1f} % |",
        f"| feature distance, edit vs its source (mean) | {moved.mean().item():.3f} |",
        f"| feature distance, edit vs an unrelated real digit of the target class (mean) | "
        f"{same_class_other.mean().item():.3f} |",
        "",
        "The feature distances are in the digit classifier's 128-d feature space (mean squared difference).",
    ]
    H.write_results(lines, OUT, threads=a.threads)


if __name__ == "__main__":
    main()
