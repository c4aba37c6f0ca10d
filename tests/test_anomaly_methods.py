"""Anomaly methods beyond f-AnoGAN (issue 37, part 2): the patch GAN's map has the input's size
and a planted defect is brighter than its surroundings; `ganforge anomaly fit|score --method
knn|autoencoder|patch` round trip with provenance; a bad method or input is one line, exit 2,
nothing written."""

import csv
import json
import shutil

import numpy as np
import pytest
import torch

from conftest import TINY_IMAGES
from ganforge import api
from ganforge.apps import anomaly_patch as P
from ganforge.cli import main


def _stripes(n: int, size: int, seed: int) -> torch.Tensor:
    """A stationary texture: vertical stripes of period 4 at a random phase, with a little noise,
    (n, 1, size, size) in model space [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    phase = torch.randint(4, (n, 1, 1, 1), generator=g).float()
    col = torch.arange(size).float().view(1, 1, 1, size)
    x = 0.7 * torch.sin(2 * torch.pi * (col + phase) / 4) + 0.05 * torch.randn(n, 1, size, size, generator=g)
    return x.expand(n, 1, size, size).clamp(-1, 1).contiguous()


def test_patch_map_has_the_inputs_size_and_a_planted_defect_is_brightest():
    torch.set_num_threads(1)
    normal = _stripes(200, 16, 0)
    nets = P.train(normal, patch=4, gan_steps=200, encoder_steps=150, seed=0)
    bank = P.make_bank(nets, normal, 2000, 0)
    scales = {"knn": 1.0, "residual": 1.0}

    def maps(x, residual_weight):
        return P.combine(P.parts(nets, x, bank), scales, residual_weight)

    x = _stripes(6, 16, 1)
    x[:, :, 2:6, 9:13] = 1.0  # a flat white square breaks the stripes (off the diagonal: a transposed map fails)
    for rw in (0.0, 1.0):  # D's feature distance alone, and with the patch encoder's residual
        m = maps(x, rw)
        assert m.shape == (6, 16, 16)
        inside = m[:, 2:6, 9:13].mean()
        outside = m.clone()
        outside[:, 0:9, 6:16] = float("nan")  # leave out the square and the patches that overlap it
        assert inside > 5 * outside.nanmean(), (rw, inside, outside.nanmean())
        assert (P.top_score(m) > P.top_score(maps(_stripes(6, 16, 2), rw))).all()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("methods")
    api.train("digits", TINY_IMAGES + ["train.steps=2", "doctor.enabled=false"], out=root / "run")
    return root / "run"


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("method", ["knn", "autoencoder", "patch", "patch-knn"])
def test_fit_and_score_round_trip(run, method, tmp_path):
    data = api.load_run(run).data
    x = data.holdout[0].float() / 255  # (360, 1, 8, 8): digits nothing was fitted on
    odd = x[:20].clone()
    odd[:, :, :3, :3] = 1.0  # a white corner no digit has
    np.savez(tmp_path / "normal.npz", images=(x[:20, 0].numpy() * 255).round().astype(np.uint8))
    np.savez(tmp_path / "odd.npz", images=(odd[:, 0].numpy() * 255).round().astype(np.uint8))
    assert main(["anomaly", "fit", str(run), "--method", method, "--steps", "150", "--encoder-steps", "100",
                 "--patch", "4"]) == 0
    saved = json.loads((run / "anomaly" / f"{method}.json").read_text())
    assert saved["method"] == method and saved["software"].startswith("ganforge") and len(saved["calibration"]["score"]) > 100
    for name in ("normal", "odd"):
        assert main(["anomaly", "score", str(run), "--method", method, "--data", str(tmp_path / f"{name}.npz"),
                     "--out", str(tmp_path / f"{name}.csv"), "--maps", str(tmp_path / f"maps_{name}")]) == 0
    normal, odd_rows = _rows(tmp_path / "normal.csv"), _rows(tmp_path / "odd.csv")
    assert len(normal) == 20 and list(normal[0]) == ["name", "score", "flag"]
    s_n, s_o = (np.array([float(r["score"]) for r in rows]) for rows in (normal, odd_rows))
    assert np.median(s_o) > np.median(s_n)
    assert np.mean([r["flag"] == "1" for r in odd_rows]) > np.mean([r["flag"] == "1" for r in normal])
    prov = json.loads((tmp_path / "normal.provenance.json").read_text())
    assert prov["method"] == method and prov["threshold_from"].startswith("false-positive rate 0.05")
    assert len(list((tmp_path / "maps_odd").glob("*.png"))) == 20
    # fitted on the user's folder instead of the run's data
    rows, about = api.load(run).anomaly_score(tmp_path / "odd.npz", method=method)
    assert [r["score"] for r in rows] == [float(r["score"]) for r in odd_rows] and about["method"] == method
    folder, det = api.load(run).anomaly_fit(100, method=method, data=tmp_path / "normal.npz", train_steps=50, patch=4)
    assert det.info["n_train"] == 16 and json.loads(folder.with_suffix(".json").read_text())["data"].endswith(
        "normal.npz")


def test_bad_method_and_input_are_one_line_exit_2_nothing_written(run, tmp_path, capsys):
    np.savez(tmp_path / "ok.npz", images=np.zeros((3, 8, 8), np.uint8))
    out = tmp_path / "s.csv"
    other = tmp_path / "other"  # the same run, nothing fitted
    shutil.copytree(run, other, ignore=shutil.ignore_patterns("anomaly"))
    pts = tmp_path / "pts"
    main(["train", "--preset", "ring8", "--out", str(pts), "train.steps=2", "train.progress=false",
          "eval.every=0", "doctor.enabled=false"])
    capsys.readouterr()
    cases = [(["score", str(run), "--method", "bogus", "--data", str(tmp_path / "ok.npz"), "--out", str(out)],
              "--method bogus: choose from fanogan, patch, knn, autoencoder, patch-knn"),
             (["fit", str(run), "--method", "svm"], "--method svm"),
             (["score", str(other), "--method", "knn", "--data", str(tmp_path / "ok.npz"), "--out", str(out)],
              f"ganforge anomaly fit {other} --method knn"),
             (["fit", str(pts), "--method", "patch"], "image runs"),
             (["fit", str(run), "--method", "patch", "--patch", "9"], "--patch 9"),
             (["fit", str(run), "--method", "autoencoder", "--steps", "0"], "--steps 0"),
             (["fit", str(run), "--data", str(tmp_path / "ok.npz")], "give --data with another --method"),
             (["fit", str(run), "--method", "knn", "--data", str(tmp_path / "nope.npz")], "no such")]
    for argv, words in cases:
        assert main(["anomaly", *argv]) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err, (argv, err)
        assert not out.exists()
    assert not (other / "anomaly").exists() and not (pts / "anomaly").exists()
