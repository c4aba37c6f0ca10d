import json
import subprocess
import sys

import numpy as np
import pytest

from ganforge.cli import main


def train_cli(tmp_path, tiny, *extra, out="r"):
    return main(["train", "--preset", "grid25", "--out", str(tmp_path / out), *tiny, "train.steps=40", *extra])


def test_train_sample_evaluate(tmp_path, tiny, capsys):
    assert train_cli(tmp_path, tiny, "train.tensorboard=true", "train.sample_every=20", "eval.every=20") == 0
    r = tmp_path / "r"
    for f in ("config.yaml", "metrics.jsonl", "eval.json", "ckpt-0000040.pt", "samples/step-0000020.png", "samples/step-0000040.png"):
        assert (r / f).exists(), f
    assert list((r / "tb").glob("events.out.tfevents.*"))
    recs = [json.loads(x) for x in (r / "metrics.jsonl").read_text().splitlines()]
    train_recs = [x for x in recs if "loss_d" in x]
    assert [x["step"] for x in train_recs] == [10, 20, 30, 40]
    for key in ("step", "loss_d", "loss_g", "d_real", "d_fake", "value", "grad_d", "grad_g"):
        assert key in train_recs[0]
    assert any("modes" in x for x in recs)

    capsys.readouterr()
    assert main(["sample", str(r), "--n", "50", "--out", str(tmp_path / "a.npy"), "--seed", "3"]) == 0
    assert main(["sample", str(r), "--n", "50", "--out", str(tmp_path / "b.npy"), "--seed", "3"]) == 0
    assert main(["sample", str(r), "--n", "50", "--out", str(tmp_path / "c.csv"), "--seed", "4"]) == 0
    a, b = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    c = np.loadtxt(tmp_path / "c.csv", delimiter=",", skiprows=1)
    assert a.shape == (50, 2) and np.array_equal(a, b) and c.shape == (50, 2) and not np.allclose(a, c)

    capsys.readouterr()
    assert main(["evaluate", str(r), "--json", "--plot", str(tmp_path / "e.png")]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("modes", "hq", "rev_kl", "n", "seed", "step"):
        assert key in result
    assert result["n"] == 200 and (tmp_path / "e.png").exists()
    assert main(["evaluate", str(r)]) == 0
    assert "modes" in capsys.readouterr().out


def test_resume_from_the_command_line(tmp_path, tiny):
    assert train_cli(tmp_path, tiny) == 0
    assert main(["train", "--resume", str(tmp_path / "r"), "train.steps=60"]) == 0
    assert (tmp_path / "r" / "ckpt-0000060.pt").exists()


@pytest.mark.parametrize(
    "args, words",
    [
        (["train", "train.stepz=3"], "train.stepz"),
        (["train", "loss.name=wgan"], "wgan_gp"),
        (["train", "data.name=points", "data.path=/nonexistent.csv"], "no such file"),
        (["train", "--preset", "nope"], "unknown preset"),
        (["sample", "RUN", "--n", "5", "--out", "x.xyz"], "FILE.npy, FILE.csv"),
        (["evaluate", "RUN"], "not a ganforge run"),
        (["train", "--resume", "RUN", "--preset", "ring8"], "--resume"),
        (["train", "--preset", "digits", "data.resolution=24"], "power of two from 8 to 256"),
        (["train", "--preset", "digits", "model.d_norm=group"], "model.name=dcgan offers"),
        (["train", "optim.schedule=step"], "optim.schedule: unknown name 'step'"),
        (["train", "reg.r1.weight=1", "reg.r1.interval=2", "reg.r2.weight=1", "reg.r2.interval=3"], "share one interval"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, monkeypatch, capsys, args, words):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "RUN").mkdir()
    if args[1] == "--resume":
        (tmp_path / "RUN" / "config.yaml").write_text("{}")
    assert main(args + ["train.progress=false"] if args[0] == "train" and "--resume" not in args else args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganforge: error:") and "\n" not in err and words in err
    assert not (tmp_path / "runs").exists()


def test_nothing_written_over_an_existing_run(tmp_path, tiny, capsys):
    assert train_cli(tmp_path, tiny) == 0
    before = (tmp_path / "r" / "metrics.jsonl").read_text()
    assert train_cli(tmp_path, tiny) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert (tmp_path / "r" / "metrics.jsonl").read_text() == before


def test_numbered_run_directories_and_dry_run(tmp_path, tiny, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--dry-run", "train.steps=7"]) == 0
    out = capsys.readouterr().out
    assert "steps: 7" in out and not (tmp_path / "runs").exists()
    assert "name: digits" in out and "name: dcgan" in out  # the default job: a DCGAN on the bundled digits
    assert main(["train", "--preset", "ring8", *tiny, "train.steps=10"]) == 0
    assert main(["train", "--preset", "ring8", *tiny, "train.steps=10"]) == 0
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["001-ring8", "002-ring8"]


def test_user_points_train_and_evaluate(tmp_path, tiny, capsys):
    pts = np.random.default_rng(0).normal(size=(300, 3))
    np.save(tmp_path / "pts.npy", pts)
    assert train_cli(tmp_path, tiny, "data.name=points", f"data.path={tmp_path / 'pts.npy'}") == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "r"), "--json"]) == 0
    assert "energy" in json.loads(capsys.readouterr().out)
    assert main(["sample", str(tmp_path / "r"), "--n", "7", "--out", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (7, 3)


def test_console_entry_point_reports_errors_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "ganforge", "train", "optim.g_lr=-1"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "optim.g_lr" in proc.stderr and "Traceback" not in proc.stderr


def test_image_run_outputs_and_metrics(tmp_path, capsys):
    from PIL import Image

    from conftest import TINY_IMAGES

    r = tmp_path / "img"
    assert main(["train", "--preset", "digits", "--out", str(r), *TINY_IMAGES, "train.steps=10",
                 "train.sample_every=10", "model.conditional=true"]) == 0
    grid = r / "samples" / "step-0000010.png"
    assert grid.exists() and "synthetic" in Image.open(grid).text["Description"]
    assert main(["sample", str(r), "--n", "12", "--out", str(tmp_path / "g.png"), "--class", "3"]) == 0
    assert Image.open(tmp_path / "g.png").text["step"] == "10"
    assert main(["sample", str(r), "--n", "5", "--out", str(tmp_path / "each") + "/"]) == 0
    files = sorted((tmp_path / "each").glob("*.png"))
    assert len(files) == 5 and Image.open(files[0]).size == (8, 8)
    assert main(["sample", str(r), "--n", "5", "--out", str(tmp_path / "x.npy")]) == 0
    assert np.load(tmp_path / "x.npy").shape == (5, 1, 8, 8)
    assert main(["sample", str(r), "--n", "5", "--out", str(tmp_path / "x.png"), "--class", "10"]) == 2
    assert main(["interpolate", str(r), "--out", str(tmp_path / "strip.png"), "--steps", "6", "--rows", "2"]) == 0
    assert (tmp_path / "strip.png").exists()
    capsys.readouterr()
    assert main(["evaluate", str(r), "--json", "--n", "50"]) == 0
    m = json.loads(capsys.readouterr().out)
    for key in ("fid", "kid", "precision", "recall", "density", "coverage", "classes", "class_kl",
                "classifier_score", "class_accuracy"):
        assert key in m, key
    assert m["provenance"]["n_fake"] == 50 and m["provenance"]["seed"] == m["seed"]


@pytest.mark.parametrize("override, words", [("augment.policy=translation", "augment.policy"), ("reg.bcr.weight=1", "reg.bcr")])
def test_image_only_stabilisers_on_points_are_refused_before_a_run_directory(tmp_path, monkeypatch, capsys, override, words):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--preset", "grid25", override, "train.progress=false"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganforge: error:") and "\n" not in err and words in err and "images" in err
    assert not (tmp_path / "runs").exists()


def test_overrides_may_come_before_between_and_after_the_flags(tmp_path, capsys):
    from ganforge.cli import parse

    args = parse(["train", "--preset", "digits", "data.name=built", "--out", "a", "train.steps=40"])
    assert args.preset == "digits" and args.out == "a" and args.overrides == ["data.name=built", "train.steps=40"]
    assert parse(["train", "train.steps=3", "--dry-run"]).overrides == ["train.steps=3"]
    assert main(["train", "train.steps=7", "--preset", "grid25", "train.batch_size=16", "--dry-run",
                 "loss.name=hinge"]) == 0
    text = capsys.readouterr().out
    assert "steps: 7" in text and "batch_size: 16" in text and "name: hinge" in text
    assert main(["sample", "RUN", "--n", "2", "--out", "x.npy", "extra"]) == 2  # no positional left over there
    assert "unrecognized arguments: extra" in capsys.readouterr().err
