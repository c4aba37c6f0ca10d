"""Property-directed sampling of a molecule run: ``ganforge sample RUN --n N --objective qed``.

The objective is a property or a weighted sum of them, ``qed``, ``logp``, ``sa``, or e.g.
``qed+0.1*logp``; every term is "higher is better": ``sa`` scores (10 - SA) / 9, so 1 is the
easiest to make (Ertl-Schuffenhauer SA runs from 1, easy, to 10, hard).

The search is an evolution strategy over G's noise z (a (mu + lambda)-ES; Beyer & Schwefel 2002),
not CMA-ES and not gradient ascent: G decodes z to a string by argmax, so there is no gradient
through it, and the population needs to end as *many distinct* molecules, not one optimum (CMA-ES
converges its one mean). Each generation keeps the best ``P`` distinct valid molecules found so far
(their z's) and adds a mutant z + sigma eps of each, sigma shrinking from 0.5 to 0.1; after
:data:`GENERATIONS` generations the best ``n`` valid, unique and novel (not in the training set)
molecules are returned. It needs only G(z), so it works for any molecule model.

The report: the share of those ``n`` above a threshold (``qed``: 0.9; otherwise the training
molecules' 90th percentile of the objective) against the share of the training molecules and of
plain samples above it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import GanforgeError
from ..data.kinds.molecule_io import properties

GENERATIONS = 12
TERMS = ("qed", "logp", "sa")


def parse_objective(text: str) -> dict:
    """``"qed+0.1*logp-0.2*sa"`` -> {"qed": 1.0, "logp": 0.1, "sa": -0.2}; one line when malformed."""
    terms = {}
    s = text.replace(" ", "")
    pos = 0
    pattern = re.compile(r"([+-]?)(?:(\d+(?:\.\d*)?|\.\d+)\*)?([a-z]+)")
    while pos < len(s):
        m = pattern.match(s, pos)
        if not m or m.end() == pos or (pos > 0 and not m.group(1)):
            raise GanforgeError(f"--objective {text}: a property ({', '.join(TERMS)}) or a weighted sum such as "
                                "qed+0.1*logp")
        sign, w, name = m.groups()
        if name not in TERMS:
            raise GanforgeError(f"--objective {text}: unknown property {name}; choose from {', '.join(TERMS)}")
        terms[name] = terms.get(name, 0.0) + (-1 if sign == "-" else 1) * float(w or 1)
        pos = m.end()
    if not terms:
        raise GanforgeError(f"--objective {text}: name a property ({', '.join(TERMS)})")
    return terms


def score(smiles: list, terms: dict) -> np.ndarray:
    """The objective of each SMILES (N,), NaN where invalid."""
    props = properties(smiles, tuple(terms))
    total = np.zeros(len(smiles))
    for name, w in terms.items():
        v = props[name]
        total = total + w * ((10.0 - v) / 9.0 if name == "sa" else v)
    return total


@dataclass
class Optimised:
    smiles: list
    scores: np.ndarray
    threshold: float
    share_above: float  # of the n asked: valid, unique, novel and above the threshold
    share_kept: float  # of the n asked: valid, unique and novel found
    train_share: float  # training molecules above the threshold
    sample_share: float  # plain samples above the threshold
    mean: float  # mean objective of the molecules returned
    sample_mean: float  # mean objective of plain samples
    evaluations: int = 0
    props: dict = field(default_factory=dict)


def optimise(run, n: int, objective: str, seed: int = 0, threshold=None, population: int = 0,
             progress=None) -> Optimised:
    """The best ``n`` valid, unique, novel molecules of ``run`` (a ``TrainedRun`` of a molecule
    run) under ``objective``, by the evolution strategy of the module docstring."""
    if n < 1:
        raise GanforgeError(f"--n {n}: must be >= 1")
    terms = parse_objective(objective)
    data, G, prior = run.data, run.G, run.prior
    if data.kind.name != "molecule":
        raise GanforgeError(f"--objective: a molecule run optimises properties; this run gives {data.kind.name} data")
    P = population or max(2 * n, 128)
    gen = torch.Generator().manual_seed(seed)
    train = set(data.smiles)

    def decode(z: torch.Tensor) -> list:
        with torch.no_grad():
            return data.strings(torch.cat([G(z[i : i + 2048]).float().cpu() for i in range(0, len(z), 2048)]))

    z = prior.sample(P, gen)
    smiles = decode(z)
    s = score(smiles, terms)
    sample_mean = float(np.nanmean(s)) if np.isfinite(s).any() else float("nan")
    train_scores = score(data.smiles, terms)
    if threshold is None:
        threshold = 0.9 if set(terms) == {"qed"} and terms["qed"] == 1.0 else float(np.nanpercentile(train_scores, 90))
    sample_share = float(np.mean(np.nan_to_num(s, nan=-np.inf) >= threshold))
    pool: dict = {}  # smiles -> (score, z)

    def merge(zs, sm, sc):
        for i, (m, v) in enumerate(zip(sm, sc)):
            if m and np.isfinite(v) and (m not in pool or pool[m][0] < v):
                pool[m] = (float(v), zs[i])

    merge(z, smiles, s)
    evaluations = P
    for g in range(GENERATIONS):
        best = sorted(pool.items(), key=lambda kv: -kv[1][0])[:P]
        parents = torch.stack([zz for _, (_, zz) in best])
        sigma = 0.5 - 0.4 * g / max(1, GENERATIONS - 1)
        children = parents + sigma * torch.randn(parents.shape, generator=gen)
        sm = decode(children)
        merge(children, sm, score(sm, terms))
        evaluations += len(children)
        if progress is not None:
            progress(g + 1, GENERATIONS)
    ranked = [(m, v) for m, (v, _) in sorted(pool.items(), key=lambda kv: -kv[1][0]) if m not in train][:n]
    smiles_out = [m for m, _ in ranked]
    scores = np.array([v for _, v in ranked])
    return Optimised(smiles_out, scores, float(threshold), float(np.sum(scores >= threshold)) / n,
                     len(ranked) / n, float(np.mean(train_scores >= threshold)), sample_share,
                     float(scores.mean()) if len(scores) else float("nan"), sample_mean, evaluations,
                     properties(smiles_out))


def objective_file(run, out: str, n: int, objective: str, seed: int = 0, threshold=None,
                   progress=None) -> Optimised:
    """:func:`optimise`, its molecules written to ``out`` (.smi, .csv with their properties and
    objective, .sdf or a .png grid) with their provenance."""
    from pathlib import Path

    from ..data.kinds import molecule_io as mio
    from ..files import write_output

    path = Path(out)
    if path.suffix not in (".smi", ".csv", ".sdf", ".png"):
        raise GanforgeError(f"--out {out}: --objective writes FILE.smi, FILE.csv, FILE.sdf or GRID.png")
    res = optimise(run, n, objective, seed, threshold, progress=progress)
    prov = run.provenance("sample", seed, watermark=False, n=len(res.smiles), objective=objective,
                          search="evolution strategy over z")
    if path.suffix == ".smi":
        content = mio.smi_text(res.smiles)
    elif path.suffix == ".sdf":
        content = mio.sdf_text(res.smiles)
    elif path.suffix == ".png":
        img = mio.grid_image(res.smiles[:48], per_row=8, legends=[f"{v:.3f}" for v in res.scores[:48]],
                             title=f"--objective {objective}: best {min(48, len(res.smiles))} of {len(res.smiles)}")
        content = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).permute(2, 0, 1)
    else:
        content = mio.csv_text(res.smiles, {**res.props, "objective": res.scores})
    write_output(path, content, prov)
    return res
