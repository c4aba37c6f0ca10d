"""Video: MoCoGAN against the 3-D convolutional baseline on moving digits (issue 34).

For each data set (``moving_digits``: one digit, ``moving_digits2``: two), model (``mocogan``,
``video3d``: their presets ``mocogan_digits`` / ``video3d_digits``, the same data, widths,
batch and optimiser) and seed, one run trains for ``--steps`` steps or until ``--budget-s``
seconds of training, whichever comes first (checkpoints every 50 steps; measured at the last).
Then ``--n`` clips are drawn and measured by the ``video`` evaluator against as many clips of
the *held-out* digits (``ganforge.metrics.video``: FVD in ganforge's own clip-classifier space,
which is not I3D's; content consistency; frame FID; motion). The real data's own scores (a
second draw of held-out clips against the first) are the ceiling row. Training wall-clock is the
training alone, on ``--threads`` torch threads. Each run's first clips are saved as a GIF and a
frame strip under ``benchmarks/results/video/``.

    python benchmarks/video.py                                     # 3 seeds, 1 and 2 digits (hours on a CPU)
    python benchmarks/video.py --datasets moving_digits --seeds 1 --steps 2000 --budget-s 420
    python benchmarks/video.py --datasets moving_digits --seeds 1 --steps 4 --n 64   # a smoke run
    python benchmarks/video.py --predict-run RUN        # prediction vs copy-last-frame on 20 held-out clips
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import _harness as H

SRC = H.ROOT / "src"
KEYS = ("fvd", "consistency", "consistency_real", "frame_fid", "speed_w1", "speed", "speed_real", "bounces",
        "bounces_real")
SAVED = H.RESULTS / "video"


def run_one(job: dict) -> dict:
    sys.path.insert(0, str(SRC))
    import torch

    from ganforge.evaluation import sample_metrics

    torch.set_num_threads(job["threads"])


    over = [f"data.name={job['dataset']}", f"train.steps={job['steps']}", "train.ckpt_every=50",
            "train.keep_ckpts=1", "eval.every=0", "train.log_every=50", "doctor.enabled=false"]
    with H.trained(f"{job['model']}_digits", over, seed=job["seed"], threads=job["threads"], **H.budgeted(job["budget_s"])) as t:
        g = t.load()
        x = g.generate(job["n"], job["seed"])
        t0 = time.perf_counter()
        m = sample_metrics(x, g.data, 1234)
        tag = f"{job['dataset']}-{job['model']}-seed{job['seed']}"
        SAVED.mkdir(parents=True, exist_ok=True)
        kind = g.data.kind
        kind.write(x[:16], SAVED / f"{tag}.gif", g.data, prov={"benchmark": "benchmarks/video.py", "run": tag,
                                                                "step": g.step})
        kind.figure(x[:8], g.data).save(SAVED / f"{tag}.png")
        return {"dataset": job["dataset"], "model": job["model"], "seed": job["seed"], "steps": g.step,
                "train_s": t.wall_s, "eval_s": time.perf_counter() - t0, **{k: m[k] for k in KEYS}}


def real_row(dataset: str, n: int) -> dict:
    sys.path.insert(0, str(SRC))
    from ganforge.build import build_data
    from ganforge.config import load_config
    from ganforge.evaluation import sample_metrics

    data = build_data(load_config("mocogan_digits", [f"data.name={dataset}"]))
    m = sample_metrics(data.reference(n, 99), data, 1234)
    return {"dataset": dataset, "model": "real (held-out clips)", "seed": "-", **{k: m[k] for k in KEYS}}


def table(rows: list[dict]) -> list[str]:
    cols = ("fvd", "consistency", "frame_fid", "speed_w1", "speed", "bounces", "steps", "train_s")
    lines = ["| data | model | seeds | " + " | ".join(cols) + " |", "|" + "---|" * (3 + len(cols))]
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["model"]), []).append(r)
    for (dataset, model), rs in groups.items():
        cells = []
        for k in cols:
            v = [r[k] for r in rs if k in r]
            fmt = "{:.0f}" if k in ("steps", "train_s", "fvd", "frame_fid") else "{:.3f}"
            cells.append(H.pm(v, fmt, spread=H.sd, alone=None) if v else "-")
        seeds = len(rs) if rs[0]["seed"] != "-" else "-"
        lines.append(f"| {dataset} | {model} | {seeds} | " + " | ".join(cells) + " |")
    return lines


def prediction(run_dir: str, n: int, k: int, steps: int) -> list[str]:
    """``ganforge predict``'s method on ``n`` held-out clips of a trained run: mean PSNR per future
    step of the prediction and of copy-last-frame (a table's lines)."""
    sys.path.insert(0, str(SRC))
    from ganforge.api import load_run
    from ganforge.apps.predict import predict

    run = load_run(run_dir)
    clips = run.data.reference(n, 4321)
    rows = [predict(run, c, k, seed=i, steps=steps)[1] for i, c in enumerate(clips)]
    lines = [f"Prediction by latent search (`ganforge predict`, {steps} Adam steps, 8 starts) on {n} held-out clips, "
             f"{k} frames observed, run `{run_dir}` (step {run.step}):", "",
             "| future step | PSNR predicted | PSNR copy-last | SSIM predicted | SSIM copy-last |", "|---|---|---|---|---|"]
    for s in range(len(rows[0])):
        m = {key: sum(r[s][key] for r in rows) / n for key in rows[0][s]}
        lines.append(f"| {s + 1} | {m['psnr']:.2f} | {m['psnr_copy_last']:.2f} | {m['ssim']:.3f} | "
                     f"{m['ssim_copy_last']:.3f} |")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["moving_digits", "moving_digits2"])
    p.add_argument("--models", nargs="+", default=["mocogan", "video3d"])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--budget-s", type=float, default=0)
    p.add_argument("--n", type=int, default=500, help="clips drawn and measured per run")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(H.RESULTS / "video.md"))
    p.add_argument("--predict-run", help="only measure prediction on this trained run; print the table")
    a = p.parse_args()
    if a.predict_run:
        print("\n".join(prediction(a.predict_run, 20, 8, 100)))
        return
    rows = []
    for dataset in a.datasets:
        rows.append(real_row(dataset, a.n))
        for model in a.models:
            for seed in range(a.seeds):
                r = run_one({"dataset": dataset, "model": model, "seed": seed, "steps": a.steps,
                             "budget_s": a.budget_s, "n": a.n, "threads": a.threads})
                print(json.dumps(r), flush=True)
                rows.append(r)
    lines = ["# Video: MoCoGAN and the 3-D baseline on moving digits", "",
             f"Command: `python benchmarks/video.py {' '.join(sys.argv[1:])}`", "",
             "FVD is in ganforge's own clip-classifier space (a small 3-D conv net trained on moving digits, "
             "cached), **not** the I3D FVD of the literature (I3D's weights are a download). Lower is better for "
             "fvd, frame_fid (digit-classifier space) and speed_w1 (px per frame); consistency is the share of clips "
             "whose every frame reads as one digit (the real row is the ceiling); speed is the mean displacement of "
             "the centre of mass per frame, bounces the mean sign flips per clip, each to compare with the real row. "
             f"Measured on {a.n} generated clips against {a.n} clips of held-out digits. Mean ± sd over seeds; "
             "train_s is the training's wall-clock alone, on a shared 2-core CPU (under load from other jobs).", "",
             *table(rows), "", "Per-run rows (JSON):", "", "```",
             *[json.dumps(r) for r in rows], "```"]
    H.write_results(lines, a.out, threads=a.threads)


if __name__ == "__main__":
    main()
