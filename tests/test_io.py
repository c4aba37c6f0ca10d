"""ganforge.files: atomic writes, PNGs of generated images with their provenance, and a library
that leaves matplotlib's backend to the program that imports it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from PIL import Image

from ganforge.files import atomic_open, image_files, image_grid, save_atomic, synthetic_meta, write_text_atomic


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    path = tmp_path / "f.txt"
    write_text_atomic(path, "old\n")
    with pytest.raises(RuntimeError):
        with atomic_open(path, "w", encoding="utf-8") as f:
            f.write("half of the new")
            raise RuntimeError("killed mid-write")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]  # the temporary file is gone
    write_text_atomic(path, "new\n")
    assert path.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]
    (tmp_path / "plain").write_text("")
    assert path.stat().st_mode == (tmp_path / "plain").stat().st_mode  # an ordinary file, not a private temp file


def test_save_atomic_round_trip(tmp_path):
    save_atomic({"w": torch.arange(3), "n": 3}, tmp_path / "x.pt")
    back = torch.load(tmp_path / "x.pt", weights_only=True)
    assert torch.equal(back["w"], torch.arange(3)) and back["n"] == 3


def test_generated_images_say_they_are_synthetic(tmp_path):
    x = torch.rand(5, 3, 8, 8)  # (N, C, H, W) in [0, 1]
    meta = synthetic_meta("007-digits", 1200)
    grid = Image.open(image_grid(x, tmp_path / "g" / "grid.png", nrow=5, meta=meta))
    assert grid.size == (8 * (5 * 9 + 1), 8 * (9 + 1))  # 1-px gaps, enlarged x8 to ~64 px
    assert grid.text["Description"].startswith("synthetic") and grid.text["run"] == "007-digits"
    assert grid.text["step"] == "1200"
    files = image_files(x[:, :1], tmp_path / "one", meta=meta)  # grey images
    assert [p.name for p in files] == [f"{i:06d}.png" for i in range(5)]
    one = Image.open(files[0])
    assert one.mode == "L" and one.text["Software"] == "ganforge"
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == [p.name for p in files]  # no temporary files


# Not Agg, and needs no display or extra library: if ganforge switched the backend, this shows it.
_BACKEND = "svg"


def test_importing_ganforge_leaves_matplotlibs_backend_alone(tmp_path):
    """The backend belongs to the user's program (a notebook, a GUI): importing ganforge, or
    drawing its figures, must not switch it to Agg. Run in a fresh interpreter, since this one
    has matplotlib set up already."""
    code = textwrap.dedent(f"""
        import matplotlib
        before = matplotlib.get_backend()
        assert before == {_BACKEND!r}, before
        import torch
        import ganforge, ganforge.files, ganforge.cli, ganforge.train.loop, ganforge.report.html
        from ganforge.report import figures, plots
        assert matplotlib.get_backend() == before, ("import", matplotlib.get_backend())
        png = figures.timeline([figures.Curve("loss_d", [1, 2], [0.5, 0.4])], "t")
        assert png[:4] == b"\\x89PNG"
        plots.scatter(torch.randn(10, 2), torch.randn(10, 2), {str(tmp_path / "s.png")!r})
        assert matplotlib.get_backend() == before, ("draw", matplotlib.get_backend())
        import sys
        assert "matplotlib.pyplot" not in sys.modules  # no global figure manager either
    """)
    env = {**os.environ, "MPLBACKEND": _BACKEND, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).parents[1] / "src"), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert Image.open(tmp_path / "s.png").format == "PNG"


# ----------------------------------------------------------------------------- the one writer of command outputs


def test_write_output_is_atomic_and_leaves_nothing_when_a_write_fails(tmp_path):
    import csv

    from ganforge.files import provenance, write_output

    prov = provenance("score", tmp_path, 3, synthetic=False)
    with pytest.raises(ValueError):  # the second row has a key the first has not: DictWriter fails mid-file
        write_output(tmp_path / "s.csv", [{"a": 1}, {"b": 2}], prov)
    assert list(tmp_path.iterdir()) == []  # no half-written file, no sidecar, no temporary
    files = write_output(tmp_path / "s.csv", [{"a": 1}, {"a": 2}], prov)
    assert [p.name for p in files] == ["s.csv", "s.provenance.json"]
    with open(tmp_path / "s.csv") as f:
        assert list(csv.DictReader(f)) == [{"a": "1"}, {"a": "2"}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv", "s.provenance.json"]


def test_every_output_form_carries_the_same_provenance_keys_and_one_checkpoint_hash(tmp_path):
    import hashlib
    import json

    import numpy as np

    from ganforge import __version__
    from ganforge.files import checkpoint_sha256, provenance, write_output

    ckpt = tmp_path / "run" / "ckpt-0000010.pt"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"weights")
    want = hashlib.sha256(b"weights").hexdigest()
    assert checkpoint_sha256(ckpt) == want and checkpoint_sha256(None) is None
    assert checkpoint_sha256(tmp_path / "missing.pt") is None
    prov = provenance("sample", ckpt.parent, 10, ckpt, seed=4, n=2)
    keys = {"software", "command", "created", "run", "run_dir", "step", "checkpoint", "checkpoint_sha256", "seed",
            "synthetic", "n"}
    assert set(prov) == keys and prov["software"] == f"ganforge {__version__}" and prov["command"] == "sample"
    assert prov["run"] == "run" and prov["step"] == 10 and prov["seed"] == 4 and prov["checkpoint_sha256"] == want
    x = torch.rand(2, 1, 4, 4)
    write_output(tmp_path / "a.npy", x, {**prov, "watermark": "on"})
    side = json.loads((tmp_path / "a.provenance.json").read_text())
    assert keys <= set(side) and side["checkpoint_sha256"] == want and side["file"] == "a.npy"
    assert side["sha256"] == hashlib.sha256((tmp_path / "a.npy").read_bytes()).hexdigest()
    assert side["watermark"].startswith("none")  # numbers carry no mark, whatever the images would
    assert np.array_equal(np.load(tmp_path / "a.npy"), x.numpy())
    write_output(tmp_path / "g.png", x, prov, nrow=2)
    with Image.open(tmp_path / "g.png") as im:  # a PNG: the same keys in its text chunks
        assert keys <= set(im.text) and im.text["checkpoint_sha256"] == want and im.text["command"] == "sample"
    files = write_output(tmp_path / "d", {"k/0.png": x[0], "z.npy": x.flatten(1)}, prov, folder=True)
    manifest = json.loads((tmp_path / "d" / "manifest.json").read_text())
    assert [p.name for p in files] == ["0.png", "z.npy", "manifest.json"]
    assert keys <= set(manifest) and manifest["checkpoint_sha256"] == want
    assert [e["file"] for e in manifest["files"]] == ["k/0.png", "z.npy"]
    assert not (tmp_path / "d" / "z.provenance.json").exists()  # a folder's manifest covers its files
