"""``ganforge doctor RUN``: the diagnosis of a finished or running run, from its files.

It replays the detectors over ``metrics.jsonl`` (they are pure functions of the records, so
the replay finds what the live run found, and runs trained with the doctor off get a
diagnosis too), keeps the loop's own events (divergence, rollback, stop), and divides the
run into the phases of :mod:`.phases` (both players weak; D pulls ahead; G catches up; D can
no longer tell), with two that override them:

- ``collapsed``: a mode-collapse alarm is raised;
- ``diverged``: the run ended in NaN or Inf.

The equilibrium detector's info event says when ``d_cannot_tell`` is also the optimum
(V(D, G) near -log 4 and quality flat).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml

from ..config import Config, load_config
from ..errors import GanforgeError, GanforgeWarning
from ..runlog import (DIVERGENCE, LOOP_EVENTS, STOPPED, Kind, keep_branch, read_records, record_kind,
                      rollback_to)
from .live import Doctor
from .phases import DESCRIPTIONS, PhaseTracker


@dataclass
class Diagnosis:
    run: str
    cfg: Config
    last_step: int
    phases: list = field(default_factory=list)  # (name, first_step, last_step)
    events: list = field(default_factory=list)  # event records, in order
    final: dict = field(default_factory=dict)  # the latest evaluation record
    open_at_end: list = field(default_factory=list)  # alarms still raised at the last record
    causes: list = field(default_factory=list)  # settings far outside what works (settings.review_settings)

    @property
    def problems(self) -> list:
        return [e for e in self.events if e.get("severity") in ("warning", "error") and e.get("state") != "cleared"]

    @property
    def verdict(self) -> str:
        """One line: healthy, or the problems seen and which are still open at the end."""
        seen = sorted({e["event"] for e in self.problems})
        verdict = "healthy: no alarm raised" if not seen else f"problems seen: {', '.join(seen)}"
        if self.open_at_end:
            verdict += f"; still open at the end: {', '.join(self.open_at_end)}"
        elif seen:
            verdict += "; none open at the end"
        return verdict


def _merge_phases(labels: list) -> list:
    """[(name, step)] -> [(name, first_step, last_step)] over runs of equal names."""
    phases = []
    for name, step in labels:
        if phases and phases[-1][0] == name:
            phases[-1] = (name, phases[-1][1], step)
        else:
            phases.append((name, step, step))
    return phases


def run_config(run_dir: Path) -> Config:
    """The run's config: its ``config.yaml``, or, when that file is gone, the config stored in
    its newest checkpoint (a warning says so)."""
    cfg_path = run_dir / "config.yaml"
    if cfg_path.is_file():
        return load_config(base=yaml.safe_load(cfg_path.read_text()))
    from ..train.checkpoint import list_checkpoints, load_checkpoint  # torch, only for this fallback

    if not list_checkpoints(run_dir):
        raise GanforgeError(f"{run_dir}: no config.yaml and no checkpoint; is this a ganforge run directory?")
    ckpt = load_checkpoint(run_dir)
    warnings.warn(f"{run_dir}: no config.yaml; using the config stored in its checkpoint of step {ckpt['step']}",
                  GanforgeWarning)
    return load_config(base=ckpt["config"])


def diagnose(run_dir: Path) -> Diagnosis:
    run_dir = Path(run_dir)
    cfg = run_config(run_dir)
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        raise GanforgeError(f"{run_dir}: no metrics.jsonl; is this a ganforge run directory?")
    records, _ = read_records(path, warn=True)  # a torn last line (a run still writing) is skipped, and said

    doctor, events, labels = Doctor(cfg), [], []  # labels: (phase, step) of the kept timeline
    tracker, seen = PhaseTracker(), []  # seen: the step records of the kept timeline, for a rollback's replay
    for rec in records:
        kind = record_kind(rec)
        if kind is Kind.EVENT:
            if rec["event"] in LOOP_EVENTS:  # the detectors' own events are found again below
                events.append(rec)
                to_step = rollback_to(rec)
                if to_step is not None:
                    labels = keep_branch(labels, to_step, step=lambda lab: lab[1])
                    seen = [r for r in seen if r["step"] <= to_step]
                    tracker = PhaseTracker()
                    for r in seen:
                        tracker.label(r)
                    doctor.observe(rec)
            continue
        new = doctor.observe(rec)
        events += new
        if kind is Kind.STEP:
            seen.append(rec)
            phase = tracker.label(rec)
            labels.append(("collapsed" if doctor.active["mode_collapse"] else phase, rec["step"]))
    stopped = any(e["event"] == STOPPED for e in events) or (
        events and events[-1]["event"] == DIVERGENCE)
    if stopped:
        step = next(e["step"] for e in reversed(events) if e["event"] in (DIVERGENCE, STOPPED))
        labels.append(("diverged", step))
    last = max((r["step"] for r in records if "step" in r), default=0)
    still = [k for k, on in doctor.active.items() if on and k != "equilibrium"] + (["divergence"] if stopped else [])
    return Diagnosis(run_dir.name, cfg, last, _merge_phases(labels), events,
                     doctor.history.evals[-1] if doctor.history.evals else {}, still,
                     [f.line() for f in doctor.findings])


def _final_line(m: dict) -> Optional[str]:
    if "hq" in m:
        return f"modes {m['modes']}/{m['n_modes']}  hq {100 * m['hq']:.1f} %  rev_kl {m['rev_kl']:.4f}"
    parts = [f"{k} {m[k]:.4g}" for k in ("fid", "kid", "classes", "class_kl", "modes", "mode_kl", "coverage", "energy")
             if isinstance(m.get(k), (int, float)) and math.isfinite(m[k])]
    return "  ".join(parts) or None


def format_diagnosis(d: Diagnosis) -> str:
    """The diagnosis as terminal text: phases with step ranges, events with evidence and remedies."""
    c = d.cfg
    lines = [f"run {d.run}: {c.data.name}, {c.model.name}, loss {c.loss.name}, "
             f"step {d.last_step} of {c.train.steps}", "", "phases"]
    for name, a, b in d.phases:
        lines.append(f"  {name:<14} steps {a}-{b}  ({DESCRIPTIONS.get(name, '')})")
    if not d.phases:
        lines.append("  (no training records yet)")
    if d.causes:
        lines += ["", "likely causes (settings far outside what works)"] + [f"  {c}" for c in d.causes]
    lines += ["", "events"]
    for e in d.events:
        state = "" if e.get("state", "raised") == "raised" else f" ({e['state']})"
        lines.append(f"  step {e['step']:>7}  {e.get('severity', ''):<7}  {e['event']}{state}: {e.get('message', '')}")
        if e.get("evidence"):
            lines.append("                 evidence: " + ", ".join(f"{k}={v}" for k, v in e["evidence"].items()))
        if e.get("remedy"):
            lines.append("                 try: " + "  ".join(e["remedy"]))
    if not d.events:
        lines.append("  none")
    final = _final_line(d.final)
    if final:
        lines += ["", f"latest evaluation (step {d.final.get('step')}): {final}"]
    lines += ["", f"verdict: {d.verdict}"]
    return "\n".join(lines)
