"""The ganforge command line. It parses arguments, builds a Config and calls the library.

Each command imports what it needs when it runs, so that ``ganforge presets`` or a bad
argument answers at once, without importing torch.

User errors (:class:`GanforgeError`) are printed as one line on stderr with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from pathlib import Path
from typing import Optional, Sequence

from .config import load_config, preset_names, to_yaml
from .errors import GanforgeError, GanforgeWarning, TrainingDiverged, WriteFailed, os_error_line


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, like every other user error (argparse prints usage too)
        command = self.prog.partition(" ")[2]
        raise GanforgeError(f"{command + ': ' if command else ''}{message} (see {self.prog} --help)")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ganforge", description="Train, sample and evaluate GANs.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    t = sub.add_parser("train", help="train a GAN", description="Train a GAN. Settings: key=value overrides.")
    t.add_argument("--preset", help=f"a shipped preset ({', '.join(preset_names())}) or a .yaml path")
    t.add_argument("--out", help="run directory (default: a new runs/NNN-NAME)")
    t.add_argument("--resume", metavar="RUN", help="continue RUN from its newest checkpoint")
    t.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    t.add_argument("--extend", choices=("restart", "continue", "rescale"),
                   help="--resume with a larger train.steps and a decaying optim.schedule: decay again over the "
                        "new steps (restart, the default), hold the final rate (continue), or stretch the decay (rescale)")
    t.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. train.steps=2000 loss.name=hinge")

    s = sub.add_parser("sample", help="draw samples from a trained run")
    s.add_argument("run", metavar="RUN")
    s.add_argument("--n", type=int, required=True, help="number of samples")
    s.add_argument("--out", required=True,
                   help="points: FILE.npy or FILE.csv; images: GRID.png, DIR/ (one PNG each) or FILE.npy")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--class", dest="label", type=int, help="draw every sample from this class (conditional runs)")

    e = sub.add_parser("evaluate", help="measure a trained run's samples")
    e.add_argument("run", metavar="RUN")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--n", type=int, help="number of samples (default: eval.n_samples)")
    e.add_argument("--seed", type=int, help="sampling seed (default: eval.seed)")
    e.add_argument("--plot", help="also write a scatter plot of real vs generated points (.png)")
    e.add_argument("--inception-weights", metavar="PATH",
                   help="images: FID/KID in Inception-v3's space from this local weights file "
                        "(default: eval.inception_weights; never downloaded)")

    i = sub.add_parser("interpolate", help="a strip of images along paths between random latents")
    i.add_argument("run", metavar="RUN")
    i.add_argument("--out", required=True, help="output PNG")
    i.add_argument("--steps", type=int, default=10, help="images per path, ends included")
    i.add_argument("--rows", type=int, default=4, help="number of paths")
    i.add_argument("--seed", type=int, default=0)
    i.add_argument("--class", dest="label", type=int, help="class of every image (conditional runs)")

    d = sub.add_parser("doctor", help="diagnose a run: phases, failure events and remedies")
    d.add_argument("run", metavar="RUN")
    d.add_argument("--json", action="store_true", help="print one JSON object")

    r = sub.add_parser("report", help="write a self-contained HTML report of a run")
    r.add_argument("run", metavar="RUN")
    r.add_argument("--out", help="output .html (default: RUN/report.html)")

    sub.add_parser("presets", help="list the shipped presets")

    c = sub.add_parser("cache", help="show or clean $GANFORGE_CACHE (classifiers, real-image features)")
    c.add_argument("action", nargs="?", choices=("show", "clean"), default="show")
    c.add_argument("--keep-mb", type=float, default=0.0, help="clean: keep the newest files up to this size")
    return p


def _train(args) -> int:
    from .api import train
    from .build import build_data, check_compatible, check_names
    from .rundir import existing_run, new_run_dir
    from .train.distributed import on_main, session
    from .train.sinks import EventPrinter, ProgressSink

    if args.resume:
        if args.preset or args.out:
            raise GanforgeError("--resume continues a run in place; it takes no --preset or --out")
        from .api import resume_config

        run_dir = existing_run(args.resume)
        cfg, from_step = resume_config(run_dir, args.overrides, args.extend)
    else:
        if args.extend:
            raise GanforgeError("--extend: only with --resume (it says how a resumed run's schedule goes on)")
        cfg, from_step = load_config(args.preset, args.overrides), None
    check_names(cfg)
    if args.dry_run:
        print(to_yaml(cfg), end="")
        return 0
    data = build_data(cfg)  # reads and checks the user's data before anything is written
    check_compatible(cfg, data.shape)  # the model's spec; augment.policy and reg.bcr need images
    with session(cfg.train.device, cfg.train.dist_backend) as d:  # torchrun: the process group
        if not args.resume:
            name = Path(args.preset).stem if args.preset else cfg.data.name
            run_dir = on_main(lambda: new_run_dir(args.out, name), d)  # rank 0 makes it; all use it
        sinks = [ProgressSink(cfg.train.steps, from_step or 0)] if cfg.train.progress else [EventPrinter()]
        result = train(cfg, run_dir, resume=bool(args.resume), sinks=sinks, data=data, from_step=from_step)
    if not d.main:  # rank 0 speaks for the run
        return 0
    print(f"run: {result.run_dir}  step {result.step}  {result.wall_s:.1f} s")
    if result.metrics:
        print(_metrics_line(result.metrics))
    return 0


def _metrics_line(m: dict) -> str:
    if "hq" in m:
        return f"modes {m['modes']}/{m['n_modes']}  hq {100 * m['hq']:.1f} %  rev_kl {m['rev_kl']:.4f}  (n={m['n']})"
    if "fid" in m:
        keys = ("fid", "kid", "precision", "recall", "density", "coverage", "classes", "class_kl", "modes",
                "mode_kl", "classifier_score", "class_accuracy")
        line = "  ".join(f"{k} {m[k]:.4g}" for k in keys if k in m)
        prov = m["provenance"]
        fid_space = prov.get("fid_feature_space", prov["feature_space"])
        if fid_space == prov["feature_space"]:
            return f"{line}\nfeature space: {fid_space}"
        return f"{line}\nfeature space of fid/kid: {fid_space}\nfeature space of the rest: {prov['feature_space']}"
    return f"energy distance {m['energy']:.4f} in {m['provenance']['feature_space']}  (n={m['n']})"


def _load(run: str):
    from .api import load_run
    from .rundir import existing_run

    return load_run(existing_run(run))


def _check_label(run, label: Optional[int]) -> None:
    if label is not None:
        if not run.n_classes:
            raise GanforgeError(f"--class {label}: this run is not conditional (model.conditional=false)")
        if not 0 <= label < run.n_classes:
            raise GanforgeError(f"--class {label}: choose a class in 0..{run.n_classes - 1}")


def _sample(args) -> int:
    import numpy as np

    out = Path(args.out)
    is_dir = args.out.endswith(("/", "\\")) or out.is_dir()
    if not is_dir and out.suffix not in (".npy", ".csv", ".png"):
        raise GanforgeError(f"--out {args.out}: expected FILE.npy, FILE.csv, GRID.png or a folder DIR/")
    if args.n < 1:
        raise GanforgeError(f"--n {args.n}: must be >= 1")
    from .io import check_output

    check_output(out / "x" if is_dir else out, "--out")
    run = _load(args.run)
    _check_label(run, args.label)
    images = len(run.data.shape) == 3
    if (is_dir or out.suffix == ".png") and not images:
        raise GanforgeError(f"--out {args.out}: PNG output is for image runs; use .npy or .csv")
    if out.suffix == ".csv" and images:
        raise GanforgeError(f"--out {args.out}: CSV output is for points; use GRID.png, DIR/ or .npy")
    x = run.generate(args.n, args.seed, args.label)
    if not is_dir:
        out.parent.mkdir(parents=True, exist_ok=True)
    if is_dir or out.suffix == ".png":
        from .io import image_files, image_grid

        if is_dir:
            image_files(x, out, run.meta(args.run))
        else:
            image_grid(x, out, meta=run.meta(args.run))
    elif out.suffix == ".npy":
        np.save(out, x.numpy() if images else x.flatten(1).numpy())
    else:
        x = x.flatten(1).numpy()
        header = ",".join(f"x{i}" for i in range(x.shape[1]))
        np.savetxt(out, x, delimiter=",", header=header, comments="", fmt="%.8g")
    print(f"wrote {len(x)} samples of run {args.run} (step {run.step}) to {out}")
    return 0


def _evaluate(args) -> int:
    import torch

    from .data.base import KnownModes
    from .evaluation import sample_metrics

    from .io import check_output

    if args.plot:
        check_output(args.plot, "--plot", (".png",))
    if args.inception_weights and not Path(args.inception_weights).expanduser().is_file():
        raise GanforgeError(f"--inception-weights {args.inception_weights}: no such file (never downloaded)")
    run = _load(args.run)
    cfg, data, step = run.cfg, run.data, run.step
    n = args.n if args.n is not None else cfg.eval.n_samples
    seed = args.seed if args.seed is not None else cfg.eval.seed
    if n < 1:
        raise GanforgeError(f"--n {n}: must be >= 1")
    labels = None
    stacked = data.evaluator == "digits" and data.shape[0] == 3  # classes are digit triples
    if run.n_classes and not stacked:
        labels = torch.arange(n) % run.n_classes  # ask for every class equally often
    x = run.generate(n, seed, labels)
    weights = args.inception_weights or cfg.eval.inception_weights
    if weights and len(data.shape) != 3:
        raise GanforgeError("--inception-weights: Inception FID/KID is for image runs; this run generates points")
    metrics = sample_metrics(x, data, seed, labels, inception_weights=weights)
    if args.plot:
        from .report.plots import scatter

        if x[0].numel() != 2:
            raise GanforgeError("--plot: scatter plots are for 2D data")
        centers = data.centers if isinstance(data, KnownModes) else None
        scatter(data.reference(n, seed), x, Path(args.plot), f"{args.run} step {step}", centers)
    result = {"run": str(args.run), "step": step, "data": cfg.data.name, "seed": seed, **metrics}
    if args.json:
        print(json.dumps({k: (v if not (isinstance(v, float) and math.isinf(v)) else None) for k, v in result.items()}))
    else:
        print(f"{args.run}  step {step}  data {cfg.data.name}  seed {seed}")
        print(_metrics_line(metrics))
    return 0


def _interpolate(args) -> int:
    from .io import check_output, image_grid

    if args.steps < 2 or args.rows < 1:
        raise GanforgeError("--steps must be >= 2 and --rows >= 1")
    check_output(args.out, "--out", (".png",))
    run = _load(args.run)
    if len(run.data.shape) != 3:
        raise GanforgeError(f"{args.run}: interpolate draws image strips; this run generates points")
    _check_label(run, args.label)
    x = run.interpolate(args.rows, args.steps, args.seed, args.label)  # (rows * steps, C, H, W)
    image_grid(x, Path(args.out), nrow=args.steps, meta=run.meta(args.run))
    print(f"wrote {args.rows} interpolation paths of {args.steps} images to {args.out}")
    return 0


def _doctor(args) -> int:
    from .diagnostics.doctor import diagnose, format_diagnosis
    from .rundir import existing_run

    d = diagnose(existing_run(args.run))
    if args.json:
        print(json.dumps({"run": d.run, "last_step": d.last_step,
                          "phases": [{"phase": n, "first_step": a, "last_step": b} for n, a, b in d.phases],
                          "events": d.events, "open_at_end": d.open_at_end, "final": d.final}))
    else:
        print(format_diagnosis(d))
    return 0


def _report(args) -> int:
    from .io import check_output
    from .report.html import write_report
    from .rundir import existing_run

    if args.out:
        check_output(args.out, "--out", (".html",))
    path = write_report(existing_run(args.run), Path(args.out) if args.out else None)
    print(f"wrote {path}")
    return 0


def _presets(args) -> int:
    for name in preset_names():
        print(name)
    return 0


def _cache(args) -> int:
    from .cache import clean, usage

    if args.keep_mb < 0:
        raise GanforgeError(f"--keep-mb {args.keep_mb}: must be >= 0")
    if args.action == "clean":
        removed = clean(int(args.keep_mb * 2**20))
        print(f"removed {len(removed)} file(s)")
    u = usage()
    print(f"{u['path']}: {u['files']} file(s), {u['bytes'] / 2**20:.1f} MB "
          f"(real-image features: {u['features_files']}, {u['features_bytes'] / 2**20:.1f} MB)")
    return 0


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, GanforgeWarning):
        print(f"ganforge: warning: {message}", file=sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def main(argv: Optional[Sequence[str]] = None) -> int:
    warnings.showwarning = _show_warning
    commands = {"train": _train, "sample": _sample, "evaluate": _evaluate, "interpolate": _interpolate,
                "doctor": _doctor, "report": _report, "presets": _presets, "cache": _cache}
    try:
        args = _parser().parse_args(argv)
        return commands[args.command](args)
    except TrainingDiverged as e:  # the run failed, not the user's input: its own exit code
        print(f"ganforge: error: {e}", file=sys.stderr)
        return 3
    except WriteFailed as e:  # a full disk or a read-only directory: its own exit code too
        print(f"ganforge: error: {e}", file=sys.stderr)
        return 4
    except GanforgeError as e:
        print(f"ganforge: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # an output that cannot be written (atomic writes leave nothing half-written)
        print(f"ganforge: error: cannot write {os_error_line(e)}", file=sys.stderr)
        return 4
    except KeyboardInterrupt:
        print("ganforge: interrupted; the run's newest checkpoint is on disk", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
