"""``ganforge score``: the discriminator's judgement of the user's data, one CSV row per input."""

from __future__ import annotations

from pathlib import Path


def run(args) -> int:
    import csv
    import io

    from ..apps.judge import score
    from ..files import check_output, write_provenance, write_text_atomic
    from ..rundir import existing_run

    out = Path(args.out)
    check_output(out, "--out")
    run_dir = existing_run(args.run)
    rows, about = score(run_dir, Path(args.data), args.label)  # every input read and judged before writing
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, buf.getvalue())
    write_provenance(out, {**about, "what": "p_real: sigmoid of the run's D on each input (1/2 at the game's "
                                            "equilibrium); class, confidence: the judge classifier",
                           "data": str(args.data), "n": len(rows)})
    mean = sum(r["p_real"] for r in rows) / len(rows)
    print(f"scored {len(rows)} input(s) with the D of run {args.run} (step {about['step']}): mean p_real "
          f"{mean:.3f}; wrote {out}")
    return 0
