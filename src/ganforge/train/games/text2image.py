"""The text-to-image game: DAMSM pre-training of the text encoder, then DF-GAN.

The networks are ``models/dfgan.py``'s. ``train.steps`` is cut at the run's start (kept on
resume, as TimeGAN's phases are) into:

1. **Encoder** (the first :data:`ENCODER_SHARE` of the steps; none for the one-hot oracle):
   the text encoder and DAMSM's image encoder, together, on the DAMSM loss of AttnGAN (Xu et
   al. 2018, eq. 7-11): sentence-level and word-level matching of each real image with its own
   caption against the batch's other captions, both ways, gamma1 = 4, gamma2 = 5, gamma3 = 10.
   Its own Adam (lr 2e-3 as AttnGAN's DAMSM). Then both are frozen.
2. **GAN**, one iteration = DF-GAN's (Tao et al. 2022):
   (1) D on the hinge loss with mismatched pairs:
       ``relu(1 - D(x, s)) + (relu(1 + D(G(z, s), s)) + relu(1 + D(x, s')))/2``, s' the batch's
       sentence vectors rolled by one (another scene's caption), plus the matching-aware
       gradient penalty ``2 E[||(grad_x D(x, s), grad_s D(x, s))||^6]`` on real, matched pairs;
   (2) G on ``-D(G(z, s), s)``.
   s is the frozen encoder's sentence vector (or the oracle's attribute vector).

Everything (the encoder phase's optimizer, the phase cut, the players) is in the checkpoint: a
resumed run continues exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as Fn
from torch import Tensor

from ...build import build_models, build_optimizer, condition
from ...conditions import ConditionSpec
from ...config import Config
from ...errors import GanforgeError
from ...evaluation import eval_conditions, generate, sample_metrics
from ...priors import Prior
from ..callbacks import Callback, ImageToImageDoctorCallback, RunState
from ..ema import EMA
from ..schedule import set_lr
from .base import GAMES, GameBase, NextReal, Player, Players, StepValues, frozen

ENCODER_SHARE = 0.2  # of train.steps: DAMSM pre-training of the text encoder
ENCODER_LR = 2e-3
GAMMA1, GAMMA2, GAMMA3 = 4.0, 5.0, 10.0  # AttnGAN's DAMSM
GP_WEIGHT, GP_POWER = 2.0, 6  # DF-GAN's MA-GP: k = 2, p = 6


@dataclass(frozen=True)
class TextPolicy:
    """What the game is conditioned on (the data's captions, or attribute vectors)."""

    condition: Optional[ConditionSpec] = None
    n_classes: int = 0  # no class ids: the conditions are texts or attribute vectors


def sentence_loss(img: Tensor, sent: Tensor) -> Tensor:
    """DAMSM's sentence term: cosine similarities (B, B) of global image vectors and sentence
    vectors, x gamma3, cross-entropy to the diagonal both ways."""
    sim = Fn.normalize(img, dim=1) @ Fn.normalize(sent, dim=1).T * GAMMA3  # (B, B): image i, caption j
    target = torch.arange(len(img), device=img.device)
    return Fn.cross_entropy(sim, target) + Fn.cross_entropy(sim.T, target)


def word_scores(regions: Tensor, words: Tensor, mask: Tensor) -> Tensor:
    """DAMSM's word-level relevance R(Q_j, D_i) of every image j and caption i: regions (B, R, E),
    words (B, L, E), mask (B, L) -> (B_img, B_cap). Each word attends over the regions
    (softmax over words of the dot products, then over regions x gamma1); its context's cosine
    to the word is pooled over the caption's words by a log-sum-exp with gamma2."""
    s = torch.einsum("ile,jre->ijlr", words, regions)  # (caption i, image j, word l, region r)
    s = s.masked_fill(~mask[:, None, :, None], float("-inf")).softmax(2).nan_to_num(0.0)
    attn = (GAMMA1 * s).softmax(3)
    context = torch.einsum("ijlr,jre->ijle", attn, regions)  # (i, j, L, E)
    cos = Fn.cosine_similarity(context, words[:, None], dim=3)  # (i, j, L)
    cos = cos.masked_fill(~mask[:, None], float("-inf"))
    return (torch.logsumexp(GAMMA2 * cos, dim=2) / GAMMA2).T  # (j, i)


def damsm_loss(G, x: Tensor, y) -> Tensor:
    """The DAMSM loss of real images x (B, 3, R, R) and their captions y (a TextBatch)."""
    words, sent = G.text(y.tokens, y.mask)
    regions, glob = G.image(x)
    w = word_scores(regions, words, y.mask) * GAMMA3
    target = torch.arange(len(x), device=x.device)
    return sentence_loss(glob, sent) + Fn.cross_entropy(w, target) + Fn.cross_entropy(w.T, target)


def ma_gp(D, x: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """DF-GAN's matching-aware gradient penalty on real, matched pairs: 2 E[||(dD/dx, dD/dc)||^6];
    returns (penalty, D's logits on the pairs (B,))."""
    x, c = x.detach().requires_grad_(True), c.detach().requires_grad_(True)
    logits = D(x, c)
    gx, gc = torch.autograd.grad(logits.sum(), (x, c), create_graph=True)
    norm = torch.cat([gx.flatten(1), gc.flatten(1)], 1).norm(dim=1)  # (B,)
    return GP_WEIGHT * (norm ** GP_POWER).mean(), logits


class SceneEvaluation(Callback):
    """The data's evaluator on fixed noise for the data's evaluation conditions (the test
    scenes' captions), every ``eval.every`` steps and at the end."""

    def on_step_end(self, run: RunState, step: int) -> None:
        cfg = run.cfg
        if not run.due(step, cfg.eval.every):
            return
        y = eval_conditions(run.data, run.condition, cfg.eval.n_samples)
        x = generate(run.sampler, run.prior, cfg.eval.n_samples, cfg.eval.seed, run.data, run.condition, y)
        m = {"step": step, **sample_metrics(x, run.data, cfg.eval.seed, labels=y)}
        run.emit(m)
        run.metrics = m


class TextToImage(GameBase):
    """DAMSM, then DF-GAN; ``players.G`` is the :class:`~ganforge.models.dfgan.TextToImageG`."""

    diagnosis = ImageToImageDoctorCallback  # the detectors on every record; no noise probe of class ids
    evaluation = SceneEvaluation

    def __init__(self, players: Players, prior: Prior, gen: torch.Generator, encoder_steps: int,
                 opt_enc: Optional[torch.optim.Optimizer], lrs: dict, spec: ConditionSpec):
        super().__init__(players, gen)
        self.prior, self.opt_enc, self.lrs = prior, opt_enc, lrs
        self.policy = TextPolicy(spec)
        self.encoder_steps = encoder_steps
        self.iterations = 0

    def step(self, next_real: NextReal, batch_size: int, values: StepValues = StepValues(),
             stats: bool = False) -> dict[str, Tensor]:
        """One iteration: a DAMSM update while the encoder trains, else a DF-GAN iteration.
        Detached 0-dim tensors: ``loss_d``, ``loss_g`` (0 in the encoder phase), ``loss_damsm``,
        ``d_real``, ``d_fake``, ``d_mismatch`` (mean logits), ``ma_gp``, ``phase`` (1 or 2)."""
        set_lr(self.players.opt_g, self.lrs["g"], values.lr_factor)
        set_lr(self.players.opt_d, self.lrs["d"], values.lr_factor)
        zero = torch.zeros(())
        if self.iterations < self.encoder_steps:
            x, y = next_real(batch_size)
            loss = damsm_loss(self.G, x, y)
            self.opt_enc.zero_grad(set_to_none=True)
            loss.backward()
            self.opt_enc.step()
            out = {"loss_damsm": loss, "loss_d": zero, "loss_g": zero, "phase": torch.tensor(1.0)}
        else:
            if self.iterations == self.encoder_steps:
                self.freeze_encoder()
            out = self.gan_update(next_real, batch_size, stats)
            out["phase"] = torch.tensor(2.0)
        self.iterations += 1
        return {k: v.detach().float() for k, v in out.items()}

    def freeze_encoder(self) -> None:
        """The encoders stop training; G_ema takes them exactly as G has them."""
        G = self.G
        for p in G.encoder_parameters():
            p.requires_grad_(False)
        if self.players.ema is not None:
            ema = self.players.ema.model
            for m, e in ((G.text, ema.text), (G.image, ema.image)):
                if m is not None:
                    e.load_state_dict(m.state_dict())

    def gan_update(self, next_real: NextReal, B: int, stats: bool) -> dict[str, Tensor]:
        G, D, rt = self.G, self.D, self.rt
        x, y = next_real(B)  # (B, 3, R, R) in [-1, 1], captions (or attribute vectors)
        with torch.no_grad():
            c = G.condition(y)  # (B, C): sentence vectors of the frozen encoder, or attributes
        z = self.prior.sample(B, self.gen, x.device)
        fake = G.synth(z, c)  # (B, 3, R, R)
        ############################
        # (1) Update D: real matched pairs up, fakes and mismatched pairs down, MA-GP on real pairs
        ############################
        gp, d_real = ma_gp(D, x, c)
        d_fake = D(fake.detach(), c)
        d_mis = D(x, c.roll(1, 0))  # each image with the next scene's caption
        loss_d = Fn.relu(1 - d_real).mean() + 0.5 * (Fn.relu(1 + d_fake).mean() + Fn.relu(1 + d_mis).mean())
        self.descend(Player.D, loss_d + gp, rt)
        self.d_updates += 1
        ############################
        # (2) Update G: -D(G(z, s), s)
        ############################
        with frozen(D):
            loss_g = -D(fake, c).mean()
        self.descend(Player.G, loss_g, rt)
        self.g_updates += 1
        self.players.update_ema()
        return {"loss_d": loss_d, "loss_g": loss_g, "ma_gp": gp, "d_real": d_real.mean(), "d_fake": d_fake.mean(),
                "d_mismatch": d_mis.mean()}

    # ------------------------------------------------------------------ building and checkpoints

    @classmethod
    def build(cls, cfg: Config, data, device: torch.device) -> "TextToImage":
        spec = condition(cfg, data)
        if spec is None or spec.kind not in ("text", "attributes"):
            raise GanforgeError(f"model.name={cfg.model.name} is conditioned on captions: data.name={cfg.data.name} "
                                "has none (use data.name=digit_scenes or captioned, with model.conditional=true)")
        G, D = build_models(cfg, data.shape, 0, None, spec)
        G, D = G.to(device), D.to(device)
        o = cfg.optim
        opt = lambda params, lr, betas: build_optimizer(params, o, lr, tuple(betas))  # noqa: E731
        players = Players(G=G, D=D, opt_g=opt(G.generator_parameters(), o.g_lr, o.g_betas),
                          opt_d=opt(D.parameters(), o.d_lr, o.d_betas),
                          ema=EMA(G, cfg.train.ema_beta) if cfg.train.ema_beta > 0 else None)
        text = spec.kind == "text"
        opt_enc = torch.optim.Adam(G.encoder_parameters(), lr=ENCODER_LR) if text else None
        encoder_steps = max(1, round(ENCODER_SHARE * cfg.train.steps)) if text else 0
        gen = torch.Generator(device=device).manual_seed(cfg.train.seed + 1)
        return cls(players, Prior(cfg.model.prior, cfg.model.z_dim), gen, encoder_steps, opt_enc,
                   {"g": o.g_lr, "d": o.d_lr}, spec)

    def own_state(self) -> dict:
        return {"text2image": {"iterations": self.iterations, "encoder_steps": self.encoder_steps,
                               "opt_enc": self.opt_enc.state_dict() if self.opt_enc is not None else None}}

    def load_own_state(self, state: dict) -> None:
        own = state["text2image"]
        self.iterations, self.encoder_steps = int(own["iterations"]), int(own["encoder_steps"])
        if self.opt_enc is not None:
            self.opt_enc.load_state_dict(own["opt_enc"])
        if self.iterations > self.encoder_steps:  # resumed in the GAN phase: the encoder stays frozen
            for p in self.G.encoder_parameters():
                p.requires_grad_(False)


GAMES.add("text_to_image", TextToImage)
