"""The model registry: each architecture registers a :class:`ModelSpec`.

A spec is the builder ``build(cfg: ModelConfig, data_shape, n_classes) -> (G, D)`` plus what
the rest of ganforge must know about the architecture without naming it: which D
normalisations it offers, which data kinds (``data/kinds``) and image sizes it builds. Config checks, the builders and the doctor's remedies read the spec, so a new
architecture is one file and one :func:`register_model`, with no edits elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from torch import nn

from ..data.kinds.image import square_side
from ..errors import GanforgeError
from ..registry import Registry

Builder = Callable[..., tuple[nn.Module, nn.Module]]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    build: Builder  # (cfg.model, data_shape, n_classes) -> (G, D)
    d_norms: tuple[str, ...] = ("none",)  # model.d_norm values D offers
    g_norms: tuple[str, ...] = ("default",)  # model.g_norm values G offers ("default": the architecture's own)
    g_conds: tuple[str, ...] = ("concat",)  # model.g_cond values a conditional G offers
    d_conds: tuple[str, ...] = ("projection",)  # model.d_cond values a conditional D offers
    kinds: tuple[str, ...] = ()  # the data kinds it builds (data/kinds: image, points, table)
    resolutions: Optional[tuple[int, int]] = None  # images: smallest and largest power-of-two size; None: any shape
    # what the doctor may suggest for this architecture (benchmarks/results/ablation.md):
    spatial_remedies: bool = False  # image-only remedies (bCR) helped it
    spectral_d_remedy: bool = False  # spectral norm on its D helped it (on the MLP D it did not)
    game: str = "noise_to_data"  # the game that trains it (build.GAMES): noise_to_data, paired, cycle, superres
    # the kinds of condition (ganforge.conditions) a conditional G and D take: ids are embedded (n_classes);
    # any other kind listed here is handed to the builder itself as ``condition=`` (text, attributes)
    condition_kinds: tuple[str, ...] = ("class_ids", "table")
    # D is a classifier of the data's classes (a semi-supervised GAN): the builder gets the data's
    # class count even when unconditional, and data.labels_per_class applies
    classifies: bool = False
    d_dropout: bool = False  # model.d_dropout is offered (dropout between D's hidden layers)

    @property
    def images(self) -> bool:
        """Whether it builds images (declared in ``kinds``)."""
        return "image" in self.kinds

    def check_kind(self, cfg, kind) -> None:
        """One line when this architecture does not build ``kind`` (a ``DataKind``), the kind
        of the samples that ``cfg.data.name`` gives; it names the kind's own model."""
        if kind.name not in self.kinds:
            raise GanforgeError(f"model.name={self.name} builds {' and '.join(self.kinds)} data; data.name="
                                f"{cfg.data.name} gives {kind.name} data: use model.name={kind.default_model} "
                                "(or leave model.name out)")

    def check(self, cfg, shape: tuple) -> None:
        """One-line errors for settings this architecture cannot build on data of ``shape``
        (one sample's shape). ``cfg`` is the whole Config."""
        m = cfg.model
        for key, value, offered in (("d_norm", m.d_norm, self.d_norms), ("g_norm", m.g_norm, self.g_norms),
                                    ("g_cond", m.g_cond, self.g_conds), ("d_cond", m.d_cond, self.d_conds)):
            if value not in offered and value != "default" and (key in ("d_norm", "g_norm") or m.conditional):
                raise GanforgeError(f"model.{key}={value}: model.name={self.name} offers {', '.join(offered)}")
        if m.d_dropout > 0 and not self.d_dropout:
            raise GanforgeError(f"model.d_dropout={m.d_dropout}: model.name={self.name} has no dropout in D; leave "
                                "model.d_dropout=0 (model.name=dcgan offers it)")
        if cfg.train.d_ema_beta > 0 and not self.classifies:
            raise GanforgeError(f"train.d_ema_beta={cfg.train.d_ema_beta}: model.name={self.name}'s D is not kept after "
                                "training; an EMA of D is for a model whose D classifies (model.name=ssl_dcgan). "
                                "Leave train.d_ema_beta=0 (train.ema_beta averages G)")
        if self.resolutions is not None:
            lo, hi = self.resolutions
            if square_side(shape) is None:
                raise GanforgeError(f"model.name={self.name} needs square images (C, R, R); data.name={cfg.data.name} "
                                    f"gives samples of shape {tuple(shape)}")
            r = square_side(shape)
            if not (lo <= r <= hi and r & (r - 1) == 0):
                larger = [f"{s.name} (up to {s.resolutions[1]} px)" for s in map(MODELS.get, MODELS.names())
                          if s.resolutions is not None and r > hi and s.resolutions[1] >= r]
                raise GanforgeError(f"data.resolution={r}: model.name={self.name} builds sizes that are a power of "
                                    f"two from {lo} to {hi}" + (f"; at {r} px use model.name={larger[0]}" if larger and
                                                                 r & (r - 1) == 0 else ""))


MODELS: Registry[ModelSpec] = Registry("model.name")


def register_model(**spec) -> Callable[[Builder], Builder]:
    """Decorator: register a builder under its function name with what the rest must know of it
    (the other fields of :class:`ModelSpec`)."""

    def wrap(build: Builder) -> Builder:
        MODELS.add(build.__name__, ModelSpec(build.__name__, build, **spec))
        return build

    return wrap
