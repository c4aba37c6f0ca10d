"""``ganforge evaluate``: measure a run's samples, or samples from any other program
(``--samples FILE.npz|FILE.npy|DIR --data NAME|--data-path PATH``), as text or one JSON object."""

from __future__ import annotations

import json

from ..errors import GanforgeError
from .common import metrics_line


def run(args) -> int:
    from pathlib import Path

    from ..api import evaluate_samples, load
    from ..io import check_output

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
