"""Captions: a word vocabulary built from the training captions (:class:`Vocabulary`) and the
text condition of a captioned image set (:class:`Captions`, a :class:`~.text.Text` that reads
a typed prompt through it and names a row per prompt in sample figures).

Tokenising is lower-casing, dropping punctuation and splitting on white space: no tokenizer
model. Id 0 is padding; ids 1.. are the training captions' words, sorted, so the same captions
give the same ids. A word the training captions never held is refused in one line that names it
and the closest known words (:func:`difflib.get_close_matches`)."""

from __future__ import annotations

import difflib
import re
from typing import Iterable, Optional, Sequence

import torch

from ..errors import GanforgeError
from .base import _say
from .text import Text, TextBatch, pad_texts

PAD = "<pad>"
_PUNCT = re.compile(r"[^\w\s]")


def words_of(text: str) -> list[str]:
    """"On the left, a BIG red 7!" -> ['on', 'the', 'left', 'a', 'big', 'red', '7']."""
    return _PUNCT.sub(" ", str(text).lower()).split()


class Vocabulary:
    """Words <-> ids: ``words[0]`` is padding, the rest sorted."""

    def __init__(self, words: Sequence[str]):
        self.words = [PAD] + sorted(set(words) - {PAD})
        self.ids = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def from_captions(cls, captions: Iterable[str]) -> "Vocabulary":
        return cls([w for c in captions for w in words_of(c)])

    def __len__(self) -> int:
        return len(self.words)

    def closest(self, word: str, n: int = 3) -> list[str]:
        return difflib.get_close_matches(word, self.words[1:], n=n, cutoff=0.5)

    def encode(self, text: str, name: str = "--prompt") -> list[int]:
        """A caption's ids; an empty text, or a word not in the vocabulary, is one line."""
        words = words_of(text)
        if not words:
            raise GanforgeError(f"{_say(name, repr(text))}: an empty prompt; describe the picture in words, "
                                "e.g. 'a small blue 4 on the right'")
        unknown = [w for w in words if w not in self.ids]
        if len(unknown) == len(words):
            raise GanforgeError(f"{_say(name, repr(text))}: none of its words is in this run's vocabulary "
                                f"({len(self) - 1} words, e.g. {', '.join(self.words[1:6])})")
        if unknown:
            near = self.closest(unknown[0])
            raise GanforgeError(f"{_say(name, repr(text))}: '{unknown[0]}' is not in this run's vocabulary"
                                + (f"; closest known: {', '.join(near)}" if near else ""))
        return [self.ids[w] for w in words]

    def encode_known(self, text: str) -> list[int]:
        """A caption's ids with the words this vocabulary lacks dropped (evaluation captions of a
        small training set; ``[1]`` when none is known): never an error."""
        return [self.ids[w] for w in words_of(text) if w in self.ids] or [1]

    def decode(self, ids: Sequence[int]) -> str:
        return " ".join(self.words[int(i)] for i in ids if int(i) != 0)


class Captions(Text):
    """The captions of a captioned image set as G's condition: G's texts are drawn from
    ``corpus`` (every training caption, a TextBatch (N, L)); a string is read through
    ``vocabulary``; ``prompts`` are the captions of a sample figure's rows (one row each)."""

    def __init__(self, corpus: TextBatch, vocabulary: Vocabulary, prompts: Sequence[str] = ()):
        super().__init__(corpus, len(vocabulary), 0, vocabulary.words)
        self.vocabulary = vocabulary
        self.prompts = list(prompts)

    @classmethod
    def from_texts(cls, texts: Sequence[str], vocabulary: Optional[Vocabulary] = None, prompts: Sequence[str] = (),
                   max_len: Optional[int] = None) -> "Captions":
        vocab = vocabulary or Vocabulary.from_captions(texts)
        ids = [vocab.encode(t, "caption") for t in texts]
        return cls(pad_texts(ids, max_len or max(map(len, ids)), len(vocab), 0, "captions"), vocab, prompts)

    def __repr__(self) -> str:
        return f"Captions(vocabulary {self.size - 1} words, up to {self.max_len} tokens)"

    def encode(self, prompts: Sequence[str], name: str = "--prompt") -> TextBatch:
        """Prompts -> a TextBatch (n, max_len); each checked (one line per problem)."""
        return self.pad([self.vocabulary.encode(p, name) for p in prompts], name)

    def check(self, value, name: str = "--prompt") -> TextBatch:
        """A prompt (str), a list of prompts, or token ids as :class:`Text` takes them."""
        if isinstance(value, str):
            return self.encode([value], name)
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
            return self.encode(list(value), name)
        return super().check(value, name)

    def encode_known(self, texts: Sequence[str]) -> TextBatch:
        """Evaluation captions -> a TextBatch, unknown words dropped and cut to ``max_len``."""
        return self.pad([self.vocabulary.encode_known(t)[: self.max_len] for t in texts], "caption")

    def texts(self, batch: TextBatch) -> list[str]:
        """The words of each row of ``batch``."""
        return [self.vocabulary.decode(t[m].tolist()) for t, m in zip(batch.tokens, batch.mask)]

    def rows(self, limit: int = 16):
        """The figure's prompts, one row each (None without prompts)."""
        if not self.prompts:
            return None
        prompts = self.prompts[:limit]
        return self.encode(prompts, "prompt"), prompts


def repeat_rows(batch: TextBatch, n: int) -> TextBatch:
    """Each row of ``batch`` n times in a row: (B * n, L)."""
    return batch.map(lambda t: torch.repeat_interleave(t, n, dim=0))
