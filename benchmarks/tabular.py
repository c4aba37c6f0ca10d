"""ganforge's tabular GAN vs CTGAN, side by side (issue 15).

For each bundled table (breast_cancer, wine, penguins) and seed, both models are fitted on the
same training split (ganforge's stratified 70/30 split, fixed split seed), each draws 1000
synthetic rows, and both are measured by the same code (``ganforge.metrics.table``): quality
against the held-out split (SDMetrics' QualityReport definitions), TSTR next to TRTR, DCR and
exact copies. Fit seconds and peak resident memory are each fit's own process.

CTGAN (``ctgan`` 0.12.1, its defaults except ``epochs``) runs in a separate environment, never
a ganforge dependency: ``benchmarks/ctgan_fit.py`` under ``--ctgan-python``. Both sides run on
one CPU thread. Results: ``benchmarks/results/tabular.md``.

    python benchmarks/tabular.py                                   # full protocol: 3 seeds, CTGAN 300 and 3000 epochs
    python benchmarks/tabular.py --seeds 1 --ctgan-epochs 300      # a quick run
    python benchmarks/tabular.py --steps 1000 --ctgan-epochs --rows results/tabular_rows.jsonl   # ganforge only, rows kept
    python benchmarks/tabular.py --report --rows results/tabular_rows.jsonl                     # the table of every kept row
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch

import _harness as H

HERE = Path(__file__).resolve().parent
SRC = H.ROOT / "src"
READING = "<!-- reading: kept when the table is rebuilt -->"


def ganforge_fit(table: str, seed: int, steps: int, out_csv: str, run_dir: str, extra: list = ()) -> None:
    """In a child process: train the table_demo recipe (with the ``extra`` overrides) on
    ``table``, write 1000 rows; print JSON."""
    torch.set_num_threads(1)
    from ganforge import api

    # the preset's own progress, TensorBoard and sample settings, as `ganforge train` has them
    cfg = H.config("table_demo", [f"data.path={table}", f"train.steps={steps}", "eval.n_samples=200",
                                  f"train.ckpt_every={steps}", *extra], seed=seed, threads=1, quiet=())
    t = H.train(cfg, Path(run_dir), via_api=True)
    g = api.load(run_dir).generator
    g.data.to_frame(g.generate(1000, seed)).to_csv(out_csv, index=False)
    print(json.dumps({"fit_s": t.wall_s, "peak_mb": H.peak_mb(), "step": t.result.step}))


def _child(cmd: list) -> dict:
    r = subprocess.run(cmd, capture_output=True, text=True, env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    if r.returncode:
        raise RuntimeError(f"{cmd[:3]} failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def read_rows(path: str) -> list[dict]:
    """The rows a --rows file holds, one JSON object per line."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--tables", nargs="+", default=["breast_cancer", "wine", "penguins"])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=1500, help="ganforge: generator updates (the preset's 1,500)")
    p.add_argument("--ctgan-epochs", type=int, nargs="*", default=[300, 3000])
    p.add_argument("--ctgan-python", default="/work/ctgan-venv/bin/python")
    p.add_argument("--out", default=str(HERE / "results" / "tabular.md"))
    p.add_argument("--rows", metavar="FILE.jsonl", help="append every row to FILE.jsonl, and first read the rows "
                   "it already holds into the table (fits of another invocation, e.g. CTGAN's, run once)")
    p.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                   help="ganforge: overrides on top of table_demo (a recipe experiment; named in the row's budget)")
    p.add_argument("--report", action="store_true", help="fit nothing: write the table of the --rows file's rows")
    a = p.parse_args()
    if a.report:
        if not a.rows or not Path(a.rows).exists():
            p.error("--report needs --rows FILE.jsonl with rows in it")
        write(read_rows(a.rows), a)
        return
    torch.set_num_threads(1)
    sys.path.insert(0, str(SRC))
    rows = read_rows(a.rows) if a.rows and Path(a.rows).exists() else []
    with H.temp_dir("tabular-bench-") as tmp:
        fit_all(a, rows, tmp)
    write(rows, a)


def fit_all(a, rows: list, tmp: Path) -> None:
    """Fit every table, seed and model under ``tmp``; append the rows (and to the --rows file)."""
    from ganforge.config import load_config
    from ganforge.build import build_data
    from ganforge.data.table_transform import DISCRETE
    from ganforge.metrics.table import table_metrics

    for table in a.tables:
        data = build_data(load_config(preset="table_demo", overrides=[f"data.path={table}"]))
        train_csv = tmp / f"{table}-train.csv"
        numeric = [c for c, k in data.types.items() if k not in DISCRETE]
        data.train.dropna(subset=numeric).to_csv(train_csv, index=False)  # CTGAN refuses missing numbers
        discrete = ",".join(c for c, k in data.types.items() if k in DISCRETE)
        for seed in range(a.seeds):
            fits = [("ganforge", " ".join([f"{a.steps} steps", *a.set]))] + [("CTGAN", f"{e} epochs") for e in a.ctgan_epochs]
            for model, budget in fits:
                out = tmp / f"{table}-{model}-{budget.split()[0]}-{seed}.csv"
                if model == "ganforge":
                    cmd = [sys.executable, __file__, "--fit", table, str(seed), str(a.steps), str(out),
                           str(tmp / f"run-{table}-{seed}"), *a.set]
                else:
                    cmd = [a.ctgan_python, str(HERE / "ctgan_fit.py"), str(train_csv), str(out), "--discrete",
                           discrete, "--epochs", budget.split()[0], "--seed", str(seed)]
                info = _child(cmd)
                import pandas as pd

                synth = pd.read_csv(out)
                m = table_metrics(synth, data.train, data.holdout, data.types, data.target, seed)
                rows.append({"table": table, "model": model, "budget": budget, "seed": seed, **m, **info})
                H.emit_row(rows[-1], a.rows)


def write(rows: list, a) -> None:
    keys = ("quality", "column_shapes", "column_pair_trends", "tstr", "trtr", "dcr_holdout", "exact_copies",
            "fit_s", "peak_mb")
    head = "| table | model | budget | " + " | ".join(keys) + " |"
    lines = [head, "|" + "---|" * (3 + len(keys))]
    groups = {}

    def order(r: dict) -> tuple:
        return (a.tables.index(r["table"]) if r["table"] in a.tables else 99, r["model"], int(r["budget"].split()[0]),
                r["budget"])

    for r in sorted(rows, key=order):
        groups.setdefault((r["table"], r["model"], r["budget"]), []).append(r)
    for (table, model, budget), rs in groups.items():
        cells = []
        for k in keys:
            v = [r[k] for r in rs if k in r]
            if not v:
                cells.append("-")
                continue
            fmt = "{:.0f}" if k in ("fit_s", "peak_mb") else "{:.3f}"
            cells.append(H.pm(v, fmt, spread=H.sd, alone=None))  # mean ± sd
        lines.append(f"| {table} | {model} | {budget} | " + " | ".join(cells) + " |")
    n_seeds = len({r["seed"] for r in rows})
    if a.report:
        command = (f"`python benchmarks/tabular.py --report --rows {Path(a.rows).name}`: every row of that file, "
                   f"each written by the invocation that fitted it; mean ± sd over {n_seeds} seed(s).")
    else:
        rows_opt = f" --rows {Path(a.rows).name}" if a.rows else ""
        command = (f"`python benchmarks/tabular.py --seeds {a.seeds} --steps {a.steps} --ctgan-epochs "
                   f"{' '.join(map(str, a.ctgan_epochs))}{rows_opt}`; mean ± sd over {n_seeds} seed(s).")
        if a.rows:
            command += " Rows of earlier invocations (other budgets, CTGAN's fits) come from the --rows file."
    text = "\n".join([
        "# Tabular GANs: ganforge vs CTGAN",
        "",
        command,
        "",
        "Same training split (stratified 70/30, split seed 0), 1000 synthetic rows per fit, one evaluation "
        "code (`ganforge.metrics.table`): quality against the held-out split (SDMetrics QualityReport "
        "definitions), TSTR / TRTR (random forest, accuracy on the held-out split), DCR = median distance of a "
        "synthetic row to its nearest held-out row, exact copies of training rows. fit_s: ganforge's includes "
        "reading the table, fitting the transform, the doctor and a small final evaluation; CTGAN's is its "
        "`fit`. peak_mb: the fitting process's peak resident memory. Both on one CPU thread "
        "(`torch.set_num_threads(1)`) on a shared 2-core machine with other jobs running: timings are noisy. "
        "CTGAN 0.12.1 runs in a separate environment with its defaults except epochs; it refuses missing "
        "numbers, so it gets the penguins training rows without them (2 of 240).",
        "",
        *lines,
        "",
    ])
    # a written reading survives a rebuilt table; --report: the rows' fits may have run on other machines
    H.write_results(text, a.out, threads=1, keep=READING, footer=not a.report)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--fit":
        sys.path.insert(0, str(SRC))
        ganforge_fit(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7:])
    else:
        main()
