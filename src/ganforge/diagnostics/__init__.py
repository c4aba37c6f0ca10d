"""The training doctor: probes, failure detectors, and the diagnosis of a run."""

from .detectors import DETECTORS, Doctor, Event
from .probes import Probe

__all__ = ["DETECTORS", "Doctor", "Event", "Probe"]
