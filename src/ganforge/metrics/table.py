"""Synthetic tables measured against real ones: fidelity, utility and privacy.

Fidelity follows the definitions of SDMetrics' QualityReport, so that the numbers read as SDV
users know them:

- column shapes: KSComplement (1 - the two-sample Kolmogorov-Smirnov statistic) for numeric
  and datetime columns, TVComplement (1 - total variation distance of the category
  frequencies) for categorical and boolean ones; missing values are left out of numbers and
  are a category of their own in discrete columns;
- column pair trends: correlation similarity 1 - |r_real - r_synth| / 2 (Pearson) for two
  numeric columns, contingency similarity 1 - TVD of the joint frequencies for any other pair
  (numbers cut into 10 equal-width bins over the real range);
- overall quality: the mean of the two averages.

Utility: TSTR, a scikit-learn random forest trained on synthetic rows and scored on real
held-out rows (accuracy for a discrete target, R^2 for a numeric one), next to TRTR (trained on
the real training rows). Privacy: distance to closest record (DCR) of each synthetic row to the
held-out rows and to the training rows (numbers scaled to the training range, one-hot
categories, L2), and the share of synthetic rows that are exact copies of a training row. A
run is flagged as memorising when that share exceeds both 5% and twice the share of held-out
real rows that equal a training row (the table's own duplicate rate).
"""

from __future__ import annotations

import itertools
from typing import Optional

import numpy as np
import pandas as pd

from ..data.table_transform import DISCRETE, MISSING, to_numbers


def _labels(s: pd.Series) -> pd.Series:
    return s.astype(object).where(s.notna(), MISSING).astype(str)


def _tv_complement(a: pd.Series, b: pd.Series) -> float:
    pa, pb = a.value_counts(normalize=True), b.value_counts(normalize=True)
    keys = pa.index.union(pb.index)
    return float(1 - 0.5 * np.abs(pa.reindex(keys, fill_value=0) - pb.reindex(keys, fill_value=0)).sum())


def _ks_complement(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import ks_2samp

    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) == 0 or len(b) == 0:
        return 0.0
    return float(1 - ks_2samp(a, b).statistic)


def _binned(real: pd.Series, synth: pd.Series, kind: str) -> tuple[pd.Series, pd.Series]:
    """A column as discrete labels: categories as they are, numbers in 10 bins of the real range."""
    if kind in DISCRETE:
        return _labels(real), _labels(synth)
    r, s = to_numbers(real, kind), to_numbers(synth, kind)
    ok = r[~np.isnan(r)]
    edges = np.linspace(ok.min(), ok.max(), 11)[1:-1]
    cut = lambda v: pd.Series(np.where(np.isnan(v), -1, np.digitize(v, edges))).astype(str)  # noqa: E731
    return cut(r), cut(s)


def quality(real: pd.DataFrame, synth: pd.DataFrame, types: dict) -> dict:
    """Column shapes, column pair trends and their mean (SDMetrics QualityReport definitions)."""
    shapes = []
    for c, kind in types.items():
        if kind in DISCRETE:
            shapes.append(_tv_complement(_labels(real[c]), _labels(synth[c])))
        else:
            shapes.append(_ks_complement(to_numbers(real[c], kind), to_numbers(synth[c], kind)))
    trends = []
    for a, b in itertools.combinations(types, 2):
        if types[a] not in DISCRETE and types[b] not in DISCRETE:
            r = pd.DataFrame({"a": to_numbers(real[a], types[a]), "b": to_numbers(real[b], types[b])})
            s = pd.DataFrame({"a": to_numbers(synth[a], types[a]), "b": to_numbers(synth[b], types[b])})
            rr, rs = r.corr().iloc[0, 1], s.corr().iloc[0, 1]
            rr, rs = (0.0 if np.isnan(v) else v for v in (rr, rs))
            trends.append(float(1 - abs(rr - rs) / 2))
        else:
            ra, sa = _binned(real[a], synth[a], types[a])
            rb, sb = _binned(real[b], synth[b], types[b])
            trends.append(_tv_complement(ra + "\x1f" + rb, sa + "\x1f" + sb))
    shape = float(np.mean(shapes))
    trend = float(np.mean(trends)) if trends else shape
    return {"column_shapes": shape, "column_pair_trends": trend, "quality": (shape + trend) / 2}


def features(df: pd.DataFrame, ref: pd.DataFrame, types: dict, skip: Optional[str] = None) -> np.ndarray:
    """Rows as numbers for models and distances: numbers scaled to ``ref``'s range (missing: -1),
    categories one-hot over ``ref``'s and ``df``'s labels, (N, F) float64."""
    cols = []
    for c, kind in types.items():
        if c == skip:
            continue
        if kind in DISCRETE:
            cats = sorted(set(_labels(ref[c])))
            lab = _labels(df[c])
            cols += [(lab == v).to_numpy(dtype=np.float64)[:, None] for v in cats]
        else:
            r, x = to_numbers(ref[c], kind), to_numbers(df[c], kind)
            lo, hi = np.nanmin(r), np.nanmax(r)
            x = (x - lo) / (hi - lo if hi > lo else 1.0)
            cols.append(np.where(np.isnan(x), -1.0, x)[:, None])
    return np.concatenate(cols, axis=1) if cols else np.zeros((len(df), 0))


def utility(synth: pd.DataFrame, train: pd.DataFrame, holdout: pd.DataFrame, types: dict, target: Optional[str],
            seed: int) -> dict:
    """TSTR and TRTR on the held-out rows, or {} without a target (or a degenerate one)."""
    if target is None or len(holdout) == 0:
        return {}
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    discrete = types[target] in DISCRETE
    out = {}
    for name, fit_on in (("tstr", synth), ("trtr", train)):
        X, Xh = features(fit_on, train, types, target), features(holdout, train, types, target)
        if discrete:
            y, yh = _labels(fit_on[target]), _labels(holdout[target])
            if y.nunique() < 2:  # synthetic rows of a single class: predicts that class
                out[name] = float((yh == y.iloc[0]).mean())
                continue
            m = RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1)
        else:
            y, yh = to_numbers(fit_on[target], types[target]), to_numbers(holdout[target], types[target])
            keep, keep_h = ~np.isnan(y), ~np.isnan(yh)
            X, y, Xh, yh = X[keep], y[keep], Xh[keep_h], yh[keep_h]
            m = RandomForestRegressor(n_estimators=100, random_state=seed, n_jobs=1)
        m.fit(X, y)
        out[name] = float(m.score(Xh, yh))  # accuracy or R^2
    return out


def _nearest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance from each row of ``a`` to its nearest row of ``b``, (len(a),)."""
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=1).fit(b).kneighbors(a)[0][:, 0]


def privacy(synth: pd.DataFrame, train: pd.DataFrame, holdout: pd.DataFrame, types: dict) -> dict:
    fs, ft = features(synth, train, types), features(train, train, types)
    out = {"dcr_train": float(np.median(_nearest(fs, ft)))}
    copies = float((_nearest(fs, ft) < 1e-9).mean())
    base = 0.0
    if len(holdout):
        fh = features(holdout, train, types)
        out["dcr_holdout"] = float(np.median(_nearest(fs, fh)))
        base = float((_nearest(fh, ft) < 1e-9).mean())
    out["exact_copies"] = copies
    out["memorising"] = float(copies > max(0.05, 2 * base))
    return out


def table_metrics(synth: pd.DataFrame, train: pd.DataFrame, holdout: pd.DataFrame, types: dict,
                  target: Optional[str], seed: int = 0) -> dict:
    """Fidelity (against the held-out rows), utility and privacy of ``synth``; finite numbers."""
    ref = holdout if len(holdout) else train
    return {**quality(ref, synth, types), **utility(synth, train, holdout, types, target, seed),
            **privacy(synth, train, holdout, types)}
