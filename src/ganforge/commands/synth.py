"""``ganforge synth``: a labelled synthetic dataset of a run, with provenance."""

from __future__ import annotations


def run(args) -> int:
    from ..api import load
    from ..apps.synth import check_request, synth

    r = load(args.run)
    g = r.generator
    check_request(g, args.out, args.n, args.per_class, args.min_confidence)  # before any sampling
    res = synth(g, r.path, args.out, args.n, args.per_class, args.seed, args.min_confidence, args.truncation,
                not args.no_watermark)
    counts = f" ({', '.join(f'{k}: {v}' for k, v in res.per_class.items())})" if res.per_class else ""
    print(f"wrote {res.n} synthetic samples of run {args.run} (step {g.step}) to {res.out}{counts}")
    if args.min_confidence is not None:
        print(f"rejected {res.rejected} samples below --min-confidence {args.min_confidence}")
    return 0
