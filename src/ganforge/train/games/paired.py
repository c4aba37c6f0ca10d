"""Paired image-to-image translation, pix2pix (Isola et al. 2017): G maps a to b; a
conditional D judges (input, output) pairs, (a, b) real and (a, G(a)) fake; G minimises
the adversarial loss plus lambda x |G(a) - b|_1 (lambda = ``i2i.l1_weight``, 100 in the paper).

``i2i.adv_weight=0`` is the L1-only baseline: the same U-Net regressed on b, D not trained.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import GAMES, NextReal, StepValues, frozen
from .i2i import ImageToImage, split_pair


class Paired(ImageToImage):
    def step(self, next_real: NextReal, batch_size: int, values: StepValues = StepValues(),
             stats: bool = False) -> dict[str, Tensor]:
        """One D update then one G update on the same batch of pairs. Returns detached 0-dim
        tensors: ``loss_d``, ``loss_g``, ``l1``; with ``stats`` ``d_real``, ``d_fake``."""
        self.set_lr(values)
        rt = self.rt
        x, _ = next_real(batch_size)  # (B, 2C, H, W); under torchrun this rank's rows
        a, b = split_pair(x)  # (B, C, H, W) each, model space
        fake = rt.g_train(a)  # (B, C, H, W) float32, with its graph into G
        out: dict[str, Tensor] = {}
        adversarial = self.w.adv_weight > 0

        ############################
        # (1) Update D: real pairs (a, b) against fake pairs (a, G(a))
        ############################
        if adversarial:
            real_logits = rt.d_train(torch.cat([a, b], 1))  # (B, 1, h, w) patch logits
            fake_logits = rt.d_train(torch.cat([a, fake.detach()], 1))
            loss_d = self.loss.d_loss(real_logits, fake_logits)
            self.step_d(loss_d)
        else:
            loss_d = torch.zeros((), device=x.device)

        ############################
        # (2) Update G: fool the (updated) D on its pairs, and stay near b in L1
        ############################
        l1 = (fake - b).abs().mean()
        loss_g = self.w.l1_weight * l1
        if adversarial:
            with frozen(self.D):
                judged = rt.d_judge(torch.cat([a, fake], 1))  # (B, 1, h, w)
                loss_g = loss_g + self.w.adv_weight * self.loss.g_loss(judged, real_logits.detach())
        self.step_g(loss_g)

        out["loss_d"], out["loss_g"], out["l1"] = loss_d.detach(), loss_g.detach(), l1.detach()
        if stats and adversarial:
            out["d_real"] = torch.sigmoid(real_logits.detach()).mean()
            out["d_fake"] = torch.sigmoid(fake_logits.detach()).mean()
        return out

    def triplets(self, G, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        a, b = split_pair(x)
        return a, G(a), b


GAMES.add("paired", Paired)
