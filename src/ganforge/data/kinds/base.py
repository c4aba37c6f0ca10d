"""A data kind: what one sample *is* (an image, a point, a table row), as an object.

Every :class:`~ganforge.data.base.DataSource` names its kind (``source.kind``) and every dataset
builder declares it (``DATASETS`` entry's ``kind``, read before any data is loaded, so config
resolution can pick the kind's default model). Code outside ``data/kinds/`` asks the kind what
to do instead of looking at a tensor's rank or sniffing a source's attributes.

A kind owns:

- its files: writing samples (:meth:`DataKind.write`, the suffixes it writes), reading a
  user's inputs to score, project or test for anomalies (:meth:`DataKind.read_inputs`) and
  samples made by another program (:meth:`DataKind.from_array`);
- the sample figure of the report and the board (:meth:`DataKind.figure`);
- the default evaluator (``evaluator``: a key of ``metrics.evaluators.EVALUATORS``, whose
  headline keys live with it) and the augmentation ops that apply (``augment_ops``);
- the encoder trunk for inversion and anomaly detection (:meth:`DataKind.encoder_trunk`);
- the model card's task names (:meth:`DataKind.card_task`);
- its default model (``default_model``, a ``model.name``) and the game that trains it.

Adding a kind is one module here with a subclass registered in :data:`KINDS`, its datasets
(whose sources set ``kind``), a model whose ``ModelSpec.kinds`` names it, and an evaluator;
``tests/test_kinds.py`` runs its contract over every registered kind unchanged.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import Tensor, nn

from ...errors import GanforgeError
from ...registry import Registry

KINDS: Registry["DataKind"] = Registry("data kind")


class Inputs(tuple):
    """A user's inputs as :meth:`DataKind.read_inputs` reads them: the pair ``(x, names)``
    (``x, names = kind.read_inputs(...)`` unpacks it), and ``resized``: what was brought to the
    run's size and how, in words (``--resize``), or None when nothing was."""

    resized: Optional[str]

    def __new__(cls, x: Tensor, names: list, resized: Optional[str] = None) -> "Inputs":
        self = super().__new__(cls, (x, names))
        self.resized = resized
        return self


class DataKind:
    """The base: what every kind answers. Subclasses set the class attributes and override
    what differs; the defaults describe a sample that is a flat vector of numbers."""

    name: str = ""
    default_model: str = ""  # the model.name a run of this kind gets when it names none
    game: str = "noise_to_data"  # the game its default model plays (ModelSpec.game)
    default_dataset: str = ""  # the data.name that reads a bare data.path of this kind
    demo_data: dict = {}  # data.* of a bundled or generated dataset of this kind (no download)
    evaluator: str = "energy"  # the default evaluator; a source may name a finer one (digits, modes)
    augment_ops: tuple[str, ...] = ()  # augment.policy ops that apply (augment.OPS keys)
    spatial: bool = False  # penalties that transform images (reg.bcr) apply
    pixels: bool = False  # samples are pictures: PNG grids and folders, strips, residual maps, Inception
    suffixes: tuple[str, ...] = (".npy", ".csv")  # sample files it writes (FILE.npy, ...)
    # a sample holds its own condition (a table row's category): it is scored and judged under it, and
    # a conditional G draws conditions at the data's frequencies (its condition spec), not uniform classes
    holds_conditions: bool = False
    figure_n: int = 256  # samples drawn for the figure
    task: str = "generation"  # model card task type (model-index), unconditional
    conditional_task: str = "class-conditional-generation"

    def __repr__(self) -> str:
        return f"<data kind {self.name}>"

    # ------------------------------------------------------------------ shapes and words

    def describe(self, shape: tuple) -> str:
        """What one sample is, in words (the model card's "output")."""
        return f"vectors of dimension {int(np.prod(shape))}"

    def card_task(self, conditional: bool) -> str:
        return self.conditional_task if conditional else self.task

    def pipeline_tag(self, conditional: bool) -> Optional[str]:
        """The model hub's pipeline tag, where one exists for this kind."""
        return None

    # ------------------------------------------------------------------ conditions

    def conditions_of(self, data, x: Tensor) -> Optional[Tensor]:
        """The condition each sample ``x`` (N, *shape) in data space holds itself, or None: its
        source's condition spec says (``ganforge.conditions``, ``held_by``)."""
        spec = data.condition_spec
        return spec.held_by(x) if spec is not None else None

    def unseen(self, data, x: Tensor) -> Optional[Tensor]:
        """(N,) 1 where a sample holds a value never seen in training (always anomalous), or None."""
        return None

    # ------------------------------------------------------------------ files

    def check_suffix(self, out: str, is_dir: bool, offered: tuple = ()) -> None:
        """One line when this kind cannot write ``out`` (a folder of PNGs, or a file by its
        suffix); ``offered``: the suffixes the command writes at all (default: every one)."""
        files = " or ".join([f"FILE{s}" for s in self.suffixes if not offered or s in offered]
                            + (["DIR/"] if self.pixels else []))
        if is_dir and not self.pixels:
            raise GanforgeError(f"--out {out}: a folder of PNGs is for image runs; {self.name} runs write {files}")
        suffix = Path(out).suffix
        if not is_dir and suffix not in self.suffixes:
            raise GanforgeError(f"--out {out}: {self.name} runs write {files}, not {suffix or 'a file without suffix'}")

    def content(self, x: Tensor, suffix: str, data=None, labels: Optional[Tensor] = None):
        """What a file of samples ``x`` (N, *shape) in data space holds, for
        :func:`ganforge.files.write_output` (which writes it atomically, with its provenance):
        .npy float32 as they are; .csv one row per sample, columns x0.. (and label)."""
        if suffix == ".npy":
            return x.float().numpy()
        flat = x.flatten(1).numpy()
        cols = [f"x{i}" for i in range(flat.shape[1])]
        rows = flat if labels is None else np.column_stack([flat, labels.numpy()])
        header = ",".join(cols + (["label"] if labels is not None else []))
        fmt = ["%.8g"] * len(cols) + (["%d"] if labels is not None else [])
        buf = io.StringIO()
        np.savetxt(buf, rows, delimiter=",", header=header, comments="", fmt=fmt)
        return buf.getvalue()

    def write(self, x: Tensor, path: Path, data=None, labels: Optional[Tensor] = None,
              prov: Optional[dict] = None) -> list[Path]:
        """Samples ``x`` to ``path`` (a suffix in :attr:`suffixes`) with the provenance ``prov``
        (:func:`ganforge.files.provenance`): :meth:`content` through the one output writer."""
        from ...files import write_output

        path = Path(path)
        return write_output(path, self.content(x, path.suffix, data, labels), prov or {})

    def folder_items(self, x: Tensor, data=None, prov: Optional[dict] = None):
        """``sample --out DIR/``: (relative file name, content) pairs for samples ``x`` (N, *shape)
        in data space, lazily: one PNG each (images in [0, 1]). ``prov``: the provenance, for kinds
        whose files carry it inside their content (a GIF's comment)."""
        return ((f"{i:06d}.png", img) for i, img in enumerate(x))

    def sound(self, x: Tensor, data=None):
        """Something to listen to of samples ``x`` (N, *shape) (a :class:`ganforge.wav.Wave`, the
        report's players), or None: samples of this kind make no sound."""
        return None

    def read_inputs(self, data, path: Path, resize: bool = False) -> Inputs:
        """A user's inputs (to score, project, test for anomalies) in data space, (N, *shape),
        with their names; anything that does not match ``data`` is one line. ``resize``: inputs
        of another size are brought to the run's by the data's own resizing (``Inputs.resized``
        says so) where the kind has one; without it they are refused, naming ``--resize``."""
        raise GanforgeError(f"--data {path}: a {self.name} run reads no input files")

    def from_array(self, arr: np.ndarray, where: str) -> Tensor:
        """Samples made by another program, as an array, -> float32 in data space."""
        raise GanforgeError(f"{where}: a {self.name} run measures no sample files")

    def data_settings(self, x: Tensor) -> dict:
        """The data.* settings under which real data matches samples ``x`` (``evaluate --samples``)."""
        return {}

    # ------------------------------------------------------------------ figures and models

    def figure(self, fake: Tensor, data=None, seed: int = 0, title: str = "", rows: Optional[list[str]] = None):
        """The sample figure of the report and board: a PIL image of ``fake`` (N, *shape) in
        data space (against ``data.reference(N, seed)`` where real samples help), or None
        when this batch has no picture. ``rows``: ``fake`` holds one condition per row, in
        that order, ``N / len(rows)`` samples each; a kind that lays samples out in rows names
        them (a class per row), another may ignore it."""
        return None

    def encoder_trunk(self, shape: tuple, width: int) -> tuple[nn.Module, int]:
        """The trunk of an encoder x (B, *shape) -> features (B, F), and F: an MLP here."""
        d = int(np.prod(shape))
        trunk = nn.Sequential(nn.Flatten(), nn.Linear(d, 4 * width), nn.LeakyReLU(0.2),
                              nn.Linear(4 * width, 4 * width), nn.LeakyReLU(0.2))
        return trunk, 4 * width

    def normal_data(self, data, seed: int, n: int = 12000) -> tuple[Tensor, Optional[Tensor]]:
        """The real data that anomaly detection learns as normal, (N, *shape) in data space, with
        labels (N,) or None: by default ``n`` fresh draws of an endless source."""
        return data.reference(n, seed + 7919).float(), None


def register_kind(kind: DataKind) -> DataKind:
    """Register ``kind`` under its ``name``; returns it."""
    KINDS.add(kind.name, kind)
    return kind
