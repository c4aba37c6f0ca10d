"""Molecules from and to files, and their tokens: the chemistry the molecule kind needs, by RDKit.

- :func:`chem`: RDKit, or one line saying how to install it (``pip install ganforge[molecules]``);
- :func:`canonical`: a SMILES string -> RDKit's canonical SMILES (largest fragment, sanitised), or None;
- :func:`read_molecules`: the user's ``.smi`` (one SMILES per line, first column), ``.csv`` (a
  ``smiles`` column, any case) or ``.sdf``; invalid rows are skipped and counted, the first few
  named; a file with no valid molecule is one line (``GanforgeError``);
- :func:`smi_text`, :func:`csv_text`, :func:`sdf_text`: molecules as those files;
- :func:`properties`: QED, Crippen logP, SA score (RDKit's Contrib sascorer), molecular weight;
- :func:`grid_image`: molecules drawn in a grid (RDKit's ``MolsToGridImage``), a PIL image;
- :class:`Vocab`: SELFIES tokens (Krenn et al. 2020): every token string decodes to a valid
  molecule, so a string model's samples are molecules by construction. Id 0 ends a string.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from ...errors import GanforgeError

INSTALL = "pip install 'ganforge[molecules]' (rdkit, selfies, fcd_torch)"
NAMED = 3  # invalid rows named in a reader's message


def chem():
    """RDKit's ``Chem`` module, its logger silenced (invalid SMILES are counted here, not printed)."""
    try:
        from rdkit import Chem, RDLogger
    except ImportError:
        raise GanforgeError(f"molecules need RDKit: {INSTALL}") from None
    RDLogger.DisableLog("rdApp.*")
    return Chem


def to_mol(smiles: str):
    """A sanitised RDKit molecule, or None for an empty or invalid string."""
    Chem = chem()
    if not smiles or not isinstance(smiles, str):
        return None
    try:
        return Chem.MolFromSmiles(smiles)
    except Exception:  # noqa: BLE001  (RDKit raises on some malformed strings instead of returning None)
        return None


def canonical(smiles: str) -> Optional[str]:
    """RDKit's canonical SMILES of ``smiles`` (its largest fragment, as MOSES keeps), or None when invalid."""
    mol = to_mol(smiles)
    if mol is None:
        return None
    Chem = chem()
    if "." in smiles:
        frags = Chem.GetMolFrags(mol, asMols=True)
        mol = max(frags, key=lambda m: m.GetNumAtoms())
    out = Chem.MolToSmiles(mol)
    return out or None


def canonical_all(smiles: list) -> list:
    """:func:`canonical` of each string, None where invalid."""
    return [canonical(s) for s in smiles]


# ----------------------------------------------------------------------------- reading


def _rows(path: Path) -> tuple[list[str], list[str]]:
    """(strings, their names) of a .smi / .csv / .sdf file, unparsed (an .sdf's molecules as SMILES,
    '' where RDKit could not read a record)."""
    suffix = path.suffix.lower()
    if suffix == ".sdf":
        Chem = chem()
        out, names = [], []
        for i, mol in enumerate(Chem.SDMolSupplier(str(path), sanitize=True)):
            out.append(Chem.MolToSmiles(mol) if mol is not None else "")
            names.append(mol.GetProp("_Name") if mol is not None and mol.HasProp("_Name") and mol.GetProp("_Name")
                         else f"record {i + 1}")
        return out, names
    text = path.read_text(errors="replace")
    if suffix == ".csv":
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if header is None:
            return [], []
        cols = [h.strip().lower() for h in header]
        col = next((i for i, h in enumerate(cols) if h in ("smiles", "canonical_smiles", "smi")), None)
        if col is None:
            raise GanforgeError(f"data.path={path}: a molecules .csv needs a SMILES column (named smiles); its columns "
                                f"are {', '.join(header[:8])}")
        rows = [r for r in reader if any(c.strip() for c in r)]
        return [r[col].strip() if col < len(r) else "" for r in rows], [f"row {i + 2}" for i in range(len(rows))]
    out, names = [], []
    for i, line in enumerate(text.splitlines()):
        parts = line.split()
        if not parts or parts[0].startswith("#") or (i == 0 and parts[0].lower() == "smiles"):
            continue
        out.append(parts[0])
        names.append(f"line {i + 1}")
    return out, names


def read_molecules(path, where: str = "data.path") -> tuple[list[str], dict]:
    """The valid molecules of a user's file as canonical SMILES, and what was read: ``{"format",
    "rows", "invalid", "invalid_named"}``. Invalid rows are skipped and counted (the first
    :data:`NAMED` named); an unreadable, empty or non-chemical file is one line."""
    path = Path(path)
    if path.suffix.lower() not in (".smi", ".csv", ".sdf", ".txt"):
        raise GanforgeError(f"{where}={path}: molecules are read from .smi, .csv (a SMILES column) or .sdf")
    if not path.is_file():
        raise GanforgeError(f"{where}={path}: no such file")
    try:
        raw, names = _rows(path)
    except GanforgeError:
        raise
    except Exception as e:  # noqa: BLE001  (a binary or broken file)
        raise GanforgeError(f"{where}={path}: not a molecule file ({type(e).__name__})") from None
    if not raw:
        raise GanforgeError(f"{where}={path}: the file holds no molecules")
    good, bad = [], []
    for s, name in zip(raw, names):
        c = canonical(s)
        (good.append(c) if c else bad.append(f"{name} ({s[:30]!r})" if s else name))
    if not good:
        raise GanforgeError(f"{where}={path}: none of its {len(raw)} rows is a valid molecule (first: "
                            f"{', '.join(bad[:NAMED])})")
    return good, {"format": path.suffix.lower().lstrip("."), "rows": len(raw), "invalid": len(bad),
                  "invalid_named": bad[:NAMED]}


def invalid_note(info: dict) -> str:
    """One line saying how many rows were skipped, naming the first few ('' when none)."""
    if not info.get("invalid"):
        return ""
    more = "" if info["invalid"] <= len(info["invalid_named"]) else ", ..."
    return (f"skipped {info['invalid']} invalid of {info['rows']} rows: {', '.join(info['invalid_named'])}{more}")


# ----------------------------------------------------------------------------- writing


def smi_text(smiles: list) -> str:
    """One SMILES per line; invalid samples are left out (the command says how many)."""
    return "".join(f"{s}\n" for s in smiles if s)


def csv_text(smiles: list, props: Optional[dict] = None) -> str:
    """``smiles,valid[,property columns]``: one row per sample, invalid ones kept with valid=0."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    names = list(props or {})
    w.writerow(["smiles", "valid", *names])
    for i, s in enumerate(smiles):
        vals = [("" if props[k][i] is None or np.isnan(props[k][i]) else f"{props[k][i]:.4f}") for k in names]
        w.writerow([s or "", int(bool(s)), *vals])
    return buf.getvalue()


def sdf_text(smiles: list) -> str:
    """The valid samples as an SD file with 2D coordinates (RDKit), each record named by its index."""
    Chem = chem()
    from rdkit.Chem import AllChem

    buf = io.StringIO()
    writer = Chem.SDWriter(buf)
    for i, s in enumerate(smiles):
        mol = to_mol(s) if s else None
        if mol is None:
            continue
        AllChem.Compute2DCoords(mol)
        mol.SetProp("_Name", f"sample {i}")
        writer.write(mol)
    writer.close()
    return buf.getvalue()


def grid_image(smiles: list, per_row: int = 6, size: int = 200, legends: Optional[list] = None, title: str = ""):
    """Molecules drawn in a grid (RDKit), a PIL RGB image; an invalid sample is an empty cell
    with the legend 'invalid'."""
    chem()
    from PIL import Image, ImageDraw
    from rdkit.Chem import Draw

    mols, labels = [], []
    for i, s in enumerate(smiles):
        mol = to_mol(s) if s else None
        mols.append(mol if mol is not None else chem().MolFromSmiles(""))
        labels.append((legends[i] if legends else "") if mol is not None else "invalid")
    img = Draw.MolsToGridImage(mols, molsPerRow=max(1, min(per_row, len(mols))), subImgSize=(size, size),
                               legends=labels, returnPNG=False).convert("RGB")
    if not title:
        return img
    out = Image.new("RGB", (img.width, img.height + 24), "white")
    out.paste(img, (0, 24))
    ImageDraw.Draw(out).text((8, 6), title, fill="black")
    return out


# ----------------------------------------------------------------------------- properties

PROPS = ("logp", "sa", "qed", "weight")  # the MOSES properties



def _sascorer():
    from rdkit.Chem import RDConfig

    path = f"{RDConfig.RDContribDir}/SA_Score"
    if path not in sys.path:
        sys.path.append(path)
    import sascorer  # RDKit's Contrib: Ertl & Schuffenhauer 2009, with its fragment scores

    return sascorer


def mol_property(mol, name: str) -> float:
    from rdkit.Chem import QED, Crippen, Descriptors

    if name == "qed":
        return float(QED.qed(mol))
    if name == "logp":
        return float(Crippen.MolLogP(mol))
    if name == "sa":
        return float(_sascorer().calculateScore(mol))
    if name == "weight":
        return float(Descriptors.MolWt(mol))
    raise ValueError(name)


def properties(smiles: list, which: Iterable[str] = PROPS) -> dict:
    """{property: (N,) float64} of each SMILES, NaN where it is invalid or empty."""
    which = tuple(which)
    out = {k: np.full(len(smiles), np.nan) for k in which}
    for i, s in enumerate(smiles):
        mol = to_mol(s) if s else None
        if mol is None:
            continue
        for k in which:
            out[k][i] = mol_property(mol, k)
    return out


def package_dir(name: str) -> Optional[Path]:
    """Where an installed package lives, found without importing it (molsets' own imports fail on
    today's RDKit; only its data files are read)."""
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


# ----------------------------------------------------------------------------- tokens


class Vocab:
    """SELFIES tokens of a set of molecules; id 0 is the end of a string (and its padding).

    ``encode`` -> ids (L,) int64 (None when a molecule has a token outside the vocabulary or more than
    L - 1 tokens); ``decode`` -> canonical SMILES ('' for an empty decode)."""

    def __init__(self, tokens: list[str], length: int):
        self.tokens = ["<end>"] + list(tokens)
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.length = int(length)

    def __len__(self) -> int:
        return len(self.tokens)

    @classmethod
    def fit(cls, smiles: list, length: int = 0) -> tuple["Vocab", list]:
        """The vocabulary of ``smiles`` and their SELFIES token lists (None where SELFIES fails);
        ``length``: 0 = the longest + 1."""
        sf = _selfies()
        toks = []
        for s in smiles:
            try:
                toks.append(list(sf.split_selfies(sf.encoder(s))))
            except Exception:  # noqa: BLE001  (selfies refuses some valences)
                toks.append(None)
        alphabet = sorted({t for ts in toks if ts for t in ts})
        longest = max((len(t) for t in toks if t), default=1)
        return cls(alphabet, length or longest + 1), toks

    def ids(self, tokens: Optional[list]) -> Optional[np.ndarray]:
        if tokens is None or len(tokens) >= self.length or any(t not in self.index for t in tokens):
            return None
        out = np.zeros(self.length, dtype=np.int64)
        out[: len(tokens)] = [self.index[t] for t in tokens]
        return out

    def encode(self, smiles: str) -> Optional[np.ndarray]:
        sf = _selfies()
        try:
            return self.ids(list(sf.split_selfies(sf.encoder(smiles))))
        except Exception:  # noqa: BLE001
            return None

    def decode(self, ids) -> str:
        """Ids (L,) -> canonical SMILES, read up to the first end token ('' when none decode)."""
        sf = _selfies()
        out = []
        for i in np.asarray(ids).astype(np.int64).tolist():
            if i <= 0 or i >= len(self.tokens):
                break
            out.append(self.tokens[i])
        if not out:
            return ""
        try:
            smiles = sf.decoder("".join(out))
        except Exception:  # noqa: BLE001
            return ""
        return canonical(smiles) or ""


def _selfies():
    try:
        import selfies
    except ImportError:
        raise GanforgeError(f"molecule runs need selfies: {INSTALL}") from None
    return selfies


# ----------------------------------------------------------------------------- graphs (MolGAN)

BONDS = ("SINGLE", "DOUBLE", "TRIPLE")  # kekulised bond types; index 0 of a bond axis is "no bond"


class GraphCodec:
    """Molecules as MolGAN's graphs (De Cao & Kipf 2018): up to ``n`` heavy atoms, each one of
    ``atoms`` (index 0: no atom), and a symmetric bond matrix over ("none",) + :data:`BONDS`, kekulised.

    ``encode`` -> (nodes (n,) int64, bonds (n, n) int64) or None (too many atoms, an element, charge
    or bond outside the codec); ``one_hot`` -> the flat sample (n T + n n B,) float32;
    ``decode`` a flat sample -> canonical SMILES (its largest fragment) or '' when RDKit refuses it."""

    def __init__(self, atoms: list, n: int):
        self.atoms = ["*"] + list(atoms)
        self.n = int(n)
        self.T, self.B = len(self.atoms), len(BONDS) + 1

    @property
    def width(self) -> int:
        return self.n * self.T + self.n * self.n * self.B

    @classmethod
    def fit(cls, smiles: list, n: int) -> "GraphCodec":
        elements = set()
        for s in smiles:
            mol = to_mol(s)
            if mol is not None and mol.GetNumHeavyAtoms() <= n:
                elements.update(a.GetSymbol() for a in mol.GetAtoms())
        return cls(sorted(elements), n)

    def encode(self, smiles: str):
        Chem = chem()
        mol = to_mol(smiles)
        if mol is None or mol.GetNumAtoms() > self.n:
            return None
        try:
            Chem.Kekulize(mol, clearAromaticFlags=True)
        except Exception:  # noqa: BLE001
            return None
        nodes = np.zeros(self.n, dtype=np.int64)
        bonds = np.zeros((self.n, self.n), dtype=np.int64)
        for a in mol.GetAtoms():
            if a.GetSymbol() not in self.atoms or a.GetFormalCharge() != 0:
                return None
            nodes[a.GetIdx()] = self.atoms.index(a.GetSymbol())
        for b in mol.GetBonds():
            name = str(b.GetBondType()).split(".")[-1]
            if name not in BONDS:
                return None
            i, j = b.GetBeginAtomIdx(), b.GetEndAtomIdx()
            bonds[i, j] = bonds[j, i] = BONDS.index(name) + 1
        return nodes, bonds

    def one_hot(self, nodes: np.ndarray, bonds: np.ndarray) -> np.ndarray:
        """(N, n) nodes, (N, n, n) bonds -> (N, width) float32."""
        N = len(nodes)
        x = np.eye(self.T, dtype=np.float32)[nodes].reshape(N, -1)
        a = np.eye(self.B, dtype=np.float32)[bonds].reshape(N, -1)
        return np.concatenate([x, a], 1)

    def split(self, x):
        """Flat samples (N, width) -> nodes (N, n, T), bonds (N, n, n, B) (views, any array type)."""
        N = x.shape[0]
        k = self.n * self.T
        return x[:, :k].reshape(N, self.n, self.T), x[:, k:].reshape(N, self.n, self.n, self.B)

    def decode(self, flat) -> str:
        Chem = chem()
        nodes, bonds = self.split(np.asarray(flat, dtype=np.float32)[None])
        nodes, bonds = nodes[0].argmax(-1), bonds[0].argmax(-1)
        mol = Chem.RWMol()
        index = {}
        for i, t in enumerate(nodes.tolist()):
            if t > 0:
                index[i] = mol.AddAtom(Chem.Atom(self.atoms[t]))
        for i in index:
            for j in index:
                if j > i and bonds[i, j] > 0:
                    mol.AddBond(index[i], index[j], getattr(Chem.BondType, BONDS[bonds[i, j] - 1]))
        if not index:
            return ""
        try:
            Chem.SanitizeMol(mol)
            return canonical(Chem.MolToSmiles(mol)) or ""
        except Exception:  # noqa: BLE001  (valence errors: an invalid molecule)
            return ""
