"""``ganforge train``: resolve the config, train through the API, print the result."""

from __future__ import annotations

from ..config import to_yaml
from ..errors import GanforgeError
from .common import metrics_line


def run(args) -> int:
    from ..api import resolve_config, train

    if args.resume and (args.preset or args.out):
        raise GanforgeError("--resume continues a run in place; it takes no --preset or --out")
    if args.dry_run:
        print(to_yaml(resolve_config(args.preset, args.overrides, args.resume, args.extend)), end="")
        return 0
    result = train(args.preset, args.overrides, args.out, resume=args.resume, extend=args.extend, progress=True)
    if not result.main:  # rank 0 speaks for the run
        return 0
    r = result.result
    print(f"run: {r.run_dir}  step {r.step}  {r.wall_s:.1f} s")
    if r.metrics:
        print(metrics_line(r.metrics, result.evaluator))
    return 0
