"""The molecule kind: a sample is one molecule, held as a string of SELFIES tokens.

In data space a sample is (L,) token ids stored as float32 (id 0 ends the string; the source's
:class:`~ganforge.data.kinds.molecule_io.Vocab`, ``data.vocab``, maps them to tokens); with
``data.encoding=graph`` it is MolGAN's one-hot atoms and bonds, flattened (``data.graph``, a
:class:`~ganforge.data.kinds.molecule_io.GraphCodec`). Either way the loop,
the checkpoints and the sample writers handle it as any tensor; ``data.strings(x)`` turns a batch into
canonical SMILES ('' where a string decodes to nothing). SELFIES (Krenn et al. 2020) makes every
token string a molecule, so validity is a property of the decoder, not luck.

It owns writing molecules as ``.smi`` (valid ones, one SMILES per line), ``.csv`` (``smiles``,
``valid``, QED, logP, SA, weight), ``.sdf`` (2D coordinates) or a ``.png`` grid of drawn molecules;
reading a user's .smi / .csv / .sdf (invalid rows skipped and counted); the figure (drawn
molecules, RDKit); and a token-embedding GRU encoder trunk. Datasets: ``data/molecules.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import Tensor, nn

from ...errors import GanforgeError
from .base import DataKind, Inputs, register_kind

GRID = 24  # molecules drawn in the figure


class TokenTrunk(nn.Module):
    """Token ids (B, L) as floats -> a GRU's last state (B, width) over their embeddings."""

    def __init__(self, vocab: int, width: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, 32)
        self.rnn = nn.GRU(32, width, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        ids = x.round().long().clamp(0, self.embed.num_embeddings - 1)  # (B, L)
        _, h_n = self.rnn(self.embed(ids))
        return h_n[-1]


class MoleculeKind(DataKind):
    name = "molecule"
    default_model = "latentgan"
    game = "latentgan"
    default_dataset = "molecules"
    demo_data = {"name": "chembl"}
    evaluator = "molecules"
    suffixes = (".smi", ".csv", ".sdf", ".png")
    task = "molecule-generation"  # the model hub has no pipeline tag for it
    conditional_task = "conditional-molecule-generation"
    figure_n = GRID

    def describe(self, shape: tuple) -> str:
        return f"molecules (SELFIES strings of up to {shape[0] - 1} tokens)"

    def content(self, x: Tensor, suffix: str, data=None, labels: Optional[Tensor] = None):
        """.smi: the valid molecules; .csv: every sample (``smiles``, ``valid``, QED, logP, SA,
        weight); .sdf: the valid ones with 2D coordinates; .png: a grid of the first 48 drawn."""
        from . import molecule_io as mio

        smiles = strings_of(data, x)
        if suffix == ".smi":
            return mio.smi_text(smiles)
        if suffix == ".sdf":
            return mio.sdf_text(smiles)
        if suffix == ".png":
            img = mio.grid_image(smiles[:48], per_row=8, title=f"{len(smiles)} samples, "
                                 f"{sum(map(bool, smiles))} valid (first {min(48, len(smiles))} drawn)")
            return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).permute(2, 0, 1)  # (3, H, W)
        return mio.csv_text(smiles, mio.properties(smiles))

    def read_inputs(self, data, path: Path, resize: bool = False) -> Inputs:
        """A user's molecules (.smi / .csv / .sdf) as the run's token ids (N, L); molecules the
        run's vocabulary or length cannot hold are skipped, and said, like invalid rows. A molecule
        has no size to resize (``resize`` changes nothing)."""
        from .molecule_io import read_molecules

        smiles, _ = read_molecules(path, "--data")
        rows = [(s, data.encode_one(s)) for s in smiles]
        kept = [(s, ids) for s, ids in rows if ids is not None]
        if not kept:
            raise GanforgeError(f"--data {path}: none of its {len(smiles)} molecules fits this run's encoding "
                                f"({data.encoding}: its tokens and length, or its atoms, bonds and size)")
        x = torch.from_numpy(np.stack([ids for _, ids in kept]).astype(np.float32))
        return Inputs(x, [s for s, _ in kept])

    def data_settings(self, x: Tensor) -> dict:
        return {}

    def figure(self, fake: Tensor, data=None, seed: int = 0, title: str = "", rows: Optional[list[str]] = None):
        """The first :data:`GRID` samples drawn as molecules (RDKit), invalid ones marked, QED under each."""
        from .molecule_io import grid_image, properties

        smiles = strings_of(data, fake[:GRID])
        qed = properties(smiles, ("qed",))["qed"]
        legends = [f"QED {q:.2f}" if q == q else "" for q in qed]
        valid = sum(map(bool, smiles))
        head = f"{title}  " if title else ""
        return grid_image(smiles, per_row=6, size=180, legends=legends,
                          title=f"{head}{valid}/{len(smiles)} valid")

    def encoder_trunk(self, shape: tuple, width: int) -> tuple[nn.Module, int]:
        """A GRU over token embeddings: (B, L) ids -> (B, 4 width). The vocabulary is sized
        generously (256 ids) because the trunk is built from the shape alone."""
        return TokenTrunk(256, 4 * width), 4 * width

    def normal_data(self, data, seed: int, n: int = 12000) -> tuple[Tensor, Optional[Tensor]]:
        return data.x[:n].float(), None


def strings_of(data, x: Tensor) -> list[str]:
    """Samples (N, L) -> canonical SMILES ('' where none decodes), by the run's encoding."""
    if data is None:
        raise GanforgeError("molecule samples are written with their run's encoding (load the run)")
    return data.strings(x)


MOLECULE = register_kind(MoleculeKind())
