"""``--resize``: a user's inputs of another size, brought to a run's size with the run's own
resizing (antialiased bilinear for array sources, Lanczos for folders; sequences cut into the
run's windows); without the flag the clear refusal names it."""

import csv
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge import api
from ganforge.cli import main
from ganforge.config import DataConfig
from ganforge.data.base import DATASETS
from ganforge.data.images import digits_split, read_image, to_tensor
from ganforge.data.kinds import IMAGE, SEQUENCE

TINY16 = ["data.resolution=16", "model.g_width=4", "model.d_width=4", "model.z_dim=8", "train.batch_size=16",
          "train.steps=6", "train.log_every=3", "train.ckpt_every=50", "train.sample_every=0", "eval.every=0",
          "eval.n_samples=40", "doctor.enabled=false", "train.progress=false", "train.tensorboard=false",
          "train.threads=1"]


@pytest.fixture(scope="module")
def run16(tmp_path_factory):
    """A 16x16 run on the bundled 8x8 digits (given as an unlabelled .npz, an array source:
    antialiased bilinear; no classifier to train), and 5 of those digits as an .npz and as PNGs."""
    root = tmp_path_factory.mktemp("resize")
    (x, _), _ = digits_split()  # (N, 8, 8) float in [0, 1]
    np.savez(root / "digits.npz", images=np.round(x * 255).astype(np.uint8))
    api.train("digits", ["data.name=npz", f"data.path={root / 'digits.npz'}", *TINY16], out=root / "run")
    eight = np.round(x[:5] * 255).astype(np.uint8)
    np.savez(root / "eight.npz", images=eight)
    (root / "pngs").mkdir()
    for i, a in enumerate(eight):
        Image.fromarray(a).save(root / "pngs" / f"{i}.png")
    return SimpleNamespace(root=root, run=root / "run", npz=root / "eight.npz", pngs=root / "pngs", eight=eight)


def test_inputs_are_resized_exactly_as_the_run_resized_its_data(run16):
    data = api.load_run(run16.run).data
    assert data.resize == "bilinear"  # an .npz: data/images.to_tensor
    want = to_tensor(run16.eight, DataConfig(resolution=16, channels=1), "t", 1).float() / 255  # the run's own way
    for src in (run16.npz, run16.pngs):
        x, names = inputs = IMAGE.read_inputs(data, src, resize=True)
        assert x.shape == (5, 1, 16, 16) and torch.equal(x, want), src
        assert "from 8x8 to 16x16 pixels with antialiased bilinear" in inputs.resized and len(names) == 5
    folder_run = SimpleNamespace(shape=(1, 16, 16), resize="lanczos")  # what data.name=folder records
    x, _ = inputs = IMAGE.read_inputs(folder_run, run16.pngs, resize=True)
    lanczos = np.stack([read_image(f, "L", 16) for f in sorted(run16.pngs.iterdir())])  # the folder reader
    assert torch.equal(x, torch.from_numpy(lanczos).float()[:, None] / 255) and "Lanczos" in inputs.resized
    assert not torch.equal(x, want)  # the two filters differ: the run's own one is used
    with pytest.raises(Exception, match="--resize"):
        IMAGE.read_inputs(data, run16.npz)


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_every_command_refuses_another_size_and_resizes_with_the_flag(run16, tmp_path, capsys):
    run, npz, pngs = str(run16.run), str(run16.npz), str(run16.pngs)
    one = str(run16.pngs / "0.png")
    assert main(["anomaly", "fit", run, "--encoder-steps", "3"]) == 0
    assert main(["directions", run, "--k", "2"]) == 0
    capsys.readouterr()
    commands = [
        ["score", run, "--data", npz, "--out", str(tmp_path / "s.csv")],
        ["anomaly", "score", run, "--data", pngs, "--out", str(tmp_path / "a.csv")],
        ["project", run, "--data", pngs, "--out", str(tmp_path / "proj"), "--steps", "2", "--starts", "1"],
        ["interpolate", run, "--from", one, "--to", str(run16.pngs / "1.png"), "--steps", "3",
         "--out", str(tmp_path / "i.png")],
        ["edit", run, "--image", one, "--direction", "pc0", "--strengths=-1,1", "--out", str(tmp_path / "e.png")],
    ]
    for argv in commands:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--resize" in err and ("16x16" in err or "(1, 16, 16)" in err), (argv, err)
        assert not list(tmp_path.iterdir()), argv  # nothing written
    for argv in commands:
        assert main([*argv, "--resize"]) == 0, argv
        out = capsys.readouterr().out
        assert "from 8x8 to 16x16 pixels with antialiased bilinear" in out, (argv, out)
    assert len(_rows(tmp_path / "s.csv")) == 5 and len(_rows(tmp_path / "a.csv")) == 5
    assert (tmp_path / "proj" / "side_by_side.png").is_file() and (tmp_path / "e.png").is_file()


def test_sequences_of_another_length_are_cut_into_the_runs_windows_or_refused(tmp_path):
    data = DATASETS.get("sines")(DataConfig(name="sines"), 0)  # T = 24, F = 5, generated: no stride
    np.save(tmp_path / "long.npy", np.random.default_rng(0).random((2, 50, 5), dtype=np.float32))
    np.save(tmp_path / "short.npy", np.zeros((2, 10, 5), np.float32))
    with pytest.raises(Exception, match="give --resize to cut them into windows of 24 steps"):
        SEQUENCE.read_inputs(data, tmp_path / "long.npy")
    x, names = inputs = SEQUENCE.read_inputs(data, tmp_path / "long.npy", resize=True)
    assert x.shape == (4, 24, 5) and names == ["0[0:24]", "0[24:48]", "1[0:24]", "1[24:48]"]
    assert torch.equal(x[1], torch.from_numpy(np.load(tmp_path / "long.npy")[0, 24:48]))
    assert "cut 2 sequence(s) of 50 steps into 4 windows of 24 steps" in inputs.resized
    with pytest.raises(Exception, match="cannot stretch shorter ones"):
        SEQUENCE.read_inputs(data, tmp_path / "short.npy", resize=True)
