"""``ganforge train``: resolve the config, train through the API, print the result."""

from __future__ import annotations

from ..config import to_yaml
from ..errors import GanforgeError
from .common import metrics_line


def run(args) -> int:
    from ..api import resolve_config, train
    from ..train.sinks import EventPrinter, ProgressSink

    if args.resume and (args.preset or args.out):
        raise GanforgeError("--resume continues a run in place; it takes no --preset or --out")
    cfg = resolve_config(args.preset, args.overrides, args.resume)
    if args.dry_run:
        print(to_yaml(cfg), end="")
        return 0
    sinks = [ProgressSink(cfg.train.steps)] if cfg.train.progress else [EventPrinter()]
    result = train(args.preset, args.overrides, args.out, resume=args.resume, sinks=sinks)
    if not result.main:  # rank 0 speaks for the run
        return 0
    r = result.result
    print(f"run: {r.run_dir}  step {r.step}  {r.wall_s:.1f} s")
    if r.metrics:
        print(metrics_line(r.metrics))
    return 0
