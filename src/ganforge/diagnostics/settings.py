"""Settings far outside what works: named as the likely cause before the symptoms' remedies.

The detectors see symptoms (mode collapse, oscillation, vanishing gradients); a run whose
learning rate is a thousand times the preset's shows all of them, and "halve the learning
rate" is then bad advice. :func:`review_settings` compares a config with what the shipped
presets and the ablation (``benchmarks/results/ablation.md``) say works, and returns each
setting it would change first, with the value it proposes (taken from the matching preset).
The doctor puts these first in every alarm's remedies, ``ganforge doctor`` lists them, and a
run prints them as warnings when it starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ..config import Config, load_config, preset_names

LR_FACTOR = 10.0  # an Adam rate this many times the preset's is named as a likely cause
SGD_LR_MAX = 1.0  # SGD at this rate or more diverges on these networks (benchmarks/results/doctor.md)
BETA1_MAX = 0.9  # Adam's beta1 at or above this: Radford et al. 2016 found 0.9 oscillated, 0.5 did not
MIN_BATCH = 8  # smaller batches: too noisy for batch statistics and for D's judgement
MAX_D_STEPS = 5  # WGAN's critic takes 5; more D steps with a cross-entropy loss starve G
CRITIC_LOSSES = ("wasserstein", "wgan_gp")


@dataclass(frozen=True)
class Finding:
    """One setting that is likely to be the cause, and what to set instead."""

    key: str
    message: str
    suggest: str  # "key=value" to try first

    def line(self) -> str:
        return f"{self.message}; try {self.suggest}"


@lru_cache(maxsize=None)
def _preset(name: str) -> Config:
    return load_config(name)


def reference(cfg: Config) -> tuple[str, Config]:
    """The shipped preset to compare with: the one named as the model and dataset
    (stylegan2_digits), else as the dataset (grid25, digits, ...), else the default image or
    point preset."""
    own = f"{cfg.model.name}_{cfg.data.name}"  # e.g. stylegan2_digits: its rates differ from DCGAN's
    if own in preset_names():
        return own, _preset(own)
    if cfg.data.name in preset_names():
        return cfg.data.name, _preset(cfg.data.name)
    name = "grid25" if cfg.model.name == "mlp" else "digits"
    return name, _preset(name)


def review_settings(cfg: Config) -> list[Finding]:
    """The settings of ``cfg`` that are far outside what works, most likely cause first."""
    name, ref = reference(cfg)
    o, out = cfg.optim, []
    for player in ("g", "d"):
        lr, ref_lr = getattr(o, f"{player}_lr"), getattr(ref.optim, f"{player}_lr")
        key = f"optim.{player}_lr"
        if o.name == "adam" and lr >= LR_FACTOR * ref_lr:
            out.append(Finding(key, f"{key}={lr:g} is {lr / ref_lr:.0f}x the {name} preset's {ref_lr:g}",
                               f"{key}={ref_lr:g}"))
        elif o.name == "sgd" and lr >= SGD_LR_MAX:
            out.append(Finding(key, f"{key}={lr:g} with SGD: a rate of {SGD_LR_MAX:g} or more diverges here",
                               f"{key}={ref_lr:g}"))
        beta1, ref_beta1 = getattr(o, f"{player}_betas")[0], getattr(ref.optim, f"{player}_betas")[0]
        key = f"optim.{player}_betas"
        if o.name == "adam" and beta1 >= BETA1_MAX > ref_beta1:
            out.append(Finding(key, f"{key}[0]={beta1:g}: momentum carried across the players' turns makes them "
                                    f"oscillate (Radford et al. 2016 use 0.5)",
                               f"{key}=[{ref_beta1:g},{getattr(ref.optim, f'{player}_betas')[1]:g}]"))
    t = cfg.train
    if t.batch_size < MIN_BATCH:
        out.append(Finding("train.batch_size", f"train.batch_size={t.batch_size} is too small for D to judge a batch "
                                               f"(the {name} preset uses {ref.train.batch_size})",
                           f"train.batch_size={ref.train.batch_size}"))
    if t.d_steps > MAX_D_STEPS and cfg.loss.name not in CRITIC_LOSSES:
        out.append(Finding("train.d_steps", f"train.d_steps={t.d_steps} with loss.name={cfg.loss.name}: D trained "
                                            "that much more than G wins and starves G's gradient",
                           f"train.d_steps={ref.train.d_steps}"))
    if cfg.model.name == "mlp" and cfg.model.d_norm in ("spectral", "layer", "batch"):
        # ablation.md / ablation_batchnorm.md: 0.7, 3.3 and 4.0 of grid25's 25 modes against 18.3 without
        out.append(Finding("model.d_norm", f"model.d_norm={cfg.model.d_norm} on the MLP discriminator covered few "
                                           "modes of grid25 in the ablation", "model.d_norm=none"))
    if unconstrained_critic(cfg):
        out.append(Finding("loss.clip", "loss.name=wasserstein with loss.clip=0 and no gradient penalty: the critic "
                                        "is unconstrained and its scores can grow without bound",
                           "loss.name=wgan_gp"))
    return out


def unconstrained_critic(cfg: Config) -> bool:
    """The Wasserstein critic needs a Lipschitz constraint: clipping, a gradient penalty, or SN."""
    penalised = any(p.weight > 0 for n, p in cfg.reg.items() if n in ("gradient_penalty", "r1", "r2", "dragan"))
    return cfg.loss.name == "wasserstein" and cfg.loss.clip == 0 and not penalised and cfg.model.d_norm != "spectral"
