"""What the image-to-image games share (pix2pix, CycleGAN, super-resolution): the players'
checkpointed state, learning rates from the schedule, and how a batch is split.

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

from typing import Optional

import torch
from torch import Tensor

from ...data.paired import Crops
from ...errors import GanforgeError
from ...losses import AdversarialLoss
from ..runtime import Runtime
from ..schedule import set_lr
from .base import Players, StepValues


def split_pair(x: Tensor) -> tuple[Tensor, Tensor]:
    """(B, 2C, H, W) -> a (B, C, H, W), b (B, C, H, W)."""
    return x.chunk(2, dim=1)


class ImageToImage:
    """Base of the image-to-image games: ``players`` (G, D, optimizers, EMA), the config's
    ``i2i`` section (weights), the adversarial loss, and ``gen``, the game's own generator."""

    prior = None  # no noise prior: G's input is an image

    def __init__(self, players: Players, cfg, loss: AdversarialLoss, gen: torch.Generator):
        self.players, self.cfg, self.w, self.loss, self.gen = players, cfg, cfg.i2i, loss, gen
        self.d_updates = 0
        self.g_updates = 0
        self.runtime: Optional[Runtime] = None  # set by the loop's attach(); None: G and D called plainly
        self.shard = None

    @property
    def G(self):
        return self.players.G

    @property
    def D(self):
        return self.players.D

    def set_lr(self, values: StepValues) -> None:
        o = self.cfg.optim
        set_lr(self.players.opt_g, o.g_lr, values.lr_factor)
        set_lr(self.players.opt_d, o.d_lr, values.lr_factor)

    @property
    def rt(self) -> Runtime:
        """How this step calls G and D (plain calls before attach(); a ModuleDict indexes alike)."""
        return self.runtime or Runtime.plain(self.G, self.D)

    def step_g(self, loss_g: Tensor) -> None:
        """Back up ``loss_g`` into G (through G's loss scale under fp16), step G's optimizer
        (skipped by the scaler on an fp16 overflow), update the EMA."""
        rt, opt = self.rt, self.players.opt_g
        opt.zero_grad(set_to_none=True)
        rt.backward(loss_g, "g")
        rt.step(opt, "g")
        self.g_updates += 1
        if self.players.ema is not None:
            self.players.ema.update(self.G)

    def step_d(self, loss_d: Tensor) -> None:
        rt, opt = self.rt, self.players.opt_d
        opt.zero_grad(set_to_none=True)
        rt.backward(loss_d, "d")
        rt.step(opt, "d")
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

    def state_dict(self) -> dict:
        pl = self.players
        return {
            "G": pl.G.state_dict(),
            "D": pl.D.state_dict(),
            "G_ema": pl.ema.state_dict() if pl.ema is not None else None,
            "opt_g": pl.opt_g.state_dict(),
            "opt_d": pl.opt_d.state_dict(),
            "d_updates": self.d_updates,
            "g_updates": self.g_updates,
            "amp": self.runtime.state_dict() if self.runtime is not None else {},  # fp16 loss scales
            "game_state": self.extra_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        pl = self.players
        pl.G.load_state_dict(state["G"])
        pl.D.load_state_dict(state["D"])
        if pl.ema is not None:
            if state.get("G_ema") is None:
                raise GanforgeError("train.ema_beta > 0 but the checkpoint has no EMA weights to resume from")
            pl.ema.load_state_dict(state["G_ema"])
        pl.opt_g.load_state_dict(state["opt_g"])
        pl.opt_d.load_state_dict(state["opt_d"])
        self.d_updates, self.g_updates = int(state["d_updates"]), int(state["g_updates"])
        if self.runtime is not None:  # a rollback restores the loss scales too
            self.runtime.load_state_dict(state.get("amp"))
        self.load_extra_state(state.get("game_state"))


def image_scores(out: Tensor, target: Tensor, prefix: str = "") -> dict:
    """L1 and PSNR (dB, peak 1) of model-space outputs against targets, both mapped to [0, 1]."""
    o, t = out.clamp(-1, 1) * 0.5 + 0.5, target * 0.5 + 0.5
    mse = (o - t).pow(2).flatten(1).mean(1).clamp_min(1e-10)  # (B,)
    return {f"{prefix}l1_test": (o - t).abs().mean().item(), f"{prefix}psnr_test": (-10 * mse.log10()).mean().item()}
