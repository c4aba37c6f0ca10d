"""``ganforge card``: the run's model card (Markdown with YAML front matter)."""

from __future__ import annotations

from .common import add_run


HELP = "write the run's model card (Markdown, YAML front matter)"


def add_arguments(p) -> None:
    add_run(p)
    p.add_argument("--out", help="output .md (default: RUN/MODEL_CARD.md)")


def run(args) -> int:
    from ..api import load

    print(f"wrote {load(args.run).card(args.out)}")
    return 0
