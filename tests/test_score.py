"""`ganforge score`: the discriminator as a judge of the user's data."""

import csv

import numpy as np
import pytest
from PIL import Image

from ganforge.cli import main

TINY = ["data.resolution=8", "model.g_width=4", "model.d_width=4", "model.z_dim=8", "train.batch_size=16",
        "train.steps=10", "eval.every=0", "eval.n_samples=60", "doctor.probe_n=16", "train.progress=false",
        "train.sample_every=0"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("score")
    assert main(["train", "--preset", "digits", "--out", str(root / "img"), *TINY]) == 0
    assert main(["train", "--preset", "digits", "--out", str(root / "cond"), "model.conditional=true", *TINY]) == 0
    assert main(["train", "--preset", "grid25", "--out", str(root / "pts"), "train.steps=20", "model.pac=2",
                 "train.progress=false", "eval.every=0"]) == 0
    return root


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_one_row_per_image_with_a_probability_and_the_judges_reading(runs, tmp_path):
    imgs = tmp_path / "imgs"
    assert main(["sample", str(runs / "img"), "--n", "6", "--out", str(imgs) + "/"]) == 0
    assert main(["score", str(runs / "img"), "--data", str(imgs), "--out", str(tmp_path / "s.csv")]) == 0
    rows = _rows(tmp_path / "s.csv")
    assert len(rows) == 6 and all(0 <= float(r["p_real"]) <= 1 for r in rows)
    assert all(r["class"].isdigit() and 0 <= float(r["confidence"]) <= 1 for r in rows)
    assert (tmp_path / "s.provenance.json").exists() or list(tmp_path.glob("s*.json"))


def test_a_conditional_d_judges_each_image_as_the_class_the_classifier_reads_or_as_class(runs, tmp_path):
    imgs = tmp_path / "imgs"
    assert main(["sample", str(runs / "cond"), "--n", "4", "--out", str(imgs) + "/"]) == 0
    assert main(["score", str(runs / "cond"), "--data", str(imgs), "--out", str(tmp_path / "a.csv")]) == 0
    rows = _rows(tmp_path / "a.csv")
    assert [r["judged_as_class"] for r in rows] == [r["class"] for r in rows]
    assert main(["score", str(runs / "cond"), "--data", str(imgs), "--out", str(tmp_path / "b.csv"),
                 "--class", "3"]) == 0
    assert {r["judged_as_class"] for r in _rows(tmp_path / "b.csv")} == {"3"}


def test_score_label_is_a_hidden_deprecated_spelling_of_class(runs, tmp_path, capsys):
    imgs = tmp_path / "imgs"
    assert main(["sample", str(runs / "cond"), "--n", "2", "--out", str(imgs) + "/"]) == 0
    assert main(["score", str(runs / "cond"), "--data", str(imgs), "--out", str(tmp_path / "b.csv"),
                 "--label", "4"]) == 0
    assert {r["judged_as_class"] for r in _rows(tmp_path / "b.csv")} == {"4"}
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["score", "--help"])
    text = capsys.readouterr().out
    assert "--class K" in text and "--label" not in text


def test_points_with_a_packed_d_score_each_row_alone(runs, tmp_path):
    pts = tmp_path / "p.csv"
    np.savetxt(pts, np.random.default_rng(0).normal(size=(5, 2)), delimiter=",")
    assert main(["score", str(runs / "pts"), "--data", str(pts), "--out", str(tmp_path / "s.csv")]) == 0
    rows = _rows(tmp_path / "s.csv")
    assert len(rows) == 5  # an odd count: each row is packed with itself, not with its neighbour
    one = tmp_path / "one.csv"
    np.savetxt(one, np.random.default_rng(0).normal(size=(3, 2)), delimiter=",")
    assert main(["score", str(runs / "pts"), "--data", str(one), "--out", str(tmp_path / "t.csv")]) == 0
    assert [r["p_real"] for r in _rows(tmp_path / "t.csv")] == [r["p_real"] for r in rows[:3]]


def test_bad_input_is_one_line_and_writes_nothing(runs, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    big = tmp_path / "big"
    big.mkdir()
    Image.fromarray(np.zeros((12, 12), np.uint8)).save(big / "a.png")
    pts = tmp_path / "p3.csv"
    np.savetxt(pts, np.zeros((4, 3)), delimiter=",")
    out = tmp_path / "s.csv"
    for run, data in (("img", empty), ("img", big), ("pts", pts), ("img", tmp_path / "missing")):
        assert main(["score", str(runs / run), "--data", str(data), "--out", str(out)]) == 2
    assert main(["score", str(runs / "cond"), "--data", str(big), "--out", str(out), "--class", "12"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 5 and all(line.startswith("ganforge: error:") for line in err)
    assert not out.exists()
