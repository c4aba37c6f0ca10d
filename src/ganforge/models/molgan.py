"""MolGAN (De Cao & Kipf 2018): a graph GAN that emits atoms and bonds at once.

Samples are the molecule kind's graph encoding (``data.encoding=graph``): up to n atoms, each one of
T types (index 0: no atom), and a symmetric bond tensor over B types (index 0: no bond), one-hot and
flattened to (n T + n n B,) (``data/kinds/molecule_io.py``, :class:`GraphCodec`).

- G: z -> an MLP of ``model.g_depth`` tanh layers (MolGAN: 128, 256, 512; here ``model.g_width``
  doubling) -> node logits (n, T) and bond logits (n, n, B), symmetrised ((L + L^T) / 2). In training
  the output is MolGAN's straight-through Gumbel-softmax (hard one-hot forward, the relaxed gradient
  backward; the Gumbel noise from torch's RNG, which the checkpoint holds); in eval mode the argmax.
- D: a relational GCN (Schlichtkrull et al. 2018) as MolGAN's: ``model.d_depth`` layers of
  ``model.d_width`` units, h' = tanh(sum_b A_b h W_b + h W_0) over the B - 1 bond relations, then
  MolGAN's gated graph aggregation, sigmoid(i(h, x)) * tanh(j(h, x)) summed over atoms, and an MLP
  head -> one score per molecule (B,).

It is trained by the noise-to-data game with ``loss.name`` (the preset: wgan_gp, as MolGAN).
MolGAN's reward network (RL towards QED, logP, SA) is not built here; property-directed sampling
uses ``sample --objective`` (an evolution strategy over z) for every molecule model.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as Fn
from torch import Tensor, nn

from ..config import ModelConfig
from ..errors import GanforgeError
from .base import register_model


def _hard(logits: Tensor, training: bool) -> Tensor:
    """One-hot over the last axis: straight-through Gumbel-softmax in training, argmax otherwise."""
    if training:
        return Fn.gumbel_softmax(logits, tau=1.0, hard=True, dim=-1)
    return Fn.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)


class MolGANGenerator(nn.Module):
    def __init__(self, z_dim: int, n: int, T: int, B: int, width: int, depth: int):
        super().__init__()
        self.n, self.T, self.B = n, T, B
        layers, d = [], z_dim
        for i in range(depth):
            w = width * 2 ** i
            layers += [nn.Linear(d, w), nn.Tanh()]
            d = w
        self.body = nn.Sequential(*layers)
        self.nodes = nn.Linear(d, n * T)
        self.edges = nn.Linear(d, n * n * B)

    def forward(self, z: Tensor, y: Optional[Tensor] = None) -> Tensor:
        h = self.body(z)
        N = z.shape[0]
        nodes = self.nodes(h).view(N, self.n, self.T)
        edges = self.edges(h).view(N, self.n, self.n, self.B)
        edges = (edges + edges.transpose(1, 2)) / 2  # a symmetric bond matrix
        x, a = _hard(nodes, self.training), _hard(edges, self.training)
        return torch.cat([x.flatten(1), a.flatten(1)], 1)  # (N, n T + n n B)


class RelationalGCN(nn.Module):
    """Flat graphs (N, n T + n n B) -> scores (N,); see the module docstring."""

    def __init__(self, n: int, T: int, B: int, width: int, depth: int):
        super().__init__()
        self.n, self.T, self.B = n, T, B
        self.layers = nn.ModuleList()
        d = T
        for _ in range(depth):
            self.layers.append(nn.ModuleList([nn.Linear(d, width)] + [nn.Linear(d, width, bias=False)
                                                                      for _ in range(B - 1)]))
            d = width
        self.gate = nn.Linear(d + T, width)
        self.value = nn.Linear(d + T, width)
        self.head = nn.Sequential(nn.Linear(width, width), nn.Tanh(), nn.Linear(width, 1))

    def forward(self, flat: Tensor, y: Optional[Tensor] = None) -> Tensor:
        N, k = flat.shape[0], self.n * self.T
        x = flat[:, :k].reshape(N, self.n, self.T)  # (N, n, T)
        a = flat[:, k:].reshape(N, self.n, self.n, self.B)[..., 1:]  # (N, n, n, B - 1): the bond relations
        h = x
        for self_w, *rel_w in self.layers:
            msg = self_w(h)
            for b, w in enumerate(rel_w):
                msg = msg + a[..., b] @ w(h)  # (N, n, n) @ (N, n, width)
            h = torch.tanh(msg)
        hx = torch.cat([h, x], 2)
        g = (torch.sigmoid(self.gate(hx)) * torch.tanh(self.value(hx))).sum(1)  # (N, width)
        return self.head(torch.tanh(g)).squeeze(1)


@register_model(kinds=("molecule",))
def molgan(cfg: ModelConfig, shape: tuple, n_classes: int = 0, layout: Optional[dict] = None):
    """MolGAN: an MLP graph generator (Gumbel-softmax atoms and bonds) against a relational GCN."""
    if n_classes or cfg.conditional:
        raise GanforgeError("model.name=molgan is unconditional; leave model.conditional out")
    if not layout or "atoms" not in layout:
        raise GanforgeError("model.name=molgan builds molecule graphs: set data.encoding=graph (and data.max_atoms)")
    n, T, B = int(layout["atoms"]), int(layout["atom_types"]), int(layout["bond_types"])
    G = MolGANGenerator(cfg.z_dim, n, T, B, cfg.g_width, cfg.g_depth)
    D = RelationalGCN(n, T, B, cfg.d_width, cfg.d_depth)
    return G, D
