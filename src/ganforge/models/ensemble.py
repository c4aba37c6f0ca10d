"""An ensemble of discriminators (``model.d_ensemble=K``), for any architecture.

K independently initialised D's judge the same batch. The ensemble's forward concatenates
their logits, member after member, into one vector of shape (K * B',), B' = B // pac being a
member's output size. The losses are means over their logits, so on that vector:

- D's loss is the mean of the K member losses, and member k's weights receive gradient only
  from its own logits: each member minimises its own D loss (scaled by 1/K, which Adam's
  updates do not see; with SGD it divides the members' effective rate by K);
- G's loss is the mean of its losses against each member (the mean combination of GMAN,
  Durugkar et al. 2017);
- ``d_real``, ``d_fake`` and ``value`` become means over the members.

Penalties on input gradients must be per member (the gradient of the summed logits would mix
them): ``penalties._grad_sq_norm`` computes one norm per member through :attr:`members`.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor, nn


class DiscriminatorEnsemble(nn.Module):
    """x (B, ...) [, y (B,)] -> logits (K * B',): member k's logits at [k * B', (k + 1) * B')."""

    def __init__(self, members: Sequence[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: Tensor, y: Optional[Tensor] = None) -> Tensor:
        return torch.cat([D(x, y).flatten() for D in self.members])  # (K * B',)

    def split(self, logits: Tensor) -> Tensor:
        """(K * B',) -> (K, B'): one row of logits per member."""
        return logits.view(len(self.members), -1)
