"""Unpaired translation, CycleGAN (Zhu et al. 2017): G_ab maps A to B, G_ba maps B to A; D_b
tells real b from G_ab(a), D_a real a from G_ba(b). G's loss is the two adversarial terms
(``i2i.adv_weight``) + ``cycle_weight`` x (|G_ba(G_ab(a)) - a|_1 + |G_ab(G_ba(b)) - b|_1)
+ ``identity_weight`` x ``cycle_weight`` x (|G_ab(b) - b|_1 + |G_ba(a) - a|_1).

D learns from a pool of G's past outputs (Shrivastava et al. 2017): each new fake enters the
pool while it has room; once full, with probability 1/2 a new fake replaces a random stored one
and D sees the stored one instead. The pool's images and its draws (from the game's generator,
which the checkpoint keeps) are part of the resumable state. The players G and D are
``ModuleDict``s of two networks each (``models/resnet_i2i.py``).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from ..runtime import Runtime
from .base import GAMES, NextReal, StepValues, frozen
from .i2i import ImageToImage, I2IPolicy, image_scores, split_pair


class ImagePool:
    """Up to ``size`` past fakes; ``query(fakes)`` returns as many, some swapped for older ones."""

    def __init__(self, size: int):
        self.size = size
        self.images: Optional[Tensor] = None  # (k, C, H, W), k <= size

    def query(self, fakes: Tensor, gen: torch.Generator) -> Tensor:
        if self.size == 0:
            return fakes
        fakes = fakes.detach()
        out = []
        coins = torch.rand(len(fakes), generator=gen, device=gen.device).tolist()  # one draw per fake, always
        slots = torch.randint(self.size, (len(fakes),), generator=gen, device=gen.device).tolist()
        for f, coin, slot in zip(fakes, coins, slots):
            if self.images is None or len(self.images) < self.size:  # room left: keep it, show it
                self.images = f[None].clone() if self.images is None else torch.cat([self.images, f[None]])
                out.append(f)
            elif coin < 0.5:  # show a stored one, store the new one in its place
                out.append(self.images[slot].clone())
                self.images[slot] = f
            else:
                out.append(f)
        return torch.stack(out)

    def state_dict(self) -> dict:
        return {"images": self.images}

    def load_state_dict(self, state: dict) -> None:
        self.images = state["images"]


def cycle_loss(G, a: Tensor, b: Tensor) -> Tensor:
    """|G_ba(G_ab(a)) - a|_1 + |G_ab(G_ba(b)) - b|_1; 0 for identity generators."""
    return (G["ba"](G["ab"](a)) - a).abs().mean() + (G["ab"](G["ba"](b)) - b).abs().mean()


class Cycle(ImageToImage):
    def __init__(self, players, policy: I2IPolicy, gen):
        super().__init__(players, policy, gen)
        self.pools = {"a": ImagePool(policy.weights.pool_size), "b": ImagePool(policy.weights.pool_size)}

    def step(self, next_real: NextReal, batch_size: int, values: StepValues = StepValues(),
             stats: bool = False) -> dict[str, Tensor]:
        """One G update (both generators) then one D update (both discriminators), as in the
        paper's code. Returns detached 0-dim tensors ``loss_d``, ``loss_g``, ``cycle``,
        ``identity``; with ``stats`` ``d_real``, ``d_fake`` (means over both D's)."""
        self.set_lr(values)
        w, D, rt = self.w, self.D, self.rt
        G, judge, Dt = rt.g_train, rt.d_judge, rt.d_train  # each {name: callable}, as G and D are ModuleDicts
        x, _ = next_real(batch_size)  # (B, 2C, H, W); under torchrun this rank's rows
        a, b = split_pair(x)  # unrelated images of the two domains, (B, C, H, W) each

        ############################
        # (1) Update both G's: fool both D's, close both cycles, leave the other domain alone
        ############################
        fake_b, fake_a = G["ab"](a), G["ba"](b)  # (B, C, H, W) float32 each
        cycle = (G["ba"](fake_b) - a).abs().mean() + (G["ab"](fake_a) - b).abs().mean()
        identity = torch.zeros((), device=x.device)
        if w.identity_weight > 0:
            identity = (G["ab"](b) - b).abs().mean() + (G["ba"](a) - a).abs().mean()
        loss_g = w.cycle_weight * cycle + w.identity_weight * w.cycle_weight * identity
        if w.adv_weight > 0:
            with frozen(D):
                adv = self.loss.g_loss(judge["b"](fake_b)) + self.loss.g_loss(judge["a"](fake_a))
                loss_g = loss_g + w.adv_weight * adv
        self.step_g(loss_g)

        ############################
        # (2) Update both D's on reals and pooled past fakes
        ############################
        loss_d = torch.zeros((), device=x.device)
        if w.adv_weight > 0:
            pooled_b, pooled_a = self.pooled("b", fake_b, rt), self.pooled("a", fake_a, rt)
            rb, fb = Dt["b"](b), Dt["b"](pooled_b)  # (B, 1, h, w) each
            ra, fa = Dt["a"](a), Dt["a"](pooled_a)
            loss_d = 0.5 * (self.loss.d_loss(rb, fb) + self.loss.d_loss(ra, fa))  # halved: D learns slower than G
            self.step_d(loss_d)
        out = {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(), "cycle": cycle.detach(),
               "identity": identity.detach()}
        if stats and w.adv_weight > 0:
            out["d_real"] = 0.5 * (torch.sigmoid(rb.detach()).mean() + torch.sigmoid(ra.detach()).mean())
            out["d_fake"] = 0.5 * (torch.sigmoid(fb.detach()).mean() + torch.sigmoid(fa.detach()).mean())
        return out

    def pooled(self, domain: str, fakes: Tensor, rt: Runtime) -> Tensor:
        """This rank's rows of the pool's answer to the global batch of ``fakes``: under torchrun
        each rank gathers every rank's fakes (B, C, H, W), so every rank's pool holds and draws
        what a single process's would, and rank 0's checkpoint is right for all."""
        return rt.dist.shard(self.pools[domain].query(rt.dist.gather(fakes.detach()), self.gen))

    def triplets(self, G, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Rows a, G_ab(a), G_ba(G_ab(a)): the input, its translation and its reconstruction."""
        a, _ = split_pair(x)
        fake_b = G["ab"](a)
        return a, fake_b, G["ba"](fake_b)

    @torch.no_grad()
    def evaluate(self, data, n: int, seed: int) -> dict:
        """Held-out cycle reconstruction (L1, PSNR of a -> b -> a and b -> a -> b)."""
        x = data.encode(self.held_out(data, min(n, 256), seed)).to(next(self.G.parameters()).device)
        G = self.players.sampler.eval()
        a, b = split_pair(x)
        rec = torch.cat([G["ba"](G["ab"](a)), G["ab"](G["ba"](b))])
        self.G.train()
        return image_scores(rec, torch.cat([a, b]), "cycle_")

    def extra_state(self) -> dict:
        return {k: p.state_dict() for k, p in self.pools.items()}

    def load_extra_state(self, state: Optional[dict]) -> None:
        for k, p in self.pools.items():
            p.load_state_dict((state or {}).get(k, {"images": None}))


GAMES.add("cycle", Cycle)
