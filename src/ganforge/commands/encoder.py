"""``ganforge encoder``: fit an encoder image -> z to the run's generator (RUN/encoder.pt)."""

from __future__ import annotations

import sys


def run(args) -> int:
    from ..api import load
    from ..apps.encoder import save_encoder, train_encoder
    from ..errors import GanforgeError

    if args.steps < 1:
        raise GanforgeError(f"--steps {args.steps}: must be >= 1")
    r = load(args.run)
    g = r.generator
    E = train_encoder(g, steps=args.steps, seed=args.seed,
                      progress=lambda step, loss: print(f"encoder step {step}: loss {loss:.4g}", file=sys.stderr))
    print(f"wrote {save_encoder(E, r.path, g.step)}")
    return 0
