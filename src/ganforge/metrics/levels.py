"""Metrics of generated tile maps (``levels`` evaluator), against the held-out real levels.

- **Playability** (the agents of ``data/level_agents.py``): the share of generated maps the agent
  completes, next to the held-out real maps' share (100 % for the generated sets, by
  construction) and a **random-tile baseline**: maps whose tiles are drawn independently at the
  training set's tile frequencies.
- **Tile-pattern KL** (Lucas and Volz 2019, as used on MarioGAN's levels): the distributions of
  the 2 x 2 and 3 x 3 tile patterns (every k x k patch) of the held-out maps P and the generated
  maps Q, KL(P || Q) in nats over the union of patterns seen, each count smoothed by adding
  :data:`EPS` before normalising. Next to it the same KL between the held-out maps and as many
  training maps (two disjoint real splits): the floor the generator can be held to; and the 3 x 3
  KL of as many random-tile maps (``kl3_random``), the ceiling of a generator that learnt only
  the tile frequencies.
- **Novelty**: exact copies of training maps (their count; it should be 0), the share of
  generated 3 x 3 patterns never seen in training, and the mean distance (share of tiles that
  differ) from each generated map to its nearest training map.
- **Features** and **expressive range** (Smith and Whitehead 2010): per map, counts of enemies,
  coins, gaps, keys, doors, hazards, the agent's jumps and path length, and two continuous
  features (platformer: linearity and leniency; top-down: openness and path length); the 2-D
  histograms of the two for generated and real maps, and their overlap (histogram intersection,
  1 = the same range).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

EPS = 1.0  # pseudo-count added to every pattern's count (KL over the union of patterns)
BINS = 10  # expressive range: bins per axis


def level_features(ids: np.ndarray, legend, result) -> dict:
    """Features of one map (H, W) and its agent's result (``level_agents.Play``)."""
    h, w = ids.shape
    solid = legend.mask("solid")[ids]
    f = {"playable": float(result.playable), "enemies": float(legend.mask("enemy")[ids].sum()),
         "keys": float(legend.mask("key")[ids].sum()), "doors": float(legend.mask("door")[ids].sum()),
         "hazards": float((legend.mask("hazard") & ~legend.mask("enemy"))[ids].sum()),
         "jumps": float(result.jumps), "path": float(len(result.path)), "reached": float(result.reached)}
    starts, goals = int(legend.mask("start")[ids].sum()), int(legend.mask("goal")[ids].sum())
    # how far the map is from one start and one goal (a platformer window may have neither)
    need = 0 if legend.agent == "platformer" else 1
    f["marker_excess"] = float(max(0, starts - 1) + max(0, goals - 1) + max(0, need - starts) + max(0, need - goals))
    coin = [i for i, t in enumerate(legend.tiles) if "coin" in t.name.lower()]
    f["coins"] = float(np.isin(ids, coin).sum())
    if legend.agent == "platformer":
        floor = solid[-1]  # the bottom row: a gap is a run of columns without ground
        runs = np.diff(np.concatenate([[0], (~floor).astype(int), [0]]))
        f["gaps"] = float((runs == 1).sum())
        f["gap_columns"] = float((~floor).sum())
        top = np.where(solid.any(0), solid.argmax(0), h)  # the highest solid tile per column
        height = (h - top).astype(float)
        xs = np.arange(w, dtype=float)
        fit = np.polyval(np.polyfit(xs, height, 1), xs)
        f["linearity"] = -float(np.abs(height - fit).mean())  # 0: a straight line of surfaces
        f["leniency"] = -float(f["enemies"] + 0.5 * f["gap_columns"]) / w * 28  # per 28 columns; 0: harmless
        f["x_feature"], f["y_feature"] = f["linearity"], f["leniency"]
    else:
        f["gaps"] = 0.0
        f["openness"] = float((~solid).mean())
        f["x_feature"], f["y_feature"] = f["openness"], f["path"]
    return f


ER_AXES = {"platformer": ("linearity", "leniency"), "topdown": ("openness", "path length")}


def features_of(maps: np.ndarray, legend) -> list[dict]:
    from ..data.level_agents import play

    return [level_features(lv, legend, play(lv, legend)) for lv in maps]


def patterns(maps: np.ndarray, k: int) -> Counter:
    """Counts of every k x k patch of maps (N, H, W), each patch as bytes."""
    n, h, w = maps.shape
    m = maps.astype(np.uint8)
    patches = np.lib.stride_tricks.sliding_window_view(m, (k, k), axis=(1, 2)).reshape(-1, k * k)
    return Counter(map(bytes, patches))


def pattern_kl(p: Counter, q: Counter, eps: float = EPS) -> float:
    """KL(P || Q) in nats of two pattern count tables, over their union, counts + ``eps``."""
    keys = list(set(p) | set(q))
    a = np.array([p.get(k, 0) for k in keys], float) + eps
    b = np.array([q.get(k, 0) for k in keys], float) + eps
    a, b = a / a.sum(), b / b.sum()
    return float((a * np.log(a / b)).sum())


def random_tile_maps(train: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n maps of the training shape, tiles drawn i.i.d. at the training tile frequencies."""
    c = int(train.max()) + 1
    freq = np.bincount(train.ravel(), minlength=c) / train.size
    rng = np.random.default_rng(seed)
    return rng.choice(c, size=(n,) + train.shape[1:], p=freq).astype(np.int64)


def nearest_distance(fake: np.ndarray, train: np.ndarray, chunk: int = 64) -> np.ndarray:
    """(n,) the share of tiles in which each fake map differs from its nearest training map."""
    f, t = fake.reshape(len(fake), -1), train.reshape(len(train), -1)
    out = []
    for i in range(0, len(f), chunk):
        out.append((f[i:i + chunk, None, :] != t[None]).mean(2).min(1))
    return np.concatenate(out) if out else np.zeros(0)


def er_histograms(fa: list, ra: list) -> tuple:
    """The expressive range: 2-D histograms (BINS, BINS) of (x_feature, y_feature) of fake and
    real maps on shared edges, each normalised to sum 1, the edges, and their overlap."""
    fx = np.array([[d["x_feature"], d["y_feature"]] for d in fa])
    rx = np.array([[d["x_feature"], d["y_feature"]] for d in ra])
    both = np.concatenate([fx, rx])
    lo, hi = both.min(0), both.max(0)
    hi = np.where(hi > lo, hi, lo + 1)
    edges = [np.linspace(lo[j], hi[j], BINS + 1) for j in range(2)]
    hf = np.histogram2d(fx[:, 0], fx[:, 1], bins=edges)[0]
    hr = np.histogram2d(rx[:, 0], rx[:, 1], bins=edges)[0]
    hf, hr = hf / max(hf.sum(), 1), hr / max(hr.sum(), 1)
    return hf, hr, edges, float(np.minimum(hf, hr).sum())


def level_metrics(fake: np.ndarray, data, seed: int) -> dict:
    """All of the above for generated maps ``fake`` (n, H, W) against ``data`` (a LevelData)."""
    legend = data.legend
    rng = np.random.default_rng(seed)
    real = data.holdout_ids
    m = min(len(fake), len(real))
    fake_m, real_m = fake[:m], real[rng.permutation(len(real))[:m]]
    train = data.train_ids
    split = train[rng.permutation(len(train))[:m]]
    ff, rf = features_of(fake, legend), features_of(real_m, legend)
    rand = features_of(random_tile_maps(train, min(len(fake), 200), seed), legend)
    out = {"playable": float(np.mean([d["playable"] for d in ff])),
           "playable_real": float(np.mean([d["playable"] for d in rf])),
           "playable_random": float(np.mean([d["playable"] for d in rand]))}
    for k in (2, 3):
        pr = patterns(real_m, k)
        out[f"kl{k}"] = pattern_kl(pr, patterns(fake_m, k))
        out[f"kl{k}_real_split"] = pattern_kl(pr, patterns(split, k))
    out["kl3_random"] = pattern_kl(patterns(real_m, 3), patterns(random_tile_maps(train, m, seed), 3))
    train_set = {lv.tobytes() for lv in train}
    out["exact_copies"] = int(sum(lv.tobytes() in train_set for lv in fake))
    out["unique"] = len({lv.tobytes() for lv in fake}) / max(len(fake), 1)
    p_train = patterns(train, 3)
    p_fake = patterns(fake, 3)
    out["novel_patterns3"] = float(np.mean([k not in p_train for k in p_fake])) if p_fake else 0.0
    out["nearest_train_distance"] = float(nearest_distance(fake, train).mean()) if len(fake) else 0.0
    for key in ("enemies", "gaps", "jumps", "coins", "keys", "doors"):
        out[f"{key}_mean"] = float(np.mean([d[key] for d in ff]))
        out[f"{key}_mean_real"] = float(np.mean([d[key] for d in rf]))
    out["expressive_overlap"] = er_histograms(ff, rf)[3]
    out["n_real"] = m
    return out


def expressive_range_figure(fake: np.ndarray, real: np.ndarray, legend, title: str = ""):
    """The 2-D histograms of the two expressive-range features, generated beside real: a Figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ff, rf = features_of(fake, legend), features_of(real, legend)
    hf, hr, edges, overlap = er_histograms(ff, rf)
    xl, yl = ER_AXES[legend.agent]
    fig = Figure(figsize=(7, 3.2), dpi=100)
    FigureCanvasAgg(fig)
    for j, (h, name) in enumerate(((hf, f"generated (n={len(fake)})"), (hr, f"real held-out (n={len(real)})"))):
        ax = fig.add_subplot(1, 2, j + 1)
        ax.imshow(h.T, origin="lower", aspect="auto", cmap="viridis",
                  extent=(edges[0][0], edges[0][-1], edges[1][0], edges[1][-1]))
        ax.set_xlabel(xl, fontsize=8)
        ax.set_ylabel(yl, fontsize=8)
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=6)
    fig.suptitle(title or f"expressive range (overlap {overlap:.2f})", fontsize=9)
    fig.tight_layout()
    return fig
