"""Conditional digits: which way of conditioning G and D draws every class, and varied?

    python benchmarks/conditional.py                       # every variant, seed 0
    python benchmarks/conditional.py --seeds 0 1 2 --only cbn_concat concat_projection

Each variant trains the `digits` preset (16 px, 3,000 steps, EMA) with model.conditional=true
and its own model.g_cond / model.d_cond (and remedy) pinned, then is measured on its final
G_ema: the run's own evaluation (FID, precision, recall, coverage in the digit classifier's
space, 2,000 samples, classes drawn uniformly) and the classifier's accuracy on 200 samples of
each requested class (the issue's target: >= 95 % for every class, with recall >= 0.5).

A run folder under --work that already holds a finished run of a variant is measured, not
retrained, so an interrupted benchmark picks up where it stopped. Results:
benchmarks/results/conditional.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

import _harness as H
from ganforge import api

COMMON = ["model.conditional=true"]  # with the harness's quiet overrides
VARIANTS = {  # name -> (what it is, overrides)
    "concat_projection": ("G: embedding concatenated to z; D: projection (the earlier default)",
                          ["model.g_cond=concat", "model.d_cond=projection"]),
    "concat_projection_mbstd": ("the same + minibatch std in D", ["model.g_cond=concat", "model.d_cond=projection",
                                                                   "model.mbstd=4"]),
    "concat_projection_pac2": ("the same + packing 2", ["model.g_cond=concat", "model.d_cond=projection", "model.pac=2"]),
    "concat_projection_sn": ("the same + spectral norm in D", ["model.g_cond=concat", "model.d_cond=projection",
                                                               "model.d_norm=spectral"]),
    "concat_concat": ("G: embedding to z; D: label map as an input channel", ["model.g_cond=concat",
                                                                              "model.d_cond=concat"]),
    "concat_concat_pac2": ("the same + packing 2", ["model.g_cond=concat", "model.d_cond=concat", "model.pac=2"]),
    "cbn_projection": ("G: conditional batch norm; D: projection", ["model.g_cond=cbn", "model.d_cond=projection"]),
    "cbn_concat": ("G: conditional batch norm; D: label map as an input channel (the default now)",
                   ["model.g_cond=cbn", "model.d_cond=concat"]),
    "cbn_concat_6000": ("the same, 6,000 steps (the `digits_conditional` preset, the default job)",
                        ["model.g_cond=cbn", "model.d_cond=concat", "train.steps=6000"]),
    "cbn_concat_6000_translation": ("the same + DiffAugment translation on everything D sees",
                                    ["model.g_cond=cbn", "model.d_cond=concat", "train.steps=6000",
                                     "augment.policy=translation"]),
    "cbn_concat_6000_r1": ("the same + R1 (weight 0.1, every 4th D step)",
                           ["model.g_cond=cbn", "model.d_cond=concat", "train.steps=6000", "reg.r1.weight=0.1",
                            "reg.r1.interval=4"]),
    "cbn_concat_6000_r1_03": ("the same with R1 weight 0.3",
                              ["model.g_cond=cbn", "model.d_cond=concat", "train.steps=6000", "reg.r1.weight=0.3",
                               "reg.r1.interval=4"]),
    "cbn_concat_9000_r1_03": ("R1 0.3, 9,000 steps (the rest of the 5-minute budget)",
                              ["model.g_cond=cbn", "model.d_cond=concat", "train.steps=9000", "reg.r1.weight=0.3",
                               "reg.r1.interval=4"]),
    "cbn_concat_6000_r1_translation": ("R1 (0.1, every 4th) + DiffAugment translation",
                                       ["model.g_cond=cbn", "model.d_cond=concat", "train.steps=6000",
                                        "reg.r1.weight=0.1", "reg.r1.interval=4", "augment.policy=translation"]),
}
KEYS = ("fid", "precision", "recall", "coverage", "min_class_acc", "mean_class_acc")


@torch.no_grad()
def class_accuracy(run_dir: Path, n: int = 200) -> list[float]:
    """The digit classifier's accuracy on ``n`` samples of each requested class."""
    from ganforge.metrics.features import digit_classifier

    clf, g = digit_classifier(), api.load_run(run_dir)
    out = []
    for c in range(g.n_classes):
        x = g.generate(n, seed=1000 + c, label=torch.full((n,), c))
        out.append(float((clf.logits(x.clamp(0, 1)).argmax(1) == c).float().mean()))
    return out


def measure(name: str, seed: int, work: Path, threads: int) -> dict:
    run_dir = work / f"{name}-s{seed}"
    t = None
    if not (run_dir / "eval.json").is_file():
        cfg = H.config("digits", [*COMMON, *VARIANTS[name][1]], seed=seed, threads=threads)
        t = H.train(cfg, run_dir, via_api=True).wall_s
    ev = json.loads((run_dir / "eval.json").read_text())
    acc = class_accuracy(run_dir)
    row = {k: ev[k] for k in ("fid", "precision", "recall", "coverage")}
    row.update(min_class_acc=min(acc), mean_class_acc=H.mean(acc), class_acc=acc, wall_s=t or ev.get("wall_s"))
    print(name, seed, {k: round(row[k], 3) for k in KEYS}, flush=True)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--only", nargs="+", choices=list(VARIANTS))
    p.add_argument("--work", default="/tmp/ganforge-conditional", help="where the runs are kept")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(H.RESULTS / "conditional.md"))
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    work = Path(a.work)
    names = a.only or list(VARIANTS)
    rows = {n: [measure(n, s, work, a.threads) for s in a.seeds] for n in names}

    lines = ["# Conditional digits: how G and D are conditioned", "",
             f"`python benchmarks/conditional.py --seeds {' '.join(map(str, a.seeds))}`: the `digits` preset (16 px, "
             "3,000 steps, batch 64, EMA) with model.conditional=true; seeds " + ", ".join(map(str, a.seeds)) +
             "; on a shared 2-core machine. "
             "FID, precision, recall and coverage: the run's final evaluation (2,000 samples of G_ema, classes "
             "uniform, the digit classifier's space). Class accuracy: the classifier reads the requested class, "
             "200 samples per class. Mean ± standard error over seeds.", "",
             "| variant | what | " + " | ".join(KEYS) + " |", "|---|---|" + "---|" * len(KEYS)]
    for n, rs in rows.items():
        cells = [H.pm([r[k] for r in rs], "{:.3f}", alone=None) for k in KEYS]
        lines.append(f"| `{n}` | {VARIANTS[n][0]} | " + " | ".join(cells) + " |")
    lines += ["", "Per-class accuracy (first seed):", "", "| variant | " + " | ".join(map(str, range(10))) + " |",
              "|---|" + "---|" * 10]
    for n, rs in rows.items():
        lines.append(f"| `{n}` | " + " | ".join(f"{100 * v:.1f}" for v in rs[0]["class_acc"]) + " |")
    H.write_results(lines, a.out, threads=a.threads, keep="<!-- reading -->")


if __name__ == "__main__":
    main()
