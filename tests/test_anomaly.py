"""Anomaly detection (apps/anomaly.py, `ganforge anomaly fit|score`): the encoder inverts G,
noise scores above held-out normals, the --fpr threshold flags about that share of held-out
normals, point runs work (a packed D too), and bad input is one line, exit 2, nothing written."""

import csv

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from conftest import TINY, TINY_IMAGES
from ganforge import api
from ganforge.cli import main


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("anom")
    api.train("digits", TINY_IMAGES + ["train.steps=300", "doctor.enabled=false", "model.g_width=8",
                                       "train.reuse_fakes=false"], out=root / "img")
    assert main(["anomaly", "fit", str(root / "img"), "--encoder-steps", "300"]) == 0
    assert main(["train", "--preset", "ring8", "--out", str(root / "pts"), *TINY, "train.steps=300",
                 "model.pac=2"]) == 0
    return root


def _holdout(run_dir):
    """The digits' test split at the run's size, (360, 1, 8, 8) in [0, 1]: never trained on by G or E."""
    data = api.load_run(run_dir).data
    return data.holdout[0].float() / 255


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_the_encoder_reconstructs_gs_samples_better_than_random_latents(runs):
    from ganforge.apps import anomaly_io

    run = api.load_run(runs / "img")
    fitted = anomaly_io.load(runs / "img", run)
    x = run.data.encode(run.generate(64, seed=3))  # G's own samples, model space
    with torch.no_grad():
        err_enc = (run.G(fitted.E(x), None) - x).pow(2).mean().item()
        err_rand = (run.G(run.prior.sample(64, torch.Generator().manual_seed(4)), None) - x).pow(2).mean().item()
    assert err_enc < 0.6 * err_rand


def test_noise_scores_higher_and_fpr_threshold_flags_about_that_share(runs, tmp_path):
    x = _holdout(runs / "img")
    np.savez(tmp_path / "normal.npz", images=(x.numpy() * 255).round().astype(np.uint8))
    np.savez(tmp_path / "noise.npz", images=np.random.default_rng(0).random((50, 8, 8, 1)).astype(np.float32))
    for name in ("normal", "noise"):
        assert main(["anomaly", "score", str(runs / "img"), "--data", str(tmp_path / f"{name}.npz"),
                     "--out", str(tmp_path / f"{name}.csv"), "--fpr", "0.05"]) == 0
    normal, noise = _rows(tmp_path / "normal.csv"), _rows(tmp_path / "noise.csv")
    assert len(normal) == 360 and set(normal[0]) >= {"name", "score", "pixel", "feature", "flag"}
    s_norm = np.array([float(r["score"]) for r in normal])
    s_noise = np.array([float(r["score"]) for r in noise])
    # a 300-step G of width 8 reconstructs digits coarsely: the margin is modest, not huge
    assert roc_auc_score([0] * len(s_norm) + [1] * len(s_noise), np.r_[s_norm, s_noise]) > 0.75
    assert np.median(s_noise) > np.quantile(s_norm, 0.9)
    share = np.mean([r["flag"] == "1" for r in normal])
    assert np.mean([r["flag"] == "1" for r in noise]) > 3 * share
    assert 0.01 <= share <= 0.12, share  # 5 % asked, on data neither G nor E saw
    row = normal[0]  # the score is its parts, weighted as reported
    assert float(row["score"]) == pytest.approx(float(row["pixel"]) + float(row["feature"]), rel=1e-4)
    # a threshold given as a number is used as it is
    rows, about = api.load(runs / "img").anomaly_score(tmp_path / "normal.npz", threshold=0.0)
    assert about["threshold"] == 0.0 and all(r["flag"] == 1 for r in rows)


def test_point_runs_with_a_packed_d_score_points_off_the_ring_higher(runs, tmp_path):
    r = api.load(runs / "pts")
    folder, fitted = r.anomaly_fit(steps=200)
    assert (folder / "encoder.pt").is_file() and fitted.kappa == 1.0
    on = r.generator.data.reference(200, seed=5).numpy()
    off = np.random.default_rng(1).uniform(-0.5, 0.5, (200, 2))  # the ring's radius is 2: these are inside
    np.savetxt(tmp_path / "on.csv", on, delimiter=",")
    np.savetxt(tmp_path / "off.csv", off, delimiter=",")
    s_on = [row["score"] for row in r.anomaly_score(tmp_path / "on.csv")[0]]
    s_off = [row["score"] for row in r.anomaly_score(tmp_path / "off.csv")[0]]
    assert len(s_on) == 200 and np.median(s_off) > np.quantile(s_on, 0.9)
    with pytest.raises(Exception, match="image runs only"):  # no pixels, no maps
        r.anomaly_score(tmp_path / "on.csv", maps=tmp_path / "maps")
    assert not (tmp_path / "maps").exists()


def test_residual_maps_show_where_an_image_differs(runs, tmp_path):
    """--maps: one PNG per input on a common scale; a bright square pasted into a digit is
    where its map is brightest."""
    import json

    from PIL import Image

    x = _holdout(runs / "img")[:4].clone()  # (4, 1, 8, 8)
    x[:, :, 0:3, 0:3] = 1.0  # a white corner no digit has
    np.savez(tmp_path / "odd.npz", images=(x.numpy() * 255).round().astype(np.uint8))
    assert main(["anomaly", "score", str(runs / "img"), "--data", str(tmp_path / "odd.npz"), "--out",
                 str(tmp_path / "s.csv"), "--maps", str(tmp_path / "maps")]) == 0
    manifest = json.loads((tmp_path / "maps" / "manifest.json").read_text())
    assert list(manifest["maps"].values()) == [f"odd.npz[{i}]" for i in range(4)] and manifest["scale"] > 0
    maps = np.stack([np.asarray(Image.open(tmp_path / "maps" / f)) for f in manifest["maps"]]).astype(float)
    assert maps.shape == (4, 8, 8)
    assert maps[:, 0:3, 0:3].mean() > 2 * maps[:, 4:, 4:].mean()


def test_bad_input_is_one_line_exit_2_and_nothing_written(runs, tmp_path, capsys):
    img, pts = str(runs / "img"), str(runs / "pts")
    (tmp_path / "empty").mkdir()
    np.savez(tmp_path / "rgb.npz", images=np.zeros((3, 8, 8, 3), np.uint8))
    np.savez(tmp_path / "big.npz", images=np.zeros((3, 16, 16), np.uint8))
    np.savetxt(tmp_path / "three.csv", np.zeros((4, 3)), delimiter=",")
    np.savez(tmp_path / "ok.npz", images=np.zeros((3, 8, 8), np.uint8))
    no_fit = tmp_path / "nofit"
    api.train("digits", TINY_IMAGES + ["train.steps=2", "doctor.enabled=false"], out=no_fit)
    out = tmp_path / "s.csv"
    cases = [([img, "--data", str(tmp_path / "empty")], "no images"),
             ([img, "--data", str(tmp_path / "rgb.npz")], "(3, 8, 8)"),
             ([img, "--data", str(tmp_path / "big.npz")], "(1, 16, 16)"),
             ([img, "--data", str(tmp_path / "three.csv")], "makes images"),
             ([img, "--data", str(tmp_path / "nope")], "no such"),
             ([img, "--data", str(tmp_path / "ok.npz"), "--fpr", "1.5"], "--fpr"),
             ([str(no_fit), "--data", str(tmp_path / "ok.npz")], f"ganforge anomaly fit {no_fit}"),
             ([pts, "--data", str(tmp_path / "three.csv")], "columns")]
    if not (runs / "pts" / "anomaly").is_dir():
        assert main(["anomaly", "fit", pts, "--encoder-steps", "20"]) == 0
    capsys.readouterr()
    for argv, words in cases:
        assert main(["anomaly", "score", *argv, "--out", str(out)]) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err, (argv, err)
        assert not out.exists() and not list(tmp_path.glob("s.*"))
    assert main(["anomaly", "fit", img, "--encoder-steps", "0"]) == 2
    assert "--encoder-steps" in capsys.readouterr().err
