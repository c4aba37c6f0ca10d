"""Super-resolution's network interpolation (ESRGAN, Wang et al. 2018): ``ganforge upscale RUN
--alpha A`` blends the L1 network the run keeps (the end of its L1 pre-training) with the GAN.
alpha 0 is the L1 network bit for bit, alpha 1 the GAN; bad alphas and runs without an L1
network are one-line errors that write nothing. A tiny run on a few smooth photos."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ganforge.apps.translate import blend
from ganforge.cli import main
from ganforge.trained import load_run
from test_img2img import NETS, TINY, _save, photos

PRE = 3  # L1 pre-training steps; the checkpoint at step PRE holds the L1 network


@pytest.fixture(scope="module")
def sr(tmp_path_factory):
    """A 6-step x2 run (3 L1 steps, then 3 GAN steps, checkpoints at 3 and 6) and an input folder."""
    root = tmp_path_factory.mktemp("sr")
    run = root / "run"
    assert main(["train", "--preset", "srgan_demo", "--out", str(run), *TINY, *NETS,
                 f"data.path={photos(root / 'photos')}", "data.resolution=8", "model.scale=2", "model.g_depth=1",
                 f"i2i.pretrain_steps={PRE}", "train.steps=6", "train.ckpt_every=3", "train.keep_ckpts=5"]) == 0
    g = np.random.default_rng(3)
    _save((g.random((10, 12, 3)) * 255).astype(np.uint8), root / "in" / "a.png")
    _save((g.random((7, 9, 3)) * 255).astype(np.uint8), root / "in" / "b.png")
    return root, run


def _upscale(root, run, out, *extra) -> dict:
    """Upscale the input folder into ``root/out``, unmarked (the watermark changes pixels); returns
    {name: pixels (H, W, 3) uint8}."""
    assert main(["upscale", str(run), "--input", str(root / "in"), "--out", str(root / out), "--no-watermark",
                 *extra]) == 0
    from PIL import Image

    return {n: np.asarray(Image.open(root / out / f"{n}.png")) for n in ("a", "b")}


def _direct(G, root) -> dict:
    """The same inputs through a generator directly (the Translator of upscale, on G)."""
    from ganforge.apps.translate import Translator, read_inputs

    tr = Translator(G.eval(), "superres", 3, 2)
    return {n: (tr(x)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            for n, x in read_inputs(str(root / "in"), 3, 4)}


def test_alpha_0_is_the_l1_network_and_1_the_gan_bit_for_bit(sr):
    root, run = sr
    l1 = load_run(run, step=PRE)  # G after the L1 pre-training, as its own checkpoint holds it
    gan = load_run(run)
    kept = torch.load(gan.ckpt_path, weights_only=True)["G_l1"]
    for k, v in l1.G.state_dict().items():  # the kept L1 network is G at the end of pre-training, exactly
        assert torch.equal(kept["G"][k], v), k
    assert not torch.equal(gan.G.state_dict()["tail.weight"], l1.G.state_dict()["tail.weight"])  # GAN moved on

    at0, at1, default = (_upscale(root, run, "o0", "--alpha", "0"), _upscale(root, run, "o1", "--alpha", "1"),
                         _upscale(root, run, "od"))
    want0, want1 = _direct(l1.G, root), _direct(gan.G, root)
    for n in ("a", "b"):
        assert np.array_equal(at0[n], want0[n]) and np.array_equal(at1[n], want1[n])
        assert np.array_equal(at1[n], default[n])  # the default is the GAN, as before --alpha
    assert any(not np.array_equal(at0[n], at1[n]) for n in at0)  # the test can fail: the endpoints differ
    half = _upscale(root, run, "oh", "--alpha", "0.5")
    assert any(not np.array_equal(half[n], at0[n]) and not np.array_equal(half[n], at1[n]) for n in half)
    for out, alpha in (("o0", 0.0), ("oh", 0.5), ("o1", 1.0)):  # provenance records alpha
        assert json.loads((root / out / "manifest.json").read_text())["alpha"] == alpha


def test_blend_is_the_weighted_mean_and_exact_at_the_ends():
    a, b = {"w": torch.randn(5), "n": torch.tensor(3)}, {"w": torch.randn(5), "n": torch.tensor(7)}
    assert torch.equal(blend(a, b, 0.0)["w"], a["w"]) and torch.equal(blend(a, b, 1.0)["w"], b["w"])
    assert torch.allclose(blend(a, b, 0.25)["w"], 0.75 * a["w"] + 0.25 * b["w"])
    assert blend(a, b, 0.25)["n"] == 7  # integer entries (counters) are the GAN's


@pytest.mark.parametrize("alpha", ["1.5", "-0.1", "nan"])
def test_bad_alpha_is_one_line_and_writes_nothing(sr, capsys, alpha):
    root, run = sr
    out = root / f"bad{alpha}"
    assert main(["upscale", str(run), "--input", str(root / "in"), "--out", str(out), f"--alpha={alpha}"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--alpha" in err and "[0, 1]" in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_a_run_without_an_l1_network_is_one_line(sr, capsys):
    root, run = sr
    early = root / "early"  # stopped during its L1 pre-training: no L1 network kept yet
    assert main(["train", "--preset", "srgan_demo", "--out", str(early), *TINY, *NETS,
                 f"data.path={root / 'photos'}", "data.resolution=8", "model.scale=2", "model.g_depth=1",
                 "i2i.pretrain_steps=5", "train.steps=2"]) == 0
    capsys.readouterr()  # training's own warnings
    assert main(["upscale", str(early), "--input", str(root / "in"), "--out", str(root / "e"), "--alpha", "0.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "kept no L1 network" in err and "pre-training" in err and len(err.splitlines()) == 1
    assert not (root / "e").exists()
    assert main(["upscale", str(early), "--input", str(root / "in"), "--out", str(root / "e1"), "--alpha", "1"]) == 0
