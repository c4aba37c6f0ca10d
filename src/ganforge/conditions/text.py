"""Text conditions: token ids (B, L) int64 padded after each text, with a mask (B, L) bool
(:class:`TextBatch`), drawn as the data's own texts (:class:`Text`). No tokenizer model here:
a vocabulary list maps white-space separated words to ids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch
from torch import Tensor

from ..errors import GanforgeError
from .base import _say


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

    def to(self, device, non_blocking: bool = False) -> "TextBatch":
        return TextBatch(self.tokens.to(device, non_blocking=non_blocking), self.mask.to(device, non_blocking=non_blocking))

    def map(self, fn: Callable[[Tensor], Tensor]) -> "TextBatch":
        """``fn`` applied to both tensors, e.g. a rank's rows of a global batch."""
        return TextBatch(fn(self.tokens), fn(self.mask))


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

    def rows(self, limit: int = 16) -> None:
        return None  # text: a row per prompt comes with the text-to-image model
