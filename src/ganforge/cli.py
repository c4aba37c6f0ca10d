"""The ganforge command line. It parses arguments, builds a Config and calls the library.

User errors (:class:`GanforgeError`) are printed as one line on stderr with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Optional, Sequence

from .config import load_config, preset_names, to_yaml
from .errors import GanforgeError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ganforge", description="Train, sample and evaluate GANs.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train a GAN", description="Train a GAN. Settings: key=value overrides.")
    t.add_argument("--preset", help=f"a shipped preset ({', '.join(preset_names())}) or a .yaml path")
    t.add_argument("--out", help="run directory (default: a new runs/NNN-NAME)")
    t.add_argument("--resume", metavar="RUN", help="continue RUN from its newest checkpoint")
    t.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    t.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. train.steps=2000 loss.name=hinge")

    s = sub.add_parser("sample", help="draw samples from a trained run")
    s.add_argument("run", metavar="RUN")
    s.add_argument("--n", type=int, required=True, help="number of samples")
    s.add_argument("--out", required=True, help="output file: .npy or .csv")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--class", dest="label", type=int, help="draw every sample from this class (conditional runs)")

    e = sub.add_parser("evaluate", help="measure a trained run's samples")
    e.add_argument("run", metavar="RUN")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--n", type=int, help="number of samples (default: eval.n_samples)")
    e.add_argument("--seed", type=int, help="sampling seed (default: eval.seed)")
    e.add_argument("--plot", help="also write a scatter plot of real vs generated points (.png)")

    sub.add_parser("presets", help="list the shipped presets")
    return p


def _train(args) -> int:
    from .build import build_data, check_names
    from .rundir import existing_run, new_run_dir
    from .train.loop import train
    from .train.sinks import ProgressSink

    if args.resume:
        if args.preset or args.out:
            raise GanforgeError("--resume continues a run in place; it takes no --preset or --out")
        import yaml

        run_dir = existing_run(args.resume)
        cfg = load_config(base=yaml.safe_load((run_dir / "config.yaml").read_text()), overrides=args.overrides)
    else:
        cfg = load_config(args.preset, args.overrides)
    check_names(cfg)
    if args.dry_run:
        print(to_yaml(cfg), end="")
        return 0
    data = build_data(cfg)  # reads and checks the user's data before anything is written
    if not args.resume:
        name = Path(args.preset).stem if args.preset else cfg.data.name
        run_dir = new_run_dir(args.out, name)
    sinks = [ProgressSink(cfg.train.steps)] if cfg.train.progress else []
    result = train(cfg, run_dir, resume=bool(args.resume), sinks=sinks, data=data)
    print(f"run: {result.run_dir}  step {result.step}  {result.wall_s:.1f} s")
    if result.metrics:
        print(_metrics_line(result.metrics))
    return 0


def _metrics_line(m: dict) -> str:
    if "modes" in m:
        return f"modes {m['modes']}/{m['n_modes']}  hq {100 * m['hq']:.1f} %  rev_kl {m['rev_kl']:.4f}  (n={m['n']})"
    return f"energy distance {m['energy']:.4f}  (n={m['n']})"


def _load(run: str):
    from .evaluation import load_run
    from .rundir import existing_run

    return load_run(existing_run(run))


def _sample(args) -> int:
    import numpy as np

    out = Path(args.out)
    if out.suffix not in (".npy", ".csv"):
        raise GanforgeError(f"--out {args.out}: expected a .npy or .csv file name")
    if args.n < 1:
        raise GanforgeError(f"--n {args.n}: must be >= 1")
    run = _load(args.run)
    if args.label is not None:
        if not run.n_classes:
            raise GanforgeError(f"--class {args.label}: this run is not conditional (model.conditional=false)")
        if not 0 <= args.label < run.n_classes:
            raise GanforgeError(f"--class {args.label}: choose a class in 0..{run.n_classes - 1}")
    x = run.generate(args.n, args.seed, args.label).flatten(1).numpy()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npy":
        np.save(out, x)
    else:
        header = ",".join(f"x{i}" for i in range(x.shape[1]))
        np.savetxt(out, x, delimiter=",", header=header, comments="", fmt="%.8g")
    print(f"wrote {len(x)} samples of run {args.run} (step {run.step}) to {out}")
    return 0


def _evaluate(args) -> int:
    from .evaluation import sample_metrics

    run = _load(args.run)
    cfg, data, step = run.cfg, run.data, run.step
    n = args.n if args.n is not None else cfg.eval.n_samples
    seed = args.seed if args.seed is not None else cfg.eval.seed
    if n < 1:
        raise GanforgeError(f"--n {n}: must be >= 1")
    x = run.generate(n, seed)
    metrics = sample_metrics(x, data, seed)
    if args.plot:
        from .report.plots import scatter

        if x[0].numel() != 2:
            raise GanforgeError("--plot: scatter plots are for 2D data")
        scatter(data.reference(n, seed), x, Path(args.plot), f"{args.run} step {step}", data.centers)
    result = {"run": str(args.run), "step": step, "data": cfg.data.name, "seed": seed, **metrics}
    if args.json:
        print(json.dumps({k: (v if not (isinstance(v, float) and math.isinf(v)) else None) for k, v in result.items()}))
    else:
        print(f"{args.run}  step {step}  data {cfg.data.name}  seed {seed}")
        print(_metrics_line(metrics))
    return 0


def _presets(args) -> int:
    for name in preset_names():
        print(name)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    commands = {"train": _train, "sample": _sample, "evaluate": _evaluate, "presets": _presets}
    try:
        return commands[args.command](args)
    except GanforgeError as e:
        print(f"ganforge: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ganforge: interrupted; the run's newest checkpoint is on disk", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
