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
