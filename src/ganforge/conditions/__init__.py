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

One module per kind (``ids.py``: class ids and table conditions, ``attributes.py``,
``text.py``); ``base.py`` holds the protocol and what callers use: :func:`check_condition`
(the one check of a user's value), :func:`draw`, :func:`rows_of`, :func:`n_classes`.
"""

from .attributes import Attributes
from .base import IDS, Batch, Condition, ConditionSpec, check_condition, class_count, draw, n_classes, rows_of
from .ids import ClassIds, TableConditions, as_condition
from .text import Text, TextBatch, pad_texts
from .captions import Captions, Vocabulary, words_of

__all__ = ["IDS", "Attributes", "Batch", "Captions", "Vocabulary", "words_of", "ClassIds", "Condition", "ConditionSpec", "TableConditions", "Text",
           "TextBatch", "as_condition", "check_condition", "class_count", "draw", "n_classes", "pad_texts", "rows_of"]
