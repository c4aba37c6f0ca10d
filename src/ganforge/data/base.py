"""What every dataset shares: the registry, the data contract and the mapping to model space.

The contract is a set of :class:`typing.Protocol` classes. :class:`DataSource` is what every
source has; the optional capabilities are separate small protocols, checked with
``isinstance`` where a caller needs one (they are ``runtime_checkable``):

- :class:`Finite`: a finite training set held in memory (``data.limit``, ``train.data_on_device``);
- :class:`ImageSet`: the training images themselves, their labels and a held-out split (the
  doctor's overfitting probe, a classifier trained on the data's own labels);
- :class:`KnownModes`: a mixture with known mode centres (the exact mode metrics);
- :class:`Streamed`: a finite set read from disk batch by batch (a built dataset), never held
  whole in memory; under torchrun it reads this rank's rows of each global batch only.

A source names its ``kind`` (``data/kinds``: what one sample is; the rest of ganforge asks it
instead of looking at a tensor's rank) and its ``evaluator``: the key of the function in
``ganforge.metrics.evaluators.EVALUATORS`` that measures generated samples against it, so a
dataset that needs a new metric registers one function and names it.
``tests/test_data_contract.py`` checks every registered dataset against this contract.
"""

from __future__ import annotations

from typing import Any, Optional, Protocol, runtime_checkable

import torch
from torch import Tensor

from ..conditions import ConditionSpec, class_count
from ..errors import GanforgeError
from ..registry import Registry

DATASETS: Registry = Registry("data.name")


def register_dataset(kind):
    """Decorator: register a dataset builder ``name(cfg: DataConfig, seed) -> source`` under its
    function name, declaring the kind (``data/kinds``) of the samples its sources give. The
    declaration is read before any data is (config resolution picks the kind's default model)."""

    def wrap(build):
        build.kind = kind
        DATASETS.add(build.__name__, build)
        return build

    return wrap


@runtime_checkable
class DataSource(Protocol):
    """A source of training samples, built by ``DATASETS.get(name)(cfg, seed)``.

    ``shape`` is one sample's shape ((d,) for points, (C, H, W) for images).
    ``condition_spec`` says what the data is conditioned on (``ganforge.conditions``: class ids,
    table categories, attributes, text; None when nothing), and ``n_classes`` is derived from it
    (0 unless the conditions are ids). ``sample`` draws from the source's own seeded generator,
    and ``state_dict`` / ``load_state_dict`` hold that stream's whole state, so a resumed run
    draws exactly the batches it would have drawn.
    """

    shape: tuple[int, ...]
    condition_spec: Optional[ConditionSpec]
    kind: Any  # its DataKind (data/kinds: image, points, table): files, figure, evaluator, encoder
    loc: Tensor  # model space is (x - loc) / scale; both broadcast against one sample
    scale: Tensor

    @property
    def n_classes(self) -> int:
        """The ids among the conditions (classes, table categories); 0 when there are none."""
        return class_count(self.condition_spec)

    @property
    def evaluator(self) -> str:
        """The name of this source's evaluator in ``metrics.evaluators.EVALUATORS``."""
        ...

    def sample(self, n: int) -> tuple[Tensor, Optional[Tensor]]:
        """The next training batch: x (n, *shape) float32 in model space, and its conditions
        (``condition_spec``'s batch: labels (n,) int64 in [0, n_classes) for ids) or None."""
        ...

    def reference(self, n: int, seed: int) -> Tensor:
        """Real samples in data space, (m, *shape) with m <= n, from a generator seeded with
        ``seed`` (never the training stream): plots and metrics."""
        ...

    def encode(self, x: Tensor) -> Tensor:
        """Data space -> model space, shape kept."""
        ...

    def decode(self, x: Tensor) -> Tensor:
        """Model space -> data space, shape kept."""
        ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


@runtime_checkable
class Finite(Protocol):
    """A finite training set held in memory, served in reshuffled epochs."""

    def keep_first(self, n: int) -> None:
        """Train on the first ``n`` items only (``data.limit``); a held-out split stays whole."""
        ...

    def nbytes(self) -> int:
        """Bytes of the training set as held in memory."""
        ...

    def hold_on(self, device: torch.device) -> None:
        """Serve batches from a copy on ``device``: the same batches, no host-to-device copy per step."""
        ...


@runtime_checkable
class ImageSet(Protocol):
    """Training images that are the samples themselves: ``images`` (N, *shape) uint8 in
    [0, 255], ``labels`` (N,) int64 or None, and ``holdout`` = (images, labels) never trained
    on, or None."""

    images: Tensor
    labels: Optional[Tensor]
    holdout: Optional[tuple[Tensor, Optional[Tensor]]]


@runtime_checkable
class PartlyLabelled(Protocol):
    """A labelled training set that can drop most of its labels (``data.labels_per_class``):
    a semi-supervised run keeps K labels per class and sees the other rows as unlabelled."""

    def keep_labels(self, k: int) -> None:
        """Keep the labels of K training rows per class (drawn with the source's seed); the
        others become :data:`UNLABELLED`. The held-out split keeps its labels, never trained on."""
        ...

    def labelled(self) -> tuple[Tensor, Tensor]:
        """The kept labelled rows: x (M, *shape) in model space and their labels (M,) int64."""
        ...


UNLABELLED = -1  # the label of a training row whose label was dropped (data.labels_per_class)


def labels_to_keep(labels: Tensor, k: int, seed: int) -> Tensor:
    """Indices (k * classes,) of ``k`` rows of each class of ``labels`` (N,), drawn without
    replacement by a generator seeded with ``seed``, sorted. One-line error when a class has
    fewer than ``k`` rows."""
    g = torch.Generator().manual_seed(seed)
    keep = []
    for c in torch.unique(labels).tolist():
        rows = torch.nonzero(labels == c).flatten()
        if len(rows) < k:
            raise GanforgeError(f"data.labels_per_class={k}: class {c} has only {len(rows)} training rows; "
                                f"use at most {len(rows)}")
        keep.append(rows[torch.randperm(len(rows), generator=g)[:k]])
    return torch.cat(keep).sort().values


def keep_per_class(labels: Optional[Tensor], k: int, seed: int) -> Tensor:
    """``labels`` (N,) with only :func:`labels_to_keep`'s rows kept, the others :data:`UNLABELLED`;
    one-line error when there are no labels (None)."""
    if labels is None:
        raise GanforgeError("data.labels_per_class: this dataset has no labels to keep; a semi-supervised run "
                            "needs labelled images (a class per sub-folder, or labels in the .npz)")
    keep = labels_to_keep(labels, k, seed)
    out = torch.full_like(labels, UNLABELLED)
    out[keep] = labels[keep]
    return out


@runtime_checkable
class KnownModes(Protocol):
    """A uniform mixture of isotropic Gaussians with known modes: ``centers`` (K, d) in data
    space, d = prod(shape), and their shared standard deviation ``std``."""

    centers: Tensor
    std: float


@runtime_checkable
class Streamed(Protocol):
    """A finite dataset read from disk by a ``torch.utils.data.DataLoader``, batch by batch.

    The training loop calls :meth:`stream` once before the first batch; from then on
    ``sample(n)`` returns only this rank's rows of the global batch of ``n`` (n / world rows,
    on ``device``), so the loop does not cut them again. Not :class:`Finite`: it is never held
    on a device whole (``train.data_on_device`` does not apply).
    """

    def keep_first(self, n: int) -> None:
        """Train on the first ``n`` items only (``data.limit``)."""
        ...

    def stream(self, device: torch.device, rank: int = 0, world: int = 1) -> None:
        """Deliver batches to ``device`` (pinned host memory on CUDA), rank ``rank`` of ``world``."""
        ...

    def close(self) -> None:
        """Stop the loader's worker processes (a later ``sample`` starts them again)."""
        ...


class Normalized:
    """Models see data as ``(x - loc) / scale``; :meth:`decode` maps their output back.

    Both are shape ``(d,)`` (points) or ``(C, 1, 1)`` (images). Working in unit-sized
    coordinates keeps learning rates and penalty weights meaningful whatever the units of the
    user's data.
    """

    loc: Tensor
    scale: Tensor

    def encode(self, x: Tensor) -> Tensor:
        return (x - self.loc.to(x.device)) / self.scale.to(x.device)

    def decode(self, x: Tensor) -> Tensor:
        """Model space -> data space, shape kept."""
        return x * self.scale.to(x.device) + self.loc.to(x.device)
