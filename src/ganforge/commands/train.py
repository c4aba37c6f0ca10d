"""``ganforge train``: resolve the config, train through the API, print the result."""

from __future__ import annotations

from ..config import preset_names, to_yaml
from ..errors import GanforgeError
from ..data.kinds import dataset_kind
from ..rundir import summary
from .common import metrics_line

HELP = "train a GAN"
DESCRIPTION = "Train a GAN. Settings: key=value overrides, before or after the flags."
EPILOG = ("`ganforge presets` lists the presets and what each trains; `ganforge keys [SECTION]` lists every config "
          "key with its type, default and meaning.")


def add_arguments(p) -> None:
    p.add_argument("--preset", help=f"a shipped preset ({', '.join(preset_names())}) or a .yaml path")
    p.add_argument("--out", help="run directory (default: a new runs/NNN-NAME)")
    p.add_argument("--resume", metavar="RUN", help="continue RUN from its newest checkpoint")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    p.add_argument("--extend", choices=("restart", "continue", "rescale"),
                   help="--resume with a larger train.steps and a decaying optim.schedule: decay again over the "
                        "new steps (restart, the default), hold the final rate (continue), or stretch the decay "
                        "(rescale)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. train.steps=2000 loss.name=hinge")


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
    kind = dataset_kind(result.config.data.name)
    print("\n".join(summary(r.run_dir, "grid.png" if kind.pixels else f"samples{kind.suffixes[-1]}")))
    return 0
