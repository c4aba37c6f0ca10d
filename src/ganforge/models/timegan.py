"""TimeGAN (Yoon, Jarrett and van der Schaar 2019): five recurrent networks around a latent space.

As in jsyoon0823/TimeGAN's ``timegan.py`` (GRU cells; ``hidden_dim`` = ``model.g_width``,
24 there; ``num_layer`` = ``model.g_depth``, 3 there), each a GRU stack with a sigmoid output:

- embedder  e: x (B, T, F) -> h (B, T, H)
- recovery  r: h (B, T, H) -> x~ (B, T, F)
- generator g: per-step noise (B, T, k) -> e^ (B, T, H)
- supervisor s: h (B, T, H) -> the next step's h, (B, T, H) (one layer fewer, at least one)
- discriminator d: h (B, T, H) -> a logit per step (B, T) (no sigmoid)

G here is :class:`TimeGANGenerator`, holding e, r, g and s: ``G(z, y)`` samples
x^ = r(s(g(z))) (B, T, F) in model space, like any ganforge generator (z (B, z_dim) read as
per-step noise, see ``recurrent.py``). D is :class:`TimeGANDiscriminator`; it judges *latent*
sequences, so ``D(h, y)`` takes (B, T, H), not data. The game (``train/games/timegan.py``)
trains them with TimeGAN's three losses and three phases.

Conditional (``n_classes > 0``): the class embedding is appended at every step to the
generator's noise and to the discriminator's input (TimeGAN itself is unconditional).
"""

from __future__ import annotations

from typing import Optional

from torch import Tensor, nn

from ..config import ModelConfig
from .base import register_model
from .recurrent import GRUStack, step_noise_width, with_label


class TimeGANGenerator(nn.Module):
    """The embedder, recovery, generator and supervisor; ``forward`` samples x^ (B, T, F)."""

    def __init__(self, shape: tuple, k: int, hidden: int, depth: int, n_classes: int = 0):
        super().__init__()
        self.shape, self.k, self.hidden = tuple(shape), k, hidden
        F = shape[1]
        self.embed = nn.Embedding(n_classes, k) if n_classes else None
        self.embedder = GRUStack(F, hidden, depth, hidden, sigmoid=True)
        self.recovery = GRUStack(hidden, hidden, depth, F, sigmoid=True)
        self.generator = GRUStack(k * (2 if n_classes else 1), hidden, depth, hidden, sigmoid=True)
        self.supervisor = GRUStack(hidden, hidden, max(1, depth - 1), hidden, sigmoid=True)

    def autoencoder_parameters(self):
        """e and r: TimeGAN's embedding optimizer's variables."""
        return [*self.embedder.parameters(), *self.recovery.parameters()]

    def generator_parameters(self):
        """g, s (and the class embedding): TimeGAN's generator optimizer's variables."""
        extra = list(self.embed.parameters()) if self.embed is not None else []
        return [*self.generator.parameters(), *self.supervisor.parameters(), *extra]

    def latent(self, z: Tensor, y: Optional[Tensor] = None) -> Tensor:
        """e^ = g(z) (B, T, H): the generator's latent sequence, before the supervisor."""
        z = z.reshape(z.shape[0], self.shape[0], self.k)  # (B, T, k) per-step noise
        return self.generator(with_label(z, self.embed, y))

    def forward(self, z: Tensor, y: Optional[Tensor] = None) -> Tensor:
        return self.recovery(self.supervisor(self.latent(z, y)))  # (B, T, F) in [0, 1]


class TimeGANDiscriminator(nn.Module):
    """h (B, T, H) [, y (B,)] -> logits (B, T), one per step, as TimeGAN's discriminator."""

    def __init__(self, hidden: int, depth: int, n_classes: int = 0):
        super().__init__()
        self.embed = nn.Embedding(n_classes, hidden) if n_classes else None
        self.net = GRUStack(hidden * (2 if n_classes else 1), hidden, depth, 1, sigmoid=False)

    def forward(self, h: Tensor, y: Optional[Tensor] = None) -> Tensor:
        return self.net(with_label(h, self.embed, y)).squeeze(2)  # (B, T)


@register_model(kinds=("sequence",), game="timegan")
def timegan(cfg: ModelConfig, shape: tuple, n_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    """TimeGAN: hidden size ``model.g_width``, ``model.g_depth`` GRU layers (TimeGAN: 24 and 3)."""
    k = step_noise_width(cfg, shape, "timegan")
    G = TimeGANGenerator(shape, k, cfg.g_width, cfg.g_depth, n_classes)
    D = TimeGANDiscriminator(cfg.g_width, cfg.g_depth, n_classes)
    return G, D
