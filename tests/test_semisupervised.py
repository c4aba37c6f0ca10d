"""The semi-supervised GAN (Salimans et al. 2016): its losses, the labelled/unlabelled split
(data.labels_per_class), a tiny run with exact resume, and `ganforge classify`."""

from __future__ import annotations

import csv
import json
import math
import shutil

import numpy as np
import pytest
import torch

from ganforge import api
from ganforge.build import build_data
from ganforge.cli import main
from ganforge.config import load_config
from ganforge.data import UNLABELLED
from ganforge.data.images import digits_split
from ganforge.errors import GanforgeError
from ganforge.train.checkpoint import list_checkpoints
from ganforge.train.games import build_game
from ganforge.train.games.semi_supervised import feature_matching, ssl_d_loss
from test_series import _same  # the same nested comparison of checkpoints

TINY = ["data.resolution=8", "model.g_width=4", "model.d_width=4", "model.z_dim=8", "train.batch_size=16",
        "eval.every=0", "eval.n_samples=50", "train.progress=false", "train.sample_every=0", "train.log_every=2",
        "data.labels_per_class=3"]


# ---------------------------------------------------------------------------- the losses


def test_the_losses_on_a_hand_computed_case():
    # two classes; a labelled row (logits ln 1, ln 3; label 1): CE = -ln(3 / 4)
    lab, y = torch.tensor([[0.0, math.log(3.0)]]), torch.tensor([1])
    # an unlabelled real with lse = ln(1 + 1) = ln 2: softplus(-ln 2) = ln(1 + 1/2)
    unl = torch.tensor([[0.0, 0.0]])
    # a fake with lse = ln(e^-ln2 + e^-ln2) = ln 1 = 0: softplus(0) = ln 2
    fake = torch.tensor([[-math.log(2.0), -math.log(2.0)]])
    loss, sup, unsup = ssl_d_loss(lab, y, unl, fake, unsup_weight=0.5)
    assert sup.item() == pytest.approx(-math.log(0.75), abs=1e-6)
    assert unsup.item() == pytest.approx(math.log(1.5) + math.log(2.0), abs=1e-6)
    assert loss.item() == pytest.approx(-math.log(0.75) + 0.5 * (math.log(1.5) + math.log(2.0)), abs=1e-6)
    # D's real/fake logit is the logsumexp: D(real | x) = Z / (Z + 1), Z = sum exp l_k = 2 here
    assert torch.sigmoid(torch.logsumexp(unl, 1)).item() == pytest.approx(2 / 3)
    # feature matching: mean over features of the squared difference of the batch means
    h_real, h_fake = torch.tensor([[1.0, 2.0], [3.0, 2.0]]), torch.tensor([[0.0, 0.0], [0.0, 2.0]])
    assert feature_matching(h_real, h_fake).item() == pytest.approx(((2 - 0) ** 2 + (2 - 1) ** 2) / 2)


# ---------------------------------------------------------------------------- the split


def _cfg(*extra):
    return load_config("digits_ssl", [*TINY, *extra])


def test_k_labels_per_class_are_kept_and_held_out_labels_never_reach_training():
    data = build_data(_cfg("train.seed=3"))
    (xtr, ytr), (xte, yte) = digits_split()
    kept = torch.nonzero(data.labels != UNLABELLED).flatten()
    assert len(kept) == 30 and torch.bincount(data.labels[kept], minlength=10).tolist() == [3] * 10
    assert torch.equal(data.labels[kept], torch.from_numpy(ytr)[kept])  # kept labels are the true ones
    assert len(data.images) == len(xtr)  # every training image stays, unlabelled
    # the game's labelled set is exactly the kept rows; the held-out split is not in training
    game = build_game(_cfg("train.seed=3"), data, torch.device("cpu"))
    assert torch.equal(game.y_lab, data.labels[kept]) and len(game.x_lab) == 30
    assert torch.equal(data.holdout[1], torch.from_numpy(yte))
    assert len(data.images) + len(data.holdout[0]) == len(xtr) + len(xte)  # disjoint: the fixed split
    # the stream the game trains on carries no dropped label: only kept labels or UNLABELLED
    _, y = data.sample(len(data.images))
    assert int((y != UNLABELLED).sum()) == 30
    # another seed keeps other rows; the same seed the same
    other = build_data(_cfg("train.seed=4"))
    assert not torch.equal(torch.nonzero(other.labels >= 0).flatten(), kept)
    assert torch.equal(torch.nonzero(build_data(_cfg("train.seed=3")).labels >= 0).flatten(), kept)


def test_labels_per_class_is_checked_in_one_line():
    with pytest.raises(GanforgeError, match="data.labels_per_class"):
        _cfg("data.labels_per_class=-1")
    with pytest.raises(GanforgeError, match="class .* has only"):
        build_data(_cfg("data.labels_per_class=1000"))
    with pytest.raises(GanforgeError, match="semi-supervised model"):
        build_data(load_config("digits", ["data.labels_per_class=5"]))


# ---------------------------------------------------------------------------- a tiny run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("ssl")
    assert main(["train", "--preset", "digits_ssl", "--out", str(root / "run"), *TINY, "train.steps=8",
                 "train.ckpt_every=4", "augment.policy=translation"]) == 0
    return root / "run"


def _resumed_from_step_4(run, tmp_path) -> dict:
    """A copy of ``run`` cut back to its step-4 checkpoint and resumed to the end: its last checkpoint."""
    half = tmp_path / "half"
    shutil.copytree(run, half)
    for s, p in list_checkpoints(half):
        if s > 4:
            p.unlink()
    assert main(["train", "--resume", str(half), "train.progress=false"]) == 0
    return torch.load(list_checkpoints(half)[-1][1], weights_only=True)


def test_a_tiny_run_trains_logs_its_losses_and_resumes_exactly(run_dir, tmp_path):
    recs = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    losses = [r for r in recs if "loss_sup" in r]
    assert losses and all(np.isfinite([r["loss_d"], r["loss_g"], r["loss_sup"], r["loss_unsup"]]).all()
                          for r in losses)
    assert any("test_acc" in r for r in recs)  # D's held-out accuracy, measured at the end
    a = torch.load(list_checkpoints(run_dir)[-1][1], weights_only=True)
    b = _resumed_from_step_4(run_dir, tmp_path)
    assert a["step"] == b["step"] == 8
    for key in ("G", "D", "opt_g", "opt_d", "rng", "semi_supervised"):
        _same(a[key], b[key], key)


# ---------------------------------------------------------------------------- classify


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_classify_round_trip(run_dir, tmp_path):
    (_, _), (xte, yte) = digits_split()
    npz = tmp_path / "test.npz"
    np.savez(npz, images=(xte[:12] * 255).round().astype(np.uint8))
    out = tmp_path / "pred.csv"
    assert main(["classify", str(run_dir), "--data", str(npz), "--out", str(out), "--resize"]) == 0
    rows = _rows(out)
    assert len(rows) == 12 and all(r["class"] in "0123456789" for r in rows)
    assert all(abs(sum(float(r[f"p_{k}"]) for k in range(10)) - 1) < 1e-4 for r in rows)
    prov = json.loads((tmp_path / "pred.provenance.json").read_text())
    assert prov["command"] == "classify" and prov["n"] == 12 and prov["synthetic"] is False
    # the API on a tensor gives the same classes as the command on the file
    run = api.load(run_dir)
    x = torch.from_numpy(xte[:12]).float()[:, None]  # (12, 1, 8, 8): the run's size, no resizing
    probs = run.classify(x)
    assert probs.shape == (12, 10) and torch.allclose(probs.sum(1), torch.ones(12), atol=1e-5)
    assert [str(int(k)) for k in probs.argmax(1)] == [r["class"] for r in rows]


def test_classify_bad_input_is_one_line_and_writes_nothing(run_dir, tmp_path, capsys):
    big = tmp_path / "big.npz"
    np.savez(big, images=np.zeros((3, 12, 12), np.uint8))
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "p.csv"
    for data in (big, empty, tmp_path / "missing.npz"):
        assert main(["classify", str(run_dir), "--data", str(data), "--out", str(out)]) == 2
    assert main(["classify", str(run_dir), "--data", str(big), "--out", str(tmp_path / "p.txt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("ganforge: error:") for line in err)
    assert not out.exists() and not (tmp_path / "p.txt").exists()


def test_classify_refuses_a_run_without_a_classifier(tmp_path, capsys):
    run = tmp_path / "plain"
    assert main(["train", "--preset", "digits", "--out", str(run), "data.resolution=8", "model.g_width=4",
                 "model.d_width=4", "model.z_dim=8", "train.batch_size=8", "train.steps=1", "eval.every=0",
                 "eval.n_samples=20", "train.progress=false", "train.sample_every=0", "doctor.enabled=false"]) == 0
    capsys.readouterr()
    x = tmp_path / "x.npz"
    np.savez(x, images=np.zeros((2, 8, 8), np.uint8))
    assert main(["classify", str(run), "--data", str(x), "--out", str(tmp_path / "p.csv")]) == 2
    assert "has no classifier" in capsys.readouterr().err


# ---------------------------------------------------------------------------- an EMA of D


def test_an_ema_of_d_is_kept_resumed_and_is_what_classify_reads(tmp_path, capsys):
    run = tmp_path / "ema"
    assert main(["train", "--preset", "digits_ssl", "--out", str(run), *TINY, "train.steps=8", "train.ckpt_every=4",
                 "augment.policy=translation", "train.d_ema_beta=0.9"]) == 0
    ckpt = torch.load(list_checkpoints(run)[-1][1], weights_only=True)
    assert ckpt["D_ema"]["updates"] == 8  # one update per D step
    raw, avg = ckpt["D"], ckpt["D_ema"]["model"]
    assert any(not torch.equal(raw[k], avg[k]) for k in raw)  # an average, not a copy of D
    # resume from step 4 gives the same D_ema at step 8
    _same(ckpt["D_ema"], _resumed_from_step_4(run, tmp_path)["D_ema"], "D_ema")
    # classify reads D_ema: its probabilities are the averaged network's, and it says so
    r = api.load(run)
    (_, _), (xte, _) = digits_split()
    x = torch.from_numpy(xte[:12]).float()[:, None]
    probs = r.classify(x)
    cfg = load_config(base=ckpt["config"])
    data = build_data(cfg)
    game = build_game(cfg, data, torch.device("cpu"))
    for weights, same in ((avg, True), (raw, False)):
        game.D.load_state_dict(weights)
        game.D.eval()
        with torch.no_grad():
            p = torch.softmax(game.D.classify(data.encode(x)), 1)
        assert torch.allclose(p, probs, atol=1e-6) is same
    npz = tmp_path / "x.npz"
    np.savez(npz, images=(xte[:4] * 255).round().astype(np.uint8))
    assert main(["classify", str(run), "--data", str(npz), "--out", str(tmp_path / "p.csv")]) == 0
    assert "D_ema" in json.loads((tmp_path / "p.provenance.json").read_text())["what"]
    # a model whose D is not a classifier refuses the key in one line
    capsys.readouterr()
    assert main(["train", "--preset", "digits", "--out", str(tmp_path / "plain"), "data.resolution=8",
                 "train.steps=1", "train.d_ema_beta=0.9"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "train.d_ema_beta" in err[0] and not (tmp_path / "plain").exists()
    assert main(["train", "--preset", "digits_ssl", "--out", str(tmp_path / "bad"), "train.d_ema_beta=1"]) == 2
