"""The TimeGAN game (Yoon, Jarrett and van der Schaar 2019): three phases, three losses.

As jsyoon0823/TimeGAN's ``timegan.py`` trains it (the networks: ``models/timegan.py``), with
``train.steps`` cut into three equal phases (TimeGAN runs each for the same ``iterations``; the
cut is made at the run's start and kept on resume, so ``--extend`` lengthens the joint phase):

1. **Embedding** (steps 0 .. N/3): the autoencoder e, r on the reconstruction loss
   ``10 sqrt(MSE(x, r(e(x))))``.
2. **Supervised** (.. 2N/3): g and s on the supervised loss ``MSE(h[:, 1:], s(h)[:, :-1])``,
   h = e(x) (the embedder is not updated: TimeGAN's optimizer holds g and s only).
3. **Joint** (the rest), one iteration =
   (1) twice: G (g, s) on ``BCE(d(s(e^)), 1) + gamma BCE(d(e^), 1) + 100 sqrt(L_S) + 100 L_V``
       (adversarial on supervised and unsupervised latents, supervised, and the moment loss
       L_V = mean |std_fake - std_real| + mean |mean_fake - mean_real| over steps and features),
       then the autoencoder on ``10 sqrt(L_recon) + 0.1 L_S``;
   (2) D on ``BCE(d(h), 1) + BCE(d(s(e^)), 0) + gamma BCE(d(e^), 0)``, only when that loss is
       above 0.15 (TimeGAN's check, so D does not overpower G).
   gamma = 1; e^ = g(z), z fresh uniform per-step noise each time.

Each optimizer is TimeGAN's: E0 (phase 1), GS (phase 2), G and E (phase 3) and D, each its
own Adam over its own networks, with ``optim.g_lr``/``g_betas`` (D: ``d_lr``/``d_betas``);
TimeGAN used Adam's defaults (lr 1e-3, betas 0.9, 0.999). All five, the iteration counter and
the players are in the checkpoint: a resumed run continues exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as Fn
from torch import Tensor

from ...build import build_models, build_optimizer, condition
from ...conditions import ConditionSpec, draw, n_classes
from ...config import Config
from ...errors import GanforgeError
from ...priors import Prior
from ..schedule import set_lr
from .base import GAMES, GameBase, NextReal, Players, StepValues



@dataclass(frozen=True)
class TimeGANPolicy:
    """TimeGAN's constants, and what a conditional run is conditioned on (``condition``: the
    data's condition spec, class ids; None when unconditional)."""

    condition: Optional[ConditionSpec] = None
    gamma: float = 1.0  # weight of the unsupervised latents' adversarial terms
    d_threshold: float = 0.15  # D is updated only while its loss is above this

    @property
    def n_classes(self) -> int:  # > 0: a conditional run on class ids
        return n_classes(self.condition)


def moment_loss(fake: Tensor, real: Tensor) -> Tensor:
    """TimeGAN's L_V on (B, T, F): |std| and |mean| differences over the batch, averaged."""
    std = (fake.var(0, unbiased=False) + 1e-6).sqrt() - (real.var(0, unbiased=False) + 1e-6).sqrt()
    return std.abs().mean() + (fake.mean(0) - real.mean(0)).abs().mean()


def supervised_loss(G, h: Tensor) -> Tensor:
    """L_S: the supervisor's one-step-ahead MSE on latent sequences h (B, T, H)."""
    return Fn.mse_loss(G.supervisor(h)[:, :-1], h[:, 1:])


def _bce(logits: Tensor, target: float) -> Tensor:
    return Fn.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


class TimeGANGame(GameBase):
    """TimeGAN's three-phase training; ``players.G`` is the :class:`TimeGANGenerator`."""

    def __init__(self, players: Players, prior: Prior, gen: torch.Generator, total_steps: int,
                 extra_opts: dict, lrs: dict, condition: Optional[ConditionSpec] = None):
        super().__init__(players, gen)
        self.prior = prior
        self.opts = extra_opts  # "e0", "s", "e": the embedding, supervised and joint-embedding Adams
        self.lrs = lrs  # optimizer name -> base learning rate
        self.policy = TimeGANPolicy(condition)
        self.phase_steps = max(1, total_steps // 3)  # phases 1 and 2 each; phase 3 the rest
        self.iterations = 0  # game steps so far: the clock of the phases

    @property
    def phase(self) -> str:
        if self.iterations < self.phase_steps:
            return "embedding"
        return "supervised" if self.iterations < 2 * self.phase_steps else "joint"

    # ------------------------------------------------------------------ the step

    def step(self, next_real: NextReal, batch_size: int, values: StepValues = StepValues(),
             stats: bool = False) -> dict[str, Tensor]:
        """One iteration of the current phase. Returns detached 0-dim tensors: ``loss_d`` and
        ``loss_g`` (0 before the joint phase), ``loss_recon`` (sqrt MSE), ``loss_sup``
        (sqrt L_S) and ``phase`` (1, 2 or 3)."""
        for name, opt in self._all_opts().items():
            set_lr(opt, self.lrs[name], values.lr_factor)
        zero = torch.zeros(())
        phase = self.phase
        if phase == "embedding":
            out = {"loss_recon": self.embedding_update(next_real(batch_size)[0]), "loss_sup": zero}
            out.update(loss_d=zero, loss_g=zero)
        elif phase == "supervised":
            out = {"loss_sup": self.supervised_update(next_real(batch_size)[0]), "loss_recon": zero}
            out.update(loss_d=zero, loss_g=zero)
        else:
            out = self.joint_update(next_real, batch_size)
        self.iterations += 1
        out["phase"] = torch.tensor(float(("embedding", "supervised", "joint").index(phase) + 1))
        return {k: v.detach() for k, v in out.items()}

    def embedding_update(self, x: Tensor) -> Tensor:
        """Phase 1: e, r on 10 sqrt(MSE(x, r(e(x)))); returns sqrt(MSE)."""
        G = self.G
        recon = Fn.mse_loss(G.recovery(G.embedder(x)), x)
        self._descend("e0", 10 * recon.sqrt())
        return recon.sqrt()

    def supervised_update(self, x: Tensor) -> Tensor:
        """Phase 2: g, s on L_S of the (fixed) embedding of x; returns sqrt(L_S)."""
        with torch.no_grad():
            h = self.G.embedder(x)  # (B, T, H)
        loss_s = supervised_loss(self.G, h)
        self._descend("s", loss_s)
        return loss_s.sqrt()

    def joint_update(self, next_real: NextReal, B: int) -> dict[str, Tensor]:
        """Phase 3: twice (G, then the autoencoder), then D if its loss exceeds 0.15."""
        G, D = self.G, self.D
        ############################
        # (1) Update G (g, s) and the autoencoder (e, r), twice, each pair on a fresh batch
        ############################
        for _ in range(2):
            x, y = next_real(B)  # (B, T, F) in model space, labels (B,) or None
            y = y if self.policy.n_classes else None
            z = self.noise(B, x.device)
            h = G.embedder(x)  # (B, T, H)
            e_hat = G.latent(z, y)  # (B, T, H)
            h_hat = G.supervisor(e_hat)
            x_hat = G.recovery(h_hat)  # (B, T, F)
            D.requires_grad_(False)
            loss_u = _bce(D(h_hat, y), 1.0) + self.policy.gamma * _bce(D(e_hat, y), 1.0)
            D.requires_grad_(True)
            loss_s = supervised_loss(G, h.detach())
            loss_g = loss_u + 100 * loss_s.sqrt() + 100 * moment_loss(x_hat, x)
            self._descend("g", loss_g)
            self.g_updates += 1
            self.players.update_ema()
            # the autoencoder, with the supervisor's loss on its own embedding (TimeGAN's E_solver)
            h = G.embedder(x)
            recon = Fn.mse_loss(G.recovery(h), x)
            self._descend("e", 10 * recon.sqrt() + 0.1 * supervised_loss(G, h))
        ############################
        # (2) Update D on real latents and both kinds of fake latents, while its loss > 0.15
        ############################
        x, y = next_real(B)
        y = y if self.policy.n_classes else None
        with torch.no_grad():
            h = G.embedder(x)
            e_hat = G.latent(self.noise(B, x.device), y)
            h_hat = G.supervisor(e_hat)
        loss_d = _bce(D(h, y), 1.0) + _bce(D(h_hat, y), 0.0) + self.policy.gamma * _bce(D(e_hat, y), 0.0)
        if loss_d.item() > self.policy.d_threshold:
            self._descend("d", loss_d)
            self.d_updates += 1
        return {"loss_d": loss_d, "loss_g": loss_g, "loss_recon": recon.sqrt(), "loss_sup": loss_s.sqrt()}

    def noise(self, B: int, device: torch.device) -> Tensor:
        """z (B, z_dim) from the run's prior (TimeGAN: U(0, 1) per step; here ``model.prior``)."""
        return self.prior.sample(B, self.gen, device)

    def fake_labels(self, n: int) -> Optional[Tensor]:
        """Class labels (n,) drawn from the run's condition spec for G's samples, or None."""
        return draw(self.policy.condition, n, self.gen)

    def _all_opts(self) -> dict:
        return {"g": self.players.opt_g, "d": self.players.opt_d, **self.opts}

    def _descend(self, name: str, loss: Tensor) -> None:
        opt = self._all_opts()[name]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    # ------------------------------------------------------------------ building and checkpoints

    @classmethod
    def build(cls, cfg: Config, data, device: torch.device) -> "TimeGANGame":
        spec = condition(cfg, data)
        G, D = build_models(cfg, data.shape, n_classes(spec))
        G, D = G.to(device), D.to(device)
        if cfg.train.ema_beta > 0 or cfg.model.d_ensemble > 1:
            raise GanforgeError("model.name=timegan trains its own five networks; leave train.ema_beta=0 and "
                                "model.d_ensemble=1")
        o = cfg.optim
        opt = lambda params, lr, betas: build_optimizer(params, o, lr, tuple(betas))  # noqa: E731
        players = Players(G=G, D=D, opt_g=opt(G.generator_parameters(), o.g_lr, o.g_betas),
                          opt_d=opt(D.parameters(), o.d_lr, o.d_betas))
        extra = {"e0": opt(G.autoencoder_parameters(), o.g_lr, o.g_betas),
                 "s": opt(G.generator_parameters(), o.g_lr, o.g_betas),
                 "e": opt(G.autoencoder_parameters(), o.g_lr, o.g_betas)}
        lrs = {"g": o.g_lr, "d": o.d_lr, "e0": o.g_lr, "s": o.g_lr, "e": o.g_lr}
        gen = torch.Generator(device=device).manual_seed(cfg.train.seed + 1)  # noise for the game
        return cls(players, Prior(cfg.model.prior, cfg.model.z_dim), gen, cfg.train.steps, extra, lrs, spec)

    def own_state(self) -> dict:
        return {"timegan": {"iterations": self.iterations, "phase_steps": self.phase_steps,
                            "opts": {k: o.state_dict() for k, o in self.opts.items()}}}

    def load_own_state(self, state: dict) -> None:
        own = state["timegan"]
        self.iterations = int(own["iterations"])
        # cut at the run's first train.steps: an extended run trains its joint phase longer
        self.phase_steps = int(own["phase_steps"])
        for k, o in self.opts.items():
            o.load_state_dict(own["opts"][k])


GAMES.add("timegan", TimeGANGame)
