"""Game levels (issue 36): the DCGAN on one-hot tiles (``presets/levels_*.yaml``) on both generators'
levels, scored by the ``levels`` evaluator against held-out generator levels, and the latent search.

For each generator and seed: train the preset (``--steps GENERATOR=N``; runs kept under ``--runs
DIR`` and reused from there when already trained, their training wall-clock read from
``bench_train.json``), draw 500 samples (seed 0) and score them decoded two ways: the data's
decoder (``LevelData.decode``: the structured decoder, which places the tiles every training map
holds exactly once at G's highest-scoring cell for each; plain argmax where there are none) and
plain argmax (playable share only), and for top-down generators the same draw after ``sample
--repair`` (``apps/level_repair.py``; reported beside, never as G's own share). Next to them: the held-out real share, a random-tile baseline,
3x3 / 2x2 pattern KL against the KL of two disjoint real splits (and of random tiles), exact copies
of training windows; then ``--tries`` CMA-ES searches (seeds 0..tries-1) for the 3-constraint
objective within ``--budget`` levels each.

    OMP_NUM_THREADS=1 nice python benchmarks/levels.py --seeds 3 --tries 20 --budget 500 \\
        --steps platformer=3000 --steps dungeon=8000 --runs /tmp/levels_runs
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import _harness as H  # noqa: E402

OBJECTIVE = {"platformer": "playable and enemies>=4 and jumps>=3", "dungeon": "playable and enemies>=4 and doors>=1"}
STEPS = {"platformer": 3000, "dungeon": 8000}
N_EVAL = 500
READING = "## Reading"
OUT = H.RESULTS / "levels.md"


def measure(name: str, run_dir: Path, tries: int, budget: int) -> dict:
    import numpy as np

    from ganforge.api import load
    from ganforge.apps.level_repair import repair_samples, summary
    from ganforge.apps.level_search import search
    from ganforge.data.kinds.level import one_hot
    from ganforge.data.levels import decode_tiles
    from ganforge.evaluation import generate, sample_metrics
    from ganforge.metrics.levels import features_of

    r = load(run_dir)
    g = r.generator
    raw = generate(g.G, g.prior, N_EVAL, 0)  # model space (n, C, H, W): one draw, decoded both ways
    ev = sample_metrics(g.data.decode(raw), g.data, 0)
    plain = features_of(decode_tiles(raw, ()), g.data.legend)
    fixed = {}
    if g.data.legend.agent == "topdown":  # the same draw repaired (apps/level_repair.py): how far from playable it was
        reps = repair_samples(raw, g.data.legend, g.data.once)
        counts = summary(reps)
        ev_fixed = sample_metrics(one_hot(np.stack([x.ids for x in reps]), g.data.shape[0]), g.data, 0)
        fixed = {"playable_repaired": ev_fixed["playable"], "kl3_repaired": ev_fixed["kl3"],
                 "tiles_per_repaired": counts["tiles_per_repaired_level"], "repaired": counts["repaired"]}
    found, evals, t0 = 0, [], time.perf_counter()
    for k in range(tries):
        with H.temp_dir() as d:
            s = search(g, OBJECTIVE[name], budget, d / "best", n=1, seed=k)
        found += s.found > 0
        evals.append(s.evals)
    return {"generator": name, "once": "".join(g.data.legend.chars[t] for t in g.data.once) or "-",
            "playable_argmax": float(np.mean([f["playable"] for f in plain])),
            **{k: ev[k] for k in ("playable", "playable_real", "playable_random", "kl3", "kl3_real_split",
                                  "kl3_random", "kl2", "kl2_real_split", "exact_copies", "unique", "novel_patterns3",
                                  "expressive_overlap", "doors_mean", "doors_mean_real")},
            **fixed, "search_hits": found, "tries": tries, "search_evals_mean": sum(evals) / max(len(evals), 1),
            "search_s": time.perf_counter() - t0}


def train_or_reuse(name: str, seed: int, steps: int, runs: Path) -> tuple[Path, float]:
    """The run GENERATOR_sSEED under ``runs``: trained now (1 thread), or reused when its
    ``bench_train.json`` says it finished with these steps. Returns (run dir, training wall s)."""
    run = runs / f"{name}_s{seed}"
    mark = run / "bench_train.json"
    if mark.is_file():
        rec = json.loads(mark.read_text())
        if rec["steps"] == steps:
            return run, float(rec["wall_s"])
    if run.exists():  # an unfinished run: trained again from the start
        shutil.rmtree(run)
    run.mkdir(parents=True)
    with H.trained(f"levels_{name}", [f"train.steps={steps}", "eval.every=0"], seed=seed, threads=1, out=run) as t:
        wall = t.wall_s
    mark.write_text(json.dumps({"steps": steps, "wall_s": wall, "seed": seed}))
    return run, wall


def pct(v: float) -> str:
    return f"{100 * v:.1f} %"


def repaired_cell(r: dict) -> str:
    """Playable after repair (top-down runs), with tiles changed per repaired level and kl3 after."""
    if "playable_repaired" not in r:
        return "-"
    return f"{pct(r['playable_repaired'])} ({r['tiles_per_repaired']:.2f}; kl3 {r['kl3_repaired']:.3f})"


def row_cells(r: dict) -> list[str]:
    return [str(r["seed"]), str(r["steps"]), f"{r['wall_s']:.0f}", pct(r["playable"]), pct(r["playable_argmax"]),
            repaired_cell(r),
            f"{100 * r['playable_real']:.0f} %", pct(r["playable_random"]),
            f"{r['kl3']:.3f} ({r['kl3_real_split']:.3f}; {r['kl3_random']:.2f})",
            f"{r['kl2']:.3f} ({r['kl2_real_split']:.3f})", str(r["exact_copies"]), f"{100 * r['unique']:.0f} %",
            f"{100 * r['novel_patterns3']:.0f} %", f"{r['expressive_overlap']:.2f}",
            f"{r['search_hits']}/{r['tries']}", f"{r['search_evals_mean']:.0f}"]


def mean_sd(v: list, scale: float = 1.0, fmt: str = "{:.3f}") -> str:
    v = [scale * x for x in v]
    sd = statistics.stdev(v) if len(v) > 1 else 0.0
    return f"{fmt.format(statistics.mean(v))} ± {fmt.format(sd)}"


def targets(rows: list[dict], names: list[str]) -> list[str]:
    """The issue's four targets per generator, over all its seeds: met or not, with the numbers."""
    lines = ["| target | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    cells = {k: [] for k in ("play", "kl", "copies", "search")}
    for n in names:
        rs = [r for r in rows if r["generator"] == n]
        play = [r["playable"] for r in rs]
        ratio = [r["kl3"] / max(r["kl3_real_split"], 1e-9) for r in rs]
        hits, tries = sum(r["search_hits"] for r in rs), sum(r["tries"] for r in rs)
        fixed = [r["playable_repaired"] for r in rs if "playable_repaired" in r]
        cells["play"].append(f"{'met' if min(play) >= 0.9 else 'not met'}: {mean_sd(play, 100, '{:.1f}')} % "
                             f"(argmax {mean_sd([r['playable_argmax'] for r in rs], 100, '{:.1f}')} %; "
                             f"random tiles {100 * rs[0]['playable_random']:.1f} %"
                             + (f"; after repair, not G's own: {mean_sd(fixed, 100, '{:.1f}')} %" if fixed else "")
                             + ")")
        cells["kl"].append(f"{'met' if max(ratio) <= 1.5 else 'not met'}: kl3 {mean_sd([r['kl3'] for r in rs])} vs "
                           f"{rs[0]['kl3_real_split']:.3f} ({min(ratio):.1f}x to {max(ratio):.1f}x)")
        cells["copies"].append(f"{'met' if all(r['exact_copies'] == 0 for r in rs) else 'not met'}: "
                               f"{sum(r['exact_copies'] for r in rs)} in {N_EVAL * len(rs)} samples")
        cells["search"].append(f"{'met' if hits >= 0.9 * tries else 'not met'}: {hits}/{tries} tries")
    for key, label in (("play", ">= 90 % playable (every seed)"), ("kl", "kl3 <= 1.5x the real-split KL"),
                       ("copies", "0 exact copies"), ("search", "search meets the objective in >= 90 % of tries")):
        lines.append(f"| {label} | " + " | ".join(cells[key]) + " |")
    return lines


def write(rows: list[dict], args, names: list[str]) -> str:
    kept = H.kept_reading(OUT, READING)
    head = ("| generator | seed | steps | train s | playable (decoder) | playable (argmax) | "
            "playable (repaired; tiles a repaired level; kl3) | real | random tiles | "
            "kl3 (real split; random) | kl2 (real split) | exact copies | unique | novel 3x3 | ER overlap | "
            "search hits | evals/try |")
    lines = ["# Game levels: DCGAN on one-hot tiles (issue 36)", "",
             f"Command: `{' '.join(['python', 'benchmarks/levels.py', *sys.argv[1:]])}`", "",
             f"{N_EVAL} samples a run (seed 0), decoded by the data's decoder (the structured decoder: tiles every "
             "training map holds exactly once placed once each, at G's best cell; plain argmax elsewhere and where "
             "there are none) and, for the playable share only, by plain argmax; top-down runs also after "
             "`sample --repair` (apps/level_repair.py: the cheapest path from start to exit by G's own scores, its "
             "blocked cells made floor; a post-processing step, not G's output); `train s` is the training's "
             "wall-clock alone, 1 torch thread.", "", head, "|---" * (head.count("|") - 1) + "|"]
    for r in rows:
        lines.append(f"| {r['generator']} | " + " | ".join(row_cells(r)) + " |")
    lines += ["", "## Against the issue's targets", "", *targets(rows, names), "",
              "Objectives: " + "; ".join(f"{k}: `{v}`" for k, v in OBJECTIVE.items() if k in names),
              f"Search: CMA-ES (the `cma` package), budget {args.budget} levels a try, seeds 0..{args.tries - 1}, "
              "on each trained seed.",
              "Decoder's exactly-once tiles (learnt from the training maps' counts): " +
              "; ".join(f"{n}: `{next(r['once'] for r in rows if r['generator'] == n)}`" for n in names), "",
              READING, "", kept, ""]
    return H.write_results(lines, OUT, threads=1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", action="append", default=[], help="GENERATOR=N training steps (default "
                    + ", ".join(f"{k}={v}" for k, v in STEPS.items()) + ")")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--tries", type=int, default=20)
    ap.add_argument("--budget", type=int, default=500)
    ap.add_argument("--generators", default="platformer,dungeon")
    ap.add_argument("--runs", default=None, help="keep the runs here (GENERATOR_sSEED) and reuse finished ones")
    ap.add_argument("--train-only", action="store_true", help="train (or find) the runs, measure nothing")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    steps = {**STEPS, **{k: int(v) for k, v in (x.split("=", 1) for x in args.steps)}}
    names = args.generators.split(",")
    rows = []
    with H.temp_dir() as tmp:
        runs = Path(args.runs) if args.runs else tmp
        runs.mkdir(parents=True, exist_ok=True)
        for name in names:
            for seed in range(args.seeds):
                run, wall = train_or_reuse(name, seed, steps[name], runs)
                print(f"{name} seed {seed}: trained {steps[name]} steps in {wall:.0f} s", flush=True)
                if args.train_only:
                    continue
                rows.append(measure(name, run, args.tries, args.budget) | {"seed": seed, "steps": steps[name],
                                                                           "wall_s": wall})
                print(rows[-1], flush=True)
        if not args.train_only:
            write(rows, args, names)


if __name__ == "__main__":
    main()
