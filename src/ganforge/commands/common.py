"""What several command handlers share: reading a run, checking --class, printing metrics."""

from __future__ import annotations

from typing import Optional

from ..errors import GanforgeError


def load(run: str):
    from ..api import load_run
    from ..rundir import existing_run

    return load_run(existing_run(run))


def check_label(run, label: Optional[int]) -> None:
    if label is not None:
        if not run.n_classes:
            raise GanforgeError(f"--class {label}: this run is not conditional (model.conditional=false)")
        if not 0 <= label < run.n_classes:
            raise GanforgeError(f"--class {label}: choose a class in 0..{run.n_classes - 1}")


def metrics_line(m: dict) -> str:
    if "hq" in m:
        return f"modes {m['modes']}/{m['n_modes']}  hq {100 * m['hq']:.1f} %  rev_kl {m['rev_kl']:.4f}  (n={m['n']})"
    if "fid" in m:
        keys = ("fid", "kid", "precision", "recall", "density", "coverage", "classes", "class_kl", "modes",
                "mode_kl", "classifier_score", "class_accuracy")
        line = "  ".join(f"{k} {m[k]:.4g}" for k in keys if k in m)
        prov = m["provenance"]
        fid_space = prov.get("fid_feature_space", prov["feature_space"])
        if fid_space == prov["feature_space"]:
            return f"{line}\nfeature space: {fid_space}"
        return f"{line}\nfeature space of fid/kid: {fid_space}\nfeature space of the rest: {prov['feature_space']}"
    return f"energy distance {m['energy']:.4f} in {m['provenance']['feature_space']}  (n={m['n']})"
