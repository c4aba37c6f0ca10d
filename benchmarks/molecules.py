"""Molecules: LatentGAN and MolGAN on MOSES against the MOSES paper's anchors (issue 31).

MolGAN (``molgan_moses``: graphs of at most 20 heavy atoms, WGAN-GP) trains ``--molgan-steps`` steps
on the same subset (those of its molecules within 20 atoms) and is measured alike.

For each seed, one run trains from the ``latentgan_moses`` preset on the first ``--limit`` MOSES
training molecules: ``--ae-steps`` autoencoder steps (``i2i.pretrain_steps``), then ``--gan-steps``
WGAN-GP steps. Then ``--n-samples`` molecules are drawn and measured by the ``molecules`` evaluator
(``ganforge.metrics.molecules``: validity, unique@1k/@10k, novelty against MOSES's whole training
file, FCD/Test and FCD/TestSF against MOSES's precomputed test statistics, SNN against its first
10,000 test molecules, Frag, Scaf, IntDiv1/2, filters, property distances). The property table:
the share of samples with QED >= 0.9, of plain samples and of ``sample --objective qed`` (an
evolution strategy over z, ``apps/molecules.py``), against the training molecules' own share.
Training wall-clock is the training alone (doctor and evaluation off), on ``--threads`` threads.
Runs are kept in ``--keep DIR/seed-N`` (``--reuse``: measure a kept run again without training).

    python benchmarks/molecules.py                                  # 1 seed, 20k molecules, ~15 min of CPU
    python benchmarks/molecules.py --seeds 3 --ae-steps 3000 --gan-steps 3000 --n-samples 30000   # closer to MOSES
    python benchmarks/molecules.py --limit 2000 --ae-steps 20 --gan-steps 20 --n-samples 200      # smoke
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
KEYS = ("validity", "unique@1k", "unique@10k", "novelty", "fcd", "fcd_sf", "snn", "snn_sf", "frag", "scaf",
        "intdiv1", "intdiv2", "filters", "logp", "sa", "qed", "weight")

ANCHORS = [
    "| model | validity | FCD/Test | novelty |",
    "|---|---|---|---|",
    "| CharRNN | 0.975 | 0.073 | 0.842 |",
    "| VAE | 0.977 | 0.099 | 0.695 |",
    "| AAE | 0.937 | 0.556 | 0.793 |",
    "| JTN-VAE | 1.0 | 0.395 | 0.914 |",
    "| LatentGAN | 0.897 | 0.296 | 0.949 |",
]


def run_one(job: dict) -> dict:
    sys.path.insert(0, str(SRC))
    import numpy as np
    import torch

    torch.set_num_threads(job["threads"])
    model = job["model"]
    out = Path(job["keep"]) / (f"seed-{job['seed']}" if model == "latentgan" else f"{model}-seed-{job['seed']}")
    steps = job["ae_steps"] + job["gan_steps"] if model == "latentgan" else job["molgan_steps"]
    over = [f"data.limit={job['limit']}", f"train.steps={steps}", "train.keep_ckpts=1", f"train.ckpt_every={steps}",
            "eval.every=0", "train.log_every=100", "doctor.enabled=false"]
    if model == "latentgan":
        over += [f"i2i.pretrain_steps={job['ae_steps']}", f"model.g_width={job['width']}"]
    train_s = None
    if not (job["reuse"] and (out / "config.yaml").exists()):
        out.mkdir(parents=True, exist_ok=True)
        t = H.train(H.config(f"{model}_moses", over, seed=job["seed"], threads=job["threads"]), out, callbacks=[])
        train_s = t.wall_s
        (out / "train_s.json").write_text(json.dumps({"train_s": train_s}))
    else:
        train_s = json.loads((out / "train_s.json").read_text())["train_s"]
    from ganforge.api import load_run
    from ganforge.apps.molecules import optimise
    from ganforge.evaluation import sample_metrics
    from ganforge.metrics.molecules import properties

    g = load_run(out)
    t0 = time.perf_counter()
    x = g.generate(job["n_samples"], job["seed"])
    m = sample_metrics(x, g.data, job["seed"])
    eval_s = time.perf_counter() - t0
    gen = g.data.strings(x)
    qed_gen = properties(gen, ("qed",))["qed"]
    qed_train = properties(g.data.smiles, ("qed",))["qed"]
    t0 = time.perf_counter()
    opt = optimise(g, job["objective_n"], "qed", job["seed"])
    opt_s = time.perf_counter() - t0
    row = {"model": model, "seed": job["seed"], "steps": g.step, "train_s": train_s, "eval_s": eval_s, "n": m["n"],
           **{k: m[k] for k in KEYS if k in m},
           "qed09_train": float(np.mean(qed_train >= 0.9)), "qed09_samples": float(np.nanmean(qed_gen >= 0.9)),
           "qed09_objective": opt.share_above, "objective_valid_unique_novel": opt.share_kept,
           "objective_mean": opt.mean, "sample_mean_qed": float(np.nanmean(qed_gen)), "objective_s": opt_s}
    from ganforge.files import write_output

    write_output(out / "grid.png", g.data.kind.content(x[:48], ".png", g.data), {})
    return row


def table(rows: list[dict]) -> list[str]:
    models = sorted({r["model"] for r in rows})
    lines = ["| metric | " + " | ".join(f"{m} (seeds: {sum(r['model'] == m for r in rows)})" for m in models) + " |",
             "|---|" + "---|" * len(models)]
    for k in (*KEYS, "steps", "train_s", "eval_s"):
        fmt = "{:.0f}" if k in ("steps", "train_s", "eval_s") else "{:.3f}"
        cells = []
        for m in models:
            v = [r[k] for r in rows if r["model"] == m and k in r]
            cells.append(H.pm(v, fmt, spread=H.sd, alone=None) if v else "-")
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return lines


def prop_table(rows: list[dict]) -> list[str]:
    lines = ["| model | | share with QED >= 0.9 | mean QED |", "|---|---|---|---|"]
    for m in sorted({r["model"] for r in rows}):
        rs = [r for r in rows if r["model"] == m]
        get = lambda k: H.pm([r[k] for r in rs], "{:.3f}", spread=H.sd, alone=None)  # noqa: E731
        lines.append(f"| {m} | training molecules | {get('qed09_train')} | |")
        lines.append(f"| {m} | samples | {get('qed09_samples')} | {get('sample_mean_qed')} |")
        lines.append(f"| {m} | `sample --objective qed` (valid, unique, novel) | {get('qed09_objective')} | "
                     f"{get('objective_mean')} |")
    return lines


def write(rows: list[dict], a) -> str:
    out = Path(a.out)
    kept = H.kept_reading(out, READING)
    lines = ["# Molecules: the MOSES protocol (LatentGAN, MolGAN)", "",
             "Protocol: docs/data/molecules.md. Mean ± sd over seeds; `train_s` is the training's wall-clock "
             f"alone on {a.threads} torch thread(s), on a 2-core CPU shared with other jobs (timings under load).", "",
             f"Settings: `{' '.join(sys.argv[1:]) or '(defaults)'}`: {a.limit} MOSES training molecules, "
             f"LatentGAN {a.ae_steps} autoencoder + {a.gan_steps} WGAN-GP steps, GRU width {a.width}; MolGAN "
             f"{a.molgan_steps} steps on those of at most 20 heavy atoms; {a.n_samples} samples "
             f"scored per run (MOSES: 30,000), {a.seeds} seed(s) (MOSES: 3).", "",
             "## Measured", "", *table(rows), "",
             f"## Property-directed sampling ({a.objective_n} molecules asked of `--objective qed`)", "",
             *prop_table(rows), "",
             "## Anchors: MOSES paper (GPU-trained, full training set)", "", *ANCHORS, "",
             "Targets (issue 31, within 60 minutes of CPU training): validity >= 0.90, unique@10k >= 0.99, "
             "novelty >= 0.90, FCD/Test <= 1.0.", "", READING, "", kept, ""]
    return H.write_results(lines, out, threads=a.threads)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["latentgan", "molgan"])
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--molgan-steps", type=int, default=3000, help="MolGAN's training steps (molgan_moses preset)")
    p.add_argument("--limit", type=int, default=20_000, help="MOSES training molecules (data.limit)")
    p.add_argument("--ae-steps", type=int, default=1500)
    p.add_argument("--gan-steps", type=int, default=1500)
    p.add_argument("--width", type=int, default=128, help="model.g_width (GRU and MLP width)")
    p.add_argument("--n-samples", type=int, default=10_000)
    p.add_argument("--objective-n", type=int, default=200, help="molecules asked of --objective qed")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--keep", default="/tmp/ganforge-molecules-bench", help="where the runs are kept")
    p.add_argument("--reuse", action="store_true", help="measure kept runs again without training")
    p.add_argument("--rows", metavar="FILE.jsonl", help="also append every row to FILE.jsonl")
    p.add_argument("--table-only", action="store_true", help="write the table from --rows without running anything")
    p.add_argument("--out", default=str(HERE / "results" / "molecules.md"))
    a = p.parse_args()
    if a.table_only:
        write([json.loads(line) for line in Path(a.rows).read_text().splitlines() if line.strip()], a)
        return
    rows = []
    for m, s in [(m, s) for m in a.models for s in range(a.seeds)]:
        row = run_one({"model": m, "seed": s, "limit": a.limit, "ae_steps": a.ae_steps, "gan_steps": a.gan_steps,
                       "width": a.width, "molgan_steps": a.molgan_steps, "n_samples": a.n_samples,
                       "objective_n": a.objective_n, "threads": a.threads, "keep": a.keep, "reuse": a.reuse})
        rows.append(row)
        H.emit_row(row, a.rows)
    write(rows, a)


if __name__ == "__main__":
    main()
