"""What several command handlers share: arguments that mean the same in every command, and
printing metrics."""

from __future__ import annotations

from typing import Optional


def add_run(p, marks: bool = False) -> None:
    """The run directory every application reads (positional ``RUN``); ``marks``: the command
    writes generated images, which carry the run's invisible mark unless ``--no-watermark``."""
    p.add_argument("run", metavar="RUN")
    if marks:
        p.add_argument("--no-watermark", action="store_true",
                       help="leave the images unmarked (the provenance says so); see `ganforge verify`")


def add_truncation(p) -> None:
    p.add_argument("--truncation", type=float, metavar="PSI",
                   help="truncation psi in [0, 1] (w = w_avg + psi (w - w_avg)), for style-based runs")


def add_resize(p) -> None:
    """``--resize``: inputs of another size are brought to the run's with the run's own resizing."""
    p.add_argument("--resize", action="store_true",
                   help="bring inputs of another size to the run's, resized as its data was (images: Lanczos for "
                        "a folder source, antialiased bilinear for arrays; sequences: cut into windows); "
                        "without it they are refused")


def add_class(p, help: str) -> None:
    """``--class K``, the one spelling of a class the user names (stored as ``args.label``)."""
    p.add_argument("--class", dest="label", type=int, metavar="K", help=help)


def metrics_line(m: dict, evaluator: Optional[str]) -> str:
    """A run's or a samples file's metrics as one or a few lines of text: the headline that
    ``evaluator`` declares (``metrics/evaluators.py``); None: a game's own held-out scores."""
    from ..metrics.evaluators import headline

    return headline(m, evaluator)
