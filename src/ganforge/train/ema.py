"""Exponential moving average of G's weights, used for sampling and evaluation."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """G_ema <- beta_t * G_ema + (1 - beta_t) * G, after every generator update.

    ``beta_t = min(beta, (1 + t) / (10 + t))`` ramps the average up, so that the early,
    random weights are forgotten quickly (the ramp-up of Tarvainen and Valpola 2017). Buffers
    (e.g. batch-norm statistics) are copied, not averaged.
    """

    def __init__(self, G: nn.Module, beta: float):
        self.beta = beta
        self.model = copy.deepcopy(G).eval().requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, G: nn.Module) -> None:
        beta = min(self.beta, (1 + self.updates) / (10 + self.updates))
        ema_p = list(self.model.parameters())
        torch._foreach_lerp_(ema_p, [p.detach() for p in G.parameters()], 1 - beta)
        for b_ema, b in zip(self.model.buffers(), G.buffers()):
            b_ema.copy_(b)
        self.updates += 1

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.updates = int(state["updates"])
