"""Molecules (issue 31): the molecule kind, its files, LatentGAN, the MOSES metrics, --objective.

Needs the chemistry extra (``pip install 'ganforge[molecules]'``: rdkit, selfies, fcd_torch);
``scripts/setup.sh --dev`` installs it, so CI runs these. Tiny: a 40-molecule file, a few steps.
"""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch

pytest.importorskip("rdkit", reason="molecules need RDKit: pip install 'ganforge[molecules]'")
pytest.importorskip("selfies", reason="molecules need selfies: pip install 'ganforge[molecules]'")
pytest.importorskip("fcd_torch", reason="molecules need fcd_torch: pip install 'ganforge[molecules]'")

from conftest import TINY  # noqa: E402
from ganforge.cli import main  # noqa: E402
from ganforge.config import load_config  # noqa: E402
from ganforge.data.kinds.molecule_io import Vocab, canonical, read_molecules  # noqa: E402
from ganforge.errors import GanforgeError  # noqa: E402
from ganforge.metrics import molecules as mm  # noqa: E402
from ganforge.train.checkpoint import list_checkpoints  # noqa: E402
from ganforge.train.loop import train  # noqa: E402

# 40 molecules of MOSES's test set (MIT), its shortest strings
MOLS = ['O=C1c2cccnc2CN1Cc1ccccc1Cl', 'O=C(NC1CCc2ccccc2C1)c1ccncc1', 'O=C(NCCc1cccc2ccccc12)C1CCC1',
        'CC1CCCN(C(=O)c2ccc(Br)cc2)C1', 'Cc1cc(Br)ccc1NC(=O)c1cccnc1', 'Cc1cc(Br)ccc1NC(=O)C(C)C',
        'CCC(C(=O)NCc1ccccn1)c1ccccc1', 'O=C(Cc1cccs1)Nc1ccc(Cl)cc1', 'CC(Oc1ccccc1)C(=O)Nc1ccccc1F',
        'CC(C)NC(=O)Cc1ccc(Br)cc1', 'CCN(Cc1ccccc1)C(=O)Cc1cccs1', 'CCOc1ccccc1NC(=O)Cc1cccs1',
        'CC(Oc1ccccc1)C(=O)NCc1ccncc1', 'c1cnc2c(SCC3CCOCO3)cccc2c1', 'Nc1nonc1C(=O)OCC(=O)N1CCCCC1',
        'Cc1nn(C(=O)c2ccco2)c(C)c1Br', 'CCOc1ccc(C(=O)NCc2ccccn2)cc1', 'COc1ccccc1NC(=O)Cc1ccc(F)cc1',
        'COC(=O)Nc1c(C)cc(Br)cc1C', 'O=C(c1ccc(Cl)cc1Cl)N1CCCCC1', 'COc1ccccc1OCC(=O)NC1CCCCC1',
        'O=C(CSc1nc2ccccc2s1)Nc1nccs1', 'O=C(CCC(=O)Nc1nccs1)Nc1nccs1', 'O=C(COc1ccccc1)Nc1ccccc1Cl',
        'CCOC(=O)CSc1nc(CC)c(C)cc1C#N', 'OC1COC(Nc2ccc(Br)cc2)C(O)C1O', 'CCCC(=O)Nc1nnc(C2CCCCC2)s1',
        'O=C(COc1ccc(Cl)cc1)Nc1ncccn1', 'COc1ccc(C(=O)CSc2nncn2C)cc1', 'CCOC(=O)Cc1c(SC)c2ccccc2n1C',
        'O=C(NCc1ccco1)c1ccc(Cl)cc1Cl', 'O=C(COc1ccc(Cl)cc1)N1CCOCC1', 'Cc1ccc(NC(=O)C(C)C)c(Br)c1',
        'CN(C(=O)c1ccccc1Cl)C1CCCCC1', 'COc1cccc(OC)c1C(=O)Nc1ccccn1', 'O=C(NCC1COc2ccccc2O1)c1ccco1',
        'COc1cccc(Nc2ncnc3c2cnn3C)c1', 'O=S(=O)(NCc1ccccc1)c1ccccc1F', 'N#Cc1ccccc1S(=O)(=O)N1CCCCC1',
        'COc1cccc(OC)c1NC(=O)N1CCOCC1']


@pytest.fixture
def smi(tmp_path):
    path = tmp_path / "mols.smi"
    path.write_text("smiles\n" + "\n".join(MOLS) + "\nnot_a_molecule\nC1CC\n")
    return path


# ----------------------------------------------------------------------------- files and parsing


def test_canonical_smiles_and_selfies_round_trip():
    assert canonical("OCC") == canonical("C(O)C") == "CCO"
    assert canonical("c1ccccc1.[Na+].[Cl-]") == "c1ccccc1"  # the largest fragment, as MOSES keeps
    assert canonical("C1CC") is None and canonical("") is None
    vocab, _ = Vocab.fit(MOLS)
    for s in MOLS:
        assert vocab.decode(vocab.encode(s)) == canonical(s)
    assert vocab.encode("C" * 500) is None  # longer than the vocabulary's length


def test_smi_csv_sdf_read_with_invalid_rows_counted_and_named(tmp_path, smi):
    good, info = read_molecules(smi)
    assert len(good) == 40 and info["invalid"] == 2 and info["rows"] == 42
    assert "not_a_molecule" in info["invalid_named"][0] and "C1CC" in info["invalid_named"][1]
    csv = tmp_path / "m.csv"
    csv.write_text("id,SMILES\n" + "".join(f"{i},{s}\n" for i, s in enumerate(MOLS[:5])) + "9,xyz\n")
    good, info = read_molecules(csv)
    assert good == [canonical(s) for s in MOLS[:5]] and info["invalid"] == 1
    from ganforge.data.kinds.molecule_io import sdf_text

    sdf = tmp_path / "m.sdf"
    sdf.write_text(sdf_text(MOLS[:6]))
    assert read_molecules(sdf)[0] == [canonical(s) for s in MOLS[:6]]


@pytest.mark.parametrize("text,msg", [("", "no molecules"), ("hello world\nfoo bar\n", "none of its 2 rows"),
                                      ("a,b\n1,2\n", "SMILES column")])
def test_bad_files_are_one_line_exit_2_and_nothing_written(tmp_path, capsys, text, msg):
    path = tmp_path / ("bad.csv" if "," in text else "bad.smi")
    path.write_text(text)
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "data.name=molecules", f"data.path={path}", *TINY]) == 2
    err = capsys.readouterr().err.strip()
    assert msg in err and "\n" not in err and not out.exists()


# ----------------------------------------------------------------------------- metrics


def test_metrics_on_a_fixed_list_against_hand_computed_values():
    gen = ["CCO", "OCC", "c1ccccc1", "not_a_molecule", ""]
    m = mm.molecule_metrics(gen, train={"CCO"}, test=["CCO", "CCN"])
    assert m["validity"] == pytest.approx(3 / 5)
    assert m["unique@1k"] == pytest.approx(2 / 3)  # {CCO, c1ccccc1} among 3 valid
    assert m["novelty"] == pytest.approx(1 / 2)  # benzene is new, ethanol is not
    # Morgan bits of ethanol and benzene are disjoint: T = 1 for (CCO, CCO) pairs, else 0 off the diagonal;
    # ordered pairs with self-pairs: 3 (diagonal) + 2 (the two ethanols) of 9 have T = 1
    assert m["intdiv1"] == pytest.approx(1 - 5 / 9) and m["intdiv2"] == pytest.approx(1 - math.sqrt(5 / 9))
    # SNN: the ethanols find themselves (1), benzene shares no bit with ethanol or ethylamine (0)
    assert m["snn"] == pytest.approx(2 / 3)
    # Frag (BRICS): CCO x2, benzene x1 vs CCO x1, CCN x1 -> cos = 2 / (sqrt(5) sqrt(2))
    assert m["frag"] == pytest.approx(2 / (math.sqrt(5) * math.sqrt(2)))
    assert m["scaf"] == 0.0  # benzene's scaffold is not among the (acyclic) test molecules'
    # weight: Wasserstein-1 between {46.069, 46.069, 78.114} and {46.069, 45.085}
    from scipy.stats import wasserstein_distance

    assert m["weight"] == pytest.approx(wasserstein_distance([46.069, 46.069, 78.114], [46.069, 45.085]), abs=0.01)
    assert mm.properties(["CCO"])["weight"][0] == pytest.approx(46.069, abs=1e-3)
    assert mm.properties(["c1ccccc1"])["qed"][0] == pytest.approx(0.4426, abs=1e-3)  # Bickerton et al.'s QED
    assert m["fcd"] > 0 and math.isfinite(m["fcd"])
    same = mm.molecule_metrics(MOLS, train=[], test=MOLS)
    assert same["fcd"] == pytest.approx(0, abs=1e-3) and same["snn"] == pytest.approx(1.0)
    assert same["frag"] == pytest.approx(1.0) and same["scaf"] == pytest.approx(1.0) and same["novelty"] == 1.0
    assert mm.cosine_counts(mm.scaffold_counts(["c1ccccc1", "Cc1ccccc1"]),
                            mm.scaffold_counts(["c1ccccc1", "C1CCCCC1"])) == pytest.approx(1 / math.sqrt(2))


def test_moses_filters_refuse_charges_and_pains():
    f = mm.moses_filters()
    if f is None:
        pytest.skip("molsets is not installed (pip install --no-deps molsets): MOSES's filter SMARTS are its files")
    assert mm.passes_filters("CCOC(=O)c1ccccc1", f)
    assert not mm.passes_filters("C[N+](C)(C)C", f)  # a charge
    assert not mm.passes_filters("C1CCCCCCC1", f)  # a ring of 8


# ----------------------------------------------------------------------------- LatentGAN


def _cfg(smi, *extra):
    return load_config("latentgan_moses", ["data.name=molecules", f"data.path={smi}", *TINY, "model.z_dim=8",
                                           "model.w_dim=8", "train.batch_size=16", "train.d_steps=2",
                                           "eval.n_samples=16", *extra])


def _run(tmp_path, name, smi, *extra, resume=False):
    (tmp_path / name).mkdir(exist_ok=True)
    train(_cfg(smi, *extra), tmp_path / name, resume=resume, callbacks=[])
    return [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]


def test_latentgan_trains_both_phases_and_samples_molecules(tmp_path, smi, capsys):
    out = tmp_path / "r"
    assert main(["train", "--out", str(out), "--preset", "latentgan_moses", "data.name=molecules",
                 f"data.path={smi}", *TINY, "model.z_dim=8", "model.w_dim=8", "train.batch_size=16",
                 "train.d_steps=2", "train.steps=6", "train.log_every=1", "eval.n_samples=16"]) == 0
    text = capsys.readouterr().out
    assert "validity" in text and "novelty" in text  # the molecules evaluator's headline
    recs = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    phases = [r["phase"] for r in recs if "phase" in r]
    assert phases[:3] == [1.0, 1.0, 1.0] and phases[-1] == 2.0  # autoencoder, then the WGAN-GP
    for suffix in (".smi", ".csv", ".sdf", ".png"):
        assert main(["sample", str(out), "--n", "12", "--out", str(tmp_path / f"m{suffix}")]) == 0
    rows = (tmp_path / "m.csv").read_text().splitlines()
    assert rows[0].startswith("smiles,valid,") and len(rows) == 13
    assert all(canonical(s) for s in (tmp_path / "m.smi").read_text().split())  # SELFIES: all valid
    assert (tmp_path / "m.provenance.json").exists() or (tmp_path / "m.smi.provenance.json").exists() or \
        any(p.name.endswith("provenance.json") for p in tmp_path.iterdir())
    assert main(["sample", str(out), "--n", "4", "--out", str(tmp_path / "m.npy")]) == 2
    assert main(["evaluate", str(out), "--n", "16"]) == 0


def test_exact_resume(tmp_path, smi):
    """Resumed at step 4 (the autoencoder phase ends at 4 of 8) == the uninterrupted run, bit for bit."""
    from test_series import _same

    extra = ("train.steps=8", "train.ckpt_every=4", "train.log_every=1")
    whole = _run(tmp_path, "whole", smi, *extra)
    shutil.copytree(tmp_path / "whole", tmp_path / "half")
    for s, p in list_checkpoints(tmp_path / "half"):
        if s > 4:
            p.unlink()
    half = _run(tmp_path, "half", smi, *extra, resume=True)
    a = torch.load(list_checkpoints(tmp_path / "whole")[-1][1], weights_only=True)
    b = torch.load(list_checkpoints(tmp_path / "half")[-1][1], weights_only=True)
    for key in ("G", "D", "opt_g", "opt_d", "rng", "d_updates", "g_updates", "latentgan"):
        _same(a[key], b[key], key)
    lines = lambda recs: [r for r in recs if "loss_d" in r]  # noqa: E731
    assert lines(whole) == lines(half)


def test_objective_raises_the_mean_of_its_property(tmp_path, smi, capsys):
    _run(tmp_path, "o", smi, "train.steps=4")
    from ganforge.apps.molecules import optimise, parse_objective
    from ganforge.trained import load_run

    res = optimise(load_run(tmp_path / "o"), 2, "qed", seed=0, population=32)
    assert len(res.smiles) == len(set(res.smiles)) and res.mean > res.sample_mean
    assert parse_objective("qed+0.1*logp-0.2*sa") == {"qed": 1.0, "logp": 0.1, "sa": -0.2}
    with pytest.raises(GanforgeError, match="unknown property"):
        parse_objective("qed+foo")
    assert main(["sample", str(tmp_path / "o"), "--n", "4", "--out", str(tmp_path / "best.csv"),
                 "--objective", "qed"]) == 0
    assert "share with qed >= 0.9" in capsys.readouterr().out
    assert main(["sample", str(tmp_path / "o"), "--n", "4", "--out", str(tmp_path / "x.csv"),
                 "--objective", "bogus"]) == 2
    assert not (tmp_path / "x.csv").exists()


# ----------------------------------------------------------------------------- MolGAN


def _molgan(tmp_path, name, smi, *extra, resume=False):
    cfg = load_config("molgan_moses", ["data.name=molecules", f"data.path={smi}", "data.max_atoms=20", *TINY,
                                       "model.z_dim=8", "train.batch_size=16", "train.d_steps=2", *extra])
    (tmp_path / name).mkdir(exist_ok=True)
    train(cfg, tmp_path / name, resume=resume, callbacks=[])
    return [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]


def test_graph_codec_round_trip_and_molgan_samples_graphs(tmp_path, smi):
    from ganforge.build import build_data
    from ganforge.trained import load_run

    data = build_data(load_config(base={"data": {"name": "molecules", "path": str(smi), "encoding": "graph",
                                                 "max_atoms": 20}}))
    assert data.strings(data.x) == data.smiles  # one-hot graphs decode to the molecules they encode
    _molgan(tmp_path, "g", smi, "train.steps=4")
    run = load_run(tmp_path / "g")
    x = run.generate(8, 0)
    assert x.shape == (8, *data.shape) and set(x.unique().tolist()) <= {0.0, 1.0}  # one-hot atoms and bonds
    assert all(s == "" or canonical(s) == s for s in run.data.strings(x))  # '' = invalid, else canonical
    with pytest.raises(GanforgeError, match="data.encoding=graph"):
        _molgan(tmp_path, "bad", smi, "data.encoding=selfies", "train.steps=1")


def test_molgan_exact_resume(tmp_path, smi):
    from test_series import _same

    extra = ("train.steps=6", "train.ckpt_every=3", "train.log_every=1")
    whole = _molgan(tmp_path, "whole", smi, *extra)
    shutil.copytree(tmp_path / "whole", tmp_path / "half")
    for s, p in list_checkpoints(tmp_path / "half"):
        if s > 3:
            p.unlink()
    half = _molgan(tmp_path, "half", smi, *extra, resume=True)
    a = torch.load(list_checkpoints(tmp_path / "whole")[-1][1], weights_only=True)
    b = torch.load(list_checkpoints(tmp_path / "half")[-1][1], weights_only=True)
    for key in ("G", "D", "opt_g", "opt_d", "rng"):
        _same(a[key], b[key], key)
    assert [r for r in whole if "loss_d" in r] == [r for r in half if "loss_d" in r]
