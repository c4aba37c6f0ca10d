"""Learning-rate schedules: a factor of the base rate, a pure function of the step.

Being derived from the step alone, the schedule needs no state in checkpoints: a resumed run
follows it exactly (as long as ``train.steps``, its length, is unchanged).
"""

from __future__ import annotations

import math

from ..registry import Registry

SCHEDULES: Registry = Registry("optim.schedule")  # name -> factor(t), t in [0, 1) the fraction of the run done


@SCHEDULES.register
def constant(t: float) -> float:
    return 1.0


@SCHEDULES.register
def linear(t: float) -> float:
    return 1.0 - t


@SCHEDULES.register
def cosine(t: float) -> float:
    """Half-cosine decay (Loshchilov and Hutter 2017)."""
    return 0.5 * (1.0 + math.cos(math.pi * t))


def lr_factor(kind: str, step: int, total: int) -> float:
    """Factor for the update that ends at ``step`` (1-based) of ``total``: constant 1, or a
    decay from 1 towards 0 (:data:`SCHEDULES`)."""
    t = (step - 1) / max(total, 1)  # 0 at the first update
    return SCHEDULES.get(kind)(t)


def set_lr(optimizer, base_lr: float, factor: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = base_lr * factor


def instance_noise_std(sigma0: float, step: int, anneal_steps: int) -> float:
    """The std of the instance noise for the update that ends at ``step`` (1-based): ``sigma0``
    at the first update, decayed linearly to 0 after ``anneal_steps`` updates, 0 from then on
    (Sønderby et al. 2016; Arjovsky and Bottou 2017). A pure function of the step, like the
    learning rate, so a resumed run adds exactly the same noise."""
    if sigma0 <= 0:
        return 0.0
    return sigma0 * max(0.0, 1.0 - (step - 1) / max(anneal_steps, 1))
