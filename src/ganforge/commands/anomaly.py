"""``ganforge anomaly fit|score``: an anomaly detector from a run trained on normal data
(``--method``: f-AnoGAN's izi_f encoder, the patch GAN, kNN or an autoencoder, in RUN/anomaly/),
and one CSV row per input scored with it."""

from __future__ import annotations

import sys

from ..apps.anomaly_methods import METHODS
from .common import add_resize, add_run

HELP = "anomaly detection with a run trained on normal data (fit, then score)"


def add_arguments(p) -> None:
    acts = p.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=type(p))
    f = acts.add_parser("fit", help="fit an anomaly detector on the run's data or --data (RUN/anomaly/)")
    add_run(f)
    _method(f)
    f.add_argument("--data", help="every method but fanogan: learn from this folder/file of normal inputs "
                                  "instead of the run's training data")
    add_resize(f)
    f.add_argument("--encoder-steps", type=int, default=None,
                   help="steps of f-AnoGAN's encoder (default 2000) or the patch encoder (default 1500)")
    f.add_argument("--steps", type=int, default=3000, help="training steps of the patch GAN or the autoencoder")
    f.add_argument("--patch", type=int, default=8, help="patch, patch-knn: the side of the patches in pixels")
    f.add_argument("--kappa", type=float, default=1.0, help="fanogan: weight of D's feature residual in the score")
    f.add_argument("--residual-weight", type=float, default=1.0,
                   help="patch: the weight of the patch encoder's reconstruction residual in the map (0: D's "
                        "feature distance alone, sharper localisation, no encoder trained)")
    f.add_argument("--seed", type=int, default=0)
    s = acts.add_parser("score", help="score inputs: one CSV row each (score, pixel, feature, flag)")
    add_run(s)
    _method(s)
    s.add_argument("--data", required=True, help="a folder of images, an image, an .npz, or points in .csv/.npy/.npz")
    s.add_argument("--out", required=True, help="scores.csv")
    add_resize(s)
    s.add_argument("--maps", metavar="DIR/", help="image runs: write each input's residual map (where it differs) here")
    t = s.add_mutually_exclusive_group()
    t.add_argument("--threshold", type=float, metavar="T", help="flag inputs whose score is above T")
    t.add_argument("--fpr", type=float, help="threshold at this false-positive rate on held-out normals (default 0.05)")


def _method(p) -> None:
    p.add_argument("--method", default="fanogan", metavar="|".join(METHODS),
                   help="fanogan (default): f-AnoGAN on the run's G and D; patch: a GAN on small patches, best on "
                        "textures; knn, autoencoder, patch-knn: the classical baselines (see docs/apps/anomaly.md)")


def _progress(step: int, loss: float, what: str = "anomaly encoder") -> None:
    print(f"{what} step {step}: loss {loss:.4g}", file=sys.stderr)


def run(args) -> int:
    from ..api import load

    if args.action == "fit" and args.method != "fanogan":
        steps = 1500 if args.encoder_steps is None else args.encoder_steps
        out, det = load(args.run).anomaly_fit(steps, args.kappa, args.seed, _progress, method=args.method,
                                              data=args.data, train_steps=args.steps, patch=args.patch,
                                              resize=args.resize, residual_weight=args.residual_weight)
        print(f"fitted the {args.method} anomaly detector of run {args.run} on {det.info['n_train']} samples; "
              f"{det.info['n_calibration']} held out: threshold at 5 % false positives {det.threshold(0.05):.4g}; "
              f"wrote {out} and {out.with_suffix('.json')}")
        return 0
    if args.action == "fit":
        steps = 2000 if args.encoder_steps is None else args.encoder_steps
        out, fitted = load(args.run).anomaly_fit(steps, args.kappa, args.seed, _progress, data=args.data)
        print(f"fitted the anomaly encoder of run {args.run} (step {fitted.g_step}, kappa {fitted.kappa:g}) on "
              f"{fitted.info['n_train']} samples; {fitted.info['n_calibration']} held out: threshold at 5 % false "
              f"positives {fitted.threshold(0.05):.4g}; wrote {out}/")
        return 0
    rows, about = load(args.run).anomaly_score(args.data, args.threshold, args.fpr, args.maps, args.out, args.resize,
                                             method=args.method)
    if about.get("resized"):
        print(about["resized"])
    print(f"scored {about['n']} input(s) with the {args.method} detector of run {args.run} (step {about['step']}): {about['flagged']} flagged "
          f"above {about['threshold']:.4g} ({about['threshold_from']}); wrote {args.out}"
          + (f" and the residual maps in {about['maps']}/" if about.get("maps") else ""))
    return 0
