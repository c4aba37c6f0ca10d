"""Datasets: a registry of builders ``name(cfg: DataConfig, seed) -> source``.

Every source satisfies :class:`DataSource` (``base.py``): ``shape`` (one sample's shape),
``condition_spec`` (what it is conditioned on, :mod:`ganforge.conditions`; None when nothing)
and ``n_classes`` derived from it (0 when unlabelled), ``sample(n) -> (x, y)`` drawing from its
own seeded generator (x in model space, y its conditions, e.g. labels (n,), or None), ``reference(n, seed)`` for plots and
metrics, ``encode`` / ``decode`` between data and model space, ``state_dict()`` /
``load_state_dict()`` so that a resumed run draws exactly the batches it would have drawn, and
``evaluator``, the name of the function that measures samples against it, and ``kind``, what
one sample is (``data/kinds``: image, points, table; builders declare it with
:func:`register_dataset`). Optional
capabilities are the small protocols :class:`Finite`, :class:`ImageSet`, :class:`KnownModes` and
:class:`Streamed`.
"""

from . import audio, built, images, molecules, paired, series, table, toy2d  # noqa: F401  (registers the datasets)
from . import levels  # noqa: F401  (game levels: platformer, dungeon, levels)
from . import video  # noqa: F401  (registers the video datasets)
from . import captioned, scenes  # noqa: F401  (text to image: digit scenes, captioned images)
from .base import DATASETS, DataSource, Finite, ImageSet, KnownModes, Streamed, register_dataset
from .base import UNLABELLED, PartlyLabelled  # noqa: F401  (semi-supervised runs: data.labels_per_class)
from .images import ImageData, StackedDigits
from .toy2d import KnownDensity, MixtureData, PointsData, load_points

__all__ = ["DATASETS", "DataSource", "Finite", "ImageData", "ImageSet", "KnownDensity", "KnownModes",
           "MixtureData", "PointsData", "StackedDigits", "Streamed", "load_points", "register_dataset"]
