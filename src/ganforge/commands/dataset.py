"""``ganforge dataset build|check``: pack images once into a built dataset (DATA.gfd), or check
one in full against its manifest."""

from __future__ import annotations


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
