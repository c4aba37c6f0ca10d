"""Exponential moving average of G's weights, used for sampling and evaluation.

Batch norm and an average of weights: G's running statistics describe G's activations, not those
of the averaged weights, so a G_ema that copies them normalises with the wrong means and
variances. :meth:`EMA.refresh_stats` re-estimates them for G_ema's own weights from forward passes
(``torch.optim.swa_utils.update_bn`` does this for stochastic weight averaging; BigGAN's
"standing statistics", Brock et al. 2019, alike). The game calls it before G_ema is sampled,
evaluated or checkpointed (``GameBase.ready_sampler``). On the default job it lowered the final
FID on all five seeds, 11.0-12.4 to 8.8-9.9 (``benchmarks/results/default_job.md``).
"""

from __future__ import annotations

import copy
from typing import Iterable

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
        self.stale = True  # whether the batch-norm statistics are G's rather than G_ema's own

    @torch.no_grad()
    def update(self, G: nn.Module) -> None:
        beta = min(self.beta, (1 + self.updates) / (10 + self.updates))
        ema_p = list(self.model.parameters())
        torch._foreach_lerp_(ema_p, [p.detach() for p in G.parameters()], 1 - beta)
        for b_ema, b in zip(self.model.buffers(), G.buffers()):
            b_ema.copy_(b)
        self.updates += 1
        self.stale = True

    @torch.no_grad()
    def refresh_stats(self, inputs: Iterable[tuple]) -> bool:
        """Batch-norm running statistics for G_ema's own weights: each norm's statistics reset and
        re-estimated as the plain average over the forward passes ``G_ema(*args)`` for ``args`` in
        ``inputs`` (batches of G's inputs). Only the norms run in training mode (no dropout),
        torch's global random state is left as it was, and nothing happens when the statistics are
        fresh or G_ema has no batch norm. Returns whether it re-estimated them."""
        norms = [m for m in self.model.modules()
                 if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
        if not self.stale or not norms:
            self.stale = False
            return False
        momenta = [m.momentum for m in norms]
        device = next(self.model.parameters()).device
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            try:
                for m in norms:
                    m.reset_running_stats()
                    m.momentum = None  # a cumulative average over the passes
                    m.train()
                for args in inputs:
                    self.model(*args)
            finally:
                for m, momentum in zip(norms, momenta):
                    m.momentum = momentum
                    m.eval()
        self.stale = False
        return True

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.updates = int(state["updates"])
        self.stale = True
