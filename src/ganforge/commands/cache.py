"""``ganforge cache``: show or clean ``$GANFORGE_CACHE`` (classifiers, real-image features)."""

from __future__ import annotations

from ..errors import GanforgeError


HELP = "show or clean $GANFORGE_CACHE (classifiers, real-image features)"


def add_arguments(p) -> None:
    p.add_argument("action", nargs="?", choices=("show", "clean"), default="show")
    p.add_argument("--keep-mb", type=float, default=0.0, help="clean: keep the newest files up to this size")


def run(args) -> int:
    from ..cache import clean, usage

    if args.keep_mb < 0:
        raise GanforgeError(f"--keep-mb {args.keep_mb}: must be >= 0")
    if args.action == "clean":
        removed = clean(int(args.keep_mb * 2**20))
        print(f"removed {len(removed)} file(s)")
    u = usage()
    print(f"{u['path']}: {u['files']} file(s), {u['bytes'] / 2**20:.1f} MB "
          f"(real-image features: {u['features_files']}, {u['features_bytes'] / 2**20:.1f} MB)")
    return 0
