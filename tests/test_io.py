"""ganforge.io: atomic writes, and PNGs of generated images with their provenance."""

from __future__ import annotations

import os

import pytest
import torch
from PIL import Image

from ganforge.io import atomic_open, image_files, image_grid, save_atomic, synthetic_meta, write_text_atomic


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
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # an ordinary file, not a private temp file


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
