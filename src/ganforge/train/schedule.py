"""Learning-rate schedules: a factor of the base rate, a pure function of the step.

Being derived from the step alone (and the config), the schedule needs no state in
checkpoints: a resumed run follows it exactly. A decay runs over the steps after
``optim.schedule_start`` for ``optim.schedule_steps`` steps (0: to ``train.steps``) and holds its
final rate after that. Extending a finished run (``--resume`` with a larger ``train.steps``)
sets those two keys as ``--extend`` asks (:func:`plan_extension`).
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


def lr_factor(kind: str, step: int, total: int, start: int = 0, length: int = 0) -> float:
    """Factor for the update that ends at ``step`` (1-based) of ``total``: constant 1, or a
    decay from 1 towards 0 (:data:`SCHEDULES`) over the ``length`` steps after ``start``
    (``length`` 0: up to ``total``), 1 before them and the final rate after them."""
    horizon = max(length or total - start, 1)
    k = min(max(step - 1 - start, 0), horizon - 1)  # 0 at the decay's first update
    return SCHEDULES.get(kind)(k / horizon)


EXTEND_MODES = ("restart", "continue", "rescale")


def plan_extension(kind: str, start: int, length: int, old_total: int, at: int, new_total: int,
                   mode: str) -> tuple[dict, str]:
    """How a run resumed at step ``at`` and extended from ``old_total`` to ``new_total`` steps
    continues a decaying schedule ``kind`` (decaying over ``length`` steps after ``start``):
    the new ``optim.schedule_start`` / ``optim.schedule_steps`` and one line that says what
    was and what will be.

    ``restart``: decay again from the base rate over steps at+1..new_total (a warm restart);
    ``continue``: keep the old decay, ending at step ``start + length`` (or ``old_total``), and
    hold its final rate after it; ``rescale``: stretch one decay from step ``start`` over the
    new length (the rate jumps back up)."""
    if mode not in EXTEND_MODES:
        raise ValueError(mode)
    new = {"restart": (at, 0), "continue": (start, length or old_total - start), "rescale": (start, 0)}[mode]
    def f(step, s, n, total):
        return lr_factor(kind, step, total, s, n)
    was = f"x{f(at, start, length, old_total):.3g} at step {at}"
    if at < old_total:
        was += f", decaying to x{f(old_total, start, length, old_total):.3g} at step {old_total}"
    will = f"x{f(at + 1, *new, new_total):.3g} at step {at + 1} -> x{f(new_total, *new, new_total):.3g} at step {new_total}"
    line = (f"train.steps {old_total} -> {new_total} with optim.schedule={kind}: the rates were {was}; "
            f"--extend {mode} makes them {will}")
    return {"schedule_start": new[0], "schedule_steps": new[1]}, line


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
