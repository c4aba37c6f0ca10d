"""A conditional tabular GAN in the CTGAN family (Xu et al. 2019), written for ganforge.

The data source (``data/table.py``) gives rows in a layout of spans (``tanh`` scalars and
``softmax`` one-hots) and draws real rows by training-by-sampling; its ``layout`` reaches the
builder through ``build_models``. The labels y (B,) are global category indices over all
discrete columns; the conditional vector is their one-hot (B, K).

- G: [z, cond] -> residual blocks (each concatenates its input to Linear-BatchNorm-ReLU
  features, so width grows by ``g_width`` per block) -> a linear head over the layout; tanh on
  scalars, Gumbel-softmax (tau 0.2) on one-hots while training, a plain softmax when sampling.
- ``draw_labels``: the table's conditions drawn as its data source's spec draws them
  (``ganforge.conditions.TableConditions``): a discrete column uniformly (or by
  ``data.target_share``), then a category by log-frequency (training), or by frequency (sampling
  a table as it is).
- ``cond_loss``: the cross-entropy between the condition and G's logits on that column; added
  to G's loss by the ``cond_ce`` penalty (``reg.cond_ce.weight``).
- D: [x, cond] packed ``pac`` rows at a time (PacGAN), Linear-LeakyReLU(0.2)-Dropout(0.5) layers.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..conditions import TableConditions
from ..config import ModelConfig
from ..errors import GanforgeError
from .base import register_model


class _Block(nn.Module):
    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.fc, self.bn = nn.Linear(d_in, d_out), nn.BatchNorm1d(d_out)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([F.relu(self.bn(self.fc(x))), x], dim=1)  # (B, d_out + d_in)


class _Conditions(nn.Module):
    """Where each condition sits in the layout: per global category, its discrete column and its
    place in that column, as non-persistent buffers (rebuilt from the data at every load), and
    the table's condition spec (``ganforge.conditions.TableConditions``), which draws them."""

    def __init__(self, layout: dict):
        super().__init__()
        groups = layout["groups"]
        self.k = sum(len(i) for i, _ in groups)
        col_of, local = torch.zeros(self.k, dtype=torch.int64), torch.zeros(self.k, dtype=torch.int64)
        for j, (ii, _) in enumerate(groups):
            col_of[ii], local[ii] = j, torch.arange(len(ii))
        for name, t in (("col_of", col_of), ("local", local)):
            self.register_buffer(name, t, persistent=False)
        self.cond_spans = list(layout["cond_spans"])  # (start, width) of each discrete column
        self.spec = TableConditions.from_layout(layout) if self.k else None

    def draw(self, n: int, gen: torch.Generator, empirical: bool = False) -> Tensor:
        """Global category indices (n,) on ``gen``'s device."""
        return self.spec.draw(n, gen, empirical)


class TabularGenerator(nn.Module):
    def __init__(self, z_dim: int, width: int, depth: int, layout: dict):
        super().__init__()
        self.spans = [tuple(s) for s in layout["spans"]]
        self.out_dim = sum(w for _, w, _ in self.spans)
        self.conds = _Conditions(layout)
        d = z_dim + self.conds.k
        blocks = []
        for _ in range(depth):
            blocks.append(_Block(d, width))
            d += width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(d, self.out_dim)
        self.tau = 0.2

    def draw_labels(self, n: int, gen: torch.Generator, empirical: bool = False) -> Tensor:
        return self.conds.draw(n, gen, empirical)

    def logits(self, z: Tensor, y: Optional[Tensor]) -> Tensor:
        """Pre-activation output (B, width of the layout)."""
        if self.conds.k:
            if y is None:
                raise GanforgeError("the tabular generator needs conditions y (model.conditional=true)")
            z = torch.cat([z, F.one_hot(y, self.conds.k).to(z.dtype)], dim=1)  # (B, z_dim + K)
        return self.head(self.blocks(z))

    def forward(self, z: Tensor, y: Optional[Tensor] = None) -> Tensor:
        h = self.logits(z, y)
        parts = []
        for start, w, act in self.spans:
            s = h[:, start : start + w]
            if act == "tanh":
                parts.append(torch.tanh(s))
            elif self.training:
                parts.append(F.gumbel_softmax(s, tau=self.tau))  # differentiable one-hot samples
            else:
                parts.append(F.softmax(s, dim=1))  # decoded by argmax
        return torch.cat(parts, dim=1)  # (B, width)

    def cond_loss(self, z: Tensor, y: Tensor) -> Tensor:
        """Mean cross-entropy of G's logits on the conditioned column against the condition."""
        h = self.logits(z, y)
        col, local = self.conds.col_of[y], self.conds.local[y]
        loss = h.new_zeros(())
        for j, (start, w) in enumerate(self.conds.cond_spans):
            at = col == j
            if at.any():
                loss = loss + F.cross_entropy(h[at, start : start + w], local[at], reduction="sum")
        return loss / len(y)


class TabularDiscriminator(nn.Module):
    def __init__(self, d_in: int, k: int, width: int, depth: int, pac: int):
        super().__init__()
        self.k, self.pac = k, pac
        layers, d = [], pac * (d_in + k)
        for _ in range(depth):
            layers += [nn.Linear(d, width), nn.LeakyReLU(0.2), nn.Dropout(0.5)]
            d = width
        self.net = nn.Sequential(*layers, nn.Linear(d, 1))

    def forward(self, x: Tensor, y: Optional[Tensor] = None) -> Tensor:
        if self.k:
            x = torch.cat([x, F.one_hot(y, self.k).to(x.dtype)], dim=1)  # (B, width + K)
        return self.net(x.reshape(x.shape[0] // self.pac, -1)).squeeze(1)  # (B // pac,)


@register_model(kinds=("table",))
def tabular(cfg: ModelConfig, shape: tuple, n_classes: int = 0, layout: Optional[dict] = None):
    if layout is None:
        raise GanforgeError("model.name=tabular: needs data.name=table (a table's column layout)")
    if cfg.conditional != bool(n_classes) or (n_classes and n_classes != sum(len(i) for i, _ in layout["groups"])):
        raise GanforgeError("model.name=tabular: set model.conditional=true exactly when the table has a categorical "
                            "column (the presets do)")
    G = TabularGenerator(cfg.z_dim, cfg.g_width, cfg.g_depth, layout)
    D = TabularDiscriminator(shape[0], n_classes, cfg.d_width, cfg.d_depth, cfg.pac)
    return G, D
