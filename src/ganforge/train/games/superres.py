"""Super-resolution, SRGAN / ESRGAN-style (Ledig et al. 2017; Wang et al. 2018): G maps a
bicubic-downscaled crop back to the crop.

G's loss is ``pixel_weight`` x L1 + ``content_weight`` x an L1 in a feature space +
``sr_adv_weight`` x the adversarial term. The feature space needs no downloaded weights: it
is a fixed, randomly initialised two-layer conv net (seeded, never trained; random conv
features keep edge and texture statistics, Ulyanov et al. 2018), rebuilt identically on
resume. The adversarial term is the relativistic average GAN of ESRGAN
(Jolicoeur-Martineau 2018) with ``i2i.relativistic=true``, else ``loss.name``. The first
``i2i.pretrain_steps`` steps train G on the L1 pixel loss alone (ESRGAN's PSNR-oriented
start); ``i2i.sr_adv_weight=0`` is the L1-only network throughout.

When pre-training ends the game keeps a copy of G (and of G_ema, when the run keeps one) as
they are then, the L1 network, under the checkpoint key ``G_l1``: ``ganforge upscale --alpha``
blends it with the GAN (ESRGAN's network interpolation, :func:`ganforge.apps.translate.blend`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...models.srnet import downscale
from .base import GAMES, NextReal, StepValues, frozen
from .i2i import ImageToImage, I2IPolicy, image_scores


def l1_snapshot(players) -> dict:
    """G's (and G_ema's, or None) weights now, detached copies: the L1 network's ``G_l1`` entry."""
    copy = lambda m: {k: v.detach().clone() for k, v in m.state_dict().items()}  # noqa: E731
    return {"G": copy(players.G), "G_ema": copy(players.ema.model) if players.ema is not None else None}


def random_features(channels: int, seed: int = 1234) -> nn.Module:
    """A fixed random conv net (B, C, H, W) -> (B, 64, H/2, W/2), He-initialised from its own generator."""
    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(channels, 32, 3, 1, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU())
    for conv in (net[0], net[2]):
        fan_in = conv.in_channels * 9
        conv.weight.data = torch.randn(conv.weight.shape, generator=g) * (2 / fan_in) ** 0.5
        conv.bias.data.zero_()
    return net.requires_grad_(False).eval()


def relativistic_d(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """RaGAN D: reals more real than the average fake, fakes less real than the average real."""
    return F.softplus(-(real_logits - fake_logits.mean())).mean() + F.softplus(fake_logits - real_logits.mean()).mean()


def relativistic_g(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """RaGAN G: the symmetric game; reals' logits enter too (detached here, D frozen)."""
    return F.softplus(real_logits - fake_logits.mean()).mean() + F.softplus(-(fake_logits - real_logits.mean())).mean()


def pixel_loss(sr: Tensor, hr: Tensor) -> Tensor:
    """Mean absolute error over every pixel and channel."""
    return (sr - hr).abs().mean()


class SuperRes(ImageToImage):
    def __init__(self, players, policy: I2IPolicy, gen):
        super().__init__(players, policy, gen)
        self.scale = policy.scale
        device = next(players.G.parameters()).device
        self.features = random_features(policy.channels).to(device)
        self.l1_state: dict | None = None  # G (and G_ema) at the end of L1 pre-training; None before

    def step(self, next_real: NextReal, batch_size: int, values: StepValues = StepValues(),
             stats: bool = False) -> dict[str, Tensor]:
        """One step: L1 on G alone while pre-training, else one D update then one G update.
        Returns detached 0-dim tensors ``loss_d``, ``loss_g``, ``pixel``, ``pretrain`` (1 or 0);
        after pre-training also ``content``, ``adv`` and with ``stats`` ``d_real``, ``d_fake``."""
        self.set_lr(values)
        w, rt = self.w, self.rt
        hr, _ = next_real(batch_size)  # (B, C, H, W); under torchrun this rank's rows
        lr = downscale(hr, self.scale)  # (B, C, H/s, W/s), made on the fly
        sr = rt.g_train(lr)  # (B, C, H, W) float32, with its graph into G
        pixel = pixel_loss(sr, hr)  # fp32
        pretraining = self.g_updates < w.pretrain_steps or w.sr_adv_weight == 0
        # on the batch's device: under torchrun the statistics are stacked for one all-reduce
        out: dict[str, Tensor] = {"pixel": pixel.detach(),
                                  "pretrain": torch.tensor(float(pretraining), device=hr.device)}
        if pretraining:
            self.step_g(w.pixel_weight * pixel)
            out["loss_d"], out["loss_g"] = torch.zeros((), device=hr.device), (w.pixel_weight * pixel).detach()
            return out
        if self.l1_state is None:  # the first adversarial step: keep the L1 network
            self.l1_state = l1_snapshot(self.players)

        ############################
        # (1) Update D on high-res crops against G's outputs
        ############################
        real_logits, fake_logits = rt.d_train(hr), rt.d_train(sr.detach())  # (B, 1, h, w)
        d_loss = relativistic_d if w.relativistic else self.loss.d_loss
        loss_d = d_loss(real_logits, fake_logits)
        self.step_d(loss_d)

        ############################
        # (2) Update G: pixel + content + adversarial
        ############################
        with frozen(self.D):
            judged = rt.d_judge(sr)  # (B, 1, h, w)
            rl = real_logits.detach()
            adv = relativistic_g(rl, judged) if w.relativistic else self.loss.g_loss(judged, rl)
        # the fixed feature net runs outside autocast: the content loss is an fp32 L1 of (B, 64, H/2, W/2)
        content = (self.features(sr) - self.features(hr)).abs().mean()
        loss_g = w.pixel_weight * pixel + w.content_weight * content + w.sr_adv_weight * adv
        self.step_g(loss_g)
        out.update(loss_d=loss_d.detach(), loss_g=loss_g.detach(), content=content.detach(), adv=adv.detach())
        if stats:
            out["d_real"] = torch.sigmoid(real_logits.detach()).mean()
            out["d_fake"] = torch.sigmoid(fake_logits.detach()).mean()
        return out

    def own_state(self) -> dict:
        return {**super().own_state(), "G_l1": self.l1_state}

    def load_own_state(self, state: dict) -> None:
        super().load_own_state(state)
        self.l1_state = state.get("G_l1")

    def triplets(self, G, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        lr = downscale(x, self.scale)
        return lr, G(lr), x

    def show(self, v: Tensor) -> Tensor:
        """Low-res inputs enlarged (nearest) to the grid's size."""
        return F.interpolate(v, scale_factor=self.scale, mode="nearest") if v.shape[-1] * self.scale <= 4096 and \
            v.shape[-1] < self.policy.resolution else v

    @torch.no_grad()
    def evaluate(self, data, n: int, seed: int) -> dict:
        """PSNR / L1 on held-out crops for G and for bicubic upsampling of the same inputs."""
        x = data.encode(self.held_out(data, min(n, 256), seed)).to(next(self.G.parameters()).device)
        lr, sr, hr = self.triplets(self.players.sampler.eval(), x)
        self.G.train()
        bicubic = F.interpolate(lr, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return {**image_scores(sr, hr), **image_scores(bicubic, hr, "bicubic_")}


GAMES.add("superres", SuperRes)
