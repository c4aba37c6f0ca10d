"""``ganforge train``: resolve the config, make the run directory, train, print the result."""

from __future__ import annotations

from pathlib import Path

from ..config import load_config, to_yaml
from ..errors import GanforgeError
from .common import metrics_line


def run(args) -> int:
    from ..api import train
    from ..build import build_data, check_compatible, check_names
    from ..rundir import existing_run, new_run_dir
    from ..train.distributed import on_main, session
    from ..train.sinks import EventPrinter, ProgressSink

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
    check_compatible(cfg, data.shape)  # the model's spec; augment.policy and reg.bcr need images
    with session(cfg.train.device, cfg.train.dist_backend) as d:  # torchrun: the process group
        if not args.resume:
            name = Path(args.preset).stem if args.preset else cfg.data.name
            run_dir = on_main(lambda: new_run_dir(args.out, name), d)  # rank 0 makes it; all use it
        sinks = [ProgressSink(cfg.train.steps)] if cfg.train.progress else [EventPrinter()]
        result = train(cfg, run_dir, resume=bool(args.resume), sinks=sinks, data=data)
    if not d.main:  # rank 0 speaks for the run
        return 0
    print(f"run: {result.run_dir}  step {result.step}  {result.wall_s:.1f} s")
    if result.metrics:
        print(metrics_line(result.metrics))
    return 0
