"""ganforge: train, diagnose and evaluate generative adversarial networks on PyTorch.

    import ganforge
    run = ganforge.train(preset="digits", overrides={"train.steps": 500}, out="runs/x")
    x = run.sample(64, seed=0)
    print(run.evaluate().fid, run.doctor().verdict)
    run = ganforge.load("runs/x")

The API lives in :mod:`ganforge.api`; its names are imported here when first used, so that
``import ganforge`` (and the command line's quick answers) does not import torch.

``ganforge.train`` is both the training subpackage (``import ganforge.train.loop`` works) and
the API's :func:`ganforge.api.train`: the subpackage's module object is made callable below.
"""

from __future__ import annotations

import types
from importlib import import_module
from typing import TYPE_CHECKING, Any

from . import train as _train_package
from ._version import __version__
from .config import Config, load_config
from .errors import GanforgeError

if TYPE_CHECKING:
    from .api import Evaluation, ExportedGenerator, ExportResult, Run, build_dataset, check_dataset, \
        evaluate_samples, load, load_generator, resolve_config, verify

_FROM_API = ("Evaluation", "ExportResult", "ExportedGenerator", "Run", "build_dataset", "check_dataset",
             "evaluate_samples", "load", "load_generator", "resolve_config", "verify")


class _CallableTrainPackage(types.ModuleType):
    """The ``ganforge.train`` subpackage, which when called trains a GAN (:func:`ganforge.api.train`)."""

    def __call__(self, preset=None, overrides=(), out=None, **kwargs) -> "Run":
        """Train a GAN and return its Run: see :func:`ganforge.api.train`."""
        return import_module(".api", __name__).train(preset, overrides, out, **kwargs)


_train_package.__class__ = _CallableTrainPackage
train = _train_package


def __getattr__(name: str) -> Any:
    if name in _FROM_API:
        return getattr(import_module(".api", __name__), name)
    raise AttributeError(f"module 'ganforge' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_FROM_API))


__all__ = ["Config", "Evaluation", "ExportResult", "ExportedGenerator", "GanforgeError", "Run", "__version__",
           "build_dataset", "check_dataset", "evaluate_samples", "load", "load_config", "load_generator", "resolve_config", "train",
           "verify"]
