"""Data kinds (``base.py``): what one sample is, as an object that the rest of ganforge asks.

``KINDS`` maps a kind's name to its object: ``image``, ``points``, ``table``, ``sequence``, ``audio``,
``level``, ``molecule``. A data source
names its kind (``source.kind``); a dataset builder declares it (:func:`dataset_kind` reads it
from ``data.name`` before any data is read).
"""

from .audio import AUDIO
from .base import KINDS, DataKind, register_kind
from .image import IMAGE
from .level import LEVEL
from .molecule import MOLECULE
from .points import POINTS
from .sequence import SEQUENCE
from .table import TABLE
from .video import VIDEO


def dataset_kind(name: str) -> DataKind:
    """The kind of the samples that ``data.name=name`` gives (its builder's declaration)."""
    from ..base import DATASETS

    return DATASETS.get(name).kind


def kind_of_array(arr) -> DataKind:
    """The kind an array of samples from another program reads as, when no dataset names it:
    (N, d) points, anything else images (N, H, W[, C]) / (N, C, H, W)."""
    return POINTS if len(arr.shape) == 2 else IMAGE


def kind_of_shape(shape: tuple) -> DataKind:
    """For files saved before kinds were named (an encoder's ``shape`` only): a (C, H, W)
    sample was an image, anything else a vector."""
    return IMAGE if len(shape) == 3 else POINTS


__all__ = ["AUDIO", "IMAGE", "KINDS", "LEVEL", "MOLECULE", "POINTS", "SEQUENCE", "TABLE", "VIDEO", "DataKind",
           "dataset_kind", "kind_of_array", "kind_of_shape",
           "register_kind"]
