"""The phases of training as the GAN literature tells them, read from D's margin.

Goodfellow et al. (2014, figure 1) and the tutorials after them describe a run as a sequence:

- ``both_weak``: at the start neither player has learned anything; D outputs about 1/2 on
  reals and fakes alike because it cannot yet tell them apart;
- ``d_ahead``: D learns faster than G and pulls ahead: d_real - d_fake grows;
- ``g_catching_up``: G learns to fool D: the margin shrinks from its peak;
- ``d_cannot_tell``: D can no longer tell real from fake (both about 1/2): the margin is
  back near zero after D had been ahead.

The margin is ``d_real - d_fake`` (mean D on the batch's reals minus on its fakes, in the
sigmoid's [0, 1]), smoothed by a running median of ``SMOOTH`` log steps. A run may pass
through the middle phases more than once (an oscillating run cycles through them).
"""

from __future__ import annotations

import math
import statistics
from collections import deque

SMOOTH = 5  # log steps in the running median of the margin
LOW = 0.08  # a smoothed margin below this: D cannot tell real from fake (yet, or any more)
AHEAD = 0.7  # a margin at or above this share of its peak: D is (still) ahead

DESCRIPTIONS = {
    "both_weak": "both players weak: D about 1/2 on reals and fakes before it has learned",
    "d_ahead": "D pulls ahead: d_real - d_fake grows",
    "g_catching_up": "G catches up: the margin shrinks from its peak",
    "d_cannot_tell": "D can no longer tell real from fake (margin near 0, about 1/2)",
    "collapsed": "a mode-collapse alarm is raised",
    "diverged": "the run ended in NaN or Inf",
}


class PhaseTracker:
    """Labels each step record, in order, with its phase; O(1) per record."""

    def __init__(self):
        self.recent: deque = deque(maxlen=SMOOTH)
        self.peak = 0.0  # the highest smoothed margin since D last could not tell
        self.was_ahead = False

    def label(self, rec: dict) -> str:
        m = rec.get("d_real", math.nan) - rec.get("d_fake", math.nan)
        if math.isfinite(m):
            self.recent.append(m)
        if not self.recent:
            return "both_weak"
        s = statistics.median(self.recent)
        if s < LOW:
            self.peak = s  # a later rise is D pulling ahead again
            return "d_cannot_tell" if self.was_ahead else "both_weak"
        self.was_ahead = True
        self.peak = max(self.peak, s)
        return "d_ahead" if s >= AHEAD * self.peak else "g_catching_up"
