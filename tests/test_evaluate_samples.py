"""``ganforge evaluate --samples``: another program's samples get the same metrics and
provenance as a run's own."""

import json

import numpy as np
import pytest

import ganforge
from conftest import TINY_IMAGES
from ganforge.cli import main


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    return ganforge.train("digits", TINY_IMAGES + ["train.steps=10"], tmp_path_factory.mktemp("ev") / "d")


def _json(capsys, args):
    capsys.readouterr()
    assert main(args) == 0
    return json.loads(capsys.readouterr().out)


def test_a_runs_samples_from_a_file_score_exactly_as_the_run(digits_run, tmp_path, capsys):
    n, seed = 60, 1234
    own = _json(capsys, ["evaluate", str(digits_run.path), "--json", "--n", str(n), "--seed", str(seed)])
    x = digits_run.sample(n, seed=seed).numpy()  # (n, 1, 8, 8) floats in [0, 1]
    np.save(tmp_path / "s.npy", x)
    np.savez(tmp_path / "s.npz", images=x.transpose(0, 2, 3, 1))  # NHWC, as other tools write
    for f in ("s.npy", "s.npz"):
        other = _json(capsys, ["evaluate", "--samples", str(tmp_path / f), "--data", "digits", "--json",
                               "--seed", str(seed)])
        assert other["fid"] == pytest.approx(own["fid"], rel=1e-5) and other["classes"] == own["classes"]
        assert other["provenance"] == own["provenance"] and other["step"] is None
        assert other["run"].endswith(f)


def test_png_folders_and_points(digits_run, tmp_path, capsys):
    from ganforge.files import image_files

    image_files(digits_run.sample(30, seed=0), tmp_path / "pngs")
    m = _json(capsys, ["evaluate", "--samples", str(tmp_path / "pngs"), "--data", "digits", "--json"])
    assert m["provenance"]["n_fake"] == 30 and "fid" in m
    pts = np.random.default_rng(0).normal(size=(500, 2)) * 4
    np.save(tmp_path / "p.npy", pts)
    m = _json(capsys, ["evaluate", "--samples", str(tmp_path / "p.npy"), "--data", "grid25", "--json"])
    assert {"modes", "hq", "rev_kl"} <= set(m)


@pytest.mark.parametrize("args, words", [
    (["--samples", "S"], "--data NAME"),
    (["--samples", "nofile.npy", "--data", "digits"], "no such file"),
    (["--samples", "BAD", "--data", "digits"], "[0, 1]"),
    (["--samples", "S", "--data", "grid25"], "do not match"),
    (["RUN", "--samples", "S", "--data", "digits"], "no RUN"),
    ([], "give a RUN"),
])
def test_bad_samples_are_one_line_exit_2(tmp_path, monkeypatch, capsys, args, words):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "S.npy", np.zeros((4, 8, 8), np.uint8))
    np.save(tmp_path / "BAD.npy", np.full((4, 1, 8, 8), -1.0, np.float32))
    args = [{"S": "S.npy", "BAD": "BAD.npy"}.get(a, a) for a in args]
    assert main(["evaluate", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganforge: error:") and "\n" not in err and words in err, err
