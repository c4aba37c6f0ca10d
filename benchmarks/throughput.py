"""Training-step throughput: ganforge's step against a minimal hand-written reference loop.

The reference is written in the style of the canonical PyTorch DCGAN example (pytorch/examples,
dcgan/main.py): BCE with logits, Adam (lr 2e-4, betas 0.5/0.999), one D update on a real and a
fake batch, one G update reusing that fake batch. Both loops train the *same* model (ganforge's
DCGAN at 64x64, nz 100, 64 filters, batch norm in G and D, built once and copied), on the same
batches of in-memory images, on the same machine, alternating in one process: rounds of
``--steps`` iterations of one loop, then of the other. Reported: images per second (real images
through a D update per second; one iteration = one D and one G update of batch 64), the ratio
ganforge / reference, the GFLOP/s achieved (FLOPs of one iteration counted with
``torch.utils.flop_counter``) and their fraction of a measured fp32 matrix-multiply peak.

    python benchmarks/throughput.py                    # CPU, torch's default threads
    python benchmarks/throughput.py --steps 5 --rounds 2
    python benchmarks/throughput.py --device cuda --precision bf16 --channels-last --compile
    python benchmarks/throughput.py --device cuda --suite   # fp32 eager, bf16, bf16+channels_last+compile
                                                            # at 32x32 and 64x64, one table

The speed options (``--precision``, ``--channels-last``, ``--compile``, ``--optim-impl``) are
applied to both loops alike: ganforge through its own runtime (``train/runtime.py``), the
reference by hand (autocast, an fp16 GradScaler, NHWC models, ``torch.compile``). The fraction
of peak is taken against a matmul peak measured in the dtype of the run's autocast.

Writes ``benchmarks/results/throughput.md`` (``--suite``: ``throughput_suite.md``). ganforge
runs with its defaults, so ``train.reuse_fakes`` is on: like the reference it runs G once per
iteration and reuses the D-phase fakes for G's update; unlike the reference it skips D's weight
gradients in the G phase. ``--two-batches`` measures ganforge's older path (a second G forward
on fresh noise, ``train.reuse_fakes=false``).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import statistics
import time

import torch
import torch.nn.functional as F

import _harness as H


DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def matmul_peak(device: torch.device, n: int = 2048, repeats: int = 10, dtype: torch.dtype = torch.float32) -> float:
    """Measured matrix-multiply GFLOP/s in ``dtype``: the best of ``repeats`` n x n products."""
    if device.type == "cuda":
        n = 8192  # large enough to approach the tensor-core peak
    elif dtype != torch.float32:
        n = 512  # CPU half-precision matmuls can be very slow; this is for reference only
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    best = 0.0
    for _ in range(repeats + 2):
        sync(device)
        t0 = time.perf_counter()
        a @ b
        sync(device)
        best = max(best, 2 * n**3 / (time.perf_counter() - t0) / 1e9)
    return best


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def build(batch: int, device: torch.device, resolution: int, options: tuple = ()):
    from ganforge.train.games import build_game
    from ganforge.config import load_config

    cfg = load_config("digits", [*options,
        "model.name=dcgan", "model.z_dim=100", "model.g_width=64", "model.d_width=64", "model.d_norm=batch",
        f"data.resolution={resolution}", "data.channels=3", "loss.name=non_saturating", "optim.g_lr=2e-4",
        "optim.d_lr=2e-4", "optim.g_betas=[0.5,0.999]", "optim.d_betas=[0.5,0.999]", f"train.batch_size={batch}",
        "train.ema_beta=0", f"train.device={device}",
    ])

    class Images:  # in-memory images on the device, standing in for a dataset
        shape = (3, resolution, resolution)
        n_classes = 0

    torch.manual_seed(0)
    gan = build_game(cfg, Images(), device)
    images = torch.rand(16 * batch, 3, resolution, resolution, device=device) * 2 - 1
    return gan, images, cfg


def reference_step(G, D, opt_g, opt_d, real, z_dim, amp=None, scalers=None):
    """One iteration of the canonical DCGAN loop (pytorch/examples dcgan/main.py, in spirit).
    ``amp``: (device type, dtype) of autocast; ``scalers``: fp16 GradScalers (d, g)."""
    b = real.shape[0]
    ones = torch.ones(b, device=real.device)
    zeros = torch.zeros(b, device=real.device)
    cast = (lambda: torch.autocast(amp[0], dtype=amp[1])) if amp else contextlib.nullcontext
    sd, sg = scalers or (None, None)
    scaled = lambda s, loss: s.scale(loss) if s is not None else loss  # noqa: E731
    # (1) Update D: maximize log(D(x)) + log(1 - D(G(z)))
    D.zero_grad(set_to_none=True)
    with cast():
        err_real = F.binary_cross_entropy_with_logits(D(real).float(), ones)
    scaled(sd, err_real).backward()
    with cast():
        fake = G(torch.randn(b, z_dim, device=real.device))
        err_fake = F.binary_cross_entropy_with_logits(D(fake.detach()).float(), zeros)
    scaled(sd, err_fake).backward()
    if sd is not None:
        sd.step(opt_d)
        sd.update()
    else:
        opt_d.step()
    # (2) Update G: maximize log(D(G(z)))
    G.zero_grad(set_to_none=True)
    with cast():
        err_g = F.binary_cross_entropy_with_logits(D(fake).float(), ones)
    scaled(sg, err_g).backward()
    if sg is not None:
        sg.step(opt_g)
        sg.update()
    else:
        opt_g.step()


def measure(a, device: torch.device, resolution: int, precision: str, channels_last: bool, compile_: bool) -> dict:
    """Seconds per iteration of both loops (alternating rounds), FLOPs per iteration and peak."""
    from torch.utils.flop_counter import FlopCounterMode

    from ganforge.train.distributed import Dist
    from ganforge.train.runtime import attach

    options = (f"train.precision={precision}", f"train.channels_last={str(channels_last).lower()}",
               f"train.compile={str(compile_).lower()}", f"optim.impl={a.optim_impl}",
               f"train.reuse_fakes={'false' if getattr(a, 'two_batches', False) else 'true'}")
    gan, images, cfg = build(a.batch, device, resolution, options)
    z_dim = 100
    G_ref, D_ref = copy.deepcopy(gan.G), copy.deepcopy(gan.D)  # the same initial weights
    flops = {}
    cursor = [0]

    def next_real(n: int):
        i = cursor[0] % (len(images) // n)
        cursor[0] += 1
        return images[i * n : (i + 1) * n], None

    # FLOPs: counted once in fp32 eager on copies (the options change how, not what, is computed)
    g0, d0 = copy.deepcopy(gan.G), copy.deepcopy(gan.D)
    og0 = torch.optim.Adam(g0.parameters(), lr=2e-4, betas=(0.5, 0.999))
    od0 = torch.optim.Adam(d0.parameters(), lr=2e-4, betas=(0.5, 0.999))
    plain, _, _ = build(a.batch, device, resolution)
    for name, fn in (("reference", lambda: reference_step(g0, d0, og0, od0, next_real(a.batch)[0], z_dim)),
                     ("ganforge", lambda: plain.step(next_real, a.batch))):
        fn()
        with FlopCounterMode(display=False) as fc:
            fn()
        flops[name] = fc.get_total_flops()
    del g0, d0, og0, od0, plain

    attach(gan, cfg, device, Dist())  # ganforge's own runtime for the options
    impl = {"foreach": {}, "fused": {"fused": True}, "loop": {"foreach": False}}[a.optim_impl]
    if channels_last:
        G_ref, D_ref = G_ref.to(memory_format=torch.channels_last), D_ref.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    opt_g_ref = torch.optim.Adam(G_ref.parameters(), lr=2e-4, betas=(0.5, 0.999), **impl)
    opt_d_ref = torch.optim.Adam(D_ref.parameters(), lr=2e-4, betas=(0.5, 0.999), **impl)
    G_call, D_call = (torch.compile(G_ref), torch.compile(D_ref)) if compile_ else (G_ref, D_ref)
    amp = (device.type, DTYPES[precision]) if precision != "fp32" else None
    scalers = (torch.amp.GradScaler(device.type), torch.amp.GradScaler(device.type)) if precision == "fp16" else None

    def ours() -> None:
        gan.step(next_real, a.batch)

    def ref() -> None:
        reference_step(G_call, D_call, opt_g_ref, opt_d_ref, next_real(a.batch)[0], z_dim, amp, scalers)

    for fn in (ref, ours):
        for _ in range(3 if compile_ else 1):  # warm-up (allocator, lazy init, compilation)
            fn()
    peak = matmul_peak(device, dtype=DTYPES[precision])
    times = {"reference": [], "ganforge": []}
    for _ in range(a.rounds):
        for name, fn in (("reference", ref), ("ganforge", ours)):
            sync(device)
            t0 = time.perf_counter()
            for _ in range(a.steps):
                fn()
            sync(device)
            times[name].append((time.perf_counter() - t0) / a.steps)
    return {"times": times, "flops": flops, "peak": peak}


def rows_of(m: dict, batch: int) -> list:
    rows = []
    for name in ("reference", "ganforge"):
        t = statistics.median(m["times"][name])
        gflops = m["flops"][name] / t / 1e9
        rows.append((name, batch / t, t, m["flops"][name] / 1e9, gflops, gflops / m["peak"]))
    return rows


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{H.cpu_model()}, {torch.get_num_threads()} torch threads"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=10, help="iterations per round and loop")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--optim-impl", choices=("foreach", "fused", "loop"), default="foreach",
                   help="ganforge's optim.impl; the reference gets the same kernels (foreach: torch's default)")
    p.add_argument("--suite", action="store_true",
                   help="fp32 eager, bf16, bf16+channels_last+compile at 32x32 and 64x64 (for a GPU)")
    p.add_argument("--two-batches", action="store_true", help="ganforge with train.reuse_fakes=false")
    p.add_argument("--out", default=None)
    a = p.parse_args()
    device = torch.device(a.device)
    cmd = (f"python benchmarks/throughput.py --steps {a.steps} --rounds {a.rounds} --batch {a.batch} "
           f"--device {a.device} --optim-impl {a.optim_impl}")
    if a.suite:
        lines = [
            "# Training-step throughput: speed options",
            "",
            f"DCGAN x3 channels, nz 100, 64 filters, batch {a.batch}, Adam, BCE. Device: {describe(device)}, "
            f"torch {torch.__version__}. Median over {a.rounds} alternating rounds of {a.steps} iterations. Fraction "
            f"of peak: achieved GFLOP/s (FLOPs counted in fp32 eager) over a measured matmul peak in the autocast "
            f"dtype. Command: `{cmd} --suite`.",
            "",
            "| resolution | options | reference images/s | ganforge images/s | ratio | ganforge GFLOP/s | of peak |",
            "|---|---|---|---|---|---|---|",
        ]
        for res in (32, 64):
            for label, prec, cl, comp in (("fp32 eager", "fp32", False, False), ("bf16", "bf16", False, False),
                                          ("bf16 + channels_last + compile", "bf16", True, True)):
                rows = rows_of(measure(a, device, res, prec, cl, comp), a.batch)
                (_, ref_ips, *_), (_, ips, _, _, gfs, frac) = rows
                lines.append(f"| {res}x{res} | {label} | {ref_ips:.0f} | {ips:.0f} | {ips / ref_ips:.2f} | "
                             f"{gfs:.0f} | {100 * frac:.0f} % |")
                print(lines[-1], flush=True)
        out = a.out or str(H.RESULTS / "throughput_suite.md")
    else:
        m = measure(a, device, a.resolution, a.precision, a.channels_last, a.compile)
        rows = rows_of(m, a.batch)
        ratio = rows[1][1] / rows[0][1]
        opts = [f"precision {a.precision}"] + (["channels_last"] if a.channels_last else []) + \
               (["compile"] if a.compile else []) + [f"optim.impl {a.optim_impl}"]
        flags = f" --precision {a.precision}" + (" --channels-last" if a.channels_last else "") + \
            (" --compile" if a.compile else "")
        lines = [
            "# Training-step throughput",
            "",
            f"DCGAN {a.resolution}x{a.resolution}x3, nz 100, 64 filters, batch {a.batch}, Adam, BCE; "
            f"{', '.join(opts)}, on both loops. Device: {describe(device)}, torch {torch.__version__}. "
            f"Median over {a.rounds} alternating rounds of {a.steps} iterations. Measured {a.precision} matmul peak: "
            f"{m['peak']:.1f} GFLOP/s. Command: `{cmd} --resolution {a.resolution}{flags}`.",
            "",
            "| loop | images/s | s / iteration | GFLOP / iteration | GFLOP/s | of matmul peak |",
            "|---|---|---|---|---|---|",
        ]
        lines += [f"| {n} | {ips:.1f} | {t:.3f} | {gf:.1f} | {gfs:.1f} | {100 * fr:.0f} % |"
                  for n, ips, t, gf, gfs, fr in rows]
        per_round = [r / g for r, g in zip(m["times"]["reference"], m["times"]["ganforge"])]
        lines += ["", f"Ratio ganforge / reference (images/s): **{ratio:.2f}** (target >= 1.2); per round "
                  f"{', '.join(f'{x:.2f}' for x in per_round)} (min {min(per_round):.2f}, max {max(per_round):.2f}). "
                  f"ganforge {'two batches (reuse_fakes=false)' if a.two_batches else 'with reuse_fakes'}.",
                  "", "Per-round seconds per iteration: " + "; ".join(
                      f"{n}: " + ", ".join(f"{x:.3f}" for x in m["times"][n]) for n in m["times"])]
        out = a.out or str(H.RESULTS / "throughput.md")
    H.write_results(lines, out)


if __name__ == "__main__":
    main()
