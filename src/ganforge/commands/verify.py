"""``ganforge verify``: is ganforge's invisible mark in these images?"""

from __future__ import annotations

from pathlib import Path

from ..errors import GanforgeError


HELP = "is ganforge's invisible mark in these images? (z-score, p-value)"


def add_arguments(p) -> None:
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--run", help="the run whose key to check for (RUN/watermark.key)")
    g.add_argument("--key", help="a watermark key file (a copy of RUN/watermark.key)")


def run(args) -> int:
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    from ..rundir import existing_run
    from ..watermark import KEY_FILE, SCHEME, THRESHOLD_Z, detect, key_id, read_key

    if args.run is not None:
        path = existing_run(args.run) / KEY_FILE
        if not path.is_file():
            raise GanforgeError(f"--run {args.run}: no {KEY_FILE}; this run has not written marked images yet")
    else:
        path = Path(args.key)
        if not path.is_file():
            raise GanforgeError(f"--key {args.key}: no such file")
    key = read_key(path)
    images = []
    for name in args.images:  # every input is read before anything is printed
        try:
            with Image.open(name) as im:
                images.append((name, np.asarray(im.convert("RGB"))))
        except FileNotFoundError:
            raise GanforgeError(f"{name}: no such file") from None
        except (UnidentifiedImageError, OSError, ValueError):
            raise GanforgeError(f"{name}: not an image ganforge can read (PNG, JPEG, ...)") from None
    print(f"key {key_id(key)} ({SCHEME}); marked when z >= {THRESHOLD_Z:g}")
    found = 0
    for name, a in images:
        z, p = detect(a, key)
        found += z >= THRESHOLD_Z
        print(f"{'marked  ' if z >= THRESHOLD_Z else 'unmarked'}  z {z:6.1f}  p {p:.2g}  {name}")
    print(f"{found} of {len(images)} image(s) carry the mark")
    return 0
