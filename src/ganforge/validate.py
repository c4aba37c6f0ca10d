"""Range and combination checks of a resolved config that its types cannot express.

Every problem is a one-line :class:`GanforgeError` naming the key and what is allowed. Registry
names and what each model can build are checked by ``ganforge.build`` instead (it knows the
registries and the models' specs). This module imports nothing of the config's: it reads the
frozen dataclasses by attribute, so ``config.py`` can call it without a cycle.
"""

from __future__ import annotations

import math
from dataclasses import fields, is_dataclass
from typing import Any

from .errors import GanforgeError

def _check(ok: bool, key: str, allowed: str, value: Any) -> None:
    if not ok:
        raise GanforgeError(f"config: {key}={value!r} is not allowed; {allowed}")


def _all_finite(obj: Any, prefix: str = "") -> None:
    """NaN or infinite numbers are never meaningful in a config."""
    if is_dataclass(obj):
        for f in fields(obj):
            _all_finite(getattr(obj, f.name), f"{prefix}{f.name}.")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _all_finite(v, f"{prefix}{k}.")
    elif isinstance(obj, (tuple, list)):
        for v in obj:
            _all_finite(v, prefix)
    elif isinstance(obj, float) and not math.isfinite(obj):
        raise GanforgeError(f"config: {prefix[:-1]}={obj} is not allowed; it must be a finite number")


def _has_penalty(cfg: Any) -> bool:
    """Whether D's loss holds a gradient penalty (a weighted regulariser or wgan_gp's own)."""
    return cfg.loss.name == "wgan_gp" and cfg.loss.gp_weight > 0 or any(p.weight > 0 for p in cfg.reg.values())


def validate(cfg: Any) -> None:
    """Range and combination checks that the type system cannot express."""
    _all_finite(cfg)
    m, o, t, e = cfg.model, cfg.optim, cfg.train, cfg.eval
    for key in ("z_dim", "g_width", "d_width"):
        _check(getattr(m, key) >= 1, f"model.{key}", "it must be >= 1", getattr(m, key))
    for key in ("g_depth", "d_depth"):
        _check(getattr(m, key) >= 0, f"model.{key}", "it must be >= 0", getattr(m, key))
    _check(cfg.data.limit >= 0, "data.limit", "it must be >= 0 (0 = all items)", cfg.data.limit)
    _check(cfg.data.labels_per_class >= 0, "data.labels_per_class", "it must be >= 0 (0 keeps every label; K keeps "
           "K labelled images per class for a semi-supervised run)", cfg.data.labels_per_class)
    _check(cfg.data.workers >= 0, "data.workers", "it must be >= 0 (0 reads batches in the training process; "
           "N > 0 starts N DataLoader worker processes for data.name=built)", cfg.data.workers)
    _check(0 <= cfg.data.target_share < 1, "data.target_share", "it must be in [0, 1) (0 = every discrete column "
           "alike)", cfg.data.target_share)
    _check(cfg.data.encoding in ("selfies", "graph"), "data.encoding", "molecules are encoded as selfies or graph",
           cfg.data.encoding)
    _check(cfg.data.max_atoms >= 0, "data.max_atoms", "it must be >= 0 (0 = the dataset's default)", cfg.data.max_atoms)
    _check(cfg.data.window >= 0, "data.window", "it must be >= 0 (0 = the dataset's default)", cfg.data.window)
    _check(4000 <= cfg.data.sample_rate <= 48000, "data.sample_rate", "it must be in [4000, 48000] Hz",
           cfg.data.sample_rate)
    _check(0.1 <= cfg.data.seconds <= 10, "data.seconds", "it must be in [0.1, 10] seconds", cfg.data.seconds)
    _check(cfg.data.stride >= 0, "data.stride", "it must be >= 0 (0 = the dataset's default)", cfg.data.stride)
    _check(cfg.data.channels in (0, 1, 3), "data.channels", "use 1, 3 or 0 (as stored)", cfg.data.channels)
    _check(cfg.data.resolution >= 1, "data.resolution", "it must be >= 1 (each model says which sizes it builds)",
           cfg.data.resolution)
    _check(m.scale in (2, 4), "model.scale", "super-resolution scales are 2 or 4", m.scale)
    for key in ("l1_weight", "adv_weight", "cycle_weight", "identity_weight", "pixel_weight", "content_weight",
                "sr_adv_weight", "pool_size", "pretrain_steps"):
        _check(getattr(cfg.i2i, key) >= 0, f"i2i.{key}", "it must be >= 0", getattr(cfg.i2i, key))
    _check(m.pac >= 1, "model.pac", "it must be >= 1 (1 = no packing)", m.pac)
    _check(t.batch_size % m.pac == 0, "train.batch_size", f"it must be a multiple of model.pac={m.pac}", t.batch_size)
    _validate_remedies(cfg)
    _check(cfg.loss.clip >= 0, "loss.clip", "it must be >= 0 (0 turns clipping off)", cfg.loss.clip)
    _check(cfg.loss.gp_weight >= 0, "loss.gp_weight", "it must be >= 0", cfg.loss.gp_weight)
    for key in ("g_lr", "d_lr"):
        _check(getattr(o, key) > 0, f"optim.{key}", "it must be > 0", getattr(o, key))
    for key in ("g_betas", "d_betas"):
        b = getattr(o, key)
        _check(all(0 <= x < 1 for x in b), f"optim.{key}", "both betas must be in [0, 1)", list(b))
    _check(0 <= o.momentum < 1, "optim.momentum", "it must be in [0, 1)", o.momentum)
    for key in ("steps", "batch_size", "d_steps", "log_every", "keep_ckpts"):
        _check(getattr(t, key) >= 1, f"train.{key}", "it must be >= 1", getattr(t, key))
    _check(0 <= o.schedule_start < t.steps, "optim.schedule_start", f"it must be in [0, train.steps={t.steps})",
           o.schedule_start)
    _check(o.schedule_steps >= 0, "optim.schedule_steps", "it must be >= 0 (0 = up to train.steps)", o.schedule_steps)
    for key in ("ckpt_every", "sample_every", "threads"):
        _check(getattr(t, key) >= 0, f"train.{key}", "it must be >= 0", getattr(t, key))
    _check(0 <= t.ema_beta < 1, "train.ema_beta", "it must be in [0, 1); 0 turns EMA off", t.ema_beta)
    _check(0 <= cfg.model.d_dropout < 1, "model.d_dropout", "it must be in [0, 1); 0 turns it off",
           cfg.model.d_dropout)
    _check(0 <= t.d_ema_beta < 1, "train.d_ema_beta", "it must be in [0, 1); 0 turns D's EMA off", t.d_ema_beta)
    dev = t.device
    _check(
        dev in ("cpu", "cuda", "auto", "mps") or dev.startswith("cuda:"),
        "train.device", "use cpu, cuda, cuda:N, mps or auto", dev,
    )
    _check(t.data_on_device.lower() in ("auto", "true", "false"), "train.data_on_device", "use auto, true or false",
           t.data_on_device)
    _check(t.dist_backend in ("auto", "nccl", "gloo"), "train.dist_backend", "use auto, nccl or gloo", t.dist_backend)
    _check(not (t.sync_bn and m.d_norm == "batch" and _has_penalty(cfg)), "train.sync_bn",
           "SyncBatchNorm has no double backward, so it cannot run under a gradient penalty with model.d_norm=batch; "
           "use model.d_norm=spectral or none", t.sync_bn)
    _check(e.n_samples >= 1, "eval.n_samples", "it must be >= 1", e.n_samples)
    _check(e.every >= 0, "eval.every", "it must be >= 0 (0 = only at the end)", e.every)
    dr = cfg.doctor
    _check(dr.probe_n >= 2, "doctor.probe_n", "it must be >= 2", dr.probe_n)
    for key in ("patience", "window"):
        _check(getattr(dr, key) >= 1, f"doctor.{key}", "it must be >= 1", getattr(dr, key))
    for key in ("warmup", "max_retries", "stop_after"):
        _check(getattr(dr, key) >= 0, f"doctor.{key}", "it must be >= 0", getattr(dr, key))
    _check(0 < dr.collapse_diversity < 1, "doctor.collapse_diversity", "it must be in (0, 1)", dr.collapse_diversity)
    _check(0 < dr.overfit_gap < 1, "doctor.overfit_gap", "it must be in (0, 1)", dr.overfit_gap)
    _check(0.5 < dr.overfit_auc < 1, "doctor.overfit_auc", "it must be in (0.5, 1)", dr.overfit_auc)
    _check(0 < dr.retry_lr_factor < 1, "doctor.retry_lr_factor", "it must be in (0, 1)", dr.retry_lr_factor)
    for name, p in cfg.reg.items():
        _check(p.weight >= 0, f"reg.{name}.weight", "it must be >= 0", p.weight)
        _check(p.interval >= 1, f"reg.{name}.interval", "it must be >= 1", p.interval)
    _validate_stabilisers(cfg)


def _validate_stabilisers(cfg: Any) -> None:
    """The augment section. (Registry names, the augment operations among them, and lazy
    intervals, which need to know whose penalty each is, are checked by ``build``.)"""
    a = cfg.augment
    ops = [s.strip() for s in a.policy.split(",") if s.strip()]
    _check(len(set(ops)) == len(ops), "augment.policy", "name each operation once", a.policy)
    _check(a.p is None or 0 <= a.p <= 1, "augment.p", "it must be in [0, 1]", a.p)
    _check(0 <= a.ada_target < 1, "augment.ada_target", "it must be in [0, 1); 0 keeps p fixed, ADA uses 0.6",
           a.ada_target)
    _check(a.ada_interval >= 1, "augment.ada_interval", "it must be >= 1", a.ada_interval)
    _check(a.ada_kimg > 0, "augment.ada_kimg", "it must be > 0", a.ada_kimg)
    _check(bool(ops) or a.ada_target == 0, "augment.ada_target",
           "ADA needs augmentations to adapt: set augment.policy too, e.g. augment.policy=translation,color",
           a.ada_target)


def _validate_remedies(cfg: Any) -> None:
    """The stabilisation remedies: minibatch std, ensembles, label smoothing, instance noise, unrolling."""
    m, t = cfg.model, cfg.train
    _check(m.mbstd == 0 or m.mbstd >= 2, "model.mbstd", "use 0 (off) or a group size >= 2", m.mbstd)
    if m.mbstd:  # D sees n // pac samples and splits them into groups of min(mbstd, n // pac)
        sizes = [("train.batch_size", t.batch_size)] + ([("doctor.probe_n", cfg.doctor.probe_n)] if cfg.doctor.enabled else [])
        for key, n in sizes:
            per_d = n // m.pac
            g = min(m.mbstd, per_d)
            _check(per_d % g == 0, key, f"{key} / model.pac = {per_d} samples reach D, which must be a multiple of "
                   f"the minibatch-std group min(model.mbstd, {per_d}) = {g}", n)
    _check(m.w_dim >= 0, "model.w_dim", "it must be >= 0 (0 = model.z_dim)", m.w_dim)
    _check(m.mapping_depth >= 0, "model.mapping_depth", "it must be >= 0", m.mapping_depth)
    _check(0 <= m.mixing_prob <= 1, "model.mixing_prob", "it must be in [0, 1]", m.mixing_prob)
    _check(m.d_ensemble >= 1, "model.d_ensemble", "it must be >= 1 (1 = a single D)", m.d_ensemble)
    s = cfg.loss.label_smoothing
    _check(0 <= s < 0.5, "loss.label_smoothing", "it must be in [0, 0.5): the real target 1 - s stays above 1/2", s)
    _check(s == 0 or cfg.loss.name in ("minimax", "non_saturating"), "loss.label_smoothing",
           f"it smooths the real target of the cross-entropy losses (minimax, non_saturating); "
           f"loss.name={cfg.loss.name} has no target to smooth, so use 0", s)
    _check(t.keep_samples >= 0 and t.keep_samples != 1, "train.keep_samples",
           "it must be 0 (keep all) or >= 2 (the first plot and the newest ones)", t.keep_samples)
    _check(t.instance_noise >= 0, "train.instance_noise", "it must be >= 0 (0 turns instance noise off)", t.instance_noise)
    _check(t.instance_noise_steps >= 0, "train.instance_noise_steps",
           "it must be >= 0 (0 anneals over train.steps)", t.instance_noise_steps)
    _check(t.unroll_steps >= 0, "train.unroll_steps", "it must be >= 0 (0 turns unrolling off)", t.unroll_steps)
