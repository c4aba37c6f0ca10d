"""The LatentGAN game (Prykhodko et al. 2019): an autoencoder once, then a WGAN-GP on its codes.

The networks: ``models/latentgan.py``. ``train.steps`` is cut at the run's start (kept on resume,
so ``--extend`` lengthens the GAN phase):

1. **Autoencoder** (steps 0 .. ``i2i.pretrain_steps``, 0 = N/2): the encoder and decoder on the tokens' cross-entropy, the
   decoder reading the code with Gaussian noise of std :data:`CODE_NOISE` added (LatentGAN's
   heteroencoder is trained with noise on its code, so that nearby codes decode to molecules);
   Adam at :data:`AE_LR`. Tokens after a string's end are not scored.
2. **WGAN-GP** (the rest), one step =
   (1) ``train.d_steps`` (LatentGAN: 5) critic updates on ``D(g(z)) - D(e(x)) + lambda GP``,
       e(x) the codes of a batch of training molecules drawn uniformly with the game's generator,
       lambda = ``loss.gp_weight`` (10). The encoder is frozen from here on, so (as LatentGAN
       encodes its set once) every training molecule is encoded once when the phase starts (and
       again, to the same values, on resume);
   (2) one update of g on ``-D(g(z))``.
   Optimizers: ``optim.g_lr`` / ``d_lr`` and their betas (the preset: LatentGAN's 2e-4, (0.5, 0.9)).

The autoencoder's Adam, the phase cut and the step counter are in the checkpoint, so a resumed run
continues exactly; the autoencoder is kept in G (it is part of the run's weights).
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as Fn
from torch import Tensor

from ...build import build_models, build_optimizer
from ...config import Config
from ...errors import GanforgeError
from ...penalties import gradient_penalty
from ...priors import Prior
from ..schedule import set_lr
from .base import GAMES, GameBase, NextReal, Players, StepValues

AE_LR = 1e-3  # the autoencoder's Adam learning rate (LatentGAN's heteroencoder: 1e-3)
CODE_NOISE = 0.1  # std of the noise on the code while the autoencoder trains
AE_SHARE = 0.5  # share of train.steps spent on the autoencoder


def token_loss(logits: Tensor, ids: Tensor) -> tuple[Tensor, Tensor]:
    """Cross-entropy of logits (B, L, V) against ids (B, L), over each string's tokens up to and
    including its first end (0); and the share of strings reconstructed exactly (greedy)."""
    ids = ids.round().long()
    ends_before = torch.cat([torch.zeros_like(ids[:, :1]), (ids[:, :-1] == 0).long()], 1).cumsum(1)  # (B, L)
    mask = ends_before == 0  # the string's tokens and its first end
    ce = Fn.cross_entropy(logits.transpose(1, 2), ids, reduction="none")  # (B, L)
    loss = (ce * mask).sum() / mask.sum().clamp(min=1)
    exact = ((logits.argmax(2) == ids) | ~mask).all(1).float().mean()
    return loss, exact


class LatentGANGame(GameBase):
    """LatentGAN's two phases; ``players.G`` is the :class:`LatentGANGenerator`."""

    def __init__(self, players: Players, prior: Prior, gen: torch.Generator, total_steps: int, opt_ae,
                 lrs: dict, d_steps: int, gp_weight: float, train_ids: Tensor, ae_steps: int = 0):
        super().__init__(players, gen)
        self.prior = prior
        self.opt_ae = opt_ae
        self.lrs = lrs
        self.d_steps, self.gp_weight = max(1, d_steps), gp_weight
        self.ae_steps = ae_steps or max(1, int(total_steps * AE_SHARE))
        self.iterations = 0
        self.train_ids = train_ids  # (N, L) the training molecules, encoded once in phase 2
        self.codes: Optional[Tensor] = None  # (N, H) their codes

    class _Policy:  # what the callbacks ask a game (unconditional)
        condition = None
        n_classes = 0

    policy = _Policy()

    @property
    def phase(self) -> str:
        return "autoencoder" if self.iterations < self.ae_steps else "gan"

    def step(self, next_real: NextReal, batch_size: int, values: StepValues = StepValues(),
             stats: bool = False) -> dict[str, Tensor]:
        """One step of the current phase; detached 0-dim tensors: ``loss_d`` and ``loss_g`` (0 in
        phase 1), ``loss_recon`` (token cross-entropy), ``recon_exact`` and ``phase`` (1 or 2)."""
        for opt, name in ((self.players.opt_g, "g"), (self.players.opt_d, "d"), (self.opt_ae, "ae")):
            set_lr(opt, self.lrs[name], values.lr_factor)
        zero = torch.zeros(())
        if self.phase == "autoencoder":
            loss, exact = self.autoencoder_update(next_real(batch_size)[0])
            out = {"loss_d": zero, "loss_g": zero, "loss_recon": loss, "recon_exact": exact, "phase": torch.tensor(1.0)}
        else:
            out = {**self.gan_update(next_real, batch_size), "phase": torch.tensor(2.0)}
        self.iterations += 1
        return {k: v.detach().float() for k, v in out.items()}

    def autoencoder_update(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Phase 1 on a real batch x (B, L) of ids."""
        G = self.G
        code = G.encode_ids(x)
        noise = torch.randn(code.shape, generator=self.gen, device=code.device) * CODE_NOISE
        loss, exact = token_loss(G.decode_logits(code + noise, x), x)
        self.opt_ae.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_ae.step()
        return loss, exact

    def gan_update(self, next_real: NextReal, B: int) -> dict[str, Tensor]:
        G, D = self.G, self.D
        ############################
        # (1) Update the critic: maximize D(e(x)) - D(g(z)), with the gradient penalty
        ############################
        codes = self.real_codes()
        for _ in range(self.d_steps):
            idx = torch.randint(len(codes), (B,), generator=self.gen, device=codes.device)
            real = codes[idx]  # (B, H) codes of real molecules
            with torch.no_grad():
                fake = G.latent(self.noise(B, codes.device))  # (B, H)
            d_real, d_fake = D(real).mean(), D(fake).mean()
            gp = gradient_penalty(D, real, fake, self.gen)
            loss_d = d_fake - d_real + self.gp_weight * gp
            self._descend(self.players.opt_d, loss_d)
            self.d_updates += 1
        ############################
        # (2) Update g: maximize D(g(z))
        ############################
        D.requires_grad_(False)
        loss_g = -D(G.latent(self.noise(B, codes.device))).mean()
        D.requires_grad_(True)
        self._descend(self.players.opt_g, loss_g)
        self.g_updates += 1
        return {"loss_d": loss_d, "loss_g": loss_g, "d_real": d_real, "d_fake": d_fake, "gp": gp}

    @torch.no_grad()
    def real_codes(self, chunk: int = 1024) -> Tensor:
        """The frozen encoder's codes (N, H) of every training molecule, computed once."""
        if self.codes is None:
            was = self.G.training
            self.G.eval()
            ids = self.train_ids
            self.codes = torch.cat([self.G.encode_ids(ids[i : i + chunk].to(self.gen.device))
                                    for i in range(0, len(ids), chunk)])
            self.G.train(was)
        return self.codes

    def noise(self, B: int, device: torch.device) -> Tensor:
        return self.prior.sample(B, self.gen, device)

    @staticmethod
    def _descend(opt, loss: Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    # ------------------------------------------------------------------ building and checkpoints

    @classmethod
    def build(cls, cfg: Config, data, device: torch.device) -> "LatentGANGame":
        G, D = build_models(cfg, data.shape, 0, data.layout)
        G, D = G.to(device), D.to(device)
        if cfg.train.ema_beta > 0 or cfg.model.d_ensemble > 1:
            raise GanforgeError("model.name=latentgan trains its own networks; leave train.ema_beta=0 and "
                                "model.d_ensemble=1")
        o = cfg.optim
        opt = lambda params, lr, betas: build_optimizer(params, o, lr, tuple(betas))  # noqa: E731
        players = Players(G=G, D=D, opt_g=opt(G.generator_parameters(), o.g_lr, o.g_betas),
                          opt_d=opt(D.parameters(), o.d_lr, o.d_betas))
        opt_ae = torch.optim.Adam(G.autoencoder_parameters(), lr=AE_LR)
        gen = torch.Generator(device=device).manual_seed(cfg.train.seed + 1)
        return cls(players, Prior(cfg.model.prior, cfg.model.z_dim), gen, cfg.train.steps, opt_ae,
                   {"g": o.g_lr, "d": o.d_lr, "ae": AE_LR}, cfg.train.d_steps, cfg.loss.gp_weight, data.x,
                   cfg.i2i.pretrain_steps)

    def own_state(self) -> dict:
        return {"latentgan": {"iterations": self.iterations, "ae_steps": self.ae_steps,
                              "opt_ae": self.opt_ae.state_dict()}}

    def load_own_state(self, state: dict) -> None:
        own = state["latentgan"]
        self.iterations = int(own["iterations"])
        self.ae_steps = int(own["ae_steps"])
        self.opt_ae.load_state_dict(own["opt_ae"])


GAMES.add("latentgan", LatentGANGame)
