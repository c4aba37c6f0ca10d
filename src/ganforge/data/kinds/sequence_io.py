"""Sequences from their sources: the sine protocol, bundled real sets, and the user's files.

Every reader returns numbers in *data space* as float32 arrays of shape (N, T, F): N
sequences of T steps with F features. ``data/series.py`` turns them into a training source;
the sequence kind (``sequence.py``) reads and writes the user's files with them. (They live
with the kind because they decide a file's layout by its rank: (L, F) one series, (N, T, F)
sequences.)

- :func:`sine_sequences`: the sines of TimeGAN (Yoon et al. 2019; jsyoon0823/TimeGAN,
  ``data_loading.py``, ``sine_data_generation``): per sequence and per feature a frequency f
  and a phase phi, each drawn from U(0, 0.1), values sin(f t + phi) at t = 0 .. T-1, mapped from
  [-1, 1] to [0, 1] by (x + 1) / 2; ``main_timegan.py`` uses 10,000 sequences, T = 24, F = 5.
- :func:`read_ts`: the ``.ts`` text format of the UCR/UEA archive, equal-length series only.
- :func:`bundled` (:func:`bundled_windows` cut into windows): ``basicmotions`` (UEA BasicMotions as shipped in sktime's wheel: 80 series,
  6 channels, 100 steps, 4 classes) and ``macro`` (statsmodels' US ``macrodata``: 203 quarters,
  12 numeric columns). Nothing is downloaded.
- :func:`load_series`: the user's ``.npy`` (N, T, F) or (L, F), or a CSV in long or wide format.
- :func:`windows` / :func:`unwindow`: cutting a long series into windows and back;
- :func:`long_frame`: sequences as the long-format table :func:`load_series` reads back.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Optional

import numpy as np

from ...errors import GanforgeError

SINES = {"n": 10_000, "length": 24, "features": 5}  # main_timegan.py's sine setting


def sine_sequences(n: int, length: int, features: int, seed: int) -> np.ndarray:
    """TimeGAN's sines (see the module docstring): (n, length, features) float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.0, 0.1, size=(n, 1, features))  # one f and one phi per sequence and feature
    phase = rng.uniform(0.0, 0.1, size=(n, 1, features))
    t = np.arange(length, dtype=np.float64).reshape(1, length, 1)
    return ((np.sin(freq * t + phase) + 1.0) * 0.5).astype(np.float32)


def windows(series: np.ndarray, window: int, stride: int) -> np.ndarray:
    """Windows of one series (L, F) -> (N, window, F), N = (L - window) // stride + 1, starting
    at 0, stride, 2 stride, ... (a tail shorter than a stride is left out)."""
    L = len(series)
    if window > L:
        raise GanforgeError(f"data.window={window} is longer than the series ({L} steps); use data.window <= {L}")
    starts = range(0, L - window + 1, stride)
    return np.stack([series[s : s + window] for s in starts])


def unwindow(x: np.ndarray, stride: int) -> np.ndarray:
    """The inverse of :func:`windows`: windows (N, W, F) -> the series (L, F) they cover, each
    step the mean of the windows that hold it (identical values give the series back exactly)."""
    n, w, f = x.shape
    L = (n - 1) * stride + w
    total, count = np.zeros((L, f), dtype=np.float64), np.zeros((L, 1))
    for i in range(n):
        total[i * stride : i * stride + w] += x[i]
        count[i * stride : i * stride + w] += 1
    return (total / count).astype(x.dtype)


# ---------------------------------------------------------------------------- bundled sets


def _package_dir(name: str) -> Optional[Path]:
    """Where an installed package lives, found without importing it (sktime's own imports pin
    pandas versions; reading its bundled files needs none of its code)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def read_ts(path: Path) -> tuple[np.ndarray, list[str]]:
    """A UCR/UEA ``.ts`` file of equal-length series with a class label: (x (N, T, F), labels).
    Each data line is ``dim_1 : dim_2 : ... : label``, each dimension comma-separated values."""
    xs, labels = [], []
    in_data = False
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            in_data = line.lower() == "@data"
            continue
        *dims, label = line.split(":")
        xs.append(np.array([[float(v) for v in d.split(",")] for d in dims], dtype=np.float32).T)  # (T, F)
        labels.append(label.strip())
    if len({x.shape for x in xs}) != 1:
        raise GanforgeError(f"{path}: series of unequal length or dimension are not supported")
    return np.stack(xs), labels


def _basicmotions() -> tuple[np.ndarray, list[str]]:
    """The same UEA files ship in sktime's and in aeon's wheels (``datasets/data/BasicMotions``);
    either one installed is enough. Both pin pandas < 3.1 today, so neither is a dependency."""
    roots = [r for r in map(_package_dir, ("sktime", "aeon")) if r is not None]
    folders = [r / "datasets" / "data" / "BasicMotions" for r in roots]
    folder = next((f for f in folders if (f / "BasicMotions_TRAIN.ts").is_file()), None)
    if folder is None:
        raise GanforgeError("data.name=basicmotions reads the UEA BasicMotions set bundled in sktime or aeon; "
                            "install one: pip install 'ganforge[series]'")
    parts = [read_ts(folder / f"BasicMotions_{s}.ts") for s in ("TRAIN", "TEST")]
    return np.concatenate([p[0] for p in parts]), parts[0][1] + parts[1][1]


def _macro() -> tuple[np.ndarray, list[str]]:
    try:
        from statsmodels.datasets import macrodata
    except ImportError:
        raise GanforgeError("data.name=macro reads statsmodels' bundled macrodata; "
                            "install it: pip install 'ganforge[series]'") from None
    df = macrodata.load_pandas().data.drop(columns=["year", "quarter"])
    return df.to_numpy(dtype=np.float32), [str(c) for c in df.columns]


def bundled(name: str) -> tuple[np.ndarray, Optional[list[str]], list[str]]:
    """A bundled set: (x, labels or None, feature names). ``basicmotions``: x (80, 100, 6),
    labels one per series; ``macro``: one series x (203, 12) (quarters x columns), no labels."""
    if name == "basicmotions":
        x, labels = _basicmotions()
        axes = [f"{s}_{a}" for s in ("acc", "gyro") for a in "xyz"]  # accelerometer then gyroscope
        return x, labels, axes
    if name == "macro":
        x, cols = _macro()
        return x, None, cols
    raise ValueError(name)


def bundled_windows(name: str, window: int, stride: int) -> tuple[np.ndarray, Optional[list], list[str], int]:
    """A bundled set cut into windows: (x (N, window, F), labels (N,) or None, feature names,
    the number of series cut). One long series (L, F) is cut once; recordings (R, L, F) each
    alike, a window keeping its recording's label."""
    x, labels, features = bundled(name)
    if x.ndim == 2:  # one long series (L, F)
        return windows(x, window, stride), None, features, 1
    per = [windows(s, window, stride) for s in x]
    ys = [lab for lab, w in zip(labels, per) for _ in range(len(w))] if labels is not None else None
    return np.concatenate(per), ys, features, len(x)


# ---------------------------------------------------------------------------- the user's files


def _numeric(df, path: str) -> np.ndarray:
    """The feature columns as float64 (rows, F); one-line errors for text and missing values."""
    import pandas as pd

    for c in df.columns:
        if not pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]):
            bad = pd.to_numeric(df[c], errors="coerce").isna() & df[c].notna()
            row = int(np.argmax(bad.to_numpy())) if bad.any() else 0
            raise GanforgeError(f"data.path: {path}: column '{c}' is not numeric (row {row} holds "
                                f"{df[c].iloc[row]!r}); a series' features must be numbers")
    arr = df.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise GanforgeError(f"data.path: {path}: {int(bad.sum())} missing or infinite values (first: row {row}, "
                            f"column '{df.columns[col]}'); fill or drop them first")
    return arr


def _cut(series: list[np.ndarray], window: int, stride: int, path: str) -> tuple[np.ndarray, list[int]]:
    """Equal-length sequences from series of shape (L_i, F): windows when ``window`` > 0, else
    the series themselves, which must then be of one length. Returns (x, source series of each)."""
    lengths = [len(s) for s in series]
    if window <= 0:
        if len(set(lengths)) > 1:
            raise GanforgeError(f"data.path: {path}: series of unequal length ({min(lengths)} to {max(lengths)} "
                                f"steps); set data.window=W (W <= {min(lengths)}) to cut windows of one length")
        return np.stack(series), list(range(len(series)))
    if window > min(lengths):
        raise GanforgeError(f"data.window={window} is longer than the shortest series ({min(lengths)} steps); "
                            f"use data.window <= {min(lengths)}")
    cut = [windows(s, window, stride) for s in series]
    return np.concatenate(cut), [i for i, c in enumerate(cut) for _ in range(len(c))]


def _read_csv(path: str, window: int, stride: int, target: Optional[str]):
    import pandas as pd

    try:
        df = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise GanforgeError(f"data.path: {path} is empty") from None
    except Exception as e:  # pandas raises many kinds for a malformed file
        raise GanforgeError(f"data.path: {path} is not a readable CSV: {str(e).splitlines()[0]}") from None
    if len(df) == 0:
        raise GanforgeError(f"data.path: {path} holds no rows")
    cols = {str(c).lower(): c for c in df.columns}
    if target is not None and target not in df.columns:
        raise GanforgeError(f"data.target={target}: no such column; columns are: {', '.join(map(str, df.columns))}")
    if "id" in cols:  # long format: one series per id, its rows in time order
        sid, time = cols["id"], cols.get("time")
        if time is not None:
            df = df.sort_values([sid, time], kind="stable")
        features = [c for c in df.columns if c not in (sid, time, target)]
        if not features:
            raise GanforgeError(f"data.path: {path}: no feature columns besides id/time/target")
        groups = list(df.groupby(sid, sort=False))
        series = [_numeric(g[features], path) for _, g in groups]
        labels = None
        if target is not None:
            per = [g[target].unique() for _, g in groups]
            mixed = [k for (k, _), u in zip(groups, per) if len(u) != 1]
            if mixed:
                raise GanforgeError(f"data.target={target}: series '{mixed[0]}' holds more than one label; "
                                    "a label belongs to a whole series")
            labels = [str(u[0]) for u in per]
        fmt = "long"
    else:  # wide format: one series, one row per step, one column per feature
        if target is not None:
            raise GanforgeError(f"data.target={target}: a label belongs to a whole series, so it needs the long "
                                "format (columns id, time, features..., a label constant within each id)")
        time = cols.get("time")
        if time is not None:
            df = df.sort_values(time, kind="stable")
        features = [c for c in df.columns if c != time]
        series, labels, fmt = [_numeric(df[features], path)], None, "wide"
        if window <= 0:
            raise GanforgeError(f"data.path: {path} holds one series of {len(df)} steps (wide format); set "
                                "data.window=W and data.stride=S to cut it into windows")
    x, source = _cut(series, window, stride, path)
    y = [labels[i] for i in source] if labels is not None else None
    return x, y, [str(f) for f in features], fmt, len(series)


def _read_npy(path: str, window: int, stride: int):
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as e:  # numpy raises many kinds for a malformed file
        raise GanforgeError(f"data.path: {path} could not be read as .npy: {str(e).splitlines()[0]}") from None
    if arr.dtype.kind not in "fiu":
        raise GanforgeError(f"data.path: {path}: expected numbers, found dtype {arr.dtype}")
    if arr.size == 0:
        raise GanforgeError(f"data.path: {path} is empty (shape {arr.shape})")
    if arr.ndim not in (2, 3):
        raise GanforgeError(f"data.path: {path}: expected (N, T, F) sequences or one series (L, F), found {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise GanforgeError(f"data.path: {path}: {int(bad.sum())} missing or infinite values (first at index "
                            f"{tuple(int(i) for i in np.argwhere(bad)[0])}); fill or drop them first")
    arr = arr.astype(np.float64)
    series = [arr] if arr.ndim == 2 else list(arr)
    if arr.ndim == 2 and window <= 0:
        raise GanforgeError(f"data.path: {path} holds one series of {len(arr)} steps; set data.window=W and "
                            "data.stride=S to cut it into windows")
    x, _ = _cut(series, window, stride, path)
    return x, None, [f"f{i}" for i in range(arr.shape[-1])], "npy", len(series)


def long_frame(x: np.ndarray, features: list[str], labels: Optional[list] = None, target: str = "label"):
    """Sequences (N, T, F) as a long-format table, the one :func:`load_series` reads: columns
    ``id`` (0 .. N-1), ``time`` (0 .. T-1), the F features, and ``target`` when ``labels``
    (N values) are given; N * T rows, sequence by sequence."""
    import pandas as pd

    n, t, f = x.shape
    df = pd.DataFrame(x.reshape(n * t, f), columns=list(features))
    df.insert(0, "time", np.tile(np.arange(t), n))
    df.insert(0, "id", np.repeat(np.arange(n), t))
    if labels is not None:
        df[target] = np.repeat(np.asarray(labels, dtype=object), t)
    return df


def load_series(path: str, window: int = 0, stride: int = 1, target: Optional[str] = None):
    """The user's sequences: ``(x (N, T, F) float32 in data space, labels (list of N str) or
    None, info)``.

    - ``.npy``: (N, T, F) sequences, or one series (L, F) to window;
    - ``.csv`` long format: an ``id`` column (one series per id), an optional ``time`` column
      (rows sorted by it), feature columns, and ``target`` (a label, constant within an id);
    - ``.csv`` wide format (no ``id`` column): one series, one row per step (sorted by an
      optional ``time`` column), every other column a feature.

    ``window`` > 0 cuts every series into windows of that many steps, ``stride`` apart;
    ``window`` = 0 keeps whole series (of one length). Missing values, text in a feature,
    unequal lengths without a window, a window longer than a series, an empty file: one-line
    :class:`GanforgeError`. Constant features are kept (scaled to 0, listed in ``info``).
    ``info``: format, features, n_series, window, stride, constant (feature names).
    """
    p = Path(path)
    if not p.is_file():
        raise GanforgeError(f"data.path: no such file: {path}")
    if window < 0 or stride < 1:
        raise GanforgeError(f"data.window={window}, data.stride={stride}: need window >= 0 (0 = whole series) "
                            "and stride >= 1")
    if p.stat().st_size == 0:
        raise GanforgeError(f"data.path: {path} is empty")
    if p.suffix == ".npy":
        if target is not None:
            raise GanforgeError(f"data.target={target}: a .npy file has no columns; give labels in a long-format CSV")
        x, y, features, fmt, n_series = _read_npy(path, window, stride)
    elif p.suffix in (".csv", ".txt"):
        x, y, features, fmt, n_series = _read_csv(path, window, stride, target)
    else:
        raise GanforgeError(f"data.path: {path}: expected a .npy or .csv file")
    if len(x) < 2:
        raise GanforgeError(f"data.path: {path} gives {len(x)} sequence; training needs at least 2 (better "
                            "thousands): use a shorter data.window or a smaller data.stride")
    flat = x.reshape(-1, x.shape[-1])
    constant = [f for f, lo, hi in zip(features, flat.min(0), flat.max(0)) if lo == hi]
    info = {"format": fmt, "features": features, "n_series": n_series, "window": int(x.shape[1]),
            "stride": stride if window > 0 else 0, "constant": constant}
    return x.astype(np.float32), y, info
