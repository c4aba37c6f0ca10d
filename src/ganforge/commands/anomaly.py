"""``ganforge anomaly fit|score``: an anomaly detector from a run trained on normal data
(f-AnoGAN's izi_f encoder in RUN/anomaly/), and one CSV row per input scored with it."""

from __future__ import annotations

import sys

from .common import add_resize, add_run

HELP = "anomaly detection with a run trained on normal data (fit, then score)"


def add_arguments(p) -> None:
    acts = p.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=type(p))
    f = acts.add_parser("fit", help="train the anomaly encoder on the run's data (RUN/anomaly/)")
    add_run(f)
    f.add_argument("--encoder-steps", type=int, default=2000)
    f.add_argument("--kappa", type=float, default=1.0, help="weight of D's feature residual in the score")
    f.add_argument("--seed", type=int, default=0)
    s = acts.add_parser("score", help="score inputs: one CSV row each (score, pixel, feature, flag)")
    add_run(s)
    s.add_argument("--data", required=True, help="a folder of images, an image, an .npz, or points in .csv/.npy/.npz")
    s.add_argument("--out", required=True, help="scores.csv")
    add_resize(s)
    s.add_argument("--maps", metavar="DIR/", help="image runs: write each input's residual map (where it differs) here")
    t = s.add_mutually_exclusive_group()
    t.add_argument("--threshold", type=float, metavar="T", help="flag inputs whose score is above T")
    t.add_argument("--fpr", type=float, help="threshold at this false-positive rate on held-out normals (default 0.05)")


def _progress(step: int, loss: float) -> None:
    print(f"anomaly encoder step {step}: loss {loss:.4g}", file=sys.stderr)


def run(args) -> int:
    from ..api import load

    if args.action == "fit":
        out, fitted = load(args.run).anomaly_fit(args.encoder_steps, args.kappa, args.seed, _progress)
        print(f"fitted the anomaly encoder of run {args.run} (step {fitted.g_step}, kappa {fitted.kappa:g}) on "
              f"{fitted.info['n_train']} samples; {fitted.info['n_calibration']} held out: threshold at 5 % false "
              f"positives {fitted.threshold(0.05):.4g}; wrote {out}/")
        return 0
    rows, about = load(args.run).anomaly_score(args.data, args.threshold, args.fpr, args.maps, args.out, args.resize)
    if about.get("resized"):
        print(about["resized"])
    print(f"scored {about['n']} input(s) with run {args.run} (step {about['step']}): {about['flagged']} flagged "
          f"above {about['threshold']:.4g} ({about['threshold_from']}); wrote {args.out}"
          + (f" and the residual maps in {about['maps']}/" if about.get("maps") else ""))
    return 0
