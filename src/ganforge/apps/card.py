"""The model card of a run (``ganforge card RUN``), in the layout model hubs use: YAML front
matter (library, tags, datasets, a ``model-index`` with the final metrics), then sections.

It says what the data were (name, size, a hash of the training images), what the model is,
what training cost and on what, the final metrics *with the feature space they were measured
in*, the doctor's verdict and events, intended use and limits, and that every output is
synthetic (how it is marked, and whether a watermark exists).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, Optional

import yaml

from .._version import __version__
from ..config import Config
from ..data.base import DataSource, ImageSet, KnownModes
from ..io import write_text_atomic
from ..trained import TrainedRun

# the metrics that go into the front matter's model-index, with their names there
_INDEX_METRICS = {"fid": "FID", "kid": "KID", "precision": "precision", "recall": "recall", "coverage": "coverage",
                  "classes": "classes covered", "modes": "modes covered", "hq": "high-quality fraction",
                  "rev_kl": "reverse KL over modes", "energy": "energy distance"}


def data_facts(data: DataSource, cfg: Config) -> dict:
    """Name, path, size and a SHA-256 of the training images (or the density, for 2D data)."""
    facts: dict[str, Any] = {"name": cfg.data.name, "path": cfg.data.path, "sample_shape": list(data.shape),
                             "classes": data.n_classes}
    if isinstance(data, ImageSet):
        h = hashlib.sha256(data.images.contiguous().numpy().tobytes())
        if data.labels is not None:
            h.update(data.labels.contiguous().numpy().tobytes())
        facts.update(train_items=len(data.images), sha256=h.hexdigest(),
                     holdout_items=len(data.holdout[0]) if data.holdout is not None else 0)
    elif isinstance(data, KnownModes):
        facts.update(train_items="endless: drawn from a known mixture", modes=len(data.centers), std=data.std)
    elif getattr(data, "built", None) is not None:  # a built dataset (data.name=built): its manifest's facts
        b = data.built
        facts.update(train_items=b.count, sha256=b.images_sha256, built_from=b.manifest.get("source", {}).get("path"))
    else:
        facts.update(train_items="drawn by the data source")
    if cfg.data.limit:
        facts["limit"] = cfg.data.limit
    return facts


def _read_json(path: Path) -> dict:
    try:
        out = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return out if isinstance(out, dict) else {}


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    return str(v)


def _front_matter(run: str, cfg: Config, g: TrainedRun, metrics: dict) -> dict:
    kind = g.data.kind  # the model hub's task names are the data kind's
    task = kind.card_task(bool(g.n_classes))
    space = metrics.get("provenance", {}).get("fid_feature_space", metrics.get("provenance", {}).get("feature_space"))
    results = [{"type": k, "name": f"{name}" + (f" ({space})" if space and k in ("fid", "kid") else ""),
                "value": metrics[k]}
               for k, name in _INDEX_METRICS.items()
               if isinstance(metrics.get(k), (int, float)) and math.isfinite(metrics[k])]
    fm: dict[str, Any] = {
        "library_name": "ganforge",
        "tags": ["gan", "generative-adversarial-network", "ganforge", cfg.model.name, "synthetic-data"],
        "datasets": [cfg.data.name],
        "pipeline_tag": kind.pipeline_tag(bool(g.n_classes)),
    }
    fm = {k: v for k, v in fm.items() if v is not None}
    if results:
        fm["model-index"] = [{"name": run, "results": [{"task": {"type": task},
                                                        "dataset": {"name": cfg.data.name, "type": cfg.data.name},
                                                        "metrics": results}]}]
    return fm


def _table(rows: list[tuple]) -> list[str]:
    out = ["| | |", "|---|---|"]
    return out + [f"| {a} | {_fmt(b).replace('|', '/')} |" for a, b in rows]


def card_text(run_dir: Path, g: TrainedRun, diagnosis: Any) -> str:
    """The card as Markdown with YAML front matter. ``diagnosis``: the doctor's ``Diagnosis``."""
    run_dir = Path(run_dir)
    run = run_dir.resolve().name
    cfg = g.cfg
    ev = _read_json(run_dir / "eval.json")
    hardware = ev.pop("hardware", {}) if isinstance(ev.get("hardware"), dict) else {}
    wall_s = ev.pop("wall_s", None)
    metrics = ev or (diagnosis.final if diagnosis is not None else {})
    n_params = sum(p.numel() for p in g.G.parameters())
    data = data_facts(g.data, cfg)
    m, t, o = cfg.model, cfg.train, cfg.optim

    lines = ["---", yaml.safe_dump(_front_matter(run, cfg, g, metrics), sort_keys=False).rstrip(), "---", "",
             f"# Model card: {run}", "",
             f"A generative adversarial network trained with ganforge {__version__}. **Everything it generates is "
             "synthetic**: its outputs are not observations of anything real.", "",
             "## Model", ""]
    lines += _table([("architecture", m.name), ("generator parameters", f"{n_params:,}"),
                     ("latent", f"{m.z_dim}-d {m.prior} prior"),
                     ("conditional", f"yes, {g.n_classes} classes" if g.n_classes else "no"),
                     ("output", g.data.kind.describe(tuple(g.data.shape))),
                     ("weights", "EMA of G (train.ema_beta=" + str(t.ema_beta) + ")" if g.ema else "G"),
                     ("checkpoint step", g.step)])
    lines += ["", "## Training data", ""]
    lines += _table([(k.replace("_", " "), v) for k, v in data.items() if v is not None])
    lines += ["", "## Training", ""]
    hw = ", ".join(f"{k} {v}" for k, v in hardware.items()) or f"not recorded (train.device={t.device})"
    lines += _table([("steps", f"{g.step} of {t.steps} (batch {t.batch_size}, {t.d_steps} D step(s) per G step)"),
                     ("loss", cfg.loss.name), ("optimizer", f"{o.name}, lr G {o.g_lr} / D {o.d_lr}, {o.schedule}"),
                     ("penalties", ", ".join(f"{k} {p.weight}" for k, p in cfg.reg.items() if p.weight) or "none"),
                     ("seed", t.seed), ("wall time", f"{wall_s:.1f} s" if isinstance(wall_s, (int, float)) else
                                        "not recorded (the run has not finished)"),
                     ("hardware", hw)])
    lines += ["", "The full resolved configuration is `config.yaml` in the run directory.", "",
              "## Evaluation", ""]
    shown = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and k not in ("step",)}
    if shown:
        lines += _table(list(shown.items()))
        prov = metrics.get("provenance") or {}
        lines += ["", "Provenance: " + ("; ".join(f"{k}: {v}" for k, v in prov.items()) if prov else
                                        "exact mode metrics of the known density (PacGAN protocol)") + "."]
        if "fid" in shown and "Inception" not in str(prov.get("fid_feature_space", prov.get("feature_space"))):
            lines += ["", "FID/KID here are measured in a small classifier's feature space, **not** Inception's: "
                      "do not compare them with published Inception FIDs."]
    else:
        lines += ["No final evaluation recorded; run `ganforge evaluate RUN`."]
    lines += ["", "## Training diagnosis (ganforge doctor)", ""]
    if diagnosis is None:
        lines += ["Not available (the run has no readable metrics.jsonl)."]
    else:
        lines += [f"Verdict: **{diagnosis.verdict}**.", ""]
        lines += ["Phases: " + ", ".join(f"{n} (steps {a}-{b})" for n, a, b in diagnosis.phases) + "."
                  if diagnosis.phases else "Phases: none recorded."]
        if diagnosis.events:
            lines += ["", "| step | event | severity | state | message |", "|---|---|---|---|---|"]
            lines += [f"| {e.get('step')} | {e.get('event')} | {e.get('severity', '')} | {e.get('state', '')} | "
                      f"{str(e.get('message', '')).replace('|', '/')} |" for e in diagnosis.events]
    lines += ["", "## Intended use", "",
              f"Research, teaching and experiments on generative models, on data like `{cfg.data.name}`; a "
              "baseline to compare other generators with; synthetic examples for testing pipelines.", "",
              "## Limits", "",
              f"- It learned only what `{cfg.data.name}` shows "
              f"({data.get('train_items')} training items); it knows nothing outside that distribution.",
              "- GANs can drop modes of the data (mode collapse) and can reproduce training items; check "
              "coverage and the doctor's events above before relying on the samples.",
              "- Its metrics are estimates from finite samples in a stated feature space; they are not comparable "
              "across feature spaces.", "",
              "## Responsible use", "",
              "Every output is synthetic and must not be presented as a real observation. Images that ganforge "
              "writes carry PNG text metadata saying they are synthetic, with the run and step that made them, and "
              "exported generators carry the same provenance in their metadata. This model embeds **no invisible "
              "watermark** in its outputs (ganforge has none yet): once that metadata is stripped, nothing marks "
              "an output as generated, so label it wherever you publish it.", ""]
    return "\n".join(lines)


def write_card(run_dir: Path, g: TrainedRun, diagnosis: Any, out: Optional[Path] = None) -> Path:
    """Write the card to ``out`` (default ``RUN/MODEL_CARD.md``) atomically; its path."""
    out = Path(out) if out is not None else Path(run_dir) / "MODEL_CARD.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, card_text(run_dir, g, diagnosis))
    return out


__all__ = ["card_text", "data_facts", "write_card"]
