"""Conditions: what a conditional G and D are told besides the noise, paired with the real data.

A data source names its conditions with a *spec* (``DataSource.condition_spec``; None when it has
none). The spec says which kind of condition it is and the size of a model's input for it; it
draws n conditions for G from the data's distribution on a seeded generator, and it checks a
user's value (``--class 3``, ``--condition species=Adelie``) with a one-line
:class:`~ganforge.errors.GanforgeError`. The source's ``sample(n)`` returns each real batch with
its conditions, ``(x, y)``; the game draws G's with :func:`draw`.

The kinds and their batches (B rows):

- ``class_ids`` (:class:`ClassIds`): y (B,) int64 in [0, K).
- ``table`` (:class:`TableConditions`): y (B,) int64, a category's global index over all the
  discrete columns of a table (CTGAN's conditional vector is its one-hot (B, K)).
- ``attributes`` (:class:`Attributes`): y (B, A) float32, e.g. 40 binary face attributes.
- ``text`` (:class:`Text`): a :class:`TextBatch`, token ids (B, L) int64 padded after each text
  with ``pad_id``, and a mask (B, L) bool, True on the text's own tokens.

The models here embed ids (class ids and table conditions; :func:`n_classes` counts them and
refuses the other kinds in one line). Attributes and text are complete on this side so that a
data kind that needs them (text to image) adds its source and a model, nothing here.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Callable, Optional, Protocol, Sequence, Union, runtime_checkable

import torch
from torch import Tensor

from .errors import GanforgeError

IDS = ("class_ids", "table")  # kinds whose conditions are integer ids (B,) a model embeds


@dataclass(frozen=True)
class TextBatch:
    """Texts as token ids ``tokens`` (B, L) int64, each padded after its end, and ``mask`` (B, L)
    bool, True on the text's own tokens (a prefix of each row: no gaps)."""

    tokens: Tensor
    mask: Tensor

    def __post_init__(self):
        t, m = self.tokens, self.mask
        if t.dim() != 2 or t.shape != m.shape:
            raise ValueError(f"TextBatch: tokens {tuple(t.shape)} and mask {tuple(m.shape)} must both be (B, L)")
        if t.dtype != torch.int64 or m.dtype != torch.bool:
            raise ValueError(f"TextBatch: tokens must be int64 and the mask bool, got {t.dtype} and {m.dtype}")
        if t.shape[1] > 1 and bool((m[:, 1:] & ~m[:, :-1]).any()):
            raise ValueError("TextBatch: the mask must be True on a prefix of each row (padding only at the end)")

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def __getitem__(self, rows) -> "TextBatch":
        """The rows ``rows`` (a slice or an index tensor) as a TextBatch."""
        if isinstance(rows, int):
            rows = slice(rows, rows + 1)  # stays (1, L)
        return TextBatch(self.tokens[rows], self.mask[rows])

    @property
    def lengths(self) -> Tensor:
        """Tokens in each text (B,) int64."""
        return self.mask.sum(1)

    def to(self, device) -> "TextBatch":
        return TextBatch(self.tokens.to(device), self.mask.to(device))

    def map(self, fn: Callable[[Tensor], Tensor]) -> "TextBatch":
        """``fn`` applied to both tensors, e.g. a rank's rows of a global batch."""
        return TextBatch(fn(self.tokens), fn(self.mask))


Condition = Union[Tensor, TextBatch]  # a batch of conditions: (B,), (B, A) or a TextBatch of B texts


@runtime_checkable
class ConditionSpec(Protocol):
    """What a data source's conditions are. ``kind`` is one of ``class_ids``, ``table``,
    ``attributes``, ``text``; ``size`` is a model's input size for them: classes for class ids,
    categories for table conditions, width for attributes, vocabulary for text."""

    kind: str
    size: int

    def draw(self, n: int, gen: torch.Generator, empirical: bool = False) -> Condition:
        """n conditions for G, on ``gen``'s device, from ``gen`` only. ``empirical``: at the
        data's own frequencies (sampling the data as it is) where training draws otherwise."""
        ...

    def check(self, value, name: str = "--class"):
        """A user's value as this spec takes it (an id for ids, else a batch of 1 row, or of n
        rows for n values); a one-line GanforgeError naming ``name`` when it is not one of this
        data's conditions."""
        ...

    def repeat(self, value, n: int) -> Condition:
        """n rows of one checked value."""
        ...

    def held_by(self, x: Tensor) -> Optional[Condition]:
        """The conditions samples x (N, *shape) hold themselves (a table row holds its
        categories), or None where a sample does not say (an image does not carry its class)."""
        ...


def _say(name: str, value) -> str:
    """How an error names the value: ``--class 12`` for a flag, ``label=12`` for an argument."""
    return f"{name} {value}" if name.startswith("-") else f"{name}={value}"


def _int_value(value, name: str) -> Union[int, Tensor]:
    """An int, or a 0/1-dim integer tensor as int64; anything else is a one-line error."""
    if isinstance(value, Tensor):
        if value.dtype.is_floating_point or value.dtype == torch.bool or value.dim() > 1:
            raise GanforgeError(f"{name}: expected integer ids (n,), got a {value.dtype} tensor {tuple(value.shape)}")
        return value.long().reshape(-1)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise GanforgeError(f"{_say(name, value)}: expected an integer")
    return int(value)


def _in_range(y: Union[int, Tensor], size: int, name: str, advice: str) -> Union[int, Tensor]:
    """``y`` when every id is in [0, size); else a one-line error naming the first one that is not."""
    if isinstance(y, int):
        bad = None if 0 <= y < size else y
    else:
        out = (y < 0) | (y >= size)
        bad = int(y[out][0]) if bool(out.any()) else None
    if bad is not None:
        raise GanforgeError(f"{_say(name, bad)}: {advice}")
    return y


class ClassIds:
    """Class ids y (B,) int64 in [0, K). G's classes are drawn uniformly (every class alike, as a
    class-conditional GAN is trained), or at the frequencies ``p`` (K,) when the source gives them
    (:meth:`from_labels`). ``names``: the classes' names, accepted by :meth:`check`."""

    kind = "class_ids"

    def __init__(self, n_classes: int, p: Optional[Sequence[float]] = None, names: Optional[Sequence[str]] = None):
        if n_classes < 1:
            raise ValueError(f"ClassIds: n_classes must be >= 1, got {n_classes}")
        self.size = int(n_classes)
        self.p = None if p is None else torch.as_tensor(p, dtype=torch.float64) / float(sum(p))
        if self.p is not None and len(self.p) != self.size:
            raise ValueError(f"ClassIds: {len(self.p)} frequencies for {self.size} classes")
        self.names = [str(s) for s in names] if names else None

    @classmethod
    def from_labels(cls, labels: Tensor, n_classes: int, names: Optional[Sequence[str]] = None) -> "ClassIds":
        """Classes drawn at the frequencies of ``labels`` (N,) int64."""
        return cls(n_classes, torch.bincount(labels, minlength=n_classes).tolist(), names)

    def __repr__(self) -> str:
        return f"ClassIds({self.size}{', by frequency' if self.p is not None else ''})"

    def draw(self, n: int, gen: torch.Generator, empirical: bool = False) -> Tensor:
        """(n,) int64 on ``gen``'s device; ``empirical`` changes nothing (one distribution)."""
        if self.p is None:
            return torch.randint(self.size, (n,), generator=gen, device=gen.device)
        return torch.multinomial(self.p.to(gen.device), n, replacement=True, generator=gen)

    def check(self, value, name: str = "--class") -> Union[int, Tensor]:
        """An int (or a class's name) -> the class id; an id tensor (n,) -> int64 (n,)."""
        if isinstance(value, str) and not value.lstrip("-").isdigit():
            if self.names is None or value not in self.names:
                known = f"; classes: {', '.join(self.names)}" if self.names else ""
                raise GanforgeError(f"{_say(name, value)}: expected a class id in 0..{self.size - 1}{known}")
            return self.names.index(value)
        y = _int_value(int(value) if isinstance(value, str) else value, name)
        return _in_range(y, self.size, name, f"choose a class in 0..{self.size - 1}")

    def repeat(self, value, n: int) -> Tensor:
        return torch.full((n,), int(value), dtype=torch.int64)

    def held_by(self, x: Tensor) -> None:
        return None  # an image does not carry its class


class TableConditions:
    """A table's conditions (Xu et al. 2019, CTGAN): y (B,) int64, the global index of one
    category over all discrete columns. ``groups``: per discrete column, its categories' global
    indices and their training counts; ``col_p``: the columns' probabilities (``data.target_share``),
    else uniform. ``names``: per discrete column, (its name, its categories' labels), for
    ``COLUMN=VALUE`` values; ``cond_spans``: per discrete column, the (start, width) of its
    one-hot in a row, for :meth:`held_by`.

    :meth:`draw` is training-by-sampling's draw: a column, then one of its categories with
    probability proportional to log(1 + count), or to the count (``empirical``)."""

    kind = "table"

    def __init__(self, groups: Sequence[tuple[Sequence[int], Sequence[int]]], col_p: Optional[Sequence[float]] = None,
                 names: Optional[Sequence[tuple[str, Sequence[str]]]] = None,
                 cond_spans: Optional[Sequence[tuple[int, int]]] = None):
        self.groups = [(list(i), list(c)) for i, c in groups]
        self.size = sum(len(i) for i, _ in self.groups)
        if not self.size:
            raise ValueError("TableConditions: a table without discrete columns has no conditions")
        width = max(len(i) for i, _ in self.groups)
        # (columns, width) tables of global index, count and log(1 + count); rows padded with weight 0
        self.idx = torch.zeros(len(self.groups), width, dtype=torch.int64)
        self.w, self.logw = torch.zeros(len(self.groups), width), torch.zeros(len(self.groups), width)
        for j, (ii, counts) in enumerate(self.groups):
            self.idx[j, : len(ii)] = torch.tensor(ii)
            self.w[j, : len(ii)] = torch.tensor(counts, dtype=torch.float32)
            self.logw[j, : len(ii)] = torch.log1p(self.w[j, : len(ii)])
        self.col_p = None if col_p is None else torch.tensor(col_p, dtype=torch.float64)
        self.names = [(str(c), [str(v) for v in vals]) for c, vals in names] if names is not None else None
        self.cond_spans = [tuple(s) for s in cond_spans] if cond_spans is not None else None
        self._on: dict = {}  # device -> (idx, w, logw, col_p) there: no copy per training step

    def _tables(self, dev: torch.device) -> tuple:
        if dev not in self._on:
            tables = (self.idx, self.w, self.logw, self.col_p)
            self._on[dev] = tuple(t.to(dev) if t is not None else None for t in tables)
        return self._on[dev]

    @classmethod
    def from_layout(cls, layout: dict, names=None) -> "TableConditions":
        """From a table source's ``layout``: its ``groups``, ``cond_spans`` and, when not uniform, ``col_p``."""
        return cls(layout["groups"], layout.get("col_p"), names, layout.get("cond_spans"))

    def __repr__(self) -> str:
        return f"TableConditions({len(self.groups)} columns, {self.size} categories)"

    def draw_columns(self, n: int, gen: torch.Generator) -> Tensor:
        """Which discrete column each of n conditions names (n,), on ``gen``'s device."""
        if self.col_p is not None:
            return torch.multinomial(self._tables(gen.device)[3], n, replacement=True, generator=gen)
        return torch.randint(len(self.groups), (n,), generator=gen, device=gen.device)

    def draw(self, n: int, gen: torch.Generator, empirical: bool = False) -> Tensor:
        """Global category indices (n,) int64 on ``gen``'s device."""
        idx, w, logw, _ = self._tables(gen.device)
        col = self.draw_columns(n, gen)  # (n,)
        probs = (w if empirical else logw)[col]  # (n, width)
        pick = torch.multinomial(probs, 1, generator=gen).squeeze(1)  # (n,)
        return idx[col, pick]

    def index_of(self, column: str, value: str, name: str = "--condition") -> int:
        """The global index of ``column=value``; one-line errors naming the columns or values."""
        said = _say(name, f"{column}={value}")
        if self.names is None:
            raise GanforgeError(f"{said}: this run's conditions have no column names; give a category index")
        hit = next((j for j, (c, _) in enumerate(self.names) if c == column), None)
        if hit is None:
            raise GanforgeError(f"{said}: '{column}' is not a categorical column; those are: "
                                f"{', '.join(c for c, _ in self.names) or 'none'}")
        labels = self.names[hit][1]
        if value not in labels:
            raise GanforgeError(f"{said}: never seen in training; values: {', '.join(labels)}")
        return self.groups[hit][0][labels.index(value)]

    def check(self, value, name: str = "--condition") -> Union[int, Tensor]:
        """``COLUMN=VALUE`` or a global index (int, or an id tensor (n,)) -> the index."""
        if isinstance(value, str) and "=" in value:
            column, _, v = value.partition("=")
            return self.index_of(column, v, name)
        y = _int_value(int(value) if isinstance(value, str) and value.lstrip("-").isdigit() else value, name)
        return _in_range(y, self.size, name, f"choose a category in 0..{self.size - 1} (or COLUMN=VALUE)")

    def repeat(self, value, n: int) -> Tensor:
        return torch.full((n,), int(value), dtype=torch.int64)

    def held_by(self, x: Tensor) -> Tensor:
        """The condition each row (N, width) of the layout holds (N,): the global index of its
        category in the first discrete column (an all-zero one-hot reads as its first category)."""
        if self.cond_spans is None:
            raise ValueError("TableConditions.held_by needs the layout's cond_spans")
        start, width = self.cond_spans[0]
        return x[:, start : start + width].argmax(1) + self.groups[0][0][0]


class Attributes:
    """Attribute vectors y (B, A) float32, drawn for G as the rows of the data's own attribute
    table ``rows`` (N, A) (so their joint distribution is the data's). ``binary``: every value is
    0 or 1 (e.g. face attributes). ``names``: the A attributes' names, for messages."""

    kind = "attributes"

    def __init__(self, rows: Tensor, binary: bool = False, names: Optional[Sequence[str]] = None):
        if rows.dim() != 2 or len(rows) == 0:
            raise ValueError(f"Attributes: rows must be (N, A) with N >= 1, got {tuple(rows.shape)}")
        self.rows = rows.float()
        self.size = rows.shape[1]
        self.binary = binary
        self.names = [str(s) for s in names] if names else None
        if self.names is not None and len(self.names) != self.size:
            raise ValueError(f"Attributes: {len(self.names)} names for {self.size} attributes")

    def __repr__(self) -> str:
        return f"Attributes({self.size}{', binary' if self.binary else ''})"

    def draw(self, n: int, gen: torch.Generator, empirical: bool = False) -> Tensor:
        """(n, A) float32 on ``gen``'s device: rows of the data's attributes, uniformly."""
        pick = torch.randint(len(self.rows), (n,), generator=gen, device=gen.device)  # (n,)
        return self.rows.to(gen.device)[pick]

    def check(self, value, name: str = "--attributes") -> Tensor:
        """A sequence of A numbers (or a tensor (A,) or (n, A)) -> float32 (1, A) or (n, A)."""
        try:
            y = torch.as_tensor(value, dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError):
            raise GanforgeError(f"{_say(name, value)}: expected {self.size} numbers") from None
        y = y.reshape(1, -1) if y.dim() <= 1 else y
        if y.dim() != 2 or y.shape[1] != self.size:
            raise GanforgeError(f"{name}: expected {self.size} attribute values per row, got shape {tuple(y.shape)}")
        if not bool(torch.isfinite(y).all()):
            raise GanforgeError(f"{name}: attribute values must be finite numbers")
        if self.binary and not bool(((y == 0) | (y == 1)).all()):
            col = int(((y != 0) & (y != 1)).any(0).nonzero()[0])
            which = self.names[col] if self.names else f"attribute {col}"
            raise GanforgeError(f"{name}: {which} is {float(y[:, col].flatten()[0]):g}; these attributes are 0 or 1")
        return y

    def repeat(self, value: Tensor, n: int) -> Tensor:
        return value.reshape(1, self.size).expand(n, self.size).clone()

    def held_by(self, x: Tensor) -> None:
        return None  # an image does not carry its attributes


def pad_texts(texts: Sequence[Sequence[int]], max_len: int, size: int, pad_id: int = 0,
              name: str = "--text") -> TextBatch:
    """Token-id lists -> a TextBatch (n, max_len), each text followed by ``pad_id``; every id in
    [0, size) and not ``pad_id``, every text 1..max_len tokens, else a one-line error."""
    tokens = torch.full((len(texts), max_len), pad_id, dtype=torch.int64)
    mask = torch.zeros(len(texts), max_len, dtype=torch.bool)
    for i, ids in enumerate(texts):
        ids = [int(t) for t in ids]
        if not ids:
            raise GanforgeError(f"{name}: an empty text; give at least one token")
        if len(ids) > max_len:
            raise GanforgeError(f"{name}: a text of {len(ids)} tokens; this run's texts hold at most {max_len}")
        bad = next((t for t in ids if not 0 <= t < size or t == pad_id), None)
        if bad is not None:
            raise GanforgeError(f"{name}: token id {bad} is not a word of this run's vocabulary "
                                f"(ids 0..{size - 1}, {pad_id} is padding)")
        tokens[i, : len(ids)] = torch.tensor(ids)
        mask[i, : len(ids)] = True
    return TextBatch(tokens, mask)


class Text:
    """Texts as token ids: a :class:`TextBatch` of up to ``max_len`` tokens from a vocabulary of
    ``size`` ids, ``pad_id`` filling the rest. G's texts are drawn from the data's own texts
    ``corpus`` (a TextBatch (N, max_len)), uniformly; ``vocab`` (the words of ids 0..size-1)
    lets :meth:`check` take a string, split on white space (no tokenizer model here)."""

    kind = "text"

    def __init__(self, corpus: TextBatch, size: int, pad_id: int = 0, vocab: Optional[Sequence[str]] = None):
        if len(corpus) == 0:
            raise ValueError("Text: the corpus holds no texts")
        if vocab is not None and len(vocab) != size:
            raise ValueError(f"Text: {len(vocab)} words for a vocabulary of {size} ids")
        self.corpus, self.size, self.pad_id = corpus, int(size), int(pad_id)
        self.max_len = corpus.tokens.shape[1]
        self.vocab = list(vocab) if vocab is not None else None

    @classmethod
    def from_ids(cls, texts: Sequence[Sequence[int]], size: int, max_len: int, pad_id: int = 0,
                 vocab: Optional[Sequence[str]] = None) -> "Text":
        """The conditions of a data source whose texts are the token-id lists ``texts``."""
        return cls(pad_texts(texts, max_len, size, pad_id, "texts"), size, pad_id, vocab)

    def __repr__(self) -> str:
        return f"Text(vocabulary {self.size}, up to {self.max_len} tokens)"

    def draw(self, n: int, gen: torch.Generator, empirical: bool = False) -> TextBatch:
        """n of the data's texts, uniformly: tokens and mask (n, max_len) on ``gen``'s device."""
        pick = torch.randint(len(self.corpus), (n,), generator=gen, device=gen.device)  # (n,)
        return self.corpus.to(gen.device)[pick]

    def pad(self, texts: Sequence[Sequence[int]], name: str = "--text") -> TextBatch:
        """Token-id lists -> a TextBatch (n, max_len): ids checked, padded after each text."""
        return pad_texts(texts, self.max_len, self.size, self.pad_id, name)

    def check(self, value, name: str = "--text") -> TextBatch:
        """A string (with ``vocab``), a list of token ids, a list of such lists, or a TextBatch."""
        if isinstance(value, TextBatch):  # re-padded to this run's length, its ids checked
            return self.pad([t[m].tolist() for t, m in zip(value.tokens, value.mask)], name)
        if isinstance(value, str):
            if self.vocab is None:
                raise GanforgeError(f"{_say(name, repr(value))}: this run's texts are token ids; give a list of ids")
            words = value.split()
            unknown = [w for w in words if w not in self.vocab]
            if unknown:
                raise GanforgeError(f"{_say(name, repr(value))}: '{unknown[0]}' is not in this run's vocabulary")
            return self.pad([[self.vocab.index(w) for w in words]], name)
        if isinstance(value, Sequence) and value and all(isinstance(v, Sequence) and not isinstance(v, str)
                                                         for v in value):
            return self.pad(value, name)  # several texts
        if isinstance(value, Sequence) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return self.pad([value], name)  # one text
        raise GanforgeError(f"{name}: expected a text (token ids, or words with a vocabulary), "
                            f"got {type(value).__name__}")

    def repeat(self, value: TextBatch, n: int) -> TextBatch:
        return value.map(lambda t: t[:1].expand(n, -1).clone())

    def held_by(self, x: Tensor) -> None:
        return None  # an image does not carry its caption


# ----------------------------------------------------------------------------- what callers use


def check_condition(spec: Optional[ConditionSpec], value, name: str = "--class") -> Condition:
    """The one check of a user's condition value (``--class``, ``--to-class``, ``--label``,
    ``--condition``, ``label=``) against a run's conditions ``spec`` (None: an unconditional run);
    returns the value as the spec takes it. Errors are one line and name ``name``."""
    if spec is None:
        raise GanforgeError(f"{_say(name, value)}: this run is not conditional (model.conditional=false)")
    return spec.check(value, name)


def draw(spec: Optional[ConditionSpec], n: int, gen: torch.Generator, empirical: bool = False) -> Optional[Condition]:
    """n conditions for G from ``spec`` (None for an unconditional run, which draws nothing)."""
    return None if spec is None else spec.draw(n, gen, empirical)


def rows_of(y: Optional[Condition], fn: Optional[Callable[[Tensor], Tensor]]) -> Optional[Condition]:
    """``fn`` (e.g. DDP's cut of a global batch to this rank's rows) applied to a condition batch."""
    if y is None or fn is None:
        return y
    return y.map(fn) if isinstance(y, TextBatch) else fn(y)


def n_classes(spec: Optional[ConditionSpec], what: str = "model.conditional=true") -> int:
    """The ids a model embeds for ``spec``: 0 for None, its size for class ids and table
    conditions; attributes and text are refused in one line (no model here takes them)."""
    if spec is None:
        return 0
    if spec.kind not in IDS:
        raise GanforgeError(f"{what}: this data's conditions are {spec.kind} ({spec!r}); the models here are "
                            "conditioned on class ids or table categories only")
    return spec.size


def class_count(spec: Optional[ConditionSpec]) -> int:
    """A data source's ``n_classes``: the size of id conditions, else 0 (none, attributes, text)."""
    return spec.size if spec is not None and spec.kind in IDS else 0
