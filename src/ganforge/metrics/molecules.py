"""The MOSES metrics of generated molecules (Polykovskiy et al. 2020), written here with RDKit and
fcd_torch; MOSES's own code (``moses/metrics/metrics.py``) is the reference they follow.

On generated SMILES ``gen`` ('' = invalid) against a test set:

- ``validity``: the share of samples RDKit parses;
- ``unique@1k`` / ``unique@10k``: distinct canonical SMILES among the first k *valid* samples,
  over their count (fewer than k valid: all of them, as MOSES warns and does);
- ``novelty``: the share of distinct valid samples not in the training set;
- ``fcd``: the Fréchet ChemNet Distance of the valid samples to the test set (fcd_torch's ChemNet,
  weights in its wheel); MOSES's ``FCD/Test`` (``fcd_sf``: ``FCD/TestSF``, the scaffold split), the
  test side computed here from the test molecules (MOSES: its first 10,000), see below;
- ``snn``: mean over valid samples of the Tanimoto similarity (Morgan r = 2, 1024 bits) to the
  nearest test molecule; ``frag`` / ``scaf``: cosine similarity of BRICS-fragment / Bemis-Murcko
  scaffold counts between samples and test;
- ``intdiv1`` / ``intdiv2``: 1 - (mean over all ordered pairs, self-pairs included, of T^p)^(1/p);
- ``filters``: the share passing MOSES's filters (its MCF and PAINS SMARTS, allowed atoms C N S O F
  Cl Br H, no charges, no ring of 8 or more atoms), when molsets' files are installed;
- ``logp`` / ``sa`` / ``qed`` / ``weight``: Wasserstein-1 distance between the property values of
  samples and test (Crippen logP, Ertl-Schuffenhauer SA score, QED, molecular weight).

With MOSES, the test side is its precomputed statistics of the whole test set for Frag, Scaf and the
properties, and its first 10,000 test molecules for FCD (ChemNet run here: MOSES's precomputed FCD
statistics gave 5.2 for 10,000 of its own training molecules with today's fcd_torch) and SNN.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Iterable, Optional

import numpy as np
import torch

from ..data.kinds.molecule_io import PROPS, canonical, chem, package_dir, properties, to_mol

FP_BITS = 1024
INTDIV_MAX = 10_000  # samples IntDiv is computed on (all pairs)


# ----------------------------------------------------------------------------- fingerprints


def fingerprints(smiles: list) -> torch.Tensor:
    """Morgan fingerprints (radius 2, 1024 bits) of valid SMILES, (N, 1024) float32 of 0/1."""
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=FP_BITS)
    rows = [gen.GetFingerprintAsNumPy(to_mol(s)) for s in smiles]
    return torch.from_numpy(np.stack(rows).astype(np.float32)) if rows else torch.zeros(0, FP_BITS)


def tanimoto(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Tanimoto similarities (n, m) of bit rows a (n, F) and b (m, F); 1 where both are empty."""
    inter = a @ b.T
    union = a.sum(1, keepdim=True) + b.sum(1)[None] - inter
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(inter))


def snn(gen_fps: torch.Tensor, ref_fps: torch.Tensor, chunk: int = 2048) -> float:
    """Mean over generated molecules of the similarity to their nearest reference molecule."""
    best = [tanimoto(gen_fps[i : i + chunk], ref_fps).max(1).values for i in range(0, len(gen_fps), chunk)]
    return float(torch.cat(best).mean())


def internal_diversity(fps: torch.Tensor, p: int = 1, chunk: int = 2048) -> float:
    """IntDiv_p = 1 - (mean_{i,j} T(i, j)^p)^(1/p), over all ordered pairs including i = j (MOSES)."""
    total = sum(float(tanimoto(fps[i : i + chunk], fps).pow(p).sum()) for i in range(0, len(fps), chunk))
    return 1.0 - (total / len(fps) ** 2) ** (1.0 / p)


# ----------------------------------------------------------------------------- fragments and scaffolds


def fragment_counts(smiles: list) -> Counter:
    """BRICS fragments (as MOSES's ``compute_fragments``), counted over molecules."""
    from rdkit.Chem import BRICS

    c = Counter()
    for s in smiles:
        c.update(BRICS.BRICSDecompose(to_mol(s)))
    return c


def scaffold_counts(smiles: list) -> Counter:
    """Bemis-Murcko scaffolds (as MOSES's ``compute_scaffold``: rings kept, '' dropped), counted."""
    from rdkit.Chem.Scaffolds import MurckoScaffold

    Chem = chem()
    c = Counter()
    for s in smiles:
        try:
            scaf = Chem.MolToSmiles(MurckoScaffold.GetScaffoldForMol(to_mol(s)))
        except Exception:  # noqa: BLE001
            continue
        if scaf and to_mol(scaf) is not None:
            c[scaf] += 1
    return c


def cosine_counts(a: Counter, b: Counter) -> float:
    """Cosine similarity of two count vectors over the union of their keys."""
    keys = set(a) | set(b)
    va = np.array([a.get(k, 0) for k in keys], dtype=np.float64)
    vb = np.array([b.get(k, 0) for k in keys], dtype=np.float64)
    na, nb = np.linalg.norm(va), np.linalg.norm(vb)
    return float(va @ vb / (na * nb)) if na > 0 and nb > 0 else 0.0


# ----------------------------------------------------------------------------- filters and FCD


_FILTERS: Optional[list] = None
ALLOWED = {"C", "N", "S", "O", "F", "Cl", "Br", "H"}


def moses_filters() -> Optional[list]:
    """MOSES's MCF and PAINS SMARTS from the molsets wheel, or None when it is not installed."""
    global _FILTERS
    if _FILTERS is None:
        import pandas as pd

        root = package_dir("moses")
        if root is None or not (root / "metrics" / "mcf.csv").is_file():
            return None
        Chem = chem()
        mcf = pd.read_csv(root / "metrics" / "mcf.csv")["smarts"].tolist()
        pains = pd.read_csv(root / "metrics" / "wehi_pains.csv", names=["smarts", "names"])["smarts"].tolist()
        _FILTERS = [q for q in (Chem.MolFromSmarts(s) for s in mcf + pains) if q is not None]
    return _FILTERS


def passes_filters(smiles: str, filters: list) -> bool:
    """MOSES's ``mol_passes_filters``."""
    Chem = chem()
    mol = to_mol(smiles)
    if mol is None:
        return False
    rings = mol.GetRingInfo()
    if rings.NumRings() and any(len(r) >= 8 for r in rings.AtomRings()):
        return False
    if any(a.GetFormalCharge() != 0 or a.GetSymbol() not in ALLOWED for a in mol.GetAtoms()):
        return False
    h_mol = Chem.AddHs(mol)
    return not any(h_mol.HasSubstructMatch(q) for q in filters)


_CHEMNET: list = []  # fcd_torch's FCD object (ChemNet loaded from its wheel), built once


def chemnet_stats(smiles: list) -> Optional[dict]:
    """ChemNet's activations' mean (512,) and covariance (512, 512) (fcd_torch), None under 2 molecules."""
    if len(smiles) < 2:
        return None
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not _CHEMNET:
            from fcd_torch import FCD

            _CHEMNET.append(FCD(device="cpu", n_jobs=1))
        return _CHEMNET[0].precalc(smiles)


_REFERENCE: dict = {}  # (count, first, last) of a test list -> its ChemNet statistics, computed once


def reference_stats(smiles: list) -> Optional[dict]:
    """:func:`chemnet_stats` of a reference list (its canonical SMILES), cached for the process."""
    key = (len(smiles), smiles[0] if smiles else "", smiles[-1] if smiles else "")
    if key not in _REFERENCE:
        _REFERENCE[key] = chemnet_stats([c for c in (canonical(s) for s in smiles) if c])
    return _REFERENCE[key]


def frechet(a: dict, b: dict) -> float:
    """The Fréchet distance of two Gaussians of ChemNet activations (``distances.frechet_gaussians``:
    fcd_torch's formula, its matrix root's trace taken from eigenvalues)."""
    from .distances import frechet_gaussians

    return frechet_gaussians(a["mu"], a["sigma"], b["mu"], b["sigma"])


def wasserstein(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import wasserstein_distance

    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    return float(wasserstein_distance(a, b)) if len(a) and len(b) else math.nan


# ----------------------------------------------------------------------------- all of them


def fraction_unique(valid: list, k: int) -> float:
    part = valid[:k]
    return len(set(part)) / len(part) if part else 0.0


def molecule_metrics(gen: list, train: Iterable[str], test: list, test_sf: Optional[list] = None,
                     stats: Optional[dict] = None, extra_train: Optional[set] = None) -> dict:
    """Every metric of the module docstring for generated SMILES ``gen`` ('' or invalid strings
    count as invalid) against ``train`` (novelty) and ``test``; ``stats``: MOSES's precomputed
    test statistics ({"test_stats": ..., "test_scaffolds_stats": ...}) used in place of ``test``
    where they exist; ``extra_train``: further training strings (MOSES's full set) for novelty."""
    canon = [canonical(s) if s else None for s in gen]
    valid = [c for c in canon if c]
    out = {"n": len(gen), "validity": len(valid) / max(1, len(gen)),
           "unique@1k": fraction_unique(valid, 1000), "unique@10k": fraction_unique(valid, 10_000)}
    uniq = sorted(set(valid))
    train = set(train)
    novel = [s for s in uniq if s not in train and (extra_train is None or s not in extra_train)]
    out["novelty"] = len(novel) / len(uniq) if uniq else 0.0
    if len(valid) < 2:  # nothing to compare distributions with
        return out
    st, sf = (stats or {}).get("test_stats"), (stats or {}).get("test_scaffolds_stats")
    gen_stats = chemnet_stats(valid)
    # FCD's test side is ChemNet's statistics of the test molecules computed here, not MOSES's precomputed
    # ones: with today's fcd_torch/torch, 10,000 of MOSES's own training molecules scored 5.2 against those
    # (MOSES reports 0.008 for its training set), so they are not comparable with samples measured here
    ref = reference_stats(test)
    if ref is not None:  # FCD needs two test molecules at least
        out["fcd"] = frechet(gen_stats, ref)
    if test_sf:
        out["fcd_sf"] = frechet(gen_stats, reference_stats(test_sf))
    gen_fps = fingerprints(valid)
    out["snn"] = snn(gen_fps, fingerprints(test))
    frag = fragment_counts(valid)
    out["frag"] = cosine_counts(frag, st["Frag"]["frag"] if st else fragment_counts(test))
    scaf = scaffold_counts(valid)
    out["scaf"] = cosine_counts(scaf, st["Scaf"]["scaf"] if st else scaffold_counts(test))
    if test_sf:
        out["snn_sf"] = snn(gen_fps, fingerprints(test_sf))
        out["frag_sf"] = cosine_counts(frag, sf["Frag"]["frag"] if sf else fragment_counts(test_sf))
        out["scaf_sf"] = cosine_counts(scaf, sf["Scaf"]["scaf"] if sf else scaffold_counts(test_sf))
    div = gen_fps[:INTDIV_MAX]
    out["intdiv1"], out["intdiv2"] = internal_diversity(div, 1), internal_diversity(div, 2)
    filters = moses_filters()
    if filters is not None:
        out["filters"] = float(np.mean([passes_filters(s, filters) for s in valid]))
    gen_props = properties(valid)
    test_props = {k: np.asarray(st[name]["values"], dtype=np.float64) for k, name in
                  zip(PROPS, ("logP", "SA", "QED", "weight"))} if st else properties(test)
    for k in PROPS:
        out[k] = wasserstein(gen_props[k], test_props[k])
    return out
