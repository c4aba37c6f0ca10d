"""The training doctor: probes, failure detectors, and the diagnosis of a run. (Its events are
ganforge.runlog.Event: they are records of the run log.)"""

from .detectors import DETECTORS
from .live import Doctor
from .probes import Probe

__all__ = ["DETECTORS", "Doctor", "Probe"]
