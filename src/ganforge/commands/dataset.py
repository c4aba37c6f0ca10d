"""``ganforge dataset build|check``: pack images once into a built dataset (DATA.gfd), or check
one in full against its manifest."""

from __future__ import annotations


HELP = "pack images once into a built dataset that training reads without decoding"


def add_arguments(p) -> None:
    acts = p.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=type(p))
    b = acts.add_parser("build", help="pack a folder of images, an .npz, IDX files or CIFAR-10 batches into DATA.gfd",
                        epilog="Train on it with: ganforge train data.name=built data.path=DATA.gfd data.resolution=R "
                               "[data.workers=N]")
    b.add_argument("src", metavar="SRC", help="a folder of PNG/JPEG (recursive), an .npz (images, labels), a folder "
                                              "of IDX files or of CIFAR-10 python batches")
    b.add_argument("--out", required=True, metavar="DATA.gfd", help="the built dataset (a directory)")
    b.add_argument("--resolution", type=int, required=True, metavar="R", help="images are resized to R x R")
    b.add_argument("--labels", choices=("from-folders", "none"),
                   help="from-folders: a folder's class sub-folders are the labels; none: drop labels (default: "
                        "array sources keep theirs, folders are unlabelled)")
    b.add_argument("--channels", type=int, default=0, help="1 (grey) or 3 (RGB); default: the source's own")
    b.add_argument("--force", action="store_true", help="replace DATA.gfd if it exists")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    c = acts.add_parser("check", help="hash a built dataset in full against its manifest and summarise it")
    c.add_argument("path", metavar="DATA.gfd")


def _summary(m: dict) -> str:
    classes = f", {m['n_classes']} classes" if m.get("n_classes") else ", unlabelled"
    mb = m["images"]["bytes"] / 2**20
    return (f"{m['count']} images at {m['channels']}x{m['resolution']}x{m['resolution']}{classes}, {mb:.1f} MB; "
            f"from {m['source']['path']} ({m['source']['kind']}); {m['skipped']['count']} file(s) skipped")


def run(args) -> int:
    from ..api import build_dataset, check_dataset

    if args.action == "check":
        print(f"{args.path}: intact; {_summary(check_dataset(args.path))}")
        return 0
    r = build_dataset(args.src, args.out, args.resolution, labels=args.labels, channels=args.channels,
                      force=args.force, progress=not args.no_progress)
    print(f"wrote {r.path}: {r.count} images at {r.channels}x{r.resolution}x{r.resolution}"
          f"{f', {r.n_classes} classes' if r.n_classes else ', unlabelled'}, {r.bytes / 2**20:.1f} MB"
          f"{f'; skipped {len(r.skipped)} unreadable file(s), listed in its manifest' if r.skipped else ''}")
    print(f"train on it: ganforge train data.name=built data.path={r.path} data.resolution={r.resolution}")
    return 0
