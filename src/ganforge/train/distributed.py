"""Data-parallel training on torch.distributed, launched with torchrun.

    torchrun --standalone --nproc_per_node=N -m ganforge train ...            # one machine
    torchrun --nnodes=M --nproc_per_node=N --rdzv_backend=c10d \\
             --rdzv_endpoint=HOST:PORT --rdzv_id=JOB -m ganforge train ...   # on each of M machines

torchrun sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; :func:`session` reads them, starts the
process group (nccl on CUDA, gloo on CPU) and ends it. ``train.batch_size`` is the *global*
batch. Every rank draws the global batch of real indices, noise and labels from the same
seeded generators and keeps its own rows (rank r of W: rows r*B/W .. (r+1)*B/W), so with the
losses being means and DDP averaging gradients, an update equals the single-process update on
the global batch, up to the order of float sums (for models without batch norm; with batch
norm, each rank normalises over its rows unless ``train.sync_bn=true``). Rank 0 alone writes
the run directory; statistics are averaged over ranks at log steps, so every rank agrees on a
divergence and rolls back together.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from dataclasses import dataclass
from typing import Callable, Iterator, TypeVar

import torch
import torch.distributed as tdist
from torch import Tensor

from ..errors import GanforgeError

T = TypeVar("T")


@dataclass(frozen=True)
class Dist:
    """Where this process stands: rank ``rank`` of ``world`` processes, ``local_rank`` on its node."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes logs, checkpoints and samples."""
        return self.rank == 0

    def shard(self, x: Tensor) -> Tensor:
        """This rank's rows of a global batch ``x`` (B, ...): (B / world, ...)."""
        if not self.enabled:
            return x
        b = x.shape[0] // self.world
        return x[self.rank * b : (self.rank + 1) * b]

    def gather(self, x: Tensor) -> Tensor:
        """The inverse of :meth:`shard`: every rank's rows (B / world, ...) of a global batch,
        concatenated in rank order, (B, ...) on every rank. No gradient flows through it."""
        if not self.enabled:
            return x
        parts = [torch.empty(x.shape, dtype=x.dtype, device=x.device) for _ in range(self.world)]
        tdist.all_gather(parts, x.detach().contiguous())
        return torch.cat(parts)


def from_env() -> Dist:
    """The torchrun environment, or a single process when there is none."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    return Dist(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def current() -> Dist:
    """This process's place in the running process group (single process when there is none)."""
    if tdist.is_available() and tdist.is_initialized() and tdist.get_world_size() > 1:
        return Dist(tdist.get_rank(), tdist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    return Dist()


def device_for(name: str, d: Dist) -> str:
    """``train.device`` for this rank: each process of a node takes the GPU of its local rank."""
    if d.enabled and name in ("cuda", "auto") and torch.cuda.is_available():
        return f"cuda:{d.local_rank}"
    return name


@contextlib.contextmanager
def session(device: str = "auto", backend: str = "auto") -> Iterator[Dist]:
    """Start the process group when launched by torchrun (and end it after); a no-op for a single
    process or when a group is already running. Yields this process's :class:`Dist`."""
    d = from_env()
    if not d.enabled or tdist.is_initialized():
        yield current() if d.enabled else d
        return
    cuda = device != "cpu" and torch.cuda.is_available()
    if backend == "auto":
        backend = "nccl" if cuda else "gloo"
    if backend == "nccl" and not cuda:
        raise GanforgeError("train.dist_backend=nccl needs CUDA devices; use train.dist_backend=gloo on CPU")
    if cuda:
        torch.cuda.set_device(d.local_rank)
    tdist.init_process_group(backend, timeout=datetime.timedelta(minutes=30))
    try:
        yield d
    finally:
        tdist.destroy_process_group()


def on_main(fn: Callable[[], T], d: Dist) -> T:
    """Run ``fn`` on rank 0 and give its result (a picklable value) to every rank; a
    GanforgeError raised there is raised on every rank, so no rank waits forever."""
    if not d.enabled:
        return fn()
    box: list = [None]
    if d.main:
        try:
            box[0] = ("ok", fn())
        except GanforgeError as e:
            box[0] = ("error", str(e))
    tdist.broadcast_object_list(box, src=0)
    kind, value = box[0]
    if kind == "error":
        raise GanforgeError(value)
    return value


def mean_stats(out: dict[str, Tensor], d: Dist) -> dict[str, Tensor]:
    """The step's 0-dim statistics averaged over ranks (one all-reduce); each is a mean over
    equal shards, so the average is the global-batch value. NaN on one rank is NaN on all."""
    if not d.enabled or not out:
        return out
    keys = list(out)  # the same order on every rank: the step inserts them alike
    flat = torch.stack([out[k].float() for k in keys])
    tdist.all_reduce(flat)
    flat /= d.world
    return dict(zip(keys, flat.unbind()))


def all_true(flag: bool, d: Dist, device: torch.device) -> bool:
    """Whether ``flag`` holds on every rank (for decisions every rank must take together)."""
    if not d.enabled:
        return flag
    t = torch.tensor([0.0 if flag else 1.0], device=device)
    tdist.all_reduce(t)
    return bool(t.item() == 0)


def barrier(d: Dist) -> None:
    if d.enabled:
        tdist.barrier()


class ShardedPrior:
    """A prior that draws the global batch of noise from the shared generator and keeps this
    rank's rows: every rank advances the generator alike, as a single process would."""

    def __init__(self, prior, d: Dist):
        self.prior, self.d = prior, d
        self.kind, self.dim = prior.kind, prior.dim

    def sample(self, n: int, gen: torch.Generator, device=None) -> Tensor:
        """Noise (n / world, dim) for the global batch size ``n``."""
        return self.d.shard(self.prior.sample(n, gen, device if device is not None else "cpu"))


def check_batch(batch_size: int, pac: int, d: Dist) -> None:
    if d.enabled and batch_size % (d.world * pac):
        raise GanforgeError(f"train.batch_size={batch_size} is the global batch; under {d.world} processes it must be "
                            f"a multiple of {d.world * pac} (world size x model.pac)")


__all__ = ["Dist", "ShardedPrior", "all_true", "barrier", "check_batch", "current", "device_for", "from_env",
           "mean_stats", "on_main", "session"]
