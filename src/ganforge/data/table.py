"""Tables of mixed types: ``data.name=table data.path=FILE.csv`` (or ``.parquet``, or a bundled table).

Columns are typed automatically (continuous, integer, categorical, boolean, datetime; see
:func:`infer_type`), ``data.columns.<name>=<type>`` overrides, ``data.target`` names a label
column (stratifies the split, is what TSTR predicts). A fixed stratified 70/30 split (seed
:data:`SPLIT_SEED`, whatever the run's seed) keeps 30% out of training for evaluation.

Bundled tables, no download: ``data.path=breast_cancer``, ``wine``, ``diabetes`` (scikit-learn)
and ``penguins`` (palmerpenguins, mixed types with missing values); a file of that name wins.

Training-by-sampling (Xu et al. 2019): each real batch row is drawn by first choosing a
discrete column uniformly, then one of its categories with probability proportional to
log(1 + count), then a training row holding it. The label of the row is that category's
global index over all discrete columns (``n_classes`` of them), which the tabular model turns
into its conditional vector; rare categories are thus seen far more often than their rate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from ..conditions import TableConditions
from ..config import DataConfig
from ..errors import GanforgeError
from .base import DataSource, Finite, Normalized, register_dataset
from .kinds import TABLE
from .table_transform import DISCRETE, MISSING, TYPES, TableTransformer, to_numbers

SPLIT_SEED = 0  # the held-out split is the same for every run and every seed
BUNDLED = ("breast_cancer", "wine", "diabetes", "penguins")
_MAX_CATEGORIES_AUTO = 10  # integer-valued columns with at most this many values are categories


def bundled(name: str):
    """(frame, target) of a bundled table."""
    import pandas as pd

    if name == "penguins":
        import palmerpenguins

        return palmerpenguins.load_penguins(), "species"
    from sklearn import datasets

    b = getattr(datasets, f"load_{name}")(as_frame=True)
    df = b.frame.copy()
    if name != "diabetes":  # class indices -> their names, so the table reads as a table
        df["target"] = pd.Series(np.asarray(b.target_names)[b.target.to_numpy()], index=df.index)
    return df, "target"


def read_table(path: str):
    """(frame, bundled target or None) from ``data.path``; one-line errors for files that are not tables."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        if path in BUNDLED:
            return bundled(path)
        raise GanforgeError(f"data.path: no such file: {path} (or a bundled table: {', '.join(BUNDLED)})")
    try:
        if p.suffix == ".parquet":
            df = pd.read_parquet(p)
        elif p.suffix in (".csv", ".txt"):
            df = pd.read_csv(p)
        else:
            raise GanforgeError(f"data.path: {path}: expected a .csv or .parquet file")
    except GanforgeError:
        raise
    except ImportError:
        raise GanforgeError(f"data.path: {path}: reading parquet needs pyarrow; use a .csv") from None
    except Exception as e:  # pandas raises many kinds for a malformed file
        raise GanforgeError(f"data.path: {path} is not a readable CSV: {str(e).splitlines()[0]}") from None
    if len(df.columns) < 1 or len(df) == 0:
        raise GanforgeError(f"data.path: {path} holds no rows")
    if len(df) < 2:
        raise GanforgeError(f"data.path: {path} holds a single row; a table needs at least 2 (better hundreds)")
    return df, None


def infer_type(s) -> str:
    """The type of one column (its missing values ignored); raises on mixed numbers and text."""
    import pandas as pd

    ok = s.dropna()
    if ok.dtype == bool or set(map(str, ok.unique())) <= {"True", "False", "true", "false"}:
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(ok):
        return "datetime"
    if not pd.api.types.is_numeric_dtype(ok):
        num = pd.to_numeric(ok, errors="coerce")
        bad = num.isna()
        if not bad.all() and bad.mean() < 0.5:  # mostly numbers, some text: a broken column
            row = bad.to_numpy().nonzero()[0][0]
            raise GanforgeError(f"column '{s.name}': mixed types: numbers, and '{ok.iloc[row]}' at row "
                                f"{ok.index[row]}; fix the value or declare data.columns.{s.name}=categorical")
        if not bad.any():
            ok = num
        else:
            try:
                if ok.astype(str).str.contains(r"\d[-/:]\d").all():
                    pd.to_datetime(ok, format="mixed")
                    return "datetime"
            except (ValueError, TypeError):
                pass
            return "categorical"
    v = ok.to_numpy(dtype=np.float64)
    if np.all(v == np.round(v)):
        return "categorical" if len(np.unique(v)) <= _MAX_CATEGORIES_AUTO else "integer"
    return "continuous"


def check_declared(s, kind: str) -> None:
    """A declared type the data contradicts: one line naming the column and the first bad row."""
    import pandas as pd

    ok = s.dropna()
    if kind in ("continuous", "integer", "datetime"):
        x = pd.Series(to_numbers(ok, kind), index=ok.index)
        bad = x.isna() | (kind == "integer") & (x != x.round())
        if bad.any():
            row = bad.to_numpy().nonzero()[0][0]
            raise GanforgeError(f"data.columns.{s.name}={kind}: row {ok.index[row]} holds '{ok.iloc[row]}', "
                                f"not {'an integer' if kind == 'integer' else 'a ' + kind + ' value'}")
    if kind == "boolean" and ok.nunique() > 2:
        raise GanforgeError(f"data.columns.{s.name}=boolean: the column holds {ok.nunique()} distinct values")


def column_types(df, declared: dict, target: Optional[str]) -> dict:
    for name, kind in declared.items():
        if name not in df.columns:
            raise GanforgeError(f"data.columns.{name}: no such column; columns are: {', '.join(map(str, df.columns))}")
        if kind not in TYPES:
            raise GanforgeError(f"data.columns.{name}={kind}: choose one of {', '.join(TYPES)}")
    if target is not None and target not in df.columns:
        raise GanforgeError(f"data.target={target}: no such column; columns are: {', '.join(map(str, df.columns))}")
    types = {}
    for name in df.columns:
        if df[name].isna().all():
            raise GanforgeError(f"column '{name}': entirely empty; drop it from the table")
        if name in declared:
            check_declared(df[name], declared[name])
            types[name] = declared[name]
        else:
            types[name] = infer_type(df[name])
    return types


def split(df, target: Optional[str], types: dict):
    """(train, holdout) frames: 70/30, stratified by a discrete target, seed :data:`SPLIT_SEED`."""
    from sklearn.model_selection import train_test_split

    strat = None
    if target is not None and types[target] in DISCRETE:
        labels = df[target].astype(object).where(df[target].notna(), MISSING).astype(str)
        if labels.value_counts().min() >= 2:
            strat = labels
    if len(df) < 4:
        return df.reset_index(drop=True), df.iloc[:0]
    tr, ho = train_test_split(df, test_size=0.3, random_state=SPLIT_SEED, stratify=strat)
    return tr.reset_index(drop=True), ho.reset_index(drop=True)


class TableData(Normalized, DataSource, Finite):
    """A table as rows of the transformed layout (N, width); model space is that layout itself
    (loc 0, scale 1), and so is "data space": :meth:`to_frame` turns rows back into a table.
    ``layout`` tells the tabular model its spans and the conditional sampler's probabilities."""

    kind = TABLE  # what one sample is (data/kinds)
    evaluator = "table"

    def __init__(self, df, types: dict, target: Optional[str], seed: int, target_share: float = 0.0):
        self.types, self.target, self.target_share = types, target, target_share
        self.train, self.holdout = split(df, target, types)
        self.tf = TableTransformer(types, seed=SPLIT_SEED).fit(self.train)
        self.rows = torch.from_numpy(self.tf.transform(self.train))  # (N, width)
        self.shape = (self.tf.width,)
        self.loc, self.scale = torch.zeros(self.shape), torch.ones(self.shape)
        # the conditional vector: every category of every discrete column, in span order
        self.cond = [(c, i) for c in self.tf.columns if c.kind in DISCRETE for i in range(len(c.categories))]
        self.seed = seed
        self.gen = torch.Generator().manual_seed(seed)
        self._index_rows()
        self.layout = self._layout()
        # the conditions (B,): a category's global index; n_classes (derived) counts them
        names = [(c.name, [str(v) for v in c.categories]) for c in self.tf.columns if c.kind in DISCRETE]
        self.condition_spec = TableConditions.from_layout(self.layout, names) if self.cond else None

    def _index_rows(self) -> None:
        spans = {s.column: s for s in self.tf.spans if s.act == "softmax"}
        self.members = []  # per global category: the training rows holding it (tensor of indices)
        for c in self.tf.columns:
            if c.kind in DISCRETE:
                sp = spans[c.name]
                which = self.rows[:, sp.start : sp.start + sp.width].argmax(1)
                self.members += [(which == i).nonzero().flatten() for i in range(len(c.categories))]

    def _layout(self) -> dict:
        """What the tabular model needs: spans [(start, width, act)], and per discrete column its
        categories' global indices with their training counts."""
        groups, k = [], 0
        for c in self.tf.columns:
            if c.kind in DISCRETE:
                groups.append((list(range(k, k + len(c.categories))), list(c.counts)))
                k += len(c.categories)
        cond_spans = [(s.start, s.width) for s, c in zip(_first_softmax(self.tf), self.tf.columns) if c.kind in DISCRETE]
        layout = {"spans": [(s.start, s.width, s.act) for s in self.tf.spans], "groups": groups, "cond_spans": cond_spans}
        names = [c.name for c in self.tf.columns if c.kind in DISCRETE]
        # a categorical target gets data.target_share of the conditions, the other discrete columns the rest;
        # with no categorical target, or no other discrete column, every column is drawn alike
        if self.target_share > 0 and self.target in names and len(names) > 1:
            rest = (1 - self.target_share) / (len(names) - 1)
            layout["col_p"] = [self.target_share if n == self.target else rest for n in names]
        return layout

    def draw_conditions(self, n: int, gen: torch.Generator, log: bool = True) -> Tensor:
        """Global category indices (n,): a discrete column uniformly (or by ``data.target_share``),
        then a category with probability proportional to log(1 + count) (``log``) or to its count.
        The distribution of ``condition_spec.draw`` (G's conditions), drawn column by column: the
        real rows' own random stream, kept as it was so that training batches stay the same."""
        groups = self.layout["groups"]  # [(global indices, counts)] per discrete column
        col = self.condition_spec.draw_columns(n, gen)  # (n,)
        out = torch.empty(n, dtype=torch.int64)
        for j, (idx, counts) in enumerate(groups):
            pick = (col == j).nonzero().flatten()
            w = torch.tensor(counts, dtype=torch.float64)
            w = torch.log1p(w) if log else w
            out[pick] = torch.tensor(idx)[torch.multinomial(w, len(pick), replacement=True, generator=gen)] \
                if len(pick) else out[pick]
        return out

    def sample(self, n: int) -> tuple[Tensor, Optional[Tensor]]:
        if not self.n_classes:
            return self.rows[torch.randint(len(self.rows), (n,), generator=self.gen)], None
        y = self.draw_conditions(n, self.gen)
        pick = torch.empty(n, dtype=torch.int64)
        for k in y.unique().tolist():
            at = (y == k).nonzero().flatten()
            rows = self.members[k]
            pick[at] = rows[torch.randint(len(rows), (len(at),), generator=self.gen)]
        return self.rows[pick], y

    def reference(self, n: int, seed: int) -> Tensor:
        g = torch.Generator().manual_seed(seed)
        return self.rows[torch.randint(len(self.rows), (n,), generator=g)]

    def to_frame(self, x: Tensor):
        """Rows of the layout (n, width) -> a table with the original columns."""
        return self.tf.inverse(x.detach().cpu().numpy())

    def condition(self, column: str, value: str) -> int:
        """The global category index of ``column=value`` (``--condition``); one-line errors."""
        if self.condition_spec is None:
            raise GanforgeError(f"--condition {column}={value}: '{column}' is not a categorical column; those are: none")
        return self.condition_spec.index_of(column, value)

    def row_labels(self, rows: Tensor) -> Optional[Tensor]:
        """The condition each row holds itself (N,): the global index of its category in the
        first discrete column (all-zero one-hots read as that column's first category); None
        without discrete columns."""
        return self.condition_spec.held_by(rows) if self.condition_spec is not None else None

    def unseen(self, rows: Tensor) -> Tensor:
        """(N,) bool: rows whose one-hot in some discrete column is all zero (a category never
        seen in training, see :meth:`read_rows`)."""
        out = torch.zeros(len(rows), dtype=torch.bool)
        for start, width in self.layout["cond_spans"]:
            out |= rows[:, start : start + width].sum(1) < 0.5
        return out

    def read_rows(self, path: Path) -> tuple[Tensor, list[str]]:
        """A user's table with this run's columns (extra columns ignored) -> rows of the layout
        (N, width) and their names (row numbers); categories never seen in
        training are encoded as an all-zero one-hot (:meth:`unseen` finds them)."""
        df, _ = read_table(str(path))
        df.columns = [str(c) for c in df.columns]
        missing = [c.name for c in self.tf.columns if c.name not in df.columns]
        if missing:
            raise GanforgeError(f"--data {path}: missing column(s) {', '.join(missing)}; this run's table has "
                                f"{', '.join(c.name for c in self.tf.columns)}")
        if len(df) == 0:
            raise GanforgeError(f"--data {path}: no rows")
        for c in self.tf.columns:
            if c.kind not in DISCRETE:
                bad = df[c.name].notna() & np.isnan(to_numbers(df[c.name], c.kind))
                if bad.any():
                    raise GanforgeError(f"--data {path}: column '{c.name}' is {c.kind} in this run, but row "
                                        f"{int(np.argmax(bad.to_numpy()))} holds {df[c.name][bad].iloc[0]!r}")
        rows = torch.from_numpy(self.tf.transform(df, unseen_zero=True))
        return rows, [str(i) for i in range(len(df))]

    def keep_first(self, n: int) -> None:
        self.rows = self.rows[:n]
        self._index_rows()
        self.members = [m if len(m) else torch.zeros(1, dtype=torch.int64) for m in self.members]

    def nbytes(self) -> int:
        return self.rows.numel() * self.rows.element_size()

    def hold_on(self, device: torch.device) -> None:
        pass  # tables are small; batches are gathered on the host

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["gen"])


def _first_softmax(tf: TableTransformer):
    """Per column, the span a discrete column is (its only one); numeric columns yield their tanh span."""
    seen = {}
    for s in tf.spans:
        seen.setdefault(s.column, s)
    return [seen[c.name] for c in tf.columns]


@register_dataset(TABLE)
def table(cfg: DataConfig, seed: int) -> TableData:
    """A table of mixed types: ``data.path`` a .csv/.parquet file or a bundled table's name."""
    if not cfg.path:
        raise GanforgeError(f"data.path: data.name=table needs data.path=FILE.csv or one of: {', '.join(BUNDLED)}")
    df, default_target = read_table(cfg.path)
    df.columns = [str(c) for c in df.columns]
    target = cfg.target or default_target
    types = column_types(df, dict(cfg.columns), target)
    if target is not None and types[target] not in DISCRETE and len(df[target].unique()) <= _MAX_CATEGORIES_AUTO \
            and target not in cfg.columns:
        types[target] = "categorical"
    return TableData(df, types, target, seed, cfg.target_share)
