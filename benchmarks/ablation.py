"""Ablation of the stabilisation remedies: the baseline, each remedy alone, and the best combination.

Three settings, each with a plain baseline and the remedies that apply to it:

- ``grid25``: the 25-Gaussian grid with the MLP GAN at the vanilla settings (modes, hq, rev_kl
  on 2,500 samples);
- ``stacked``: stacked digits with the vanilla DCGAN (modes out of 1,000 and KL on 26,000
  samples, the Stacked-MNIST protocol);
- ``small``: 200 digits (``data.limit=200``) with the DCGAN (FID, coverage and classes in the
  digit classifier's feature space, on 2,000 samples).

For every setting, phase 1 runs the baseline and each remedy alone over ``--seeds`` seeds;
phase 2 combines the (up to) three single remedies that improved the primary metric most
(rev_kl, KL, FID) and runs that combination over the same seeds. Every run goes through
ganforge's own training loop, as ``ganforge train`` would run it, in a spawned process with
``--threads`` torch threads, ``--jobs`` runs at a time. Wall time per run includes the final
evaluation. Writes ``benchmarks/results/ablation.md`` (or ``--out``).

    python benchmarks/ablation.py --seeds 3 --jobs 2
    python benchmarks/ablation.py --settings grid25 --seeds 1 --steps 200   # a quick look
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import _harness as H

COMMON = ["eval.every=0", "train.ckpt_every=0"]  # with the harness's quiet overrides

SETTINGS = {
    "grid25": {
        "preset": "grid25_vanilla",  # with a higher rate, so that 2,000 steps are a fair budget
        "base": ["eval.n_samples=2500", "optim.g_lr=1e-3", "optim.d_lr=1e-3", "optim.g_betas=[0.5,0.9]",
                 "optim.d_betas=[0.5,0.9]"],
        "steps": 2000,
        "primary": ("rev_kl", "min"),
        "columns": ["modes", "hq", "rev_kl"],
        "remedies": {
            "TTUR (g 5e-4, d 2e-3)": ["optim.g_lr=5e-4", "optim.d_lr=2e-3"],
            "d_steps 2": ["train.d_steps=2"],
            "linear lr decay": ["optim.schedule=linear"],
            "EMA of G (0.999)": ["train.ema_beta=0.999"],
            "PacGAN 2": ["model.pac=2"],
            "minibatch std 4": ["model.mbstd=4"],
            "3 discriminators": ["model.d_ensemble=3"],
            "spectral norm D": ["model.d_norm=spectral"],
            "spectral norm G": ["model.g_spectral=true"],
            "layer norm D": ["model.d_norm=layer"],
            "batch norm G": ["model.g_norm=batch"],
            "batch norm D": ["model.d_norm=batch"],
            "batch norm G and D": ["model.g_norm=batch", "model.d_norm=batch"],
            "R1 0.1": ["reg.r1.weight=0.1"],
            "R1 0.1, lazy 4": ["reg.r1.weight=0.1", "reg.r1.interval=4"],
            "WGAN-GP": ["loss.name=wgan_gp"],
            "DRAGAN 1": ["reg.dragan.weight=1"],
            "LeCam 0.1": ["reg.lecam.weight=0.1"],
            "label smoothing 0.1": ["loss.label_smoothing=0.1"],
            "instance noise 0.05": ["train.instance_noise=0.05"],
            "unrolled D 5": ["train.unroll_steps=5"],
        },
    },
    "stacked": {
        "preset": "stacked_digits_vanilla",
        "base": ["eval.n_samples=500"],
        "steps": 1000,
        "primary": ("kl", "min"),
        "columns": ["modes", "kl"],
        "remedies": {
            "PacGAN 2": ["model.pac=2"],
            "minibatch std 4": ["model.mbstd=4"],
            "spectral norm D": ["model.d_norm=spectral"],
            "EMA of G (0.999)": ["train.ema_beta=0.999"],
        },
    },
    "small": {
        "preset": "digits",
        "base": ["data.limit=200", "train.ema_beta=0", "eval.n_samples=2000"],
        "steps": 1000,
        "primary": ("fid", "min"),
        "columns": ["fid", "coverage", "classes"],
        "remedies": {
            "DiffAugment (translation, cutout)": ["augment.policy=translation,cutout"],
            "ADA (target 0.6)": ["augment.policy=translation,cutout,color", "augment.ada_target=0.6"],
            "bCR 1": ["reg.bcr.weight=1"],
            "LeCam 0.1": ["reg.lecam.weight=0.1"],
            "R1 1": ["reg.r1.weight=1"],
            "spectral norm D": ["model.d_norm=spectral"],
            "label smoothing 0.1": ["loss.label_smoothing=0.1"],
            "instance noise 0.1": ["train.instance_noise=0.1"],
            "EMA of G (0.999)": ["train.ema_beta=0.999"],
        },
    },
}


def one_run(job: tuple) -> dict:
    setting, name, overrides, seed, steps, threads = job
    s = SETTINGS[setting]
    with H.trained(s["preset"], [*COMMON, *s["base"], f"train.steps={steps}", *overrides], seed=seed,
                   threads=threads) as t:
        m = t.metrics
        if setting == "stacked":  # the Stacked-MNIST protocol: 26,000 samples, 1,000 modes
            m["modes"], m["kl"] = H.stacked_modes(t.load().generate(26_000, seed=10_000 + seed))
    return {"setting": setting, "name": name, "overrides": overrides, "seed": seed, "wall_s": t.wall_s,
            **{k: m[k] for k in s["columns"]}}


def read_log(path: str, setting: str) -> list[dict]:
    """The result lines an earlier run of this script printed (for --resume)."""
    rows = []
    for line in Path(path).read_text().splitlines():
        if line.startswith("{'setting'"):
            r = eval(line, {"__builtins__": {}}, {"inf": math.inf, "nan": math.nan})  # our own printed dicts
            if r["setting"] == setting:
                r.setdefault("overrides", SETTINGS[setting]["remedies"].get(r["name"], []))
                if r["name"].startswith("best"):  # rebuilt from the names of its parts
                    parts = r["name"].split(": ", 1)[1].split(" + ")
                    r["overrides"] = [o for n in parts for o in SETTINGS[setting]["remedies"][n]]
                rows.append(r)
    return rows


def run_jobs(jobs: list, n_jobs: int) -> list[dict]:
    rows = []
    for r in H.pool_map(one_run, jobs, n_jobs):
        print({k: v for k, v in r.items() if k != "overrides"}, flush=True)  # --resume reads these
        rows.append(r)
    return rows


def best_combination(setting: str, rows: list[dict], k: int = 3) -> tuple[str, list[str]] | None:
    """The combination of the (up to) k single remedies that improved the primary metric most."""
    s = SETTINGS[setting]
    key, _ = s["primary"]
    base = H.mean([r[key] for r in rows if r["name"] == "baseline"])
    gains = []
    for name in s["remedies"]:
        rs = [r for r in rows if r["name"] == name]
        if rs and not any(isinstance(r[key], float) and not math.isfinite(r[key]) for r in rs):
            gains.append((base - H.mean([r[key] for r in rs]), name))
    top = [name for gain, name in sorted(gains, reverse=True)[:k] if gain > 0]
    if len(top) < 2:
        return None
    overrides: list[str] = []
    for name in top:
        overrides += s["remedies"][name]
    keys = [o.split("=")[0] for o in overrides]
    if len(set(keys)) != len(keys):  # two remedies set the same key (e.g. two d_norms): keep the best one's
        seen, kept = set(), []
        for o in overrides:
            if o.split("=")[0] not in seen:
                seen.add(o.split("=")[0])
                kept.append(o)
        overrides = kept
    return "best combination: " + " + ".join(top), overrides


def table(setting: str, rows: list[dict], seeds: int, steps: int) -> list[str]:
    s = SETTINGS[setting]
    key, _ = s["primary"]
    cols = s["columns"]
    names = ["baseline", *s["remedies"], *sorted({r["name"] for r in rows if r["name"].startswith("best")})]
    base = H.mean([r[key] for r in rows if r["name"] == "baseline"])
    lines = [f"## {setting}: preset `{s['preset']}` + {' '.join(f'`{o}`' for o in s['base'])}, {steps} steps, "
             f"{seeds} seeds", "",
             "| remedy | overrides | " + " | ".join(cols) + f" | {key} vs baseline | wall s / run |",
             "|---|---|" + "---|" * (len(cols) + 2)]
    for name in names:
        rs = [r for r in rows if r["name"] == name]
        if not rs:
            continue
        cells = []
        for c in cols:
            xs = [r[c] for r in rs]
            fmt = "{:.1f}" if c in ("modes", "classes") else ("{:.1f}" if c == "fid" else "{:.3f}")
            cells.append(H.pm(xs, fmt))
        delta = H.mean([r[key] for r in rs]) - base
        over = " ".join(f"`{o}`" for o in rs[0]["overrides"]) or "-"
        lines.append(f"| {name} | {over} | " + " | ".join(cells) +
                     f" | {'-' if name == 'baseline' else f'{delta:+.3g}'} | {H.mean([r['wall_s'] for r in rs]):.0f} |")
    return lines + [""]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--jobs", type=int, default=1, help="runs at a time (spawned processes)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run")
    p.add_argument("--steps", type=int, default=None, help="override every setting's number of steps")
    p.add_argument("--only", nargs="*", default=None, help="run only these remedies (names as in the table)")
    p.add_argument("--out", default=None)
    p.add_argument("--resume", metavar="LOG", help="reuse the result lines an interrupted run of this script printed")
    a = p.parse_args()
    lines = ["# Ablation of the stabilisation remedies", "",
             f"Mean ± standard error over {a.seeds} seeds (0..{a.seeds - 1}). Phase 1: the baseline and each remedy "
             "alone; phase 2: the best combination, built from the (up to) three single remedies that improved the "
             f"primary metric most. {a.jobs} run(s) at a time (wall times of concurrent runs include their "
             "contention). Command: "
             f"`python benchmarks/ablation.py --settings {' '.join(a.settings)} --seeds {a.seeds} --jobs {a.jobs} "
             f"--threads {a.threads}{f' --steps {a.steps}' if a.steps else ''}`.", ""]
    for setting in a.settings:
        s = SETTINGS[setting]
        steps = a.steps or s["steps"]
        chosen = [(n, o) for n, o in s["remedies"].items() if a.only is None or n in a.only]
        jobs = [(setting, name, over, seed, steps, a.threads)
                for name, over in [("baseline", []), *chosen] for seed in range(a.seeds)]
        done = read_log(a.resume, setting) if a.resume else []
        jobs = [j for j in jobs if not any(r["name"] == j[1] and r["seed"] == j[3] for r in done)]
        rows = done + run_jobs(jobs, a.jobs)
        combo = best_combination(setting, rows)
        if combo is not None and not any(r["name"] == combo[0] for r in rows):
            rows += run_jobs([(setting, combo[0], combo[1], seed, steps, a.threads) for seed in range(a.seeds)], a.jobs)
        lines += table(setting, rows, a.seeds, steps)
        # after every setting: a crash loses at most one setting
        H.write_results(lines, a.out or H.RESULTS / "ablation.md", threads=a.threads)


if __name__ == "__main__":
    main()
