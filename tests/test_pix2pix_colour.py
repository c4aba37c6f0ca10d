"""The pix2pix colorization demo (issue 37, part 4): ``demo:colour`` pairs grey crops with their
colour crops, holds out two whole photos, and a run trained on it for a few steps translates
the held-out photos (grey, any size) with ``ganforge translate``. Tiny nets, a few steps."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.build import build_data
from ganforge.cli import main
from ganforge.config import load_config
from ganforge.data.demos import COLOUR_PHOTOS, TEST_PHOTOS, held_out_photos, luma
from ganforge.errors import GanforgeError
from test_img2img import NETS, TINY

SMALL = ["data.resolution=16", "model.g_depth=2"]


def test_colour_demo_pairs_grey_with_colour_and_holds_out_whole_photos():
    assert not set(COLOUR_PHOTOS) & set(TEST_PHOTOS)
    data = build_data(load_config("pix2pix_colour", SMALL))
    train, (test, _) = data.images, data.holdout
    assert train.shape == (320 * len(COLOUR_PHOTOS), 6, 16, 16) and test.shape == (64 * len(TEST_PHOTOS), 6, 16, 16)
    for x in (train, test):
        a, b = x[:, :3], x[:, 3:]
        assert torch.equal(a, luma(b))  # the input is the target's grey, in all three channels
        assert (a[:, 0] == a[:, 1]).all() and (b[:, 0] != b[:, 2]).any()  # grey in, colour out
    seen = {bytes(t.numpy()) for t in train[:, 3:]}
    assert not any(bytes(t.numpy()) in seen for t in test[:, 3:])  # no held-out crop is trained on
    with pytest.raises(GanforgeError, match="data.channels=3"):
        build_data(load_config("pix2pix_colour", SMALL + ["data.channels=1"]))


def test_colour_demo_trains_and_translates_held_out_photos(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--preset", "pix2pix_colour", "--out", str(run), *TINY, *NETS, *SMALL,
                 "train.steps=3"]) == 0
    recs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert any("psnr_test" in r for r in recs)  # scored on the held-out crops
    inputs = tmp_path / "grey"
    inputs.mkdir()
    photos = held_out_photos()
    for name, im in zip(TEST_PHOTOS, photos):  # the held-out photos whole, grey, larger than the crops
        Image.fromarray(luma(im).permute(1, 2, 0).numpy()).save(inputs / f"{name.split('.')[0]}.png")
    out = tmp_path / "out"
    assert main(["translate", str(run), "--input", str(inputs), "--out", str(out) + "/"]) == 0
    for name, im in zip(TEST_PHOTOS, photos):
        with Image.open(out / f"{name.split('.')[0]}.png") as o:
            assert o.mode == "RGB" and o.size == (im.shape[2], im.shape[1])
            assert o.text["Software"] == "ganforge"
            assert np.array(o).std() > 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["synthetic"] and len(manifest["files"]) == len(TEST_PHOTOS)
