"""``ganforge keys [SECTION]``: every config key with its type, default and meaning."""

from __future__ import annotations

import json


HELP = "list every config key with its type, default and meaning"


def add_arguments(p) -> None:
    p.add_argument("section", nargs="?", metavar="SECTION", help="one section (data, model, train, ...)")


def run(args) -> int:
    from ..discover import config_keys

    keys = config_keys(args.section)
    width = max(len(k.key) for k in keys)
    for k in keys:
        default = json.dumps(k.default) if k.default is not None else "null"
        print(f"{k.key:<{width}}  {k.type:<16} = {default:<10}  {k.meaning}")
    print("\nset any of them with key=value, e.g. `ganforge train train.steps=2000`; NAME in reg.NAME.* is a "
          "penalty (gradient_penalty, r1, r2, dragan, lecam, bcr, path_length)")
    return 0
