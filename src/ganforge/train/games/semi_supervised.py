"""The semi-supervised GAN (Salimans et al. 2016, "Improved Techniques for Training GANs", sec. 5).

D is a K-class classifier with class logits l(x) (B, K); the "generated" class K+1 has its
logit fixed at 0, so D's real/fake logit is ``lse(x) = logsumexp_k l_k(x)`` and
D(real | x) = sigmoid(lse(x)). As the paper's reference code (openai/improved-gan,
``train_mnist_feature_matching.py``) trains it, one step is:

(1) D, on a labelled batch (x_l, y_l), an unlabelled batch x_u and fakes G(z):

        loss_d = CE(l(x_l), y_l) + w (softplus(-lse(x_u)) + softplus(lse(G(z))))

    (supervised cross-entropy + w x the unsupervised GAN loss; w = 0.5 as in that code).
    The labelled rows are the K-per-class images ``data.labels_per_class`` kept
    (``data.labelled()``, drawn in reshuffled epochs by this game's own sampler); the
    unlabelled batch is the training stream (every training image: the labelled ones are
    unlabelled data too, as in the reference code). A dropped label is never read.
(2) G, by feature matching on D's last hidden layer h (B, F):

        loss_g = mean_f (mean_b h(x_u) - mean_b h(G(z)))^2

``augment.policy`` (DiffAugment, e.g. translation) transforms every input of D alike. D's
held-out accuracy is measured by the game's evaluation (``test_acc``), next to the image
metrics of G's samples; a run's D classifies new images with ``ganforge classify``.
With ``train.d_ema_beta`` the game also keeps an exponential moving average of D's weights
(the weight averaging of Tarvainen and Valpola 2017's mean teacher, which smooths a classifier
that a GAN's game keeps moving); the held-out accuracy and ``classify`` then read D_ema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as Fn
from torch import Tensor

from ...build import build_augment, build_models, build_optimizer
from ...config import Config
from ...errors import GanforgeError
from ...priors import Prior
from ...data.sampling import EpochSampler
from ..callbacks import EvaluationCallback, RunState
from ..ema import EMA
from ..schedule import set_lr
from .base import GAMES, GameBase, NextReal, Player, Players, StepValues, frozen


@dataclass(frozen=True)
class SSLPolicy:
    """The game's constants. G is unconditional: ``condition`` None, ``n_classes`` 0 (what the
    loop's callbacks read); ``classes`` is D's K."""

    classes: int
    unsup_weight: float = 0.5  # w: the unsupervised GAN loss's weight in D's loss (improved-gan's 0.5)
    condition: None = None

    @property
    def n_classes(self) -> int:
        return 0


def ssl_d_loss(logits_lab: Tensor, y_lab: Tensor, logits_unl: Tensor, logits_fake: Tensor,
               unsup_weight: float = 0.5) -> tuple[Tensor, Tensor, Tensor]:
    """D's loss from class logits: labelled (M, K) with labels (M,), unlabelled reals (B, K),
    fakes (B, K). Returns (loss_d, supervised CE, unsupervised loss), each 0-dim; the
    unsupervised loss is softplus(-lse(real)) + softplus(lse(fake)), means over rows."""
    sup = Fn.cross_entropy(logits_lab, y_lab) if len(y_lab) else logits_lab.sum() * 0
    lse_real, lse_fake = torch.logsumexp(logits_unl, 1), torch.logsumexp(logits_fake, 1)  # (B,), (B,)
    unsup = Fn.softplus(-lse_real).mean() + Fn.softplus(lse_fake).mean()
    return sup + unsup_weight * unsup, sup, unsup


def feature_matching(h_real: Tensor, h_fake: Tensor) -> Tensor:
    """G's loss: mean over features of the squared difference of the batch means, (B, F) each."""
    return (h_real.mean(0) - h_fake.mean(0)).pow(2).mean()


class SSLEvaluation(EvaluationCallback):
    """The image metrics of G's samples, and D's classification accuracy on the held-out split."""

    def on_step_end(self, run: RunState, step: int) -> None:
        super().on_step_end(run, step)
        if run.due(step, run.cfg.eval.every) and getattr(run.data, "holdout", None) is not None:
            run.emit({"step": step, "test_acc": run.game.holdout_accuracy(run.data)})


class SemiSupervised(GameBase):
    """The semi-supervised GAN; ``players.D`` is the K-class :class:`SSLDiscriminator`."""

    evaluation = SSLEvaluation

    def __init__(self, players: Players, policy: SSLPolicy, prior: Prior, gen: torch.Generator,
                 labelled: tuple[Tensor, Tensor], seed: int, lrs: dict, augment=None):
        super().__init__(players, gen)
        self.policy, self.prior, self.lrs, self.augment = policy, prior, lrs, augment
        self.x_lab, self.y_lab = labelled  # (M, C, H, W) in model space, (M,): the kept labels only
        self.lab_order = EpochSampler(len(self.y_lab), seed)  # the labelled batches' own epochs

    def noise(self, B: int, device: torch.device) -> Tensor:
        return self.prior.sample(B, self.gen, device)

    def fake_labels(self, n: int) -> None:
        return None  # G is unconditional

    def d_in(self, x: Tensor) -> Tensor:
        """What D sees of ``x``: the augmented image when ``augment.policy`` is set."""
        return self.augment(x, self.gen) if self.augment is not None else x

    # ------------------------------------------------------------------ the step

    def step(self, next_real: NextReal, batch_size: int, values: StepValues = StepValues(),
             stats: bool = False) -> dict[str, Tensor]:
        """One D update, then one G update. Returns detached 0-dim tensors: ``loss_d``,
        ``loss_g`` (feature matching), ``loss_sup``, ``loss_unsup``, ``d_real`` and ``d_fake``
        (mean real/fake logits lse), ``train_acc`` (D on the labelled batch)."""
        G, D, rt = self.G, self.D, self.rt
        for opt, lr in ((self.players.opt_d, self.lrs["d"]), (self.players.opt_g, self.lrs["g"])):
            set_lr(opt, lr, values.lr_factor)
        x_unl = next_real(batch_size)[0]  # (B, C, H, W); its labels (or -1) are not read
        device = x_unl.device
        idx = self.lab_order.next(min(batch_size, len(self.y_lab)))
        x_lab, y_lab = self.x_lab[idx].to(device), self.y_lab[idx].to(device)  # (M, C, H, W), (M,)
        ############################
        # (1) Update D: classify the labelled rows, tell unlabelled reals from fakes
        ############################
        with torch.no_grad():
            fake = G(self.noise(batch_size, device))
        logits_lab = D.classify(self.d_in(x_lab))  # (M, K)
        logits_unl, logits_fake = D.classify(self.d_in(x_unl)), D.classify(self.d_in(fake))  # (B, K) each
        loss_d, sup, unsup = ssl_d_loss(logits_lab, y_lab, logits_unl, logits_fake, self.policy.unsup_weight)
        self.descend(Player.D, loss_d, rt)
        self.d_updates += 1
        self.players.update_d_ema()  # train.d_ema_beta: the averaged classifier that evaluation and classify read
        ############################
        # (2) Update G: match the mean of D's last hidden features on reals
        ############################
        with torch.no_grad():
            h_real = D.heads(self.d_in(x_unl))[1]  # (B, F)
        with frozen(D):
            h_fake = D.heads(self.d_in(G(self.noise(batch_size, device))))[1]
            loss_g = feature_matching(h_real, h_fake)
        self.descend(Player.G, loss_g, rt)
        self.g_updates += 1
        self.players.update_ema()
        out = {"loss_d": loss_d, "loss_g": loss_g, "loss_sup": sup, "loss_unsup": unsup,
               "d_real": torch.logsumexp(logits_unl, 1).mean(), "d_fake": torch.logsumexp(logits_fake, 1).mean(),
               "train_acc": (logits_lab.argmax(1) == y_lab).float().mean()}
        return {k: v.detach() for k, v in out.items()}

    @torch.no_grad()
    def holdout_accuracy(self, data) -> float:
        """The classifier's accuracy on the data's held-out split (never trained on), in eval mode:
        D_ema's when the run keeps one (``train.d_ema_beta``), else D's."""
        images, labels = data.holdout
        D = self.players.d_ema.model if self.players.d_ema is not None else self.D
        was = D.training
        D.eval()
        x = data.encode(images.float() / 255).to(next(D.parameters()).device)
        pred = torch.cat([D.classify(b).argmax(1).cpu() for b in x.split(512)])
        D.train(was)
        return float((pred == labels).float().mean())

    # ------------------------------------------------------------------ building and checkpoints

    @classmethod
    def build(cls, cfg: Config, data, device: torch.device) -> "SemiSupervised":
        if cfg.model.conditional or cfg.model.d_ensemble > 1 or cfg.model.pac > 1:
            raise GanforgeError(f"model.name={cfg.model.name}: G is unconditional and D one K-class classifier; "
                                "leave model.conditional=false, model.d_ensemble=1 and model.pac=1")
        if cfg.loss.name != "non_saturating" or any(p.weight > 0 for p in cfg.reg.values()):
            raise GanforgeError(f"model.name={cfg.model.name} trains with its own losses (supervised + unsupervised "
                                "for D, feature matching for G); leave loss.name=non_saturating and reg.* off")
        if cfg.train.precision != "fp32":
            raise GanforgeError(f"train.precision={cfg.train.precision}: model.name={cfg.model.name} trains in fp32")
        x_lab, y_lab = data.labelled()
        if len(y_lab) == 0:
            raise GanforgeError(f"model.name={cfg.model.name}: the training set has no labelled images; "
                                "keep some with data.labels_per_class=K (or all: 0)")
        G, D = build_models(cfg, data.shape, data.n_classes)
        G, D = G.to(device), D.to(device)
        o = cfg.optim
        players = Players(G=G, D=D, opt_g=build_optimizer(G.parameters(), o, o.g_lr, tuple(o.g_betas)),
                          opt_d=build_optimizer(D.parameters(), o, o.d_lr, tuple(o.d_betas)))
        players.ema = EMA(G, cfg.train.ema_beta) if cfg.train.ema_beta > 0 else None
        players.d_ema = EMA(D, cfg.train.d_ema_beta) if cfg.train.d_ema_beta > 0 else None
        gen = torch.Generator(device=device).manual_seed(cfg.train.seed + 1)  # noise for the game
        return cls(players, SSLPolicy(data.n_classes), Prior(cfg.model.prior, cfg.model.z_dim), gen,
                   (x_lab, y_lab), cfg.train.seed + 2, {"g": o.g_lr, "d": o.d_lr},
                   build_augment(cfg, data.shape, device))

    def own_state(self) -> dict:
        state = {"labelled_order": self.lab_order.state_dict()}
        if self.augment is not None:
            state["augment"] = self.augment.state_dict()
        return {"semi_supervised": state}

    def load_own_state(self, state: dict) -> None:
        own = state["semi_supervised"]
        self.lab_order.load_state_dict(own["labelled_order"])
        if self.augment is not None:
            self.augment.load_state_dict(own["augment"])


GAMES.add("semi_supervised", SemiSupervised)
