"""``ganforge export``: G as ONNX, TorchScript or safetensors, with provenance, checked after export."""

from __future__ import annotations


def run(args) -> int:
    from ..api import load

    r = load(args.run).export(args.format, args.out, ema=args.ema, truncation=args.truncation)
    print(f"wrote {r.path} ({r.format}, run {r.provenance['run']} step {r.provenance['step']}, "
          f"{r.provenance['weights']}); max abs difference to PyTorch on fixed noise: {r.max_abs_diff:.3g}")
    return 0
