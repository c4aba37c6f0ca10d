"""Image-to-image games (pix2pix, CycleGAN, super-resolution): models, losses, data, commands
and exact resume. Tiny configs on small folders written here; the demos are not built."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from ganforge.cli import main
from ganforge.config import load_config
from ganforge.errors import GanforgeError
from ganforge.models import MODELS
from ganforge.models.resnet_i2i import ResnetG
from ganforge.models.srnet import SRNet, downscale
from ganforge.models.unet import PatchD, UNet
from ganforge.train.games.cycle import ImagePool, cycle_loss
from ganforge.train.games.superres import pixel_loss
from ganforge.train.loop import train
from test_train import assert_same_state, final_state

TINY = ["train.threads=1", "train.tensorboard=false", "train.progress=false", "train.batch_size=4",
        "train.log_every=2", "train.sample_every=0", "eval.every=0", "eval.n_samples=8", "doctor.probe_n=8"]
NETS = ["model.g_width=8", "model.d_width=8", "model.d_depth=1"]


def _save(arr: np.ndarray, path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def _smooth(g: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth random colour image (h, w, 3) uint8: a bilinear blow-up of a 3x3 patch."""
    small = torch.from_numpy(g.random((1, 3, 3, 3)).astype(np.float32))
    big = torch.nn.functional.interpolate(small, size=(h, w), mode="bilinear", align_corners=True)[0]
    return (big.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def pairs(root, n=15, size=8, invert=True):
    g = np.random.default_rng(0)
    for i in range(n):
        a = _smooth(g, size, size)
        _save(a, root / "A" / f"{i:02d}.png")
        _save(255 - a if invert else _smooth(g, size, size), root / "B" / f"{i:02d}.png")
    return root


def photos(root, n=6, size=(24, 20)):
    g = np.random.default_rng(1)
    for i in range(n):
        _save(_smooth(g, *size), root / f"{i}.png")
    return root


# ----------------------------------------------------------------------------- models


@pytest.mark.parametrize("h,w", [(8, 8), (16, 32), (24, 40)])
def test_unet_and_patch_d_shapes(h, w):
    G, D = UNet(3, 3, 8, 3), PatchD(6, 8, 2)
    x = torch.randn(2, 3, h, w)
    assert G(x).shape == (2, 3, h, w)
    assert D(torch.cat([x, x], 1)).shape == (2, 1, h // 4, w // 4)


def test_unet_uses_its_skips():
    torch.manual_seed(0)
    G = UNet(3, 3, 8, 3)
    x = torch.randn(2, 3, 16, 16)
    assert not torch.allclose(G(x), G(x, skips=False), atol=1e-4)
    # each skip level carries gradient: the output depends on the first down level's features
    feats = {}
    G.down[0].register_forward_hook(lambda m, i, o: feats.__setitem__("f", o))
    G(x).sum().backward()
    assert G.down[0][0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("h,w", [(12, 12), (8, 20)])
def test_resnet_generator_shapes(h, w):
    assert ResnetG(3, 8, 2)(torch.randn(2, 3, h, w)).shape == (2, 3, h, w)


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("h,w", [(4, 4), (5, 7), (16, 9)])
def test_srnet_shapes_and_it_starts_near_bicubic(scale, h, w):
    G = SRNet(3, 8, 2, scale)
    lr = torch.randn(2, 3, h, w)
    assert G(lr).shape == (2, 3, h * scale, w * scale)
    assert downscale(torch.randn(1, 3, 16, 16), scale).shape == (1, 3, 16 // scale, 16 // scale)


I2I = [n for n in MODELS.names() if MODELS.get(n).game in ("paired", "cycle", "superres")]  # not timegan (sequences)


@pytest.mark.parametrize("name", I2I)
def test_image_to_image_model_contract(name):
    """Every image-to-image model: finite outputs of the input's size (x scale), gradients reach
    G and D, a state_dict round trip rebuilds the same networks, nonsense d_norm refused."""
    spec = MODELS.get(name)
    cfg = load_config("grid25", [f"model.name={name}", "model.g_width=4", "model.d_width=4", "model.g_depth=1",
                                 "model.d_depth=1", "model.scale=2", "model.d_norm=instance"])
    shape = (3, 8, 8) if spec.game == "superres" else (6, 8, 8)
    torch.manual_seed(0)
    G, D = spec.build(cfg.model, shape, 0)
    nets = (lambda m, k: m[k] if isinstance(m, nn.ModuleDict) else m)
    x = torch.randn(2, 3, 8, 8)
    out = nets(G, "ab")(x)
    assert out.shape == ((2, 3, 16, 16) if spec.game == "superres" else (2, 3, 8, 8)) and torch.isfinite(out).all()
    judged = nets(D, "b")(torch.cat([x, out], 1) if spec.game == "paired" else out)
    judged.mean().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in nets(G, "ab").parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in nets(D, "b").parameters())
    torch.manual_seed(1)
    G2, _ = spec.build(cfg.model, shape, 0)
    G2.load_state_dict(G.state_dict())
    with torch.no_grad():
        assert torch.equal(nets(G.eval(), "ab")(x), nets(G2.eval(), "ab")(x))
    with pytest.raises(GanforgeError, match="model.d_norm=nonsense"):
        spec.check(load_config("grid25", [f"model.name={name}", "model.d_norm=nonsense"]), shape)


# ----------------------------------------------------------------------------- losses


def test_cycle_loss_is_zero_for_identity_generators():
    G = nn.ModuleDict({"ab": nn.Identity(), "ba": nn.Identity()})
    a, b = torch.randn(3, 3, 8, 8), torch.randn(3, 3, 8, 8)
    assert cycle_loss(G, a, b).item() == 0.0
    G2 = nn.ModuleDict({"ab": nn.Identity(), "ba": nn.Identity()})
    G2["ba"] = _Shift(0.5)
    assert cycle_loss(G2, a, b).item() == pytest.approx(1.0)  # 0.5 per direction


class _Shift(nn.Module):
    def __init__(self, c: float):
        super().__init__()
        self.c = c

    def forward(self, x):
        return x + self.c


def test_sr_pixel_loss_by_hand():
    sr = torch.zeros(1, 1, 2, 2)
    hr = torch.tensor([[[[1.0, -2.0], [3.0, 0.5]]]])
    assert pixel_loss(sr, hr).item() == pytest.approx((1 + 2 + 3 + 0.5) / 4)


def test_image_pool_fills_then_swaps_reproducibly():
    def draw(seed):
        pool, g = ImagePool(3), torch.Generator().manual_seed(seed)
        shown = [pool.query(torch.full((2, 1, 1, 1), float(i)), g) for i in range(6)]
        return torch.cat(shown).flatten(), pool.images.flatten()

    (s1, p1), (s2, p2) = draw(0), draw(0)
    assert torch.equal(s1, s2) and torch.equal(p1, p2)
    assert s1[:3].tolist() == [0, 0, 1]  # room left: shown as they come
    assert any(s1[4:] != torch.arange(2, 6).repeat_interleave(2).float())  # later, older fakes are shown


# ----------------------------------------------------------------------------- training


def test_tiny_pix2pix_learns_a_colour_inversion(tmp_path):
    root = pairs(tmp_path / "inv", n=25)
    cfg = load_config("pix2pix_demo", TINY + NETS + [
        f"data.path={root}", "data.resolution=8", "model.g_depth=2", "train.steps=300", "train.batch_size=8",
        "optim.g_lr=5e-3", "optim.d_lr=2e-4", "train.ckpt_every=0", "eval.every=300"])
    (tmp_path / "run").mkdir()
    r = train(cfg, tmp_path / "run")
    assert r.metrics["l1_test"] < 0.02, r.metrics  # held-out pairs, [0, 1] units: about 5 / 255


FAMILIES = {
    "pix2pix": ("pix2pix_demo", lambda t: [f"data.path={pairs(t / 'p')}", "data.resolution=8", "model.g_depth=2"]),
    "cyclegan": ("cyclegan_demo", lambda t: [f"data.path={pairs(t / 'u', invert=False)}", "data.resolution=8",
                                             "model.g_depth=1", "i2i.pool_size=6"]),
    "srgan": ("srgan_demo", lambda t: [f"data.path={photos(t / 's')}", "data.resolution=8", "model.scale=2",
                                       "model.g_depth=1", "i2i.pretrain_steps=3"]),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_resume_is_exact(tmp_path, family):
    preset, data = FAMILIES[family]
    extra = TINY + NETS + data(tmp_path) + ["train.ckpt_every=4", "train.ema_beta=0.9"]

    def go(name, steps, resume=False):
        (tmp_path / name).mkdir(exist_ok=True)
        train(load_config(preset, extra + [f"train.steps={steps}"]), tmp_path / name, resume=resume)

    go("whole", 8)
    go("half", 4)
    go("half", 8, resume=True)
    whole, half = final_state(tmp_path / "whole"), final_state(tmp_path / "half")
    assert_same_state(whole, half)
    assert whole["g_updates"] == 8
    recs = [json.loads(x) for x in (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()]
    assert any("psnr_test" in k for r in recs for k in r)  # the held-out evaluation at the end
    if family == "cyclegan":
        assert whole["game_state"]["a"]["images"].shape[0] == 6  # the pool is part of the state


# ----------------------------------------------------------------------------- commands, bad input


def _train_cli(tmp_path, preset, *over):
    out = tmp_path / "run"
    assert main(["train", "--preset", preset, "--out", str(out), *TINY, *NETS, "train.steps=2", *over]) == 0
    return out


def test_translate_and_upscale_write_images_with_provenance(tmp_path, capsys):
    run = _train_cli(tmp_path, "srgan_demo", f"data.path={photos(tmp_path / 's')}", "data.resolution=8",
                     "model.scale=2", "model.g_depth=1")
    _save(np.zeros((300, 7, 3), np.uint8), tmp_path / "in" / "tall.png")  # taller than a tile: tiled
    assert main(["upscale", str(run), "--input", str(tmp_path / "in"), "--out", str(tmp_path / "out/")]) == 0
    with Image.open(tmp_path / "out" / "tall.png") as im:
        assert im.size == (14, 600) and im.text["Software"] == "ganforge"
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["synthetic"] and manifest["scale"] == 2 and manifest["files"][0]["file"] == "tall.png"
    assert main(["upscale", str(run), "--input", str(tmp_path / "in"), "--out", str(tmp_path / "o2/"),
                 "--scale", "4"]) == 2
    assert "trained for x2" in capsys.readouterr().err
    assert main(["translate", str(run), "--input", str(tmp_path / "in"), "--out", str(tmp_path / "o3/")]) == 2
    assert main(["sample", str(run), "--out", str(tmp_path / "s.png"), "--n", "2"]) == 2  # G takes images
    assert "use ganforge upscale" in capsys.readouterr().err


def test_bad_inputs_are_one_line_errors(tmp_path, capsys):
    root = pairs(tmp_path / "p")
    (root / "B" / "03.png").rename(root / "B" / "x03.png")
    assert main(["train", "--preset", "pix2pix_demo", "--out", str(tmp_path / "r1"), f"data.path={root}"]) == 2
    err = capsys.readouterr().err
    assert "2 image(s)" in err and "A/03" in err and len(err.strip().splitlines()) == 1
    (root / "B" / "x03.png").rename(root / "B" / "03.png")
    _save(np.zeros((9, 8, 3), np.uint8), root / "B" / "04.png")
    assert main(["train", "--preset", "pix2pix_demo", "--out", str(tmp_path / "r2"), f"data.path={root}"]) == 2
    assert "different sizes" in capsys.readouterr().err
    small = photos(tmp_path / "small", size=(6, 6))
    assert main(["train", "--preset", "srgan_demo", "--out", str(tmp_path / "r3"), f"data.path={small}",
                 "data.resolution=8"]) == 2
    assert "smaller than data.resolution=8" in capsys.readouterr().err
    assert main(["train", "--preset", "srgan_demo", "model.scale=3"]) == 2
    run = _train_cli(tmp_path, "pix2pix_demo", f"data.path={pairs(tmp_path / 'q')}", "data.resolution=8",
                     "model.g_depth=2")
    _save(np.zeros((3, 3, 3), np.uint8), tmp_path / "tiny.png")
    assert main(["translate", str(run), "--input", str(tmp_path / "tiny.png"), "--out", str(tmp_path / "o/")]) == 2
    assert "too small" in capsys.readouterr().err
