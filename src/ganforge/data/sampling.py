"""Serving a finite dataset in reshuffled epochs, resumably."""

from __future__ import annotations

import torch
from torch import Tensor


class EpochSampler:
    """Indices into a dataset of ``size`` items: a fresh random permutation every epoch.

    The permutation, the position in it and the generator are the whole state, so a resumed
    run draws exactly the batches it would have drawn.
    """

    def __init__(self, size: int, seed: int):
        self.size = size
        self.gen = torch.Generator().manual_seed(seed)
        self.perm = torch.randperm(size, generator=self.gen)
        self.pos = 0

    def next(self, n: int) -> Tensor:
        """The next ``n`` indices, shape (n,), crossing epoch boundaries as needed."""
        parts, need = [], n
        while need > 0:
            if self.pos == self.size:
                self.perm, self.pos = torch.randperm(self.size, generator=self.gen), 0
            take = self.perm[self.pos : self.pos + need]
            self.pos += len(take)
            need -= len(take)
            parts.append(take)
        return torch.cat(parts)

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state(), "perm": self.perm.clone(), "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["gen"])
        self.perm, self.pos = state["perm"], int(state["pos"])


def rank_rows(x: Tensor, rank: int, world: int) -> Tensor:
    """Rank ``rank``'s rows of a global batch ``x`` (B, ...): rows r*B/W .. (r+1)*B/W, as
    ``train.distributed.Dist.shard`` cuts them (the global batch is a multiple of the world size)."""
    if world <= 1:
        return x
    b = x.shape[0] // world
    return x[rank * b : (rank + 1) * b]


class ShardedBatches:
    """An endless stream of index batches for a DataLoader (its ``sampler`` with ``batch_size=None``).

    Every rank starts from the same :class:`EpochSampler` state, draws the same global batch of
    ``batch`` indices (B,) and yields its own rows (B / world,): the ranks read disjoint rows of
    one global batch, which together are the batch a single process would draw. The stream
    starts from a copy of ``state``: the caller's sampler (what training has consumed) is never
    advanced by the loader's prefetching.
    """

    def __init__(self, size: int, state: dict, batch: int, rank: int = 0, world: int = 1):
        if batch % world:
            raise ValueError(f"a global batch of {batch} does not split over {world} ranks")
        self.size, self.state, self.batch, self.rank, self.world = size, state, batch, rank, world

    def __iter__(self):
        order = EpochSampler(self.size, 0)
        order.load_state_dict({k: (v.clone() if isinstance(v, Tensor) else v) for k, v in self.state.items()})
        while True:
            yield rank_rows(order.next(self.batch), self.rank, self.world)  # (B / world,)
