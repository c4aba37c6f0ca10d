"""What the image-to-image games share (pix2pix, CycleGAN, super-resolution): their frozen
policy (:class:`I2IPolicy`, what they read of the config), their builder, learning rates from
the schedule, their callbacks and visuals, and how a batch is split.

A paired or unpaired source serves a pair stacked along the channels, x (B, 2C, H, W) =
[a | b]; a super-resolution source serves high-resolution crops (B, C, H, W) and the game
makes the low-resolution inputs.

G and D are called through the loop's :class:`Runtime`, as in the noise -> data game: with
AMP, channels_last, compile and DDP as ``train.*`` asks (``rt.g_train`` in G's update,
``rt.d_train`` in D's, ``rt.d_judge`` for the frozen D judging G's outputs; CycleGAN's roles
are dicts of two networks). Outputs leave autocast as float32, so the pixel, cycle, content and
adversarial losses are computed in fp32. Under torchrun each rank holds its rows of the global
batch (the loop shards it); losses are means over equal shards, so DDP's averaged gradients
are the global batch's, except where a loss takes a batch mean inside (RaGAN's average logit:
the rank's rows, as batch norm would).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor

from ...build import build_models, build_optimizer
from ...config import Config, I2IConfig
from ...data.paired import Crops
from ...losses import AdversarialLoss, build_loss
from ..callbacks import ImageToImageDoctorCallback, ImageToImageEvaluationCallback
from ..ema import EMA
from ..schedule import set_lr
from .base import GameBase, Player, Players, StepValues


def split_pair(x: Tensor) -> tuple[Tensor, Tensor]:
    """(B, 2C, H, W) -> a (B, C, H, W), b (B, C, H, W)."""
    return x.chunk(2, dim=1)


@dataclass(frozen=True)
class I2IPolicy:
    """How an image-to-image game is played: what it reads of the config, set once, never
    changed by training."""

    loss: AdversarialLoss  # loss.name
    d_lr: float  # optim.*_lr: the base rates the schedule scales
    g_lr: float
    weights: I2IConfig  # the config's i2i section: weights of the non-adversarial terms, pool, pre-training
    scale: int = 1  # super-resolution: the upscaling factor (model.scale)
    channels: int = 3  # super-resolution: image channels, for the fixed feature net (data.channels)
    resolution: int = 0  # super-resolution: the crops' side (data.resolution), for the sample grids

    @classmethod
    def of(cls, cfg: Config) -> "I2IPolicy":
        return cls(build_loss(cfg.loss.name), cfg.optim.d_lr, cfg.optim.g_lr, cfg.i2i, cfg.model.scale,
                   cfg.data.channels or 3, cfg.data.resolution)


class ImageToImage(GameBase):
    """Base of the image-to-image games: ``players`` (G, D, optimizers, EMA), the
    :class:`I2IPolicy` (``w`` its weights), and ``gen``, the game's own generator."""

    # no noise prior: G's input is an image; the doctor runs without its noise probe, and the
    # evaluation is the game's held-out one (``evaluate``)
    diagnosis = ImageToImageDoctorCallback
    evaluation = ImageToImageEvaluationCallback
    from_noise = False

    def __init__(self, players: Players, policy: I2IPolicy, gen: torch.Generator):
        super().__init__(players, gen)
        self.policy, self.w, self.loss = policy, policy.weights, policy.loss

    @classmethod
    def build(cls, cfg: Config, data, device: torch.device) -> "ImageToImage":
        """G and D (for CycleGAN ModuleDicts of two each) with one Adam/SGD per player, EMA of G
        if asked, and the game's own generator (image pools, noise) seeded like the noise -> data
        game's. AMP, channels_last, compile and DDP are applied afterwards by the loop
        (``train.runtime.attach``)."""
        G, D = build_models(cfg, data.shape)
        G, D = G.to(device), D.to(device)
        o = cfg.optim
        players = Players(G=G, D=D, opt_g=build_optimizer(G.parameters(), o, o.g_lr, o.g_betas),
                          opt_d=build_optimizer(D.parameters(), o, o.d_lr, o.d_betas),
                          ema=EMA(G, cfg.train.ema_beta) if cfg.train.ema_beta > 0 else None)
        gen = torch.Generator(device=device).manual_seed(cfg.train.seed + 1)
        return cls(players, I2IPolicy.of(cfg), gen)

    def set_lr(self, values: StepValues) -> None:
        set_lr(self.players.opt_g, self.policy.g_lr, values.lr_factor)
        set_lr(self.players.opt_d, self.policy.d_lr, values.lr_factor)

    def step_g(self, loss_g: Tensor) -> None:
        """Back up ``loss_g`` into G (through G's loss scale under fp16), step G's optimizer
        (skipped by the scaler on an fp16 overflow), update the EMA."""
        self.descend(Player.G, loss_g, self.rt)
        self.g_updates += 1
        self.players.update_ema()

    def step_d(self, loss_d: Tensor) -> None:
        self.descend(Player.D, loss_d, self.rt)
        self.d_updates += 1

    # ------------------------------------------------------------------ evaluation and plots

    def triplets(self, G, x: Tensor) -> tuple[Tensor, Tensor, Optional[Tensor]]:
        """(input, output, target or None) in model space for a batch ``x`` as the data serves it."""
        raise NotImplementedError

    def held_out(self, data, n: int, seed: int) -> Tensor:
        """Up to ``n`` held-out samples (n, *shape) in data space [0, 1]; the training
        reference when the data holds none out."""
        h = getattr(data, "holdout", None)
        if h is None:
            return data.reference(n, seed)
        if isinstance(h, list):  # super-resolution: crops of held-out images
            return Crops.crops(h, data.shape[-1], n, torch.Generator().manual_seed(seed)).float() / 255
        a, b = h
        if b is None:  # paired: stacked pairs
            return a[:n].float() / 255
        m = min(n, len(a), len(b))  # unpaired: the i-th image of each domain
        return torch.cat([a[:m], b[:m]], 1).float() / 255

    @torch.no_grad()
    def visuals(self, data, n: int, seed: int) -> Tensor:
        """Rows of inputs, outputs (and targets) on held-out samples, (k * n, C, H, W) in [0, 1]."""
        x = data.encode(self.held_out(data, n, seed)).to(next(self.G.parameters()).device)
        rows = [self.show(v) for v in self.triplets(self.players.sampler.eval(), x) if v is not None]
        self.G.train()
        return torch.cat([r.clamp(-1, 1).cpu() * 0.5 + 0.5 for r in rows])

    def show(self, v: Tensor) -> Tensor:
        return v

    @torch.no_grad()
    def evaluate(self, data, n: int, seed: int) -> dict:
        """Held-out quality: ``l1_test`` (in [0, 1] units) and ``psnr_test`` (dB) of outputs
        against targets, where there are targets."""
        x = data.encode(self.held_out(data, min(n, 256), seed)).to(next(self.G.parameters()).device)
        _, out, target = self.triplets(self.players.sampler.eval(), x)
        self.G.train()
        if target is None:
            return {}
        return image_scores(out, target)

    # ------------------------------------------------------------------ checkpointed state

    def extra_state(self) -> dict:
        """A game's own state beyond the players' (e.g. CycleGAN's image pools)."""
        return {}

    def load_extra_state(self, state: Optional[dict]) -> None:
        pass

    def own_state(self) -> dict:
        return {"game_state": self.extra_state()}

    def load_own_state(self, state: dict) -> None:
        self.load_extra_state(state.get("game_state"))


def image_scores(out: Tensor, target: Tensor, prefix: str = "") -> dict:
    """L1 and PSNR (dB, peak 1) of model-space outputs against targets, both mapped to [0, 1]."""
    o, t = out.clamp(-1, 1) * 0.5 + 0.5, target * 0.5 + 0.5
    mse = (o - t).pow(2).flatten(1).mean(1).clamp_min(1e-10)  # (B,)
    return {f"{prefix}l1_test": (o - t).abs().mean().item(), f"{prefix}psnr_test": (-10 * mse.log10()).mean().item()}
