"""Sampling speed of an exported generator: onnxruntime vs PyTorch eager, on the CPU.

For each architecture, a run is trained for one step (speed does not depend on quality), its G
is exported to ONNX with ``ganforge export`` (``Run.export``), and the same sampler
z -> x in data space is timed in PyTorch eager (``torch.no_grad``) and in an onnxruntime
session, at batch 1 and 64, alternating the two engines round by round in one process so that
a busy machine slows both alike. Both use the same number of threads (``--threads``, default 1).
The table gives images per second (median of the rounds) and the ratio onnxruntime / eager.

    python benchmarks/export.py                 # DCGAN-32 (and StyleGAN2-32 once it is registered)
    python benchmarks/export.py --rounds 5

Writes ``benchmarks/results/export.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

import _harness as H

# name -> overrides on the digits preset; 32x32 grey digits
MODELS = {
    "DCGAN-32": ["model.name=dcgan", "model.g_width=64", "model.d_width=64", "model.z_dim=100"],
    "StyleGAN2-32": ["model.name=stylegan2"],
}
COMMON = ["data.resolution=32", "train.steps=1", "train.batch_size=8", "eval.every=0", "eval.n_samples=8",
          "doctor.enabled=false"]  # with the harness's quiet overrides


def _per_s(fn, batch: int, min_s: float) -> float:
    fn()  # warm up
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_s:
        fn()
        n += 1
    return n * batch / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-s", type=float, default=1.0, help="seconds per timing")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import onnxruntime as ort

    from ganforge.api import load_run
    from ganforge.apps.export import eager_sampler
    from ganforge.models import MODELS as REGISTRY

    torch.set_num_threads(args.threads)
    rows = []
    with H.temp_dir() as tmp:
        os.environ.setdefault("GANFORGE_CACHE", str(tmp / "cache"))
        for name, overrides in MODELS.items():
            model = overrides[0].split("=")[1]
            if model not in REGISTRY:
                rows.append(f"| {name} | - | - | - | - | not in this version of ganforge |")
                continue
            run = H.train(H.config("digits", COMMON + overrides), tmp / name, via_api=True).result
            out = run.export("onnx", tmp / f"{name}.onnx")
            g = load_run(run.path)
            sampler = eager_sampler(g)  # the module the export wrote, in PyTorch eager
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = args.threads
            opts.inter_op_num_threads = 1
            session = ort.InferenceSession(str(out.path), opts, providers=["CPUExecutionProvider"])
            for batch in (1, 64):
                z = torch.randn(batch, g.cfg.model.z_dim, generator=torch.Generator().manual_seed(0))
                feeds = {"z": z.numpy()}

                def eager():
                    with torch.no_grad():
                        sampler(z)

                def onnx():
                    session.run(None, feeds)

                e, o = [], []
                for _ in range(args.rounds):  # alternate: a busy spell slows both
                    e.append(_per_s(eager, batch, args.min_s))
                    o.append(_per_s(onnx, batch, args.min_s))
                me, mo = statistics.median(e), statistics.median(o)
                rows.append(f"| {name} | {batch} | {me:,.0f} | {mo:,.0f} | {mo / me:.2f} | max abs diff "
                            f"{out.max_abs_diff:.1e} |")
                print(rows[-1], flush=True)
    table = "\n".join([
        "# Export: sampling speed, onnxruntime vs PyTorch eager (CPU)", "",
        f"Images per second, median of {args.rounds} alternating rounds of >= {args.min_s} s each; "
        f"{args.threads} thread(s) for both engines; onnxruntime {ort.__version__}.", "",
        "**The machine was shared** with other jobs while this ran (2 cores, 4 users): absolute numbers are "
        "noisy; the ratio, measured side by side in one process, is the number to read.", "",
        "| generator | batch | eager img/s | onnxruntime img/s | onnx / eager | check |",
        "|---|---|---|---|---|---|", *rows, "",
        f"Command: `python benchmarks/export.py --rounds {args.rounds} --min-s {args.min_s} --threads {args.threads}`",
    ])
    H.write_results(table, H.RESULTS / "export.md", threads=args.threads)


if __name__ == "__main__":
    main()
