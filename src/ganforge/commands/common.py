"""What several command handlers share: printing metrics."""

from __future__ import annotations


def metrics_line(m: dict) -> str:
    """A run's or a samples file's metrics as one or a few lines of text."""
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
    if any(k.endswith("psnr_test") for k in m):  # image-to-image runs: held-out scores
        return "  ".join(f"{k} {v:.4g}" for k, v in m.items() if k != "step" and isinstance(v, (int, float)))
    if "quality" in m:  # a table (metrics/table.py)
        keys = ("quality", "column_shapes", "column_pair_trends", "tstr", "trtr", "dcr_holdout", "dcr_train",
                "exact_copies")
        line = "  ".join(f"{k} {m[k]:.4g}" for k in keys if k in m)
        flag = "\nWARNING: the synthetic rows copy training rows (memorising)" if m.get("memorising") else ""
        return f"{line}  (n={m['n']}, against the held-out split){flag}"
    if "discriminative" in m:  # sequences (metrics/series.py): TimeGAN's scores, lower is better
        keys = ("discriminative", "predictive", "predictive_real", "acf_distance", "marginal_w1", "tstr", "trtr")
        line = "  ".join(f"{k} {m[k]:.4g}" for k in keys if k in m)
        return f"{line}  (n={m['n']}, {m['provenance']['feature_space']})"
    return f"energy distance {m['energy']:.4f} in {m['provenance']['feature_space']}  (n={m['n']})"
