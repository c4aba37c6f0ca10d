"""``ganforge anomaly fit|score``: an anomaly detector from a run trained on normal data
(f-AnoGAN's izi_f encoder in RUN/anomaly/), and one CSV row per input scored with it."""

from __future__ import annotations

import sys
from pathlib import Path


def _fit(args) -> int:
    from ..api import load

    r = load(args.run)
    out, fitted = r.anomaly_fit(steps=args.encoder_steps, kappa=args.kappa, seed=args.seed,
                                progress=lambda step, loss: print(f"anomaly encoder step {step}: loss {loss:.4g}",
                                                                  file=sys.stderr))
    t = fitted.threshold(0.05)
    print(f"fitted the anomaly encoder of run {args.run} (step {fitted.g_step}, kappa {fitted.kappa:g}) on "
          f"{fitted.info['n_train']} samples; {fitted.info['n_calibration']} held out: threshold at 5 % false "
          f"positives {t:.4g}; wrote {out}/")
    return 0


def _score(args) -> int:
    import csv
    import io

    from ..api import load
    from ..files import check_output, write_provenance, write_text_atomic

    out = Path(args.out)
    check_output(out, "--out", (".csv",))
    if args.maps:
        check_output(Path(args.maps), "--maps", ())
    rows, about = load(args.run).anomaly_score(args.data, threshold=args.threshold, fpr=args.fpr, maps=args.maps)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, buf.getvalue())
    write_provenance(out, {**about, "data": str(args.data),
                           "what": "score = pixel + kappa * feature (f-AnoGAN izi_f); flag = score > threshold"})
    print(f"scored {about['n']} input(s) with run {args.run} (step {about['step']}): {about['flagged']} flagged "
          f"above {about['threshold']:.4g} ({about['threshold_from']}); wrote {out}"
          + (f" and the residual maps in {about['maps']}/" if about.get("maps") else ""))
    return 0


def run(args) -> int:
    return _fit(args) if args.action == "fit" else _score(args)
