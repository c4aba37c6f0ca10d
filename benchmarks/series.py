"""Time series: ganforge's sequence models against TimeGAN's published scores (issue 32).

For each dataset, model and seed, one run trains from the model's sines preset
(``timegan_sines`` / ``rcgan_sines``: hidden size 24, 3 GRU layers, Adam 1e-3) with
``data.name`` set to the dataset and ``model.z_dim`` = T x F (per-step noise of F values), for
``--steps`` generator steps or until ``--budget-s`` seconds of training, whichever comes first.
Then ``--n-samples`` sequences are drawn (default 10,000: all of sines, as TimeGAN scores it;
the real sets are scored on all their windows) and measured by the ``series`` evaluator
(``ganforge.metrics.series``: TimeGAN's discriminative and predictive scores with its iteration
counts, the real data's own predictive score, ACF and marginal distances; TSTR / TRTR on
labelled sets, whose runs are conditional and draw the classes in turn). Training wall-clock
is the training alone (no evaluation, no doctor), on ``--threads`` torch threads per run.
Results: ``benchmarks/results/series.md``, with the TimeGAN paper's Table 2 as anchors.

    python benchmarks/series.py                                            # full: 3 seeds, sines + macro + basicmotions
    python benchmarks/series.py --datasets sines --seeds 1 --steps 3000 --budget-s 600   # a ~30-minute run
    python benchmarks/series.py --datasets sines --models rcgan --seeds 1 --steps 20 --n-samples 200 --eval-steps 20
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import _harness as H

HERE = Path(__file__).resolve().parent
SRC = H.ROOT / "src"
READING = "<!-- reading: kept when the table is rebuilt -->"
KEYS = ("discriminative", "predictive", "predictive_real", "acf_distance", "marginal_w1", "tstr", "trtr")

# TimeGAN (Yoon et al. 2019), Table 2: discriminative / predictive scores, mean (± sd where given)
ANCHORS = [
    "| dataset | TimeGAN | RCGAN | C-RNN-GAN | original data, predictive |",
    "|---|---|---|---|---|",
    "| sines | 0.011 ± 0.008 / 0.093 ± 0.019 | 0.022 / 0.097 | 0.229 / 0.127 | 0.094 |",
    "| stocks | 0.102 / 0.038 | | | |",
    "| energy | 0.236 / 0.273 | | | |",
]


def run_one(job: dict) -> list[dict]:
    """In a pool worker: train one (dataset, model, seed), measure it; rows of numbers: one for
    the generator ``api.load_run`` gives (G_ema when the run keeps one), and with ``score_raw``
    one more for the raw G of the same run."""
    sys.path.insert(0, str(SRC))
    import torch

    from ganforge.api import load_run
    from ganforge.build import build_data
    from ganforge.config import load_config
    from ganforge.evaluation import sample_metrics
    from ganforge.metrics import series as series_metrics

    torch.set_num_threads(job["threads"])
    if job["eval_steps"]:  # smoke runs only: TimeGAN's iteration counts otherwise
        series_metrics.STEPS = {k: job["eval_steps"] for k in series_metrics.STEPS}
    series_metrics.REPEATS = job["repeats"]  # TimeGAN averages 10 trainings of each post-hoc network
    preset = f"{job['model']}_sines"
    data = build_data(load_config(preset, [f"data.name={job['dataset']}"]))
    T, F = data.shape
    over = [f"data.name={job['dataset']}", f"model.z_dim={T * F}", f"train.steps={job['steps']}",
            f"train.ckpt_every={min(job['steps'], 100) if job['budget_s'] else job['steps']}", "train.keep_ckpts=1",
            "eval.every=0", "train.log_every=100"]
    if data.n_classes > 1:
        over.append("model.conditional=true")
    over += job["set"]  # --set: the variant's own overrides, last so they win

    rows = []
    with H.trained(preset, over, seed=job["seed"], threads=job["threads"], **H.budgeted(job["budget_s"])) as t:
        first = load_run(t.run_dir)  # G_ema when the run kept one, else G
        for g in [first] + ([load_run(t.run_dir, ema=False)] if job["score_raw"] and first.ema else []):
            n = min(job["n_samples"], len(data.x))
            t0 = time.perf_counter()
            y = torch.arange(n) % data.n_classes if data.n_classes > 1 else None
            x = g.generate(n, job["seed"], label=y)
            m = sample_metrics(x, g.data, job["seed"], labels=y)
            rows.append({"dataset": job["dataset"], "model": job["model"], "variant": job["label"],
                         "g": "G_ema" if g.ema else "G", "seed": job["seed"], "steps": g.step,
                         "train_s": t.wall_s, "eval_s": time.perf_counter() - t0, "n": m["n"], "repeats": job["repeats"],
                         "shape": [T, F],
                         **{k: m[k] for k in KEYS if k in m}})
    return rows


def available(dataset: str) -> bool:
    """Whether ``dataset`` can be read here (basicmotions needs sktime's or aeon's files); says why not."""
    sys.path.insert(0, str(SRC))
    from ganforge.build import build_data
    from ganforge.config import load_config
    from ganforge.errors import GanforgeError

    try:
        build_data(load_config("timegan_sines", [f"data.name={dataset}"]))
    except GanforgeError as e:
        print(f"skipping {dataset}: {e}", file=sys.stderr)
        return False
    return True


def table(rows: list[dict], a) -> list[str]:
    """The measured table: mean ± sd over seeds of each (dataset, model, variant, generator)."""
    cols = ("discriminative", "predictive", "predictive_real", "acf_distance", "marginal_w1", "tstr", "trtr",
            "steps", "train_s")
    lines = ["| dataset (T x F) | model | G | seeds | " + " | ".join(cols) + " |", "|" + "---|" * (4 + len(cols))]
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["model"], r.get("variant", ""), r.get("g", "G")), []).append(r)
    for (dataset, model, variant, g), rs in sorted(groups.items(), key=lambda kv: (
            a.datasets.index(kv[0][0]), a.models.index(kv[0][1]), kv[0][2], kv[0][3])):
        cells = []
        for k in cols:
            v = [r[k] for r in rs if k in r]
            fmt = "{:.0f}" if k in ("steps", "train_s") else "{:.3f}"
            cells.append(H.pm(v, fmt, spread=H.sd, alone=None) if v else "-")
        T, F = rs[0]["shape"]
        name = f"{model} ({variant})" if variant else model
        lines.append(f"| {dataset} ({T} x {F}) | {name} | {g} | {len(rs)} | " + " | ".join(cells) + " |")
    return lines


def write(rows: list[dict], a) -> str:
    out = Path(a.out)
    kept = H.kept_reading(out, READING)
    lines = ["# Time series: TimeGAN's protocol", "",
             "Discriminative score |accuracy - 0.5| of a post-hoc GRU classifier (lower is better, 0 = "
             "indistinguishable); predictive score: MAE on real sequences of a GRU trained on synthetic ones "
             "(train on synthetic, test on real), next to the same GRU trained on real (`predictive_real`, "
             "TimeGAN's \"original data\"). Protocol: docs/data/series.md. Mean ± sd over seeds; `train_s` is "
             "the training's wall-clock alone, on "
             f"{a.threads} torch thread(s) per run and {a.jobs} run(s) at a time.", "",
             f"Settings: `{' '.join(sys.argv[1:]) or '(defaults)'}`; " + (
                 f"the table rebuilt from the rows in `{a.from_rows}`, each of which gives its samples scored "
                 "(`n`) and the trainings its scores average (`repeats`)." if a.from_rows else
                 f"up to {a.n_samples} samples scored per run, discriminative and predictive scores averaged over "
                 f"{a.metric_repeats} trainings of their networks each (TimeGAN's `metric_iteration`)"
                 + (f", evaluator networks shortened to {a.eval_steps} iterations (smoke run: not the protocol)"
                    if a.eval_steps else "") + "."),
             "", "## Measured", "", *table(rows, a), "",
             "## Anchors: TimeGAN paper, Table 2 (discriminative / predictive)", "", *ANCHORS, "",
             READING, "", kept, ""]
    return H.write_results(lines, out, threads=a.threads)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["sines", "macro", "basicmotions"])
    p.add_argument("--models", nargs="+", default=["timegan", "rcgan"])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=6000, help="training steps per run (timegan: a third per phase)")
    p.add_argument("--budget-s", type=float, default=900.0,
                   help="stop a run's training after this many seconds (0: no limit); the issue's 15 minutes")
    p.add_argument("--n-samples", type=int, default=10_000, help="sequences scored per run (all of sines: 10,000)")
    p.add_argument("--eval-steps", type=int, default=0, help="shorten the evaluator's networks (smoke runs only)")
    p.add_argument("--metric-repeats", type=int, default=10,
                   help="trainings of the discriminative and predictive networks averaged per run (TimeGAN's "
                        "metric_iteration: 10)")
    p.add_argument("--first-seed", type=int, default=0, help="seeds run from here (more seeds into one --rows file)")
    p.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                   help="overrides for every run, after the script's own (e.g. train.ema_beta=0.999)")
    p.add_argument("--label", default="", help="the variant's name in the table (with --set)")
    p.add_argument("--score-raw", action="store_true",
                   help="when the runs keep an EMA of G, also score the raw G of the same run (a second row)")
    p.add_argument("--from-rows", metavar="FILE.jsonl", help="no training: the table from a --rows file")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run")
    p.add_argument("--jobs", type=int, default=1, help="runs at a time (processes)")
    p.add_argument("--rows", metavar="FILE.jsonl", help="also append every row to FILE.jsonl")
    p.add_argument("--out", default=str(HERE / "results" / "series.md"))
    a = p.parse_args()
    if a.from_rows:
        rows = [json.loads(line) for line in Path(a.from_rows).read_text().splitlines() if line.strip()]
        print("\n".join(table(rows, a)))
        write(rows, a)
        return
    a.datasets = [d for d in a.datasets if available(d)]
    jobs = [{"dataset": d, "model": m, "seed": s, "steps": a.steps, "budget_s": a.budget_s, "threads": a.threads,
             "n_samples": a.n_samples, "eval_steps": a.eval_steps, "repeats": a.metric_repeats, "set": a.set,
             "label": a.label, "score_raw": a.score_raw}
            for d in a.datasets for m in a.models for s in range(a.first_seed, a.first_seed + a.seeds)]
    rows = []
    for job_rows in H.pool_map(run_one, jobs, workers=a.jobs):
        for row in job_rows:
            rows.append(row)
            H.emit_row(row, a.rows)
    write(rows, a)


if __name__ == "__main__":
    main()
