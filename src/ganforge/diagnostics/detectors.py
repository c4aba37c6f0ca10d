"""Detectors of GAN failure modes, run on the loop's records at every log step.

Each detector looks at the history of training records (``loss_d``, ``d_real``, ``d_fake``,
``value``, gradient norms and the probes of :mod:`.probes`) and evaluation records, and says
whether its condition holds *now*, with the numbers that show it. The doctor
(:class:`.live.Doctor`) turns conditions into events: raised when a condition has held
``doctor.patience`` log steps, cleared when false as long, so a lasting problem gives one line.
Divergence (NaN/Inf) is found by the loop itself, which owns the recovery; its events pass
through here unchanged.

The detectors are pure functions of the records (a :class:`ganforge.runlog.History`: step
records and evaluations of the branch the run kept), so ``ganforge doctor`` replays them over a
finished run's ``metrics.jsonl`` and finds exactly what the live run found.
"""

from __future__ import annotations

import math
import statistics
from typing import Optional

from ..config import Config
from ..models import MODELS
from ..runlog import History

LOG4 = math.log(4.0)


def _r(x: float) -> float:
    """Evidence numbers, rounded for reading."""
    return float(f"{x:.4g}")


def _finite(xs) -> list:
    return [x for x in xs if x is not None and isinstance(x, (int, float)) and math.isfinite(x)]


# ----------------------------------------------------------------------------- remedies


def _lower(cfg: Config, key: str, factor: float) -> str:
    return f"optim.{key}={getattr(cfg.optim, key) * factor:.3g}"


def _d_strength_remedies(cfg: Config) -> list:
    """Ways to weaken or smooth an over-strong discriminator."""
    out = [_lower(cfg, "d_lr", 0.25)]
    if cfg.train.d_steps > 1:
        out.append("train.d_steps=1")
    if MODELS.get(cfg.model.name).spectral_d_remedy and cfg.model.d_norm != "spectral":
        out.append("model.d_norm=spectral")
    if "r1" not in cfg.reg:
        out.append("reg.r1.weight=1.0")
    return out


# ----------------------------------------------------------------------------- detectors


class Detector:
    """A condition over the history; ``check`` returns (message, evidence) while it holds."""

    kind = ""
    severity = "warning"

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.dr = cfg.doctor

    def warm(self, h: History) -> bool:
        return h.n_train > self.dr.warmup

    def check(self, h: History) -> Optional[tuple[str, dict]]:
        raise NotImplementedError

    def remedy(self) -> list:
        return []


def _coverage_key(rec: dict) -> Optional[str]:
    for key in ("modes", "classes"):
        if isinstance(rec.get(key), (int, float)):
            return key
    return None


class ModeCollapse(Detector):
    """G's samples on fixed noise are far less diverse than real data, or the modes they cover
    fell well below the best coverage so far (a mode evaluator: 2D mixtures, digits)."""

    kind = "mode_collapse"

    DROP = 0.3  # coverage fell by this fraction of its peak (and by at least 3 modes)
    SPREAD = 0.9  # ...while the samples' diversity is below this share of the data's

    def __init__(self, cfg: Config):
        super().__init__(cfg)
        self.probe_peak = -math.inf  # the best smoothed probe coverage so far, kept as records arrive

    def _dropped(self, peak: float, now: float, n_modes: Optional[float]) -> Optional[tuple[float, float]]:
        """(peak, now) when coverage fell by DROP of a peak that had covered at least half of the
        modes: early mode hopping before coverage is established is not collapse."""
        established = n_modes is None or peak >= 0.5 * n_modes
        if established and peak - now >= max(3.0, self.DROP * peak):
            return peak, now
        return None

    def check(self, h: History) -> Optional[tuple[str, dict]]:
        rec = h.train[-1]
        # a running median of 3 probes (256 samples are noisy); its peak is updated at every
        # record, so each check costs O(1) however long the run
        recent = _finite(h.series("modes_probe", last=3))
        now = statistics.median(recent) if len(recent) == 3 else None
        if now is not None:
            self.probe_peak = max(self.probe_peak, now)
        if not self.warm(h):
            return None
        # a drop in probe coverage while the samples stay as spread as the data (diversity near
        # 1) is G hopping between modes or drawing points between them, not collapse
        spread = rec.get("diversity", 0.0) >= self.SPREAD
        drop = self._dropped(self.probe_peak, now, rec.get("n_modes")) if now is not None and not spread else None
        if drop:
            peak, now = drop
            return (f"coverage on fixed noise fell from {peak:.0f} to {now:.0f} modes",
                    {"modes_probe": now, "peak": peak, "diversity": _r(rec.get("diversity", math.nan))})
        key = _coverage_key(h.evals[-1]) if h.evals else None
        if key:
            covered = _finite([e.get(key) for e in h.evals])  # evaluations are few: the whole list
            drop = self._dropped(max(covered), covered[-1], h.evals[-1].get("n_modes", 10)) if covered else None
            if drop:
                peak, now = drop
                return (f"evaluation coverage fell from {peak:.0f} to {now:.0f} {key}",
                        {key: now, "peak": peak, "eval_step": h.evals[-1]["step"]})
        div = rec.get("diversity")
        if div is not None and math.isfinite(div) and div < self.dr.collapse_diversity:
            return (f"samples on fixed noise have {100 * div:.0f} % of the data's diversity",
                    {"diversity": _r(div), "threshold": self.dr.collapse_diversity})
        cdiv = rec.get("class_diversity")  # conditional runs: collapse within each class
        self.within = cdiv is not None and math.isfinite(cdiv) and cdiv < self.dr.collapse_diversity
        if self.within:
            return (f"samples of each class on fixed noise have {100 * cdiv:.0f} % of the diversity of that class's "
                    "real data: each class is drawn as a few prototypes",
                    {"class_diversity": _r(cdiv), "threshold": self.dr.collapse_diversity})
        return None

    def remedy(self) -> list:
        """Ordered by benchmarks/results/ablation.md: packing and minibatch std multiplied the
        modes of stacked digits at a short budget (57 -> 522 and 333 of 1,000); LeCam and
        spectral norm on G gave the lowest rev_kl of the single remedies on grid25. (Two D
        steps, WGAN-GP and R1 did not help there, so they are not offered.)"""
        cfg, out, spec = self.cfg, [], MODELS.get(self.cfg.model.name)
        if getattr(self, "within", False):  # conditional digits: recall 0 -> 0.64 (results/conditional.md)
            out += [f"model.{k}={v}" for k, v, offered in (("g_cond", "cbn", spec.g_conds), ("d_cond", "concat",
                    spec.d_conds)) if v in offered and getattr(cfg.model, k) not in (v, "default")]
        if cfg.model.pac < 2:
            out.append("model.pac=2")
        if cfg.model.mbstd == 0:
            out.append("model.mbstd=4")
        if "lecam" not in cfg.reg:
            out.append("reg.lecam.weight=0.1")
        if not cfg.model.g_spectral:
            out.append("model.g_spectral=true")
        out.append(_lower(cfg, "g_lr", 0.5))
        return out


class VanishingGradients(Detector):
    """D rejects the fakes with confidence (mean D(G(z)) near 0) and the generator loss passes
    almost no gradient to them: ``g_logit_grad``, the mean |d loss_g / d logit| per fake
    sample, is a small fraction of its value at equilibrium (1/2 for the minimax and
    non-saturating losses). The saturating ``minimax`` loss is the classic cause: its gradient
    is D(G(z)) itself (Goodfellow et al. 2014, section 3)."""

    kind = "vanishing_gradients"
    D_FAKE = 0.1  # mean D(G(z)) below this: D wins
    SIGNAL = 0.05  # g_logit_grad below this: the loss has saturated

    def check(self, h: History) -> Optional[tuple[str, dict]]:
        rec = h.train[-1]
        signal, d_fake, g = rec.get("g_logit_grad"), rec.get("d_fake"), rec.get("grad_g")
        if signal is None or d_fake is None or not math.isfinite(signal):
            return None
        if d_fake < self.D_FAKE and signal < self.SIGNAL:
            peak = max(_finite(h.series("grad_g")), default=math.nan)
            return (f"D rejects the fakes (d_fake {d_fake:.3g}) and the generator loss passes only "
                    f"{signal:.3g} gradient per fake logit",
                    {"g_logit_grad": _r(signal), "d_fake": _r(d_fake), "d_real": _r(rec.get("d_real", math.nan)),
                     "grad_g": _r(g if g is not None else math.nan), "peak_grad_g": _r(peak)})
        return None

    def remedy(self) -> list:
        out = ["loss.name=non_saturating"] if self.cfg.loss.name == "minimax" else []
        return out + _d_strength_remedies(self.cfg)


class Oscillation(Detector):
    """D's margin d_real - d_fake swings: the players chase each other. Two views:

    - slow swings: over the last ``doctor.window`` log steps the margin's standard deviation
      is large, it crosses its mean often, and no trend explains it;
    - fast swings, judged from the first log steps on (no warm-up): over the last ``FAST``
      log steps the margin jumps from one log step to the next by ``JUMP`` on average (a
      healthy run's margin mostly moves by 0.01-0.04; an oscillating one by 0.1-0.5), crossing its
      mean, with no trend. Cycles shorter than the log interval show up this way;
    - swinging samples, also from the first log steps on: over the last ``SAMPLE_FAST`` probes
      the diversity of G's samples on fixed noise (relative to the data's) jumps by
      ``SAMPLE_JUMP`` on average and crosses its mean ``SAMPLE_CROSSINGS`` times, with no
      trend: G's distribution is thrown back and forth as it chases D. On benchmarks/doctor.py's
      runs a healthy grid25/ring8 run's diversity moves by at most 0.15 per probe (digits
      0.1 after the first probes), an oscillating one's by 0.5-1.5 (it reads 0.1, then 2.4,
      then 0.2). The margin can look calm meanwhile: the sampled margin of 3 of 5 oscillating
      runs settled after ~700 steps while their samples kept swinging.
    """

    kind = "oscillation"
    AMPLITUDE = 0.15  # standard deviation of the margin (slow swings)
    CROSSINGS = 0.25  # fraction of the window's steps that cross the mean
    # the fast view; chosen on benchmarks/doctor.py's runs (oscillation, healthy grid25/ring8/digits)
    FAST = 6  # log steps
    JUMP = 0.15  # mean |change of the margin| between consecutive log steps (healthy ring8 reached 0.17 over 5)
    FAST_CROSSINGS = 1  # crossings of the mean
    TREND = 2  # a straight line explains less than this many std
    FAST_HOLD = 1  # consecutive windows that must all swing
    SAMPLE_FAST = 6  # probes
    SAMPLE_JUMP = 0.3  # mean |change of diversity| between consecutive probes
    SAMPLE_CROSSINGS = 2

    @staticmethod
    def _swing(gap: list) -> tuple[float, float, int, float]:
        """(mean, std, mean-crossings, trend) of a margin series."""
        mean, std = statistics.fmean(gap), statistics.pstdev(gap)
        crossings = sum((a - mean) * (b - mean) < 0 for a, b in zip(gap, gap[1:]))
        slope = statistics.linear_regression(range(len(gap)), gap).slope
        return mean, std, crossings, abs(slope) * (len(gap) - 1)  # the change a straight line explains

    def check(self, h: History) -> Optional[tuple[str, dict]]:
        return self._margin(h) or self._samples(h)

    def _samples(self, h: History) -> Optional[tuple[str, dict]]:
        div = h.series("diversity", last=self.SAMPLE_FAST)  # None where the probe was off
        if len(div) < self.SAMPLE_FAST or len(_finite(div)) < len(div):
            return None
        jump = statistics.fmean(abs(b - a) for a, b in zip(div, div[1:]))
        mean, std, crossings, trend = self._swing(div)
        if jump > self.SAMPLE_JUMP and crossings >= self.SAMPLE_CROSSINGS and trend < self.TREND * std:
            return (f"the diversity of G's samples on fixed noise jumps by {jump:.2f} on average between probes "
                    f"(between {min(div):.2f} and {max(div):.2f} of the data's, crossing its mean {crossings} "
                    f"times in {len(div)} probes): G is thrown back and forth",
                    {"diversity_jump": _r(jump), "diversity_min": _r(min(div)), "diversity_max": _r(max(div)),
                     "crossings": crossings, "window": len(div)})
        return None

    def _margin(self, h: History) -> Optional[tuple[str, dict]]:
        w = self.dr.window
        if self.warm(h) and len(h.train) >= w:
            gap = [r.get("d_real", math.nan) - r.get("d_fake", math.nan) for r in h.train[-w:]]
            if len(_finite(gap)) == w:
                mean, std, crossings, trend = self._swing(gap)
                if std > self.AMPLITUDE and crossings >= self.CROSSINGS * w and trend < 2 * std:
                    return (f"d_real - d_fake swings by {std:.2f} (std) around {mean:.2f}, crossing its mean "
                            f"{crossings} times in {w} log steps, with no trend",
                            {"margin_std": _r(std), "margin_mean": _r(mean), "crossings": crossings, "window": w})
        f = self.FAST
        if len(h.train) < f + self.FAST_HOLD - 1:
            return None
        gaps = [r.get("d_real", math.nan) - r.get("d_fake", math.nan) for r in h.train[-(f + self.FAST_HOLD - 1):]]
        if len(_finite(gaps)) < len(gaps):
            return None
        found = None
        for end in range(f, len(gaps) + 1):  # every window of the last FAST_HOLD must swing
            gap = gaps[end - f:end]
            jump = statistics.fmean(abs(b - a) for a, b in zip(gap, gap[1:]))
            mean, std, crossings, trend = self._swing(gap)
            if not (jump > self.JUMP and crossings >= self.FAST_CROSSINGS and trend < self.TREND * std):
                return None
            found = (jump, mean, crossings)
        jump, mean, crossings = found
        return (f"d_real - d_fake jumps by {jump:.2f} on average between log steps (around {mean:.2f}, "
                f"crossing its mean {crossings} times in {f} log steps), with no trend",
                {"margin_jump": _r(jump), "margin_mean": _r(mean), "crossings": crossings, "window": f})

    def remedy(self) -> list:
        cfg = self.cfg
        out = [_lower(cfg, "d_lr", 0.5), _lower(cfg, "g_lr", 0.5)]
        if "r1" not in cfg.reg:
            out.append("reg.r1.weight=1.0")
        if cfg.optim.schedule == "constant":
            out.append("optim.schedule=linear")
        if cfg.train.ema_beta == 0:
            out.append("train.ema_beta=0.999")
        return out


class DOverfitting(Detector):
    """D tells its training reals from reals it never saw: it memorises the training set
    instead of learning the distribution (small datasets; Karras et al. 2020).

    The statistic is ``d_auc``, the probability that D ranks a training real above a held-out
    one (0.5: it cannot tell them apart), a running median of ``SMOOTH`` probes: free of the
    loss's scale (a critic's logits are unbounded) and of D's overall confidence, which the
    mean gap in D's sigmoid outputs is not (on 200 digits that gap stayed under 0.06 while
    D already ranked training digits first). The old gap in mean D(x) still raises it when it
    exceeds ``doctor.overfit_gap``."""

    kind = "d_overfitting"
    SMOOTH = 5  # probes in the running median (256 vs 256 reals: the AUC's standard error is ~0.025)

    def check(self, h: History) -> Optional[tuple[str, dict]]:
        rec = h.train[-1]
        tr, ho = rec.get("d_train"), rec.get("d_holdout")
        if not self.warm(h) or tr is None or ho is None:
            return None
        aucs = _finite(h.series("d_auc", last=self.SMOOTH))
        auc = statistics.median(aucs) if len(aucs) == self.SMOOTH else None
        if auc is not None and auc > self.dr.overfit_auc:
            return (f"D ranks a training real above a held-out one {100 * auc:.0f} % of the time (50 %: it cannot "
                    "tell them apart): it memorises its training set",
                    {"d_auc": _r(auc), "threshold": self.dr.overfit_auc, "d_train": _r(tr), "d_holdout": _r(ho),
                     "r_t": _r(rec.get("r_t", math.nan))})
        if tr - ho > self.dr.overfit_gap:
            return (f"D scores training reals {tr:.2f} but held-out reals {ho:.2f}",
                    {"d_train": _r(tr), "d_holdout": _r(ho), "gap": _r(tr - ho), "threshold": self.dr.overfit_gap})
        return None

    def remedy(self) -> list:
        """Ordered by the small-data rows of benchmarks/results/ablation.md (200 digits):
        spectral norm on D, LeCam and an EMA of G each lowered FID, and together they nearly
        halved it; bCR and ADA helped a little; R1 and fixed DiffAugment did not."""
        cfg, out = self.cfg, []
        spec = MODELS.get(cfg.model.name)  # what helped this architecture in the ablation
        if spec.spectral_d_remedy and cfg.model.d_norm != "spectral":
            out.append("model.d_norm=spectral")
        if "lecam" not in cfg.reg:
            out.append("reg.lecam.weight=0.1")
        if cfg.train.ema_beta == 0:
            out.append("train.ema_beta=0.999")
        if "bcr" not in cfg.reg and spec.spatial_remedies:
            out.append("reg.bcr.weight=1")
        out.append(_lower(cfg, "d_lr", 0.5))
        return out


class Equilibrium(Detector):
    """Good news: over the window D outputs about 1/2 on reals and fakes alike and V(D, G) is
    near its optimum -log 4, and the quality metrics (when measured) stopped changing."""

    kind = "equilibrium"
    severity = "info"
    D_TOL = 0.05  # |mean D - 1/2|
    V_TOL = 0.1  # |mean V + log 4|

    @staticmethod
    def _flat(evals: list) -> Optional[tuple[str, float, float]]:
        """(metric, previous, latest) when the last two evaluations agree; None if they differ."""
        a, b = evals[-2], evals[-1]
        for key, tol in (("hq", 0.02), ("fid", None), ("energy", None)):
            if isinstance(a.get(key), (int, float)) and isinstance(b.get(key), (int, float)):
                x, y = a[key], b[key]
                same = abs(y - x) <= (tol if tol is not None else 0.1 * max(abs(x), 1e-12))
                return (key, x, y) if same else None
        return ("", 0.0, 0.0)

    def check(self, h: History) -> Optional[tuple[str, dict]]:
        w = self.dr.window
        if not self.warm(h) or len(h.train) < w:
            return None
        rec = h.train[-w:]
        d_real = statistics.fmean(r.get("d_real", math.nan) for r in rec)
        d_fake = statistics.fmean(r.get("d_fake", math.nan) for r in rec)
        v = statistics.fmean(r.get("value", math.nan) for r in rec)
        if not (abs(d_real - 0.5) < self.D_TOL and abs(d_fake - 0.5) < self.D_TOL and abs(v + LOG4) < self.V_TOL):
            return None
        evidence = {"d_real": _r(d_real), "d_fake": _r(d_fake), "value": _r(v), "minus_log4": _r(-LOG4)}
        if len(h.evals) < 2:
            return None  # a weak D is also at 1/2: only flat quality tells the optimum apart
        flat = self._flat(h.evals)
        if flat is None:
            return None  # quality still changing: not settled
        key, x, y = flat
        quality = "quality flat"
        if key:
            evidence.update({f"{key}_before": _r(x), f"{key}_now": _r(y)})
            quality = f"{key} flat ({x:.4g} -> {y:.4g})"
        return (f"D cannot tell real from fake (d_real {d_real:.2f}, d_fake {d_fake:.2f}, V {v:.3f} vs "
                f"-log 4 = {-LOG4:.3f}); {quality}", evidence)


DETECTORS = (ModeCollapse, VanishingGradients, Oscillation, DOverfitting, Equilibrium)
