"""``ganforge dataset build|check``: pack images once into a built dataset (DATA.gfd), make a set
that ganforge generates itself (``dataset build KIND:NAME``, ``data/generated.py``), or check one
in full against its manifest."""

from __future__ import annotations

from pathlib import Path

from ..errors import GanforgeError


HELP = "pack images once into a built dataset that training reads without decoding, or make a generated set"


def add_arguments(p) -> None:
    acts = p.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=type(p))
    from ..data.generated import RECIPES, all_options

    sets = "; ".join(f"{n}: {r.help}" for n, r in sorted(RECIPES.items()))
    b = acts.add_parser("build", help="pack a folder of images, an .npz, IDX files or CIFAR-10 batches into DATA.gfd, "
                                      "or make a generated set (KIND:NAME)",
                        epilog="Train on images with: ganforge train data.name=built data.path=DATA.gfd "
                               "data.resolution=R [data.workers=N]. Generated sets: " + (sets or "none") + ".")
    b.add_argument("src", metavar="SRC", help="a folder of PNG/JPEG (recursive), an .npz (images, labels), a folder "
                                              "of IDX files or of CIFAR-10 python batches; or a generated set's "
                                              f"name ({', '.join(sorted(RECIPES)) or 'none yet'})")
    b.add_argument("--out", required=True, metavar="DATA.gfd", help="the built dataset (a directory)")
    b.add_argument("--resolution", type=int, metavar="R", help="images are resized to R x R (image sources: required)")
    b.add_argument("--seed", type=int, default=0, help="generated sets: the seed (the same seed and options give "
                                                      "the same bytes; default 0)")
    for o in all_options().values():
        b.add_argument(f"--{o.flag.replace('_', '-')}", dest=f"opt_{o.flag}", type=o.type, default=None,
                       help=f"generated sets: {o.help}")
    b.add_argument("--labels", choices=("from-folders", "none"),
                   help="from-folders: a folder's class sub-folders are the labels; none: drop labels (default: "
                        "array sources keep theirs, folders are unlabelled)")
    b.add_argument("--channels", type=int, default=0, help="1 (grey) or 3 (RGB); default: the source's own")
    b.add_argument("--force", action="store_true", help="replace DATA.gfd if it exists")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    c = acts.add_parser("check", help="hash a built dataset in full against its manifest and summarise it")
    c.add_argument("path", metavar="DATA.gfd")


def _summary(m: dict) -> str:
    if "recipe" in m:  # a generated set
        arrays = ", ".join(f"{k} {tuple(e['shape'])}" for k, e in m["arrays"].items())
        return f"{m['recipe']}, seed {m['seed']}, {m['options']}: {arrays}"
    classes = f", {m['n_classes']} classes" if m.get("n_classes") else ", unlabelled"
    mb = m["images"]["bytes"] / 2**20
    return (f"{m['count']} images at {m['channels']}x{m['resolution']}x{m['resolution']}{classes}, {mb:.1f} MB; "
            f"from {m['source']['path']} ({m['source']['kind']}); {m['skipped']['count']} file(s) skipped")


def run(args) -> int:
    from ..api import build_dataset, check_dataset

    if args.action == "check":
        print(f"{args.path}: intact; {_summary(check_dataset(args.path))}")
        return 0
    from ..data.generated import RECIPES

    if args.src in RECIPES:
        return _generated(args)
    if ":" in args.src and not Path(args.src).exists():
        from ..data.generated import recipe

        recipe(args.src)  # one line naming the generated sets there are
    if args.resolution is None:
        raise GanforgeError("dataset build: --resolution R is required for images (they are resized to R x R)")
    r = build_dataset(args.src, args.out, args.resolution, labels=args.labels, channels=args.channels,
                      force=args.force, progress=not args.no_progress)
    print(f"wrote {r.path}: {r.count} images at {r.channels}x{r.resolution}x{r.resolution}"
          f"{f', {r.n_classes} classes' if r.n_classes else ', unlabelled'}, {r.bytes / 2**20:.1f} MB"
          f"{f'; skipped {len(r.skipped)} unreadable file(s), listed in its manifest' if r.skipped else ''}")
    print(f"train on it: ganforge train data.name=built data.path={r.path} data.resolution={r.resolution}")
    return 0


def _generated(args) -> int:
    from ..api import build_generated

    options = {k[4:]: v for k, v in vars(args).items() if k.startswith("opt_")}
    s = build_generated(args.src, args.out, seed=args.seed, force=args.force, progress=not args.no_progress,
                        **options)
    arrays = ", ".join(f"{k} {tuple(e['shape'])}" for k, e in s.manifest["arrays"].items())
    opts = " ".join(f"{k}={v}" for k, v in s.options.items())
    print(f"wrote {s.path}: {s.recipe} (seed {s.manifest['seed']}{', ' + opts if opts else ''}): {arrays}")
    print(f"train on it: ganforge train data.name={s.manifest['dataset']} data.path={s.path}")
    return 0
