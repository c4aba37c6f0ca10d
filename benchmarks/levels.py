"""Game levels (issue 36): the DCGAN on one-hot tiles (``presets/levels_*.yaml``) on both generators'
levels, scored by the ``levels`` evaluator against held-out generator levels, and the latent search.

For each generator and seed: train the preset for ``--steps`` (or reuse a finished run with
``--reuse platformer=RUN``, its wall-clock read from its log), evaluate 500 samples (playable share
next to the held-out real share and a random-tile baseline; 3x3 / 2x2 pattern KL next to the KL
of two disjoint real splits; exact copies of training windows), then ``--tries`` CMA-ES searches
(seeds 0..tries-1) for the 3-constraint objective within ``--budget`` levels each.

    OMP_NUM_THREADS=1 nice python benchmarks/levels.py --steps 1000 --seeds 1 --tries 5 \\
        --reuse platformer=/tmp/plat1@960.8
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import _harness as H  # noqa: E402

OBJECTIVE = {"platformer": "playable and enemies>=4 and jumps>=3", "dungeon": "playable and enemies>=4 and keys>=1"}


def measure(name: str, run_dir: Path, tries: int, budget: int, wall_s: float) -> dict:
    from ganforge.api import load
    from ganforge.apps.level_search import search

    r = load(run_dir)
    ev = r.evaluate(500, 0).metrics
    found, evals, t0 = 0, [], time.perf_counter()
    for k in range(tries):
        with H.temp_dir() as d:
            s = search(r.generator, OBJECTIVE[name], budget, d / "best", n=1, seed=k)
        found += s.found > 0
        evals.append(s.evals)
    return {"generator": name, "wall_s": wall_s, **{k: ev[k] for k in (
        "playable", "playable_real", "playable_random", "kl3", "kl3_real_split", "kl2", "kl2_real_split",
        "exact_copies", "unique", "novel_patterns3", "expressive_overlap")},
        "search_hits": found, "tries": tries, "search_evals_mean": sum(evals) / max(len(evals), 1),
        "search_s": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--tries", type=int, default=5)
    ap.add_argument("--budget", type=int, default=500)
    ap.add_argument("--generators", default="platformer,dungeon")
    ap.add_argument("--reuse", action="append", default=[],
                    help="GENERATOR=RUN@WALL_S: score a finished run (its training wall-clock as it printed it)")
    args = ap.parse_args()
    reuse = dict(x.split("=", 1) for x in args.reuse)
    rows = []
    for name in args.generators.split(","):
        if name in reuse:
            run, _, wall = reuse[name].partition("@")  # RUN@WALL_S: the wall-clock its training printed
            recs = [json.loads(line) for line in (Path(run) / "metrics.jsonl").read_text().splitlines()]
            rows.append(measure(name, Path(run), args.tries, args.budget, float(wall or 0)) | {"seed": "0 (reused)",
                                                                                          "steps": recs[-1].get("step")})
            print(rows[-1], flush=True)
            continue
        for seed in range(args.seeds):
            with H.trained(f"levels_{name}", [f"train.steps={args.steps}", "eval.every=0"], seed=seed,
                           threads=1) as t:
                rows.append(measure(name, t.run_dir, args.tries, args.budget, t.wall_s) | {"seed": seed,
                                                                                           "steps": args.steps})
            print(rows[-1], flush=True)
    lines = ["# Game levels: DCGAN on one-hot tiles (issue 36)", "",
             f"Command: `{' '.join(['python', 'benchmarks/levels.py', *sys.argv[1:]])}`", "",
             "| generator | seed | steps | train s | playable | real | random tiles | kl3 (real split) | "
             "kl2 (real split) | exact copies | unique | novel 3x3 | ER overlap | search hits | evals/try |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['generator']} | {r['seed']} | {r['steps']} | {r['wall_s']:.0f} | {100 * r['playable']:.1f} % | "
                     f"{100 * r['playable_real']:.0f} % | {100 * r['playable_random']:.1f} % | {r['kl3']:.3f} "
                     f"({r['kl3_real_split']:.3f}) | {r['kl2']:.3f} ({r['kl2_real_split']:.3f}) | {r['exact_copies']} | "
                     f"{100 * r['unique']:.0f} % | {100 * r['novel_patterns3']:.0f} % | {r['expressive_overlap']:.2f} | "
                     f"{r['search_hits']}/{r['tries']} | {r['search_evals_mean']:.0f} |")
    lines += ["", "Objectives: " + "; ".join(f"{k}: `{v}`" for k, v in OBJECTIVE.items()),
              f"Search: CMA-ES (the `cma` package), budget {args.budget} levels a try, seeds 0..{args.tries - 1}."]
    H.write_results(lines, H.RESULTS / "levels.md", threads=1)


if __name__ == "__main__":
    main()
