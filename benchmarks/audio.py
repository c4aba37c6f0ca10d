"""Audio: conditional WaveGAN and SpecGAN on ganforge's spoken digits, measured as WaveGAN was (issue 33).

The set: ``ganforge dataset build speech:digits --out SET.gfd`` (8 espeak-ng voices x 4 pitch levels
x 10 digits x 4 repeats = 1,280 clips; 960 from 24 training speakers, 320 from 8 held-out ones),
read at ``--rate`` Hz. Each (game, seed) trains the ``wavegan_digits`` preset (conditional on the
digit; SpecGAN with ``model.name=specgan``) for ``--steps`` generator steps or until ``--budget-s`` seconds of training, whichever
comes first; then ``--n-samples`` clips, the classes in turn, are measured by the ``audio``
evaluator (``ganforge.metrics.audio``): the Inception Score in the space of a spectrogram digit
classifier trained on the training speakers (tested on the held-out ones), the held-out real
clips' own score (the ceiling, ``is_real``), their ratio, FID in the classifier's space, the
accuracy with which the clips read as the digit asked for, the memorisation ratio and the spectral
distance. Training wall-clock is the training alone. Results: ``benchmarks/results/audio.md``, with
the WaveGAN paper's SC09 scores as anchors; the last run's clips (one per digit) are written to
``benchmarks/results/audio/`` as a WAV and a spectrogram grid, to listen to.

    python benchmarks/audio.py --set digits8k.gfd                       # the defaults below
    python benchmarks/audio.py --set digits8k.gfd --rate 4000 --games wgan_gp ns --rows rows.jsonl
    python benchmarks/audio.py --set digits8k.gfd --rate 4000 --games specgan_ns --keep rows.jsonl
    python benchmarks/audio.py --set tiny.gfd --steps 4 --n-samples 40 --overrides model.g_width=4 model.d_width=4
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
COLS = ("inception_score", "inception_score_real", "is_ratio", "fid", "class_accuracy", "nn_ratio",
        "spectral_distance", "classifier_accuracy", "steps", "train_s")
NS = ["loss.name=non_saturating", "train.d_steps=1", "optim.g_lr=2e-4", "optim.d_lr=2e-4",
      "optim.g_betas=[0.5,0.99]", "optim.d_betas=[0.5,0.99]"]
GAMES = {  # name -> (the table's words, overrides of the wavegan_digits preset)
    "wgan_gp": ("WaveGAN, WGAN-GP, 5 D steps (the paper's game)", []),
    "wgan_gp_d1": ("WaveGAN, WGAN-GP, 1 D step", ["train.d_steps=1"]),
    "ns": ("WaveGAN, non-saturating, 1 D step", NS),
    "specgan_wgan_gp": ("SpecGAN, WGAN-GP, 5 D steps (the paper's game)", ["model.name=specgan"]),
    "specgan_ns": ("SpecGAN, non-saturating, 1 D step", ["model.name=specgan", *NS]),
}
ANCHORS = [  # Donahue et al. 2019, Table 1 (SC09, Inception Score of 50,000 samples)
    "| | real data (test) | WaveGAN (phase shuffle 2) | SpecGAN | ratio to real: WaveGAN / SpecGAN |",
    "|---|---|---|---|---|",
    "| Inception Score | 9.18 ± 0.04 | 4.67 ± 0.01 | 6.03 ± 0.04 | 0.51 / 0.66 |",
]


def run_one(job: dict) -> dict:
    sys.path.insert(0, str(SRC))
    import torch

    from ganforge.evaluation import sample_metrics

    torch.set_num_threads(job["threads"])
    over = [f"data.path={job['set']}", f"data.sample_rate={job['rate']}", f"train.steps={job['steps']}",
            "train.ckpt_every=50", "train.keep_ckpts=1", "eval.every=0", "train.log_every=25",
            *GAMES[job["game"]][1], *job["overrides"]]


    with H.trained("wavegan_digits", over, seed=job["seed"], threads=job["threads"], **H.budgeted(job["budget_s"])) as t:
        g = t.load()
        n = job["n_samples"]
        y = torch.arange(n) % g.data.n_classes
        t0 = time.perf_counter()
        x = g.generate(n, job["seed"], label=y)
        m = sample_metrics(x, g.data, job["seed"], labels=y)
        if job["listen"]:  # one clip per digit, to listen to and look at
            out = HERE / "results" / "audio"
            out.mkdir(parents=True, exist_ok=True)
            ten = g.generate(g.data.n_classes, job["seed"], label=torch.arange(g.data.n_classes))
            kind = g.data.kind
            prov = {"benchmark": "benchmarks/audio.py", "game": job["game"], "seed": job["seed"], "step": g.step}
            from ganforge.files import save_image, write_output

            name = job["game"] if job["game"].startswith("specgan") else f"wavegan_{job['game']}"
            write_output(out / f"{name}.wav", kind.content(ten, ".wav", g.data), prov)
            save_image(kind.figure(ten, g.data, rows=list(g.data.condition_spec.names)),
                       out / f"{name}.png", {k: str(v) for k, v in prov.items()})
        return {"game": job["game"], "seed": job["seed"], "steps": g.step, "train_s": t.wall_s,
                "eval_s": time.perf_counter() - t0, "n": m["n"], **{k: m[k] for k in COLS if k in m},
                "per_class_accuracy": m.get("per_class_accuracy")}


def table(rows: list[dict]) -> list[str]:
    games = list(dict.fromkeys(r["game"] for r in rows))
    lines = ["| model, game | seeds | " + " | ".join(COLS) + " |", "|" + "---|" * (2 + len(COLS))]
    for game in games:
        rs = [r for r in rows if r["game"] == game]
        if not rs:
            continue
        cells = []
        for k in COLS:
            v = [r[k] for r in rs if k in r]
            fmt = "{:.0f}" if k in ("steps", "train_s") else "{:.3f}"
            cells.append(H.pm(v, fmt, spread=H.sd, alone=None) if v else "-")
        lines.append(f"| {GAMES[game][0]} | {len(rs)} | " + " | ".join(cells) + " |")
    return lines


def write(rows: list[dict], a) -> str:
    out = Path(a.out)
    kept = H.kept_reading(out, READING)
    lines = ["# Audio: spoken digits, WaveGAN's protocol", "",
             "Inception Score (exp E[KL(p(y|x) || p(y))], 1..10) and FID in the space of a spectrogram digit "
             "classifier trained on the training speakers' clips; `inception_score_real`: the held-out speakers' "
             "real clips, the ceiling; `is_ratio` the two's ratio (what carries between datasets); `class_accuracy`: "
             "clips read as the digit asked for; `nn_ratio`: nearest-training-clip distance of generated over "
             "held-out real clips (far below 1: copying); `classifier_accuracy`: the classifier's accuracy on the "
             f"held-out speakers. Protocol: docs/data/audio.md. Mean ± sd over seeds; `train_s` is the training's "
             f"wall-clock alone, on {a.threads} torch thread(s), on a 2-core machine shared with other jobs.", "",
             f"Settings: `{' '.join(sys.argv[1:]) or '(defaults)'}`; {a.n_samples} clips scored per run, "
             f"{a.rate} Hz.", "", "## Measured", "", *table(rows), "",
             "Per-class accuracy of the last run of each game: " + "; ".join(
                 f"{r['game']}: " + ", ".join(f"{k} {v:.2f}" for k, v in (r["per_class_accuracy"] or {}).items())
                 for r in rows if r["seed"] == max(x["seed"] for x in rows)), "",
             "## Anchors: WaveGAN paper (Donahue et al. 2019), Table 1, SC09", "", *ANCHORS, "",
             READING, "", kept, ""]
    return H.write_results(lines, out, threads=a.threads)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", required=True, help="a speech:digits set (ganforge dataset build speech:digits)")
    p.add_argument("--rate", type=int, default=8000, help="data.sample_rate: clips are resampled to it")
    p.add_argument("--games", nargs="+", default=["wgan_gp"], choices=sorted(GAMES))
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--budget-s", type=float, default=600.0, help="stop a run's training after this many seconds")
    p.add_argument("--n-samples", type=int, default=500)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--overrides", nargs="*", default=[], help="more config overrides for every run")
    p.add_argument("--no-listen", dest="listen", action="store_false", help="write no WAV/PNG of the last runs")
    p.add_argument("--rows", metavar="FILE.jsonl", help="also append every row to FILE.jsonl")
    p.add_argument("--keep", metavar="FILE.jsonl", help="rows of earlier runs (--rows) to put in the table too")
    p.add_argument("--out", default=str(HERE / "results" / "audio.md"))
    a = p.parse_args()
    rows = [json.loads(line) for line in Path(a.keep).read_text().splitlines() if line.strip()] if a.keep else []
    for game in a.games:
        for s in range(a.seeds):
            job = {"set": str(Path(a.set).resolve()), "rate": a.rate, "game": game, "seed": s, "steps": a.steps,
                   "budget_s": a.budget_s, "threads": a.threads, "n_samples": a.n_samples,
                   "overrides": a.overrides, "listen": a.listen and s == a.seeds - 1}
            row = run_one(job)
            rows.append(row)
            H.emit_row(row, a.rows)
    write(rows, a)


if __name__ == "__main__":
    main()
