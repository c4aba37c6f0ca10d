"""What a resumed run continues with: its newest complete checkpoint, the config checked
against ``config.yaml``, and a decaying schedule extended as ``--extend`` says. Everything is
checked before anything is written (the API's ``train`` and ``resolve_config`` call this)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Optional, Sequence

import yaml

from .config import Config, load_config, to_dict
from .errors import GanforgeError, GanforgeWarning
from .rundir import check_free
from .train.checkpoint import load_checkpoint
from .train.schedule import EXTEND_MODES, plan_extension


def resume_config(run_dir: Path | str, overrides: Sequence[str] = (), extend: Optional[str] = None
                  ) -> tuple[Config, int]:
    """The config to continue ``run_dir`` with, and the step of the checkpoint it continues from,
    checked before anything is written: the newest complete checkpoint (a damaged newer one is
    passed over with a warning; one holding pickled code is refused), its stored config with
    ``overrides`` on top.

    ``config.yaml`` must agree with that checkpoint's config, except on keys that ``overrides``
    set: an edited file is refused with what differs; a missing one is noted and the
    checkpoint's config used. A decaying learning-rate schedule whose ``train.steps`` changes
    continues as ``extend`` says (``restart``, the default; ``continue``; ``rescale``: see
    :func:`ganforge.train.schedule.plan_extension`), with a warning that shows the old and
    the new rates."""
    run_dir = Path(run_dir)
    check_free(run_dir)  # another process training here: refused before anything is said
    ckpt = load_checkpoint(run_dir)
    step, name = int(ckpt["step"]), f"ckpt-{int(ckpt['step']):07d}.pt"
    stored = load_config(base=ckpt["config"])
    cfg = load_config(base=ckpt["config"], overrides=overrides)
    path = run_dir / "config.yaml"
    if not path.exists():
        warnings.warn(f"{path}: missing; using the config stored in {name}", GanforgeWarning)
    else:
        try:
            on_disk = load_config(base=yaml.safe_load(path.read_text()) or {})
        except (yaml.YAMLError, GanforgeError) as e:
            raise GanforgeError(f"{path}: unreadable ({str(e).splitlines()[0][:160]}); delete it to resume with "
                                f"the config stored in {name}") from None
        given = {item.split("=", 1)[0].strip() for item in overrides}
        differs = [(k, a, b) for k, a, b in config_diff(on_disk, stored) if k not in given]
        if differs:
            shown = ", ".join(f"{k}={a!r} ({name}: {b!r})" for k, a, b in differs[:4])
            more = f" and {len(differs) - 4} more" if len(differs) > 4 else ""
            raise GanforgeError(f"{path} differs from the config in {name}: {shown}{more}; pass changes as "
                                f"key=value overrides to --resume (or delete config.yaml to use the checkpoint's)")
    if step >= cfg.train.steps:
        raise GanforgeError(f"{run_dir} is already at step {step}; set train.steps above it to continue")
    cfg = _extend_instance_noise(stored, cfg, overrides)
    return _extend_schedule(stored, cfg, step, extend, overrides), step


def _flat(d: Any, prefix: str = "") -> dict:
    if not isinstance(d, dict):
        return {prefix[:-1]: d}
    return {k: v for key, sub in d.items() for k, v in _flat(sub, f"{prefix}{key}.").items()}


def config_diff(a: Config, b: Config) -> list[tuple[str, Any, Any]]:
    """``(key, value in a, value in b)`` for every dotted key where the two configs differ."""
    fa, fb = _flat(to_dict(a)), _flat(to_dict(b))
    return [(k, fa.get(k), fb.get(k)) for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]


def _extend_instance_noise(stored: Config, cfg: Config, overrides: Sequence[str]) -> Config:
    """Instance noise annealed over ``train.steps`` (``instance_noise_steps=0``) keeps the horizon
    the run had: extending a run that ended noiseless must not bring the noise back."""
    t, old_total = cfg.train, stored.train.steps
    explicit = any(item.startswith("train.instance_noise_steps=") for item in overrides)
    if t.instance_noise <= 0 or t.instance_noise_steps or t.steps == old_total or explicit:
        return cfg
    warnings.warn(f"train.steps {old_total} -> {t.steps} with train.instance_noise={t.instance_noise:g}: the noise "
                  f"keeps annealing to 0 over the first {old_total} steps, as the run had it "
                  f"(train.instance_noise_steps={old_total}; set it to change this)", GanforgeWarning)
    return load_config(base={**to_dict(cfg), "train": {**to_dict(cfg)["train"], "instance_noise_steps": old_total}})


def _extend_schedule(stored: Config, cfg: Config, step: int, extend: Optional[str], overrides: Sequence[str]) -> Config:
    o, old_total = stored.optim, stored.train.steps
    explicit = any(item.startswith(("optim.schedule_start=", "optim.schedule_steps=")) for item in overrides)
    if extend is not None and extend not in EXTEND_MODES:
        raise GanforgeError(f"--extend {extend}: choose one of {', '.join(EXTEND_MODES)}")
    if cfg.optim.schedule == "constant" or cfg.train.steps == old_total or explicit:
        return cfg
    new, line = plan_extension(cfg.optim.schedule, o.schedule_start, o.schedule_steps, old_total, step,
                               cfg.train.steps, extend or "restart")
    warnings.warn(line + ("" if extend else f" (the default; see --extend {'|'.join(EXTEND_MODES)})"), GanforgeWarning)
    return load_config(base={**to_dict(cfg), "optim": {**to_dict(cfg)["optim"], **new}})
