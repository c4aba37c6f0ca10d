"""``ganforge verify``: is ganforge's invisible mark in these images?"""

from __future__ import annotations


HELP = "is ganforge's invisible mark in these images? (z-score, p-value)"


def add_arguments(p) -> None:
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--run", help="the run whose key to check for (RUN/watermark.key)")
    g.add_argument("--key", help="a watermark key file (a copy of RUN/watermark.key)")


def run(args) -> int:
    from ..api import verify
    from ..watermark import SCHEME, THRESHOLD_Z, key_id

    key, found = verify(args.images, args.run, args.key)
    print(f"key {key_id(key)} ({SCHEME}); marked when z >= {THRESHOLD_Z:g}")
    for name, z, p in found:
        print(f"{'marked  ' if z >= THRESHOLD_Z else 'unmarked'}  z {z:6.1f}  p {p:.2g}  {name}")
    print(f"{sum(z >= THRESHOLD_Z for _, z, _ in found)} of {len(found)} image(s) carry the mark")
    return 0
