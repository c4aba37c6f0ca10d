"""``ganforge export``: G as ONNX, TorchScript or safetensors, with provenance, checked after export."""

from __future__ import annotations

from .common import add_run


HELP = "export G as ONNX, TorchScript or safetensors, with provenance"


def add_arguments(p) -> None:
    add_run(p)
    p.add_argument("--format", required=True, help="onnx, torchscript or safetensors")
    p.add_argument("--out", required=True, help="output file")
    p.add_argument("--ema", action="store_true", help="export G's EMA weights (the run must have kept them)")
    p.add_argument("--truncation", type=float, metavar="PSI",
                   help="truncation psi in [0, 1], for generators that support it (style-based)")


def run(args) -> int:
    from ..api import load

    r = load(args.run).export(args.format, args.out, ema=args.ema, truncation=args.truncation)
    print(f"wrote {r.path} ({r.format}, run {r.provenance['run']} step {r.provenance['step']}, "
          f"{r.provenance['weights']}); max abs difference to PyTorch on fixed noise: {r.max_abs_diff:.3g}")
    return 0
