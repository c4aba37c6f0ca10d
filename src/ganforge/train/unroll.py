"""The unrolled discriminator (Metz et al. 2016): a look-ahead of D before G's update, undone after.

Kept out of the game so that its step still reads as the plain two-phase loop; a no-op (and
no random draw) when ``train.unroll_steps`` is 0.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Callable, Iterator

import torch
from torch import nn


@contextlib.contextmanager
def lookahead(D: nn.Module, opt_d: torch.optim.Optimizer, steps: int, d_update: Callable[[], object]) -> Iterator[None]:
    """Within the block, G plays against D ``steps`` updates ahead; afterwards D and its
    optimizer are exactly as before the block.

    Before G's update, D is updated ``steps`` more times on fresh batches (``d_update()`` does
    one), so that G is scored by the D that would answer its current samples. Simplification:
    G's loss is taken against the unrolled weights as constants; Metz et al. also
    back-propagate through the K updates (a second-order term, d theta_D^K / d theta_G), which
    is left out here. Each look-ahead update is a full D update (D's input transform, every
    penalty at its plain weight, WGAN clipping) that leaves no trace in D: weights, buffers and
    optimizer state are restored on exit, and the lazy-penalty clock and ADA do not see it.
    The extra batches do advance the run's noise and data streams (and a stateful penalty's
    averages), which are checkpointed, so resume stays exact.
    """
    if steps <= 0:
        yield
        return
    weights, opt_state = copy.deepcopy(D.state_dict()), copy.deepcopy(opt_d.state_dict())
    for _ in range(steps):
        d_update()
    try:
        yield
    finally:
        D.load_state_dict(weights)  # copies into the same parameters, which the optimizer holds
        opt_d.load_state_dict(opt_state)
        opt_d.zero_grad(set_to_none=True)  # the look-ahead's gradients belong to no real update
