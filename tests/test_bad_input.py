"""Every command refuses bad input with one line on stderr, exit code 2 (4: an output that cannot
be written), nothing on stdout and nothing written; and untrusted data files are refused or
skipped in one line."""

import os

import numpy as np
import pytest

from ganforge.cli import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from conftest import TINY

    root = tmp_path_factory.mktemp("bad")
    assert main(["train", "--preset", "grid25", "--out", str(root / "r"), *TINY, "train.steps=20"]) == 0
    return root / "r"


BATTERY = {
    "train": [["train.stepz=3"], ["train.steps=-1"], ["loss.name=wgan"], ["--preset", "nope"], ["--out", "AFILE"],
              ["--resume", "EMPTY"], ["--resume", "RUN", "--preset", "ring8"], ["--resume", "RUN", "train.steps=5"],
              ["--extend", "restart"], ["--resume", "RUN", "--extend", "sideways"], ["data.name=points"],
              ["data.name=points", "data.path=/nonexistent.csv"], ["train.steps"], ["--bogus"]],
    "sample": [["RUN", "--n", "0", "--out", "x.npy"], ["RUN", "--n", "abc", "--out", "x.npy"],
               ["RUN", "--n", "5", "--out", "x.txt"], ["RUN", "--n", "5", "--out", "x.png"],
               ["RUN", "--n", "5", "--out", "AFILE/x.npy"], ["RUN", "--n", "5", "--out", "x.npy", "--class", "3"],
               ["EMPTY", "--n", "5", "--out", "x.npy"], ["NOPE", "--n", "5", "--out", "x.npy"], ["RUN", "--out", "x.npy"]],
    "evaluate": [["RUN", "--n", "0"], ["RUN", "--plot", "x.txt"], ["RUN", "--plot", "AFILE/x.png"],
                 ["RUN", "--inception-weights", "nope.pth"], ["EMPTY"], ["RUN", "--seed", "x"]],
    "interpolate": [["RUN", "--out", "x.png"], ["RUN", "--out", "x.png", "--steps", "1"], ["RUN", "--out", "x.txt"],
                    ["EMPTY", "--out", "x.png"], ["RUN"]],
    "doctor": [["EMPTY"], ["NOPE"], ["RUN", "--bogus"]],
    "report": [["EMPTY"], ["RUN", "--out", "x.txt"], ["RUN", "--out", "AFILE/x.html"], ["NOPE"]],
    "presets": [["extra"]],
    "cache": [["sweep"], ["clean", "--keep-mb", "-1"]],
    "bogus": [[]],
}
CASES = [(cmd, args) for cmd, lists in BATTERY.items() for args in lists]


def _tree(root):
    return sorted((str(p.relative_to(root)), p.stat().st_size if p.is_file() else -1) for p in root.rglob("*"))


@pytest.mark.parametrize("cmd, args", CASES, ids=[f"{c}:{' '.join(a)}" for c, a in CASES])
def test_every_command_refuses_bad_input_in_one_line(tmp_path, monkeypatch, capsys, run_dir, cmd, args):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "EMPTY").mkdir()
    (tmp_path / "AFILE").write_text("a file")
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    names = {"RUN": str(run_dir), "EMPTY": "EMPTY", "NOPE": "NOPE", "AFILE": "AFILE"}
    argv = [cmd] + [names.get(a, a) for a in args]
    if cmd == "train" and "--resume" not in args:
        argv.append("train.progress=false")
    before, run_before = _tree(tmp_path), _tree(run_dir)
    assert main(argv) == 2
    cap = capsys.readouterr()
    err = cap.err.strip()
    assert cap.out == "" and err.startswith("ganforge: error:") and "\n" not in err and "Traceback" not in err, err
    assert _tree(tmp_path) == before and _tree(run_dir) == run_before  # nothing written


def test_an_output_that_cannot_be_written_is_one_line_exit_4(tmp_path, capsys, run_dir):
    target = "/proc/ganforge-test.npy"  # the kernel refuses it, even to root
    assert main(["sample", str(run_dir), "--n", "5", "--out", target]) == 4
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganforge: error: cannot write") and "\n" not in err


# ----------------------------------------------------------------------------- untrusted data files

IMG = ["--preset", "digits", "data.name=folder", "data.resolution=8", "model.g_width=4", "model.d_width=4",
       "model.z_dim=8", "train.batch_size=8", "train.steps=2", "train.log_every=1", "train.sample_every=0",
       "train.progress=false", "train.tensorboard=false", "eval.every=0", "eval.n_samples=8", "train.threads=1",
       "doctor.enabled=false"]


def _folder(root, n=12):
    from PIL import Image

    for i in range(n):
        (root / "a").mkdir(parents=True, exist_ok=True)
        Image.fromarray((np.arange(64).reshape(8, 8) * 4 + i).astype("uint8")).save(root / "a" / f"{i}.png")
    return root


def test_decompression_bomb_zero_byte_image_and_symlink_loops(tmp_path, capsys, monkeypatch):
    from PIL import Image

    data = _folder(tmp_path / "imgs")
    Image.new("L", (300, 300)).save(data / "a" / "bomb.png")  # 90,000 pixels: over the limit set below
    (data / "a" / "empty.png").write_bytes(b"")
    os.symlink("..", data / "a" / "up")  # a directory loop
    os.symlink("x.png", data / "a" / "y.png")  # a file loop
    os.symlink("y.png", data / "a" / "x.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40_000)  # Pillow's own check, at a test-sized limit
    assert main(["train", *IMG, f"data.path={data}", "--out", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err
    assert "skipped 1 unreadable or corrupt image file(s)" in err
    assert "skipped 1 image(s) over Pillow's limit of 40000 pixels" in err and "bomb.png" in err
    assert "Traceback" not in err


def test_a_csv_too_large_for_memory_is_refused_with_what_it_needs(tmp_path, capsys, monkeypatch):
    from ganforge.data import toy2d
    from ganforge.data.kinds import points as points_kind

    path = tmp_path / "big.csv"
    np.savetxt(path, np.random.default_rng(0).normal(size=(120_000, 2)), delimiter=",", fmt="%.6f")
    monkeypatch.setattr(points_kind, "available_memory", lambda: 4 * 2**20)  # a 4 MiB machine
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--preset", "grid25", "data.name=points", f"data.path={path}", "train.progress=false"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "rows x 2 columns" in err and "GiB is available" in err
    assert not (tmp_path / "runs").exists()
    monkeypatch.setattr(points_kind, "available_memory", lambda: 2**30)
    assert len(toy2d.load_points(str(path))) == 120_000  # with the memory, it reads


def test_cache_clean_and_the_features_limit(tmp_path, monkeypatch, capsys):
    import time

    from ganforge import cache

    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path))
    (tmp_path / "features").mkdir()
    for i in range(4):
        (tmp_path / "features" / f"real-{i}.pt").write_bytes(b"x" * 1000)
        os.utime(tmp_path / "features" / f"real-{i}.pt", (time.time() - 100 + i, time.time() - 100 + i))
    (tmp_path / "digit-classifier-k.pt").write_bytes(b"x" * 500)
    removed = cache.trim(2500)  # the features only, oldest first
    assert sorted(p.name for p in removed) == ["real-0.pt", "real-1.pt"]
    assert main(["cache"]) == 0 and "3 file(s)" in capsys.readouterr().out
    assert main(["cache", "clean"]) == 0 and "removed 3 file(s)" in capsys.readouterr().out
    assert cache.usage()["files"] == 0
