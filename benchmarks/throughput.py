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

Writes ``benchmarks/results/throughput.md``. Note the two loops do slightly different work by
design: ganforge draws fresh noise for the G update (a second G forward, without grad) but
skips D's weight gradients in the G phase; the reference reuses the D-phase fakes.
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

RESULTS = Path(__file__).parent / "results"


def matmul_peak(device: torch.device, n: int = 2048, repeats: int = 10) -> float:
    """Measured fp32 matrix-multiply GFLOP/s: the best of ``repeats`` n x n products."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
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


def build(batch: int, device: torch.device, resolution: int):
    from ganforge.build import build_gan
    from ganforge.config import load_config

    cfg = load_config("digits", [
        "model.name=dcgan", "model.z_dim=100", "model.g_width=64", "model.d_width=64", "model.d_norm=batch",
        f"data.resolution={resolution}", "data.channels=3", "loss.name=non_saturating", "optim.g_lr=2e-4",
        "optim.d_lr=2e-4", "optim.g_betas=[0.5,0.999]", "optim.d_betas=[0.5,0.999]", f"train.batch_size={batch}",
        "train.ema_beta=0", f"train.device={device}",
    ])

    class Images:  # in-memory images on the device, standing in for a dataset
        shape = (3, resolution, resolution)
        n_classes = 0

    torch.manual_seed(0)
    gan = build_gan(cfg, Images(), device)
    images = torch.rand(16 * batch, 3, resolution, resolution, device=device) * 2 - 1
    return gan, images


def reference_step(G, D, opt_g, opt_d, real, z_dim):
    """One iteration of the canonical DCGAN loop (pytorch/examples dcgan/main.py, in spirit)."""
    b = real.shape[0]
    ones = torch.ones(b, device=real.device)
    zeros = torch.zeros(b, device=real.device)
    # (1) Update D: maximize log(D(x)) + log(1 - D(G(z)))
    D.zero_grad(set_to_none=True)
    err_real = F.binary_cross_entropy_with_logits(D(real), ones)
    err_real.backward()
    fake = G(torch.randn(b, z_dim, device=real.device))
    err_fake = F.binary_cross_entropy_with_logits(D(fake.detach()), zeros)
    err_fake.backward()
    opt_d.step()
    # (2) Update G: maximize log(D(G(z)))
    G.zero_grad(set_to_none=True)
    err_g = F.binary_cross_entropy_with_logits(D(fake), ones)
    err_g.backward()
    opt_g.step()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=10, help="iterations per round and loop")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default=str(RESULTS / "throughput.md"))
    a = p.parse_args()
    from torch.utils.flop_counter import FlopCounterMode

    from ganforge.train.step import train_step

    device = torch.device(a.device)
    gan, images = build(a.batch, device, a.resolution)
    z_dim = 100
    G_ref, D_ref = copy.deepcopy(gan.G), copy.deepcopy(gan.D)
    opt_g_ref = torch.optim.Adam(G_ref.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d_ref = torch.optim.Adam(D_ref.parameters(), lr=2e-4, betas=(0.5, 0.999))
    cursor = [0]

    def next_real(n: int):
        i = cursor[0] % (len(images) // n)
        cursor[0] += 1
        return images[i * n : (i + 1) * n], None

    def ours() -> None:
        train_step(gan, next_real, a.batch, 1)

    def ref() -> None:
        reference_step(G_ref, D_ref, opt_g_ref, opt_d_ref, next_real(a.batch)[0], z_dim)

    flops = {}
    for name, fn in (("reference", ref), ("ganforge", ours)):
        fn()  # warm-up (allocator, lazy init)
        with FlopCounterMode(display=False) as fc:
            fn()
        flops[name] = fc.get_total_flops()
    peak = matmul_peak(device)
    times = {"reference": [], "ganforge": []}
    for _ in range(a.rounds):
        for name, fn in (("reference", ref), ("ganforge", ours)):
            sync(device)
            t0 = time.perf_counter()
            for _ in range(a.steps):
                fn()
            sync(device)
            times[name].append((time.perf_counter() - t0) / a.steps)
    rows = []
    for name in ("reference", "ganforge"):
        t = statistics.median(times[name])
        gflops = flops[name] / t / 1e9
        rows.append((name, a.batch / t, t, flops[name] / 1e9, gflops, gflops / peak))
    ratio = rows[1][1] / rows[0][1]
    dev = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or platform.machine())
    lines = [
        "# Training-step throughput",
        "",
        f"DCGAN {a.resolution}x{a.resolution}x3, nz 100, 64 filters, batch {a.batch}, Adam, BCE; fp32 eager, every "
        f"ganforge option off. Device: {dev}, {torch.get_num_threads()} torch threads, torch {torch.__version__}. "
        f"Median over {a.rounds} alternating rounds of {a.steps} iterations. Measured fp32 matmul peak "
        f"(2048x2048): {peak:.1f} GFLOP/s. Command: `python benchmarks/throughput.py --steps {a.steps} "
        f"--rounds {a.rounds} --batch {a.batch} --resolution {a.resolution} --device {a.device}`.",
        "",
        "| loop | images/s | s / iteration | GFLOP / iteration | GFLOP/s | of matmul peak |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {n} | {ips:.1f} | {t:.3f} | {gf:.1f} | {gfs:.1f} | {100 * fr:.0f} % |" for n, ips, t, gf, gfs, fr in rows]
    lines += ["", f"Ratio ganforge / reference (images/s): **{ratio:.2f}** (target >= 1.0).",
              "", "Per-round seconds per iteration: " + "; ".join(
                  f"{n}: " + ", ".join(f"{x:.3f}" for x in times[n]) for n in times)]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
