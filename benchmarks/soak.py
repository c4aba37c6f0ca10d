"""Soak test: a small run trained for N minutes; RSS at start and end, files in the run
directory and the cache. Run by hand, never as a test.

    python benchmarks/soak.py --minutes 120        # the 2-hour soak of the reliability issue
    python benchmarks/soak.py --minutes 10 --out benchmarks/results/soak.md

It trains the digits DCGAN at 8x8 (image grids, TensorBoard, evaluations with the feature
cache, checkpoints every 200 steps, keep 3) in a child process through the CLI, with as many
steps as fit, and samples that child's RSS (/proc/PID/status VmRSS) every 10 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import _harness as H

ROOT = H.ROOT


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def slope(samples: list) -> float:
    """MB per minute of a least-squares line through the RSS samples after the first 5 minutes
    (start-up allocations settle by then)."""
    pts = [(m, r) for m, r in samples if m >= 5] or samples
    mm = sum(m for m, _ in pts) / len(pts)
    rr = sum(r for _, r in pts) / len(pts)
    var = sum((m - mm) ** 2 for m, _ in pts)
    return sum((m - mm) * (r - rr) for m, r in pts) / var if var else float("nan")


def count(root: Path) -> dict:
    files = [p for p in root.rglob("*") if p.is_file()]
    return {"files": len(files), "ckpt": len(list(root.glob("ckpt-*.pt"))),
            "samples": len(list(root.glob("samples/*.png"))), "tb": len(list(root.glob("tb/*"))),
            "MB": sum(p.stat().st_size for p in files) / 2**20}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--out", default=str(H.RESULTS / "soak.md"))
    a = ap.parse_args()
    with H.temp_dir("ganforge-soak-") as work:
        rows = soak(a, work)
    H.write_results(rows, a.out, threads=1)


def soak(a, work: Path) -> list[str]:
    """Train in a child process under ``work`` for ``a.minutes``; the table's lines."""
    run, cache = work / "run", work / "cache"
    env = {**os.environ, "GANFORGE_CACHE": str(cache), "PYTHONPATH": str(ROOT / "src")}
    args = [sys.executable, "-m", "ganforge", "train", "--preset", "digits", "--out", str(run),
            "data.resolution=8", "model.g_width=8", "model.d_width=8", "train.batch_size=32", "train.threads=1",
            "train.steps=100000000", "train.log_every=50", "train.ckpt_every=200", "train.keep_ckpts=3",
            "train.sample_every=500", "eval.every=1000", "eval.n_samples=200", "train.progress=false"]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    samples = []  # (minutes, rss MB)
    while time.monotonic() - t0 < a.minutes * 60 and proc.poll() is None:
        time.sleep(10)
        if proc.poll() is None:
            samples.append(((time.monotonic() - t0) / 60, rss_mb(proc.pid)))
    proc.terminate()  # SIGTERM: like a killed job (Ctrl-C would checkpoint first)
    err = proc.communicate()[1]
    files, cached = count(run), count(cache)
    steps = sum(1 for line in (run / "metrics.jsonl").read_text().splitlines() if '"loss_d"' in line) * 50
    first = [r for m, r in samples if m >= 0.5][:1] or [samples[0][1]]
    rows = [
        f"# Soak: {a.minutes:g} minutes of `ganforge train --preset digits` at 8x8 (1 CPU thread)",
        "",
        "| measure | value |", "|---|---|",
        f"| steps trained | about {steps} |",
        f"| RSS after 30 s / at the end / max | {first[0]:.0f} / {samples[-1][1]:.0f} / {max(r for _, r in samples):.0f} MB |",
        f"| RSS samples (every 10 s) | {len(samples)} |",
        f"| RSS trend after minute 5 (least squares) | {slope(samples):+.3f} MB/min |",
        f"| run directory: files (checkpoints, sample PNGs, TensorBoard files) | {files['files']} ({files['ckpt']}, "
        f"{files['samples']}, {files['tb']}), {files['MB']:.1f} MB |",
        f"| cache: files, size | {cached['files']}, {cached['MB']:.1f} MB |",
        f"| exit | {proc.returncode} (terminated) {err.strip().splitlines()[-1] if err.strip() else ''} |",
        "", "RSS over time (minute: MB): " + ", ".join(f"{m:.1f}: {r:.0f}" for m, r in samples[:: max(1, len(samples) // 12)]),
    ]
    return rows


if __name__ == "__main__":
    main()
