"""How well the training doctor diagnoses: seeded healthy and broken runs, one failure each.

Every scenario is a real ganforge run (``ganforge.train.loop.train``) with the doctor on, in a
temporary run directory; its ``metrics.jsonl`` events are compared with the failure the
scenario was built to have. Writes ``benchmarks/results/doctor.md``:

- per scenario: runs, runs where the expected kind was raised (detected), runs with any
  *other* warning (false alarms), and the delay from the known onset to the first alarm;
- healthy scenarios expect no warning at all (their "detected" column counts clean runs).

    python benchmarks/doctor.py                 # 5 seeds per scenario
    python benchmarks/doctor.py --seeds 2 --only vanishing collapse

Scenarios (onset = the step from which the failure is present by construction):

- ``healthy_grid25`` / ``healthy_ring8``: the tuned presets, shortened to 4,000 steps.
- ``healthy_digits``: the ``overfitting`` scenario on the full training set (1,437 digits, the
  360 held-out ones as the probe): the same D and budget must raise no alarm.
- ``vanishing``: the saturating minimax loss against a much stronger D (5 D steps at lr 1e-3,
  G at lr 1e-5); onset 0.
- ``collapse``: grid25 learns for 1,500 steps, then D is frozen (lr 1e-6) and G rushed (lr
  1e-2): coverage falls to one mode; onset 1,500.
- ``divergence``: SGD at learning rate 1.0: NaN, rollbacks (at most 3), then a clean stop.
- ``oscillation``: grid25 with k = 1, beta1 = 0.9 and a constant lr 1e-3 (no decay).
- ``overfitting``: a DCGAN on 200 training digits (``data.limit=200``) with a wide D for 600
  steps (about 190 epochs), the 360 held-out test digits as the probe.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
from pathlib import Path

import torch

import _harness as H

# name: (expected kind, or None for healthy; onset step; [(preset or "resume", overrides), ...])
SCENARIOS = {
    "healthy_grid25": (None, None, [("grid25", ["train.steps=4000", "eval.every=1000"])]),
    "healthy_ring8": (None, None, [("ring8", ["train.steps=4000", "eval.every=1000"])]),
    "healthy_digits": (None, None, [("digits", [
        "model.d_width=64", "train.steps=600", "train.log_every=20", "eval.every=0", "train.ema_beta=0",
        "train.ckpt_every=0"])]),
    "vanishing": ("vanishing_gradients", 0, [("grid25", [
        "loss.name=minimax", "train.steps=300", "train.log_every=20", "train.d_steps=5", "optim.d_lr=1e-3",
        "optim.g_lr=1e-5", "train.batch_size=128", "optim.schedule=constant", "eval.every=0"])]),
    "collapse": ("mode_collapse", 1500, [
        ("grid25", ["train.steps=1500", "optim.schedule=constant", "eval.every=250", "eval.n_samples=1000",
                    "train.ckpt_every=500"]),
        ("resume", ["train.steps=2000", "optim.d_lr=1e-6", "optim.g_lr=1e-2"])]),
    "divergence": ("divergence", 0, [("grid25", [
        "optim.name=sgd", "optim.d_lr=1.0", "optim.g_lr=1.0", "train.steps=500", "train.ckpt_every=50",
        "optim.schedule=constant", "eval.every=0"])]),
    "oscillation": ("oscillation", 0, [("grid25", [
        "train.steps=4000", "train.d_steps=1", "optim.g_betas=[0.9,0.999]", "optim.d_betas=[0.9,0.999]",
        "optim.schedule=constant", "eval.every=1000"])]),
    "overfitting": ("d_overfitting", 0, [("digits", [
        "data.limit=200", "model.d_width=64", "train.steps=600", "train.log_every=20", "eval.every=0",
        "train.ema_beta=0", "train.ckpt_every=0"])]),
}


def run_scenario(name: str, seed: int, threads: int, keep: str | None = None) -> dict:
    from ganforge.config import load_config
    from ganforge.errors import TrainingDiverged

    expected, onset, phases = SCENARIOS[name]
    torch.set_num_threads(threads)
    stopped = False
    with H.temp_dir() as d:
        run_dir = d
        if keep:  # kept for replaying other detectors over the same records (ganforge doctor RUN)
            run_dir = Path(keep) / f"{name}_{seed}"
            shutil.rmtree(run_dir, ignore_errors=True)
            run_dir.mkdir(parents=True)
        cfg, wall = None, 0.0
        for preset, overrides in phases:
            if preset == "resume":
                import yaml

                cfg = load_config(base=yaml.safe_load((run_dir / "config.yaml").read_text()), overrides=overrides)
            else:
                cfg = H.config(preset, overrides, seed=seed, threads=threads)
            t = H.train(cfg, run_dir, resume=preset == "resume", stop_ok=(TrainingDiverged,))
            stopped, wall = stopped or t.stopped is not None, wall + t.wall_s
        records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]
    return _row(name, seed, records, stopped or any(r.get("event") == "stopped" for r in records), wall,
                cfg.train.log_every)


def _row(name: str, seed: int, records: list, stopped: bool, wall: float, log_every: int) -> dict:
    """A run's row from its records (logged live, or the events of a replay)."""
    expected, onset, _ = SCENARIOS[name]
    events = [r for r in records if "event" in r and r.get("state", "raised") == "raised"]
    warnings = [e for e in events if e.get("severity") in ("warning", "error")]
    hit = [e for e in warnings if e["event"] == expected] if expected else []
    others = [e for e in warnings if e["event"] != expected and e["event"] not in ("rollback", "stopped")]
    if expected == "divergence":
        others = [e for e in others if e["event"] != "divergence"]
    first = hit[0]["step"] if hit else None
    return {
        "scenario": name, "seed": seed, "expected": expected, "wall_s": wall,
        "detected": bool(hit) if expected else not warnings,
        "false_alarms": sorted({e["event"] for e in others}) if expected else sorted({e["event"] for e in warnings}),
        "first_step": first, "delay": (first - onset) if (first is not None and onset is not None) else None,
        "early": bool(first is not None and onset and first <= onset),  # raised before the onset: wrong
        "rollbacks": sum(e["event"] == "rollback" for e in events), "stopped": stopped,
        "log_every": log_every,
    }


def replay_scenario(name: str, seed: int, keep: str) -> dict:
    """The row of a kept run (``--keep``) with today's detectors: ``ganforge doctor``'s replay
    finds what a live run would (the detectors are pure functions of the records)."""
    from ganforge.diagnostics.doctor import diagnose

    d = diagnose(Path(keep) / f"{name}_{seed}")
    return _row(name, seed, d.events, any(e["event"] == "stopped" for e in d.events), math.nan,
                d.cfg.train.log_every)


def _wall(rs: list) -> str:
    walls = [r["wall_s"] for r in rs if math.isfinite(r["wall_s"])]
    return f"{statistics.mean(walls):.0f}" if walls else "-"


def table(rows: list[dict], args) -> list[str]:
    lines = [
        "# Training doctor: detection on seeded healthy and broken runs",
        "",
        f"{args.seeds} seeds per scenario; every run is a real ganforge run with the doctor on "
        f"(defaults: patience 3 log steps, warmup 10, window 20), {args.threads} torch thread(s). Command: "
        f"`python benchmarks/doctor.py --seeds {args.seeds}`. Scenarios are described in the script's docstring."
        + (f" Replayed: today's detectors over runs kept with `--keep` (`--replay {args.replay}`); the detectors "
           "are pure functions of the records, so a replay finds what a live run would." if args.replay else ""),
        "",
        "| scenario | expected | runs | detected | false alarms (runs) | delay, steps: median (min..max) | "
        "log every | wall s / run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in SCENARIOS:
        rs = [r for r in rows if r["scenario"] == name]
        if not rs:
            continue
        expected = rs[0]["expected"] or "no warning"
        fa = [r for r in rs if r["false_alarms"]]
        fa_kinds = sorted({k for r in fa for k in r["false_alarms"]})
        delays = [r["delay"] for r in rs if r["delay"] is not None]
        delay = f"{statistics.median(delays):.0f} ({min(delays)}..{max(delays)})" if delays else "-"
        lines.append(
            f"| {name} | {expected} | {len(rs)} | {sum(r['detected'] for r in rs)} | "
            f"{len(fa)}{' (' + ', '.join(fa_kinds) + ')' if fa_kinds else ''} | {delay} | "
            f"{rs[0]['log_every']} | {_wall(rs)} |"
        )
    lines += ["", "## Per run", "", "| scenario | seed | detected | first alarm step | other warnings | rollbacks | stopped |",
              "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['scenario']} | {r['seed']} | {'yes' if r['detected'] else 'no'} | "
                     f"{r['first_step'] if r['first_step'] is not None else '-'} | "
                     f"{', '.join(r['false_alarms']) or '-'} | {r['rollbacks']} | {'yes' if r['stopped'] else 'no'} |")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--seed-from", type=int, default=0, help="run seeds seed-from .. seeds - 1 (add runs to a --keep DIR)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--only", nargs="+", choices=list(SCENARIOS), help="run these scenarios only")
    p.add_argument("--out", default=str(H.RESULTS / "doctor.md"))
    p.add_argument("--keep", metavar="DIR", help="keep each run's directory under DIR (to replay with ganforge doctor)")
    p.add_argument("--replay", metavar="DIR", help="no training: replay today's detectors over runs kept in DIR")
    args = p.parse_args()
    rows = []
    for name in args.only or SCENARIOS:
        for seed in range(args.seed_from, args.seeds):
            if args.replay:
                if not (Path(args.replay) / f"{name}_{seed}" / "metrics.jsonl").is_file():
                    continue
                r = replay_scenario(name, seed, args.replay)
            else:
                r = run_scenario(name, seed, args.threads, args.keep)
            rows.append(r)
            print(f"{name:<15} seed {seed}: detected {r['detected']}, first alarm {r['first_step']}, "
                  f"other warnings {r['false_alarms'] or '-'}, {r['wall_s']:.0f} s", flush=True)
    H.write_results(table(rows, args), args.out, threads=args.threads)


if __name__ == "__main__":
    main()
