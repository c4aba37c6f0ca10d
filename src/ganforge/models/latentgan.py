"""LatentGAN (Prykhodko et al. 2019): a WGAN-GP in the latent space of a string autoencoder.

LatentGAN trains a heteroencoder on SMILES once, then a WGAN-GP whose G maps noise to the
encoder's latent codes; samples are decoded to strings. Here the strings are SELFIES tokens
(``data/kinds/molecule_io.py``), so every decoded string is a molecule. The networks:

- encoder  e: ids (B, L) -> embedding (B, L, E) -> GRU (``model.g_width``) -> tanh latent (B, H),
  H = ``model.w_dim`` (0: 64), bounded as LatentGAN's tanh code layer;
- decoder  r: latent (B, H) -> GRU's initial state, and at each step the previous token's
  embedding with the latent -> logits (B, L, V) (teacher forcing in training, greedy in sampling);
- generator g: z (B, ``model.z_dim``) -> an MLP of ``model.g_depth`` layers of ``model.g_width``
  -> tanh latent (B, H), as LatentGAN's 3-layer MLP generator;
- critic D: latent (B, H) -> an MLP of ``model.d_depth`` layers of ``model.d_width`` -> a score (B,)
  (no normalisation: the gradient penalty needs per-sample gradients).

``G`` is :class:`LatentGANGenerator` (e, r, g): ``G(z)`` greedily decodes g(z) and returns token
ids as floats (B, L), the molecule kind's data space. The game (``train/games/latentgan.py``)
trains the autoencoder, then the WGAN-GP.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from ..config import ModelConfig
from ..errors import GanforgeError
from .base import register_model

EMBED = 64  # token embedding width


def mlp(d_in: int, width: int, depth: int, d_out: int) -> nn.Sequential:
    layers, d = [], d_in
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.LeakyReLU(0.2)]
        d = width
    return nn.Sequential(*layers, nn.Linear(d, d_out))


class LatentGANGenerator(nn.Module):
    """The autoencoder (encoder, decoder) and the latent generator; ``forward`` samples ids (B, L)."""

    def __init__(self, vocab: int, length: int, z_dim: int, hidden: int, latent: int, depth: int):
        super().__init__()
        self.vocab, self.length, self.latent_dim = vocab, length, latent
        self.embed = nn.Embedding(vocab, EMBED)
        self.enc_rnn = nn.GRU(EMBED, hidden, batch_first=True, bidirectional=True)
        self.enc_out = nn.Linear(2 * hidden, latent)
        self.dec_init = nn.Linear(latent, hidden)
        self.dec_rnn = nn.GRU(EMBED + latent, hidden, batch_first=True)
        self.dec_out = nn.Linear(hidden, vocab)
        self.generator = mlp(z_dim, hidden, depth, latent)

    def autoencoder_parameters(self):
        return [p for n, p in self.named_parameters() if not n.startswith("generator.")]

    def generator_parameters(self):
        return list(self.generator.parameters())

    def encode_ids(self, ids: Tensor) -> Tensor:
        """Token ids (B, L) (floats or ints) -> tanh latent codes (B, H)."""
        ids = ids.round().long().clamp(0, self.vocab - 1)
        _, h_n = self.enc_rnn(self.embed(ids))  # h_n (2, B, hidden): both directions' last states
        return torch.tanh(self.enc_out(torch.cat([h_n[0], h_n[1]], 1)))

    def decode_logits(self, code: Tensor, ids: Tensor) -> Tensor:
        """Teacher forcing: logits (B, L, V) of each token given the code (B, H) and the tokens
        before it in ``ids`` (B, L)."""
        ids = ids.round().long().clamp(0, self.vocab - 1)
        prev = torch.cat([torch.zeros_like(ids[:, :1]), ids[:, :-1]], 1)  # (B, L): 0 starts a string
        inp = torch.cat([self.embed(prev), code[:, None].expand(-1, ids.shape[1], -1)], 2)
        h0 = torch.tanh(self.dec_init(code))[None]  # (1, B, hidden)
        out, _ = self.dec_rnn(inp, h0)
        return self.dec_out(out)

    @torch.no_grad()
    def decode_greedy(self, code: Tensor) -> Tensor:
        """Codes (B, H) -> token ids (B, L) as float, the most likely token at each step; the
        tokens after the first end (0) are 0."""
        B = code.shape[0]
        h = torch.tanh(self.dec_init(code))[None]
        tok = torch.zeros(B, dtype=torch.long, device=code.device)
        out = torch.zeros(B, self.length, dtype=torch.long, device=code.device)
        done = torch.zeros(B, dtype=torch.bool, device=code.device)
        for t in range(self.length):
            inp = torch.cat([self.embed(tok), code], 1)[:, None]  # (B, 1, E + H)
            o, h = self.dec_rnn(inp, h)
            tok = self.dec_out(o[:, 0]).argmax(1)
            tok = torch.where(done, torch.zeros_like(tok), tok)
            out[:, t] = tok
            done = done | (tok == 0)
            if bool(done.all()):
                break
        return out.float()

    def latent(self, z: Tensor) -> Tensor:
        """g(z): noise (B, z_dim) -> latent codes (B, H) in (-1, 1)."""
        return torch.tanh(self.generator(z))

    def forward(self, z: Tensor, y: Optional[Tensor] = None) -> Tensor:
        return self.decode_greedy(self.latent(z))  # (B, L) token ids as floats


class LatentCritic(nn.Module):
    """Latent codes (B, H) -> WGAN scores (B,)."""

    def __init__(self, latent: int, width: int, depth: int):
        super().__init__()
        self.net = mlp(latent, width, depth, 1)

    def forward(self, h: Tensor, y: Optional[Tensor] = None) -> Tensor:
        return self.net(h).squeeze(1)


@register_model(kinds=("molecule",), game="latentgan")
def latentgan(cfg: ModelConfig, shape: tuple, n_classes: int = 0, layout: Optional[dict] = None):
    """LatentGAN: a SELFIES GRU autoencoder (width ``model.g_width``, code ``model.w_dim`` or 64)
    and an MLP WGAN-GP in its code space."""
    if n_classes or cfg.conditional:
        raise GanforgeError("model.name=latentgan is unconditional; leave model.conditional out")
    if not layout or "vocab" not in layout:
        raise GanforgeError("model.name=latentgan builds molecules as SELFIES strings: leave data.encoding=selfies "
                            "(data.encoding=graph is for model.name=molgan)")
    latent = cfg.w_dim or 64
    G = LatentGANGenerator(int(layout["vocab"]), int(shape[0]), cfg.z_dim, cfg.g_width, latent, cfg.g_depth)
    D = LatentCritic(latent, cfg.d_width, cfg.d_depth)
    return G, D
