"""The live doctor: feeds the loop's records to every detector (:mod:`.detectors`) and turns
conditions that last ``doctor.patience`` log steps into events, raised once and cleared once."""

from __future__ import annotations

from typing import Optional

from ..config import Config
from ..runlog import Event, History, Kind, record_kind, rollback_to
from .detectors import DETECTORS, Detector
from .settings import Finding, review_settings

# Step records the live doctor holds (plus its window and warm-up): every detector reads at
# most the last ``doctor.window`` records, so a long run's memory stays flat. A rollback
# replays what is held; beyond this many log steps back, older peaks are forgotten.
HISTORY_KEEP = 1000


class Doctor:
    """Feeds records to every detector and turns lasting conditions into events.

    ``observe(record)`` returns the event records to log. A ``rollback`` event (from the
    loop's divergence recovery) makes the doctor forget the abandoned records and replay the
    rest silently, so its state matches the restored run.
    """

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.findings: list[Finding] = review_settings(cfg)  # settings named first as the likely cause
        self.reset()

    def reset(self) -> None:
        self.stop: Optional[str] = None  # why the run should stop (doctor.stop_after), once decided
        self.collapsed_at: Optional[int] = None  # log steps seen when mode collapse was raised
        self.detectors = [cls(self.cfg) for cls in DETECTORS]  # fresh state: a rollback replays
        self.history = History(keep=HISTORY_KEEP + self.cfg.doctor.window + self.cfg.doctor.warmup)
        self.active = {d.kind: False for d in self.detectors}
        self.streak = {d.kind: 0 for d in self.detectors}  # consecutive checks against the state

    def observe(self, record: dict) -> list[dict]:
        if record_kind(record) is Kind.EVENT:
            to_step = rollback_to(record)
            if to_step is not None:
                self.rollback(to_step)
            return []  # events are not the detectors' input; the history keeps none
        if self.history.add(record) is Kind.EVALUATION:
            return []
        return [e.record() for e in self._check(record["step"])]

    def _check(self, step: int) -> list[Event]:
        events = []
        for d in self.detectors:
            found = d.check(self.history)
            # count consecutive checks that disagree with the current state
            self.streak[d.kind] = self.streak[d.kind] + 1 if (found is not None) != self.active[d.kind] else 0
            if self.streak[d.kind] < self.cfg.doctor.patience:
                continue
            self.streak[d.kind] = 0
            self.active[d.kind] = found is not None
            if found is not None:
                events.append(self._raise(step, d, *found))
            else:
                events.append(Event(step, d.kind, "cleared", "info", f"{d.kind.replace('_', ' ')} no longer seen", {}, []))
            if d.kind == "mode_collapse":
                self.collapsed_at = self.history.n_train if found is not None else None
        return events + self._stop_if_collapsed(step)

    def _raise(self, step: int, d: Detector, message: str, evidence: dict) -> Event:
        """An alarm; for a problem, settings far outside what works come first as its likely cause."""
        remedy = d.remedy()
        if d.severity != "info" and self.findings:
            causes = [f.key for f in self.findings]
            message += f" (likely cause: {self.findings[0].message})"
            evidence = {**evidence, "likely_causes": causes}
            remedy = [f.suggest for f in self.findings] + [r for r in remedy if r.split("=")[0] not in causes]
        return Event(step, d.kind, "raised", d.severity, message, evidence, remedy)

    def _stop_if_collapsed(self, step: int) -> list[Event]:
        """``doctor.stop_after``: a collapse that has lasted that many log steps stops the run."""
        limit = self.cfg.doctor.stop_after
        if not limit or self.stop is not None or self.collapsed_at is None:
            return []
        lasted = self.history.n_train - self.collapsed_at
        if lasted < limit:
            return []
        self.stop = f"mode collapse has lasted {lasted} log steps (doctor.stop_after={limit}); stopped"
        remedy = next(d for d in self.detectors if d.kind == "mode_collapse").remedy()
        return [Event(step, "stop_collapsed", "raised", "error", self.stop, {"log_steps": lasted}, remedy)]

    def rollback(self, step: float) -> None:
        """Back to the state after the kept records up to ``step``: the detectors' state (peaks,
        streaks, raised alarms) is rebuilt by replaying them silently, step records before
        evaluations at equal steps."""
        kept = self.history
        kept.cut(step)
        self.reset()
        for r in sorted(kept.train + kept.evals, key=lambda r: (r["step"], record_kind(r) is not Kind.STEP)):
            self.observe(r)
