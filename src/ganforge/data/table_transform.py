"""A table <-> the vectors a tabular GAN trains on (the layout of Xu et al. 2019, CTGAN).

Each column becomes one or more *spans* of the row vector:

- continuous, integer and datetime columns: mode-specific normalisation. A Bayesian Gaussian
  mixture (scikit-learn) is fitted to the column; a value x is written as the one-hot of a mode
  k drawn from its posterior (a ``softmax`` span of width = kept modes) and the scalar
  alpha = (x - mu_k) / (4 sigma_k) in [-1, 1] (a ``tanh`` span of width 1). A multimodal
  column becomes easy for a tanh output; a plain min-max scaling would not be;
- categorical and boolean columns: the one-hot of the category (a ``softmax`` span);
- a missing value is a state of its own: a category ``<missing>`` for discrete columns, a
  two-way ``softmax`` span (present, missing) after a numeric column's spans, so that the
  generator reproduces missing values at their rate.

Decoding draws each softmax span's category from its probabilities (a real row's exact one-hot
decodes exactly), so categories are always labels seen in training; integers are rounded,
every number is clipped to the column's range seen in training.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pandas as pd

MISSING = "<missing>"  # the category that stands for a missing discrete value
NUMERIC = ("continuous", "integer", "datetime")
DISCRETE = ("categorical", "boolean")
TYPES = NUMERIC + DISCRETE


@dataclass(frozen=True)
class Span:
    """One block of the row vector: ``width`` entries from ``start``, ``act`` is ``tanh`` (a
    scalar) or ``softmax`` (a one-hot); ``column`` is the column it belongs to."""

    start: int
    width: int
    act: str
    column: str


@dataclass
class ColumnInfo:
    name: str
    kind: str  # one of TYPES
    categories: list = field(default_factory=list)  # discrete: the labels, MISSING included if seen
    counts: list = field(default_factory=list)  # discrete: training rows per category
    means: np.ndarray = None  # numeric: kept modes' means and standard deviations, (k,)
    stds: np.ndarray = None
    lo: float = 0.0  # numeric: the range seen in training
    hi: float = 0.0
    has_missing: bool = False  # numeric: a (present, missing) span follows
    dtype: str = ""  # the pandas dtype to write the column back as
    weights: np.ndarray = None  # numeric: kept modes' mixture weights, summing to 1


def to_numbers(s: pd.Series, kind: str) -> np.ndarray:
    """A numeric column as float64 (datetime: seconds since the epoch), NaN where missing."""
    if kind == "datetime":
        t = pd.to_datetime(s, errors="coerce")
        out = t.astype("int64").to_numpy().astype(np.float64) / 1e9
        out[t.isna().to_numpy()] = np.nan
        return out
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)


class TableTransformer:
    """Fitted on the training frame and the column types; ``transform`` / ``inverse`` map rows."""

    def __init__(self, types: dict[str, str], seed: int = 0, max_modes: int = 10):
        self.types, self.seed, self.max_modes = dict(types), seed, max_modes
        self.columns: list[ColumnInfo] = []
        self.spans: list[Span] = []

    @property
    def width(self) -> int:
        return sum(s.width for s in self.spans)

    def fit(self, df: pd.DataFrame) -> "TableTransformer":
        from sklearn.mixture import BayesianGaussianMixture

        self.columns, self.spans, pos = [], [], 0
        for name in df.columns:
            kind, s = self.types[name], df[name]
            info = ColumnInfo(name, kind, dtype=str(s.dtype))
            if kind in DISCRETE:
                labels = s.astype(object).where(s.notna(), MISSING)
                vc = labels.value_counts(sort=False)
                order = sorted(vc.index, key=lambda v: (v == MISSING, str(v)))
                info.categories, info.counts = list(order), [int(vc[v]) for v in order]
                self.spans.append(Span(pos, len(order), "softmax", name))
                pos += len(order)
            else:
                x = to_numbers(s, kind)
                ok = x[~np.isnan(x)]
                info.lo, info.hi = float(ok.min()), float(ok.max())
                k = int(min(self.max_modes, max(1, len(np.unique(ok)))))
                with warnings.catch_warnings():  # a few EM iterations short of convergence is fine here
                    warnings.simplefilter("ignore")
                    bgm = BayesianGaussianMixture(n_components=k, weight_concentration_prior_type="dirichlet_process",
                                                  weight_concentration_prior=1e-3, max_iter=100, random_state=self.seed)
                    bgm.fit(ok.reshape(-1, 1))
                keep = bgm.weights_ > 5e-3  # modes the mixture actually uses
                info.means = bgm.means_.ravel()[keep]
                info.stds = np.sqrt(bgm.covariances_.ravel()[keep]).clip(min=1e-6 * max(1.0, info.hi - info.lo))
                info.weights = bgm.weights_[keep] / bgm.weights_[keep].sum()
                info.has_missing = bool(np.isnan(x).any())
                self.spans += [Span(pos, 1, "tanh", name), Span(pos + 1, len(info.means), "softmax", name)]
                pos += 1 + len(info.means)
                if info.has_missing:
                    self.spans.append(Span(pos, 2, "softmax", name))
                    pos += 2
            self.columns.append(info)
        return self

    def transform(self, df: pd.DataFrame, unseen_zero: bool = False) -> np.ndarray:
        """Rows (N, width) float32; mode indicators are drawn from each value's posterior with a
        fixed seed, so the same frame gives the same vectors. ``unseen_zero``: a category never
        seen in training gets an all-zero one-hot (scoring new data) instead of a KeyError."""
        rng = np.random.default_rng(self.seed)
        n, out = len(df), []
        for info in self.columns:
            s = df[info.name]
            if info.kind in DISCRETE:
                labels = s.astype(object).where(s.notna(), MISSING)
                index = {v: i for i, v in enumerate(info.categories)}
                if unseen_zero:  # an extra all-zero row of the identity for unseen labels
                    idx = np.array([index.get(v, len(info.categories)) for v in labels], dtype=np.int64)
                    out.append(np.eye(len(info.categories) + 1, len(info.categories), dtype=np.float32)[idx])
                    continue
                idx = np.array([index[v] for v in labels])  # the caller checked for unseen labels
                out.append(np.eye(len(info.categories), dtype=np.float32)[idx])
                continue
            x = to_numbers(s, info.kind)
            miss = np.isnan(x)
            v = np.where(miss, info.means[0], x)
            # posterior of each kept mode given v under the fitted mixture (its weights too), (n, k)
            logp = -0.5 * ((v[:, None] - info.means) / info.stds) ** 2 - np.log(info.stds) + np.log(info.weights)
            p = np.exp(logp - logp.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            mode = (p.cumsum(1) > rng.random((n, 1))).argmax(1)  # one draw per row, (n,)
            alpha = ((v - info.means[mode]) / (4 * info.stds[mode])).clip(-0.99, 0.99)
            out += [alpha[:, None].astype(np.float32), np.eye(len(info.means), dtype=np.float32)[mode]]
            if info.has_missing:
                out.append(np.eye(2, dtype=np.float32)[miss.astype(int)])
        return np.concatenate(out, axis=1) if out else np.zeros((n, 0), np.float32)

    def inverse(self, rows: np.ndarray, seed: Optional[int] = None) -> pd.DataFrame:
        """Rows (N, width) -> a frame with the original names, types, labels and ranges.

        A one-hot span holds G's softmax probabilities (or a real row's exact one-hot): the
        category or mode is *drawn* from them (``seed``; default: the transformer's), which is
        what the Gumbel-softmax samples that D judged in training stand for. The argmax would
        always pick each row's likeliest category and over-produce the dominant mode of every
        numeric column. Exact one-hots decode exactly."""
        rows = np.asarray(rows, dtype=np.float64)
        rng = np.random.default_rng(self.seed if seed is None else seed)

        def pick(sp: Span) -> np.ndarray:
            return _draw(rows[:, sp.start : sp.start + sp.width], rng)

        cols, spans = {}, iter(self.spans)
        for info in self.columns:
            if info.kind in DISCRETE:
                sp = next(spans)
                idx = pick(sp)
                vals = pd.Series([info.categories[i] for i in idx], dtype=object)
                vals = vals.where(vals != MISSING, None)
                cols[info.name] = _as_dtype(vals, info)
                continue
            a, m = next(spans), next(spans)
            mode = pick(m)
            alpha = rows[:, a.start].clip(-1, 1)
            x = (alpha * 4 * info.stds[mode] + info.means[mode]).clip(info.lo, info.hi)
            if info.kind in ("integer", "datetime"):
                x = np.round(x)
            vals = pd.Series(x)
            if info.has_missing:
                sp = next(spans)
                vals[pick(sp) == 1] = np.nan
            if info.kind == "datetime":
                cols[info.name] = pd.to_datetime(vals, unit="s")
            elif info.kind == "integer":
                cols[info.name] = vals.astype("Int64") if info.has_missing else vals.astype(np.int64)
            else:
                cols[info.name] = vals
        return pd.DataFrame(cols)


def _draw(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per row of ``p`` (N, k), an index drawn with probability proportional to the row's
    non-negative entries; a row with none gives its argmax. (N,)"""
    p = p.clip(min=0)
    total = p.sum(1)
    u = rng.random(len(p)) * total  # (N,)
    idx = np.minimum((p.cumsum(1) <= u[:, None]).sum(1), p.shape[1] - 1)
    return np.where(total > 0, idx, p.argmax(1))


def _as_dtype(vals: pd.Series, info: ColumnInfo) -> pd.Series:
    """Discrete labels back in the column's own dtype (numbers stay numbers, booleans booleans)."""
    if info.kind == "boolean" and not vals.isna().any():
        return vals.astype(bool)
    if info.dtype.startswith(("int", "float")) and not vals.isna().any():
        return vals.astype(info.dtype)
    return vals
