"""The default job (`ganforge train`, preset `digits_conditional`): is it quiet and healthy?

    python benchmarks/default_job.py                              # shipped preset, seeds 0-4
    python benchmarks/default_job.py --only shipped diffaug --workers 2

Each variant trains the default job as a user would (through the API, the doctor on, the
run's own evaluations), with its overrides, over the seeds; then reads:

- the doctor's verdict, replayed from the run's files (``ganforge doctor``): every warning it
  raised, at which steps;
- ``d_auc``, P(D ranks a training digit above a held-out one), the overfitting detector's
  statistic: its largest running median (of the detector's window) over the run, and its last;
- the final evaluation (FID, precision, recall, coverage in the digit classifier's space, 2,000
  samples of G_ema) and the classifier's accuracy on 200 samples of each requested class.

A run folder under --work that already holds a finished run is read, not retrained.
Results: benchmarks/results/default_job.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import _harness as H

PRESET = "digits_conditional"
# the preset shipped spectral norm on D after this benchmark, then DiffAugment rotation; every variant names its
# augment.policy, and every other variant turns spectral norm off, so each measures what its row says against the
# preset as it was (R1 0.3 every 4th D step, no spectral norm, no augmentation)
WAS = ["model.d_norm=none"]
VARIANTS = {  # name -> (what it is, overrides on the preset)
    "shipped": ("the preset before this benchmark (R1 0.3 every 4th D step)", ['augment.policy=""', *WAS]),
    "diffaug": ("+ DiffAugment translation and cutout on everything D sees",
                ["augment.policy=translation,cutout", *WAS]),
    "translation": ("+ DiffAugment translation only", ["augment.policy=translation", *WAS]),
    "lecam": ("+ LeCam (weight 0.1), the doctor's second remedy", ['augment.policy=""', "reg.lecam.weight=0.1", *WAS]),
    "r1_1": ("R1 weight 1 (the shipped 0.3 x 3.3): a smoother D around each training digit",
             ['augment.policy=""', "reg.r1.weight=1.0", *WAS]),
    "r1_3": ("R1 weight 3", ['augment.policy=""', "reg.r1.weight=3.0", *WAS]),
    "spectral": ("+ spectral norm on D, the doctor's first remedy (the preset from 2026-12-06 until `spectral_rotation`)",
                 ['augment.policy=""', "model.d_norm=spectral"]),
    "spectral_r1_1": ("spectral norm on D and R1 weight 1", ['augment.policy=""', "model.d_norm=spectral",
                                                              "reg.r1.weight=1.0"]),
    "ada": ("+ ADA: translation and cutout at an adaptive p, target E[sign D(real)] = 0.6",
            ["augment.policy=translation,cutout", "augment.ada_target=0.6", *WAS]),
    "spectral_translation": ("spectral norm on D and DiffAugment translation only, p = 0.5",
                             ["augment.policy=translation", "augment.p=0.5", "model.d_norm=spectral"]),
    "spectral_translation_ada": ("spectral norm on D and ADA on translation only, target 0.6",
                                 ["augment.policy=translation", "augment.ada_target=0.6", "model.d_norm=spectral"]),
    "spectral_r1_3": ("spectral norm on D and R1 weight 3", ['augment.policy=""', "model.d_norm=spectral",
                                                              "reg.r1.weight=3.0"]),
    "spectral_d16": ("spectral norm on a D of half the width (d_width 16): less room to memorise",
                     ['augment.policy=""', "model.d_norm=spectral", "model.d_width=16"]),
    "spectral_dlr": ("spectral norm on D, D's learning rate halved (1e-4)",
                     ['augment.policy=""', "model.d_norm=spectral", "optim.d_lr=1.0e-4"]),
    "spectral_3000": ("spectral norm on D, 3,000 steps (the warnings came after 3,300)",
                      ['augment.policy=""', "model.d_norm=spectral", "train.steps=3000"]),
    "spectral_rotation": ("spectral norm on D and DiffAugment rotation (+-12 degrees, the classic digit augmentation): "
                          "the preset since",
                          ["augment.policy=rotation", "model.d_norm=spectral"]),
    "spectral_rot_trans_ada": ("spectral norm on D and ADA on rotation and translation, target 0.6",
                               ["augment.policy=rotation,translation", "augment.ada_target=0.6",
                                "model.d_norm=spectral"]),
    "rotation_dropout_02": ("the preset (spectral norm, rotation) and dropout 0.2 after each of D's hidden layers",
                            ["augment.policy=rotation", "model.d_norm=spectral", "model.d_dropout=0.2"]),
    "rotation_dropout_04": ("the preset (spectral norm, rotation) and dropout 0.4 in D",
                            ["augment.policy=rotation", "model.d_norm=spectral", "model.d_dropout=0.4"]),
    "rotation_bcr": ("the preset (spectral norm, rotation) and bCR weight 10 (Zhao et al. 2020's lambda): D judges "
                     "a digit and its flipped, shifted copy alike",
                     ["augment.policy=rotation", "model.d_norm=spectral", "reg.bcr.weight=10"]),
    "rotation_noise": ("the preset (spectral norm, rotation) and instance noise 0.2 annealed over 12,000 steps (0.1 "
                       "left at the end): D never sees a digit's exact pixels",
                       ["augment.policy=rotation", "model.d_norm=spectral", "train.instance_noise=0.2",
                        "train.instance_noise_steps=12000"]),
}
KEYS = ("fid", "precision", "recall", "coverage", "min_class_acc", "mean_class_acc")


def _auc_medians(records: list[dict], window: int) -> list[float]:
    """The running medians of ``window`` consecutive d_auc probes, as the detector reads them."""
    aucs = [r["d_auc"] for r in records if isinstance(r.get("d_auc"), (int, float))]
    return [statistics.median(aucs[i - window:i]) for i in range(window, len(aucs) + 1)]


def measure(job: tuple) -> dict:
    name, seed, work, threads, extra = job
    import torch

    from ganforge.diagnostics.detectors import DOverfitting
    from ganforge.diagnostics.doctor import diagnose
    from ganforge.runlog import read_records

    torch.set_num_threads(threads)
    run_dir = Path(work) / f"{name}-s{seed}"
    wall = None
    if not (run_dir / "eval.json").is_file():
        cfg = H.config(PRESET, [*VARIANTS[name][1], *extra], seed=seed, threads=threads,
                       quiet=("train.progress=false", "train.tensorboard=false"))
        wall = H.train(cfg, run_dir, via_api=True).wall_s
    ev = json.loads((run_dir / "eval.json").read_text())
    acc = class_accuracy(run_dir)
    d = diagnose(run_dir)
    warnings = [(e["event"], e["step"]) for e in d.problems]
    recs = [r for r in read_records(run_dir / "metrics.jsonl")[0] if "d_auc" in r]
    med = _auc_medians(recs, DOverfitting.SMOOTH)
    row = {k: ev[k] for k in ("fid", "precision", "recall", "coverage")}
    row.update(min_class_acc=min(acc), mean_class_acc=H.mean(acc), class_acc=acc, warnings=warnings,
               verdict=d.verdict, auc_max=max(med) if med else float("nan"), auc_last=med[-1] if med else float("nan"),
               wall_s=wall)
    print(name, seed, {k: round(row[k], 3) for k in (*KEYS, "auc_max", "auc_last")}, warnings, flush=True)
    return row


def class_accuracy(run_dir: Path, n: int = 200) -> list[float]:
    """The digit classifier's accuracy on ``n`` samples of each requested class."""
    import torch

    from ganforge import api
    from ganforge.metrics.features import digit_classifier

    clf, g = digit_classifier(), api.load_run(run_dir)
    out = []
    with torch.no_grad():
        for c in range(g.n_classes):
            x = g.generate(n, seed=1000 + c, label=torch.full((n,), c))
            out.append(float((clf.logits(x.clamp(0, 1)).argmax(1) == c).float().mean()))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--only", nargs="+", choices=list(VARIANTS))
    p.add_argument("--work", default="/tmp/ganforge-default-job", help="where the runs are kept")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--workers", type=int, default=1, help="runs trained at once (each on --threads)")
    p.add_argument("--out", default=str(H.RESULTS / "default_job.md"))
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="more overrides (a smoke test)")
    p.add_argument("--finished", action="store_true",
                   help="read only the runs already finished under --work (each variant over the seeds it has)")
    a = p.parse_args()
    names = a.only or list(VARIANTS)
    jobs = [(n, s, a.work, a.threads, a.set) for n in names for s in a.seeds
            if not a.finished or (Path(a.work) / f"{n}-s{s}" / "eval.json").is_file()]
    got = dict(zip([(n, s) for n, s, *_ in jobs], H.pool_map(measure, jobs, a.workers)))
    seeds = {n: [s for s in a.seeds if (n, s) in got] for n in names}
    rows = {n: [got[(n, s)] for s in seeds[n]] for n in names if seeds[n]}

    from ganforge.config import load_config

    thr = load_config(PRESET).doctor.overfit_auc
    lines = ["# The default job: quiet and healthy?", "",
             f"`python benchmarks/default_job.py --seeds {' '.join(map(str, a.seeds))}"
             f"{' --finished' if a.finished else ''}`: the default job (preset "
             f"`{PRESET}`, 6,000 steps unless its row says otherwise) trained through the API with the doctor on, per variant, over the seeds "
             "in the `seeds` column. Warnings: the doctor's verdict replayed from each run's files. "
             f"`d_auc`: P(D ranks a training digit above a held-out one), the running median the "
             f"`d_overfitting` detector reads (it warns above {thr}); max over the run and last. Quality: the "
             "run's final evaluation (2,000 samples of G_ema, the digit classifier's space) and the classifier's "
             "accuracy on 200 samples per requested class. Mean ± standard error over seeds.", "",
             "| variant | what | seeds | runs with a warning | d_auc max | d_auc last | " + " | ".join(KEYS) + " |",
             "|---|---|---|---|---|---|" + "---|" * len(KEYS)]
    for n, rs in rows.items():
        warned = sum(bool(r["warnings"]) for r in rs)
        cells = [H.pm([r[k] for r in rs], "{:.3f}", alone=None) for k in (*KEYS,)]
        lines.append(f"| `{n}` | {VARIANTS[n][0]} | {', '.join(map(str, seeds[n]))} | {warned}/{len(rs)} | "
                     f"{H.pm([r['auc_max'] for r in rs], '{:.3f}', alone=None)} | "
                     f"{H.pm([r['auc_last'] for r in rs], '{:.3f}', alone=None)} | " + " | ".join(cells) + " |")
    lines += ["", "Per run:", "", "| variant | seed | warnings (event @ step) | d_auc max | FID | recall | lowest class |",
              "|---|---|---|---|---|---|---|"]
    for n, rs in rows.items():
        for s, r in zip(seeds[n], rs):
            w = ", ".join(f"{e} @ {st}" for e, st in r["warnings"]) or "none"
            lines.append(f"| `{n}` | {s} | {w} | {r['auc_max']:.3f} | {r['fid']:.1f} | {r['recall']:.3f} | "
                         f"{100 * r['min_class_acc']:.1f} % |")
    H.write_results(lines, a.out, threads=a.threads, keep="<!-- reading -->")


if __name__ == "__main__":
    main()
