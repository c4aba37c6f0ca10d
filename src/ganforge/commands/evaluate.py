"""``ganforge evaluate``: measure a run's samples, or samples from any other program
(``--samples FILE.npz|FILE.npy|DIR --data NAME|--data-path PATH``), as text or one JSON object."""

from __future__ import annotations

import json

from ..errors import GanforgeError
from .common import add_truncation, metrics_line


HELP = "measure a trained run's samples, or samples from another program"


def add_arguments(p) -> None:
    p.add_argument("run", metavar="RUN", nargs="?", help="a run directory (or use --samples)")
    p.add_argument("--samples", metavar="FILE", help="samples made by any program: .npz, .npy or a folder of PNGs")
    p.add_argument("--data", metavar="NAME", help="with --samples: the real data's data.name (digits, ring8, ...)")
    p.add_argument("--data-path", metavar="PATH", help="with --samples: the real data's data.path "
                                                       "(alone: a folder of images)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--n", type=int, help="number of samples (default: eval.n_samples)")
    p.add_argument("--seed", type=int, help="sampling seed (default: eval.seed)")
    p.add_argument("--plot", help="also write a scatter plot of real vs generated points (.png)")
    p.add_argument("--inception-weights", metavar="PATH",
                   help="images: FID/KID in Inception-v3's space from this local weights file "
                        "(default: eval.inception_weights; never downloaded)")
    p.add_argument("--inception", action="store_true",
                   help="images: fetch torch-fidelity's Inception-v3 weights once into $GANFORGE_CACHE (checked "
                        "against their published hash) and measure FID/KID with them")
    add_truncation(p)


def run(args) -> int:
    from pathlib import Path

    from ..api import evaluate_samples, load
    from ..files import check_output

    if args.plot:
        check_output(args.plot, "--plot", (".png",))
    if args.inception_weights and not Path(args.inception_weights).expanduser().is_file():
        raise GanforgeError(f"--inception-weights {args.inception_weights}: no such file (never downloaded)")
    if args.samples:
        if args.run or args.plot or args.inception_weights or args.inception or args.truncation is not None:
            raise GanforgeError("--samples measures a file of samples: give no RUN, --plot, --inception* "
                                "or --truncation")
        if not (args.data or args.data_path):
            raise GanforgeError("--samples: name the real data with --data NAME or --data-path PATH")
        ev = evaluate_samples(args.samples, args.data, args.data_path, seed=args.seed or 0, n=args.n)
    else:
        if not args.run:
            raise GanforgeError("evaluate: give a RUN directory, or --samples FILE with --data NAME")
        if args.data or args.data_path:
            raise GanforgeError("--data and --data-path go with --samples; a run measures against its own data")
        ev = load(args.run).evaluate(args.n, args.seed, args.inception_weights, args.plot, args.inception,
                                      args.truncation)
    if args.json:
        print(json.dumps(ev.to_dict()))
    else:
        step = f"  step {ev.step}" if ev.step is not None else ""
        print(f"{ev.run}{step}  data {ev.data}  seed {ev.seed}")
        print(metrics_line(ev.metrics, ev.evaluator))
    return 0
