"""Data loading: images per second delivered by the loader alone, and memory while reading a
built dataset larger than RAM. Run by hand, never as a test.

    python benchmarks/loader.py                          # 64 and 256 px; RSS on a dataset of 2x the RAM
    GANFORGE_LOADER_BENCH_GB=0.05 python benchmarks/loader.py --quick --out /tmp/loader.md   # a smoke run
    python benchmarks/loader.py --device cuda            # batches delivered to the GPU (pinned memory)

**Throughput.** A folder of ``--images`` synthetic PNGs (smooth random pictures plus a little
noise, so that they compress like photographs) per resolution (64 and 256 px) is read five ways,
side by side: the in-memory path (``data.name=folder``: decoded once, batches cut from memory,
held on the GPU when on CUDA as training does); the built file (``ganforge dataset build``, then
``data.name=built``) with 0, 2 and 4 DataLoader workers; and decoding the batch's PNGs in the
training process at every batch (a loader with no cache). Each delivers ``--batch`` images per
batch in model space on ``--device``; the methods alternate over ``--rounds`` rounds of
``--batches`` batches after a warm-up batch, and the median images/s is reported. Nothing is
trained: the numbers bound what the data path can feed.

**Memory.** A built dataset of ``GANFORGE_LOADER_BENCH_GB`` gigabytes (default: twice this
machine's RAM) is written synthetically (no decoding; refused when the disk lacks the space),
then read through once, in a child process, by ``data.name=built`` with 0 and 2 workers, and by
fancy-indexing a numpy memory map of the same file for comparison. Reported: the peak resident
memory (VmHWM) of the reading process and of its workers. The built loader reads rows with
positioned reads into the page cache, which the kernel reclaims, so its peak stays near its
start; the pages of a memory map are the process's own resident memory until the kernel evicts
them. The temporary files are removed at the end.

Writes ``benchmarks/results/loader.md`` (``--out``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import _harness as H

ROOT = H.ROOT
sys.path.insert(0, str(ROOT / "src"))

from ganforge.config import DataConfig  # noqa: E402
from ganforge.data import DATASETS  # noqa: E402
from ganforge.data.images import read_image  # noqa: E402
from ganforge.data.pack import build_dataset, write_rows  # noqa: E402
from ganforge.data.sampling import EpochSampler  # noqa: E402

ENV_GB = "GANFORGE_LOADER_BENCH_GB"


# ----------------------------------------------------------------------------- throughput


def make_pngs(folder: Path, n: int, res: int, seed: int = 0) -> None:
    """``n`` RGB PNGs of res x res: 8x8 random colours upsampled (smooth) plus noise of std 8."""
    from PIL import Image

    g = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for i in range(n):
        small = Image.fromarray(g.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize((res, res), Image.BICUBIC)
        x = np.clip(np.asarray(small, np.float32) + g.normal(0, 8, (res, res, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(x).save(folder / f"{i:06d}.png")


class DecodePerBatch:
    """Decode the PNGs of each batch in the training process: what a loader without a cache does."""

    def __init__(self, folder: Path, res: int, device: torch.device, seed: int = 0):
        self.files, self.res, self.device = sorted(folder.glob("*.png")), res, device
        self.order = EpochSampler(len(self.files), seed)

    def sample(self, n: int) -> torch.Tensor:
        x = np.stack([read_image(self.files[i], "RGB", self.res) for i in self.order.next(n).tolist()])
        x = torch.from_numpy(x).permute(0, 3, 1, 2).to(self.device)  # (n, 3, R, R) uint8
        return x.float() / 127.5 - 1


def sources(folder: Path, gfd: Path, res: int, device: torch.device) -> dict:
    """name -> a function that delivers one batch of ``n`` on ``device``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mem = DATASETS.get("folder")(DataConfig(name="folder", path=str(folder), resolution=res), 0)
    if device.type == "cuda":
        mem.hold_on(device)  # as train.data_on_device=auto does for a set up to 1 GiB
    out = {"in memory (decoded once)": lambda n: mem.sample(n)[0].to(device)}
    for w in (0, 2, 4):
        b = DATASETS.get("built")(DataConfig(name="built", path=str(gfd), resolution=res, workers=w), 0)
        b.stream(device)
        out[f"built, {w} workers"] = (lambda b: lambda n: b.sample(n)[0])(b)
    dec = DecodePerBatch(folder, res, device)
    out["PNG decoded per batch"] = dec.sample
    return out


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def throughput(a, res: int, device: torch.device, work: Path) -> dict:
    """name -> median images/s over the rounds."""
    folder, gfd = work / f"png{res}", work / f"d{res}.gfd"
    make_pngs(folder, a.images, res)
    build_dataset(folder, gfd, res, progress=False)
    fns = sources(folder, gfd, res, device)
    for fn in fns.values():  # warm-up: workers started, first pages read
        fn(a.batch)
    sync(device)
    rates: dict = {k: [] for k in fns}
    for _ in range(a.rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(a.batches):
                x = fn(a.batch)
            sync(device)
            rates[name].append(a.batch * a.batches / (time.perf_counter() - t0))
            assert x.shape == (a.batch, 3, res, res)
    return {k: statistics.median(v) for k, v in rates.items()}


# ----------------------------------------------------------------------------- memory


def ram_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def synth_built(out: Path, gb: float, res: int, seed: int = 0) -> int:
    """A built dataset of about ``gb`` GB of random 3 x res x res images, written directly (no
    decoding): the same 256 random images repeated with a per-row counter. Returns the count."""
    row = 3 * res * res
    n = max(1, int(gb * 1e9) // row)
    free = shutil.disk_usage(out.parent).free
    if n * row > free - (1 << 30):
        raise SystemExit(f"{ENV_GB}={gb}: {n * row / 1e9:.1f} GB do not fit in the {free / 1e9:.1f} GB free under "
                         f"{out.parent}; set {ENV_GB} lower or TMPDIR to a larger disk")
    out.mkdir()
    base = np.random.default_rng(seed).integers(0, 256, (256, 3, res, res), dtype=np.uint8)

    def chunks():
        for i in range(0, n, 256):
            k = min(256, n - i)
            chunk = base[:k].copy()
            chunk[:, 0, 0, :8] = np.frombuffer(np.arange(i, i + k, dtype=np.int64).tobytes(), np.uint8).reshape(k, 8)
            yield chunk

    write_rows(out, chunks(), n, (3, res, res), "synthetic")
    return n


CHILD = r"""
import os, sys, threading, time, numpy as np, torch
sys.path.insert(0, sys.argv[1])
from ganforge.config import DataConfig
from ganforge.data import DATASETS

def hwm(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0

def children():
    pids = []
    for tid in os.listdir("/proc/self/task"):
        try:
            pids += open(f"/proc/self/task/{tid}/children").read().split()
        except OSError:
            pass
    return pids

path, res, how, batch = sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
torch.set_num_threads(1)
start = hwm(os.getpid())
workers_peak, done = [0], [False]
def watch():  # the workers' own peaks, read while they live
    while not done[0]:
        for p in children():
            workers_peak[0] = max(workers_peak[0], hwm(p))
        time.sleep(0.2)
threading.Thread(target=watch, daemon=True).start()
if how == "mmap":
    arr = np.load(os.path.join(path, "images.npy"), mmap_mode="r")
    n = len(arr)
    perm = np.random.default_rng(0).permutation(n)
    for i in range(0, n, batch):
        x = torch.from_numpy(arr[np.sort(perm[i:i + batch])]).float() / 127.5 - 1
else:
    d = DATASETS.get("built")(DataConfig(name="built", path=path, resolution=res, workers=int(how)), 0)
    n = d.rows.count
    for _ in range(0, n, batch):
        x = d.sample(batch)[0]
    d.close()
done[0] = True
print(start, hwm(os.getpid()), workers_peak[0], n)
"""


def peak_rss(gfd: Path, res: int, how: str, batch: int) -> tuple:
    """(RSS at start, peak RSS, peak RSS of a worker, images read) of one pass over ``gfd``."""
    r = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / "src"), str(gfd), str(res), how, str(batch)],
                       capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if r.returncode:
        raise SystemExit(r.stderr[-2000:])
    return tuple(int(v) for v in r.stdout.split())


# ----------------------------------------------------------------------------- main


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{H.cpu_model()}, {os.cpu_count()} CPU cores"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=512, help="PNGs per resolution")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--batches", type=int, default=20, help="batches per round and method")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--resolutions", default="64,256")
    p.add_argument("--rss-resolution", type=int, default=256, help="image size of the large synthetic dataset")
    p.add_argument("--device", default="cpu")
    p.add_argument("--quick", action="store_true", help="a smoke run: 32 images, 2 batches of 8, 1 round, a 0.02 GB "
                                                        f"dataset unless {ENV_GB} says otherwise")
    p.add_argument("--out", default=str(H.RESULTS / "loader.md"))
    a = p.parse_args()
    if a.quick:
        a.images, a.batch, a.batches, a.rounds = 32, 8, 2, 1
    device = torch.device(a.device)
    torch.set_num_threads(1)
    default_gb = 0.02 if a.quick else 2 * ram_bytes() / 1e9
    gb = float(os.environ.get(ENV_GB, default_gb))
    cmd = f"{ENV_GB}={gb:g} python benchmarks/loader.py {' '.join(sys.argv[1:])}".rstrip()
    with H.temp_dir("ganforge-loader-") as work:
        res_list = [int(r) for r in a.resolutions.split(",")]
        table = {res: throughput(a, res, device, work) for res in res_list}
        names = list(next(iter(table.values())))
        lines = [
            "# Data loading: images per second delivered by the loader alone, and memory",
            "",
            f"Device: {describe(device)}; torch {torch.__version__}, 1 torch thread in the main process. "
            f"{a.images} synthetic PNGs per size, batches of {a.batch} in model space on {device}, median of "
            f"{a.rounds} alternating rounds of {a.batches} batches. Command: `{cmd}`.",
            "",
            "| loader | " + " | ".join(f"{r} px images/s" for r in res_list) + " |",
            "|---|" + "---|" * len(res_list),
        ]
        lines += [f"| {n} | " + " | ".join(f"{table[r][n]:.0f}" for r in res_list) + " |" for n in names]
        print("\n".join(lines), flush=True)
        gfd = work / "large.gfd"
        n = synth_built(gfd, gb, a.rss_resolution)
        size = (gfd / "images.npy").stat().st_size
        lines += [
            "", f"Peak resident memory reading a synthetic built dataset once: {n} images at 3x{a.rss_resolution}x"
            f"{a.rss_resolution}, {size / 1e9:.2f} GB on disk; this machine has {ram_bytes() / 1e9:.1f} GB of RAM "
            f"({ENV_GB}={gb:g}). Batches of {a.batch}, in random order.", "",
            "| reader | RSS at start | peak RSS | peak RSS of a worker |", "|---|---|---|---|",
        ]
        for label, how in (("built, 0 workers", "0"), ("built, 2 workers", "2"), ("numpy memory map (comparison)", "mmap")):
            start, peak, worker, _ = peak_rss(gfd, a.rss_resolution, how, a.batch)
            lines.append(f"| {label} | {start / 2**20:.0f} MB | {peak / 2**20:.0f} MB | "
                         f"{f'{worker / 2**20:.0f} MB' if worker else '-'} |")
            print(lines[-1], flush=True)
    H.write_results(lines, a.out, threads=1)


if __name__ == "__main__":
    main()
