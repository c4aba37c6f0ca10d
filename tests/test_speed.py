"""The speed options of issue 6: each trains and stays finite on the CPU; none changes the
numbers it must not change (on-device data, the default fp32 path)."""

import functools
import json
import math

import pytest
import torch

from ganforge.build import build_data, check_names
from ganforge.train.games import build_game
from ganforge.config import load_config
from ganforge.errors import GanforgeError
from ganforge.train.checkpoint import load_checkpoint
from ganforge.train.loop import train
from ganforge.train.runtime import attach
from ganforge.train.distributed import Dist

from conftest import TINY_IMAGES


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Tiny unlabelled RGB images in an npz: measured by the energy distance, so no classifier
    is trained (the digits' final evaluation would train one)."""
    import numpy as np

    path = tmp_path_factory.mktemp("npz") / "images.npz"
    rng = np.random.default_rng(0)
    np.savez(path, images=rng.integers(0, 256, (64, 8, 8, 3), dtype=np.uint8))
    return TINY_IMAGES + ["data.name=npz", f"data.path={path}", "model.name=dcgan", "doctor.enabled=false"]


def run(tmp_path, name, preset, base, *overrides, resume=False):
    cfg = load_config(preset, base + list(overrides))
    out = tmp_path / name
    out.mkdir(exist_ok=True)
    train(cfg, out, resume=resume)
    return out


def train_records(run_dir):
    recs = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in recs if "loss_d" in r]


def assert_finite_run(run_dir, keys=("loss_d", "loss_g", "grad_d", "grad_g", "d_real", "d_fake")):
    recs = train_records(run_dir)
    assert recs
    for r in recs:
        for k in keys:
            assert math.isfinite(r[k]), (k, r)
    ckpt = load_checkpoint(run_dir)
    for part in ("G", "D"):
        assert all(torch.isfinite(t).all() for t in ckpt[part].values() if t.is_floating_point())
    return recs


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
@pytest.mark.parametrize("penalty", [[], ["reg.r1.weight=1"], ["loss.name=wgan_gp"]], ids=["none", "r1", "wgan_gp"])
def test_mixed_precision_trains_finite_with_penalties(tmp_path, tiny, precision, penalty):
    out = run(tmp_path, "amp", "grid25", tiny, "train.steps=30", f"train.precision={precision}", *penalty)
    recs = assert_finite_run(out)
    if penalty:
        name = "r1" if "r1" in penalty[0] else "gradient_penalty"
        assert all(math.isfinite(r[name]) and r[name] >= 0 for r in recs)
    if precision == "fp16":  # one loss scale per player, kept in the checkpoint
        assert set(load_checkpoint(out)["amp"]) == {"d", "g"}


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_dcgan_with_batch_norm_and_r1(tmp_path, images, precision):
    out = run(tmp_path, "img", "digits", images, "train.steps=10", f"train.precision={precision}",
              "model.d_norm=batch", "reg.r1.weight=1")
    assert_finite_run(out)


def test_fp16_resume_continues_exactly(tmp_path, tiny):
    """The loss scales are part of the state: stopped and resumed == uninterrupted."""
    extra = ["train.precision=fp16", "reg.r1.weight=0.1", "train.ckpt_every=20", "optim.schedule=constant"]
    run(tmp_path, "whole", "grid25", tiny, "train.steps=40", *extra)
    run(tmp_path, "half", "grid25", tiny, "train.steps=20", *extra)
    run(tmp_path, "half", "grid25", tiny, "train.steps=40", *extra, resume=True)
    a, b = load_checkpoint(tmp_path / "whole"), load_checkpoint(tmp_path / "half")
    for part in ("G", "D"):
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), (part, k)
    assert a["amp"] == b["amp"]


def test_fp16_overflow_is_skipped_not_a_divergence():
    """A huge initial loss scale overflows: the scaler skips the step and halves the scale;
    the gradient norm then reads 0 instead of inf, so the loop does not roll back."""
    cfg = load_config("grid25", ["model.g_width=8", "model.d_width=8", "train.batch_size=8", "train.precision=fp16"])
    torch.manual_seed(0)
    data = build_data(cfg)
    gan = build_game(cfg, data, torch.device("cpu"))
    attach(gan, cfg, torch.device("cpu"), Dist())
    for s in gan.runtime.scalers.values():
        s._init_scale = 2.0**40  # fp16 overflows at 65504: the first backward is inf
    before = [p.detach().clone() for p in gan.D.parameters()]
    out = gan.step(data.sample, 8, stats=True)
    assert out["grad_d"].item() == 0 and out["grad_g"].item() == 0
    assert all(torch.equal(a, b) for a, b in zip(before, gan.D.parameters()))  # the step was skipped
    assert gan.runtime.scalers["d"].get_scale() < 2.0**40


def test_channels_last_dcgan(tmp_path, images):
    out = run(tmp_path, "cl", "digits", images, "train.steps=10", "train.channels_last=true",
              "model.d_norm=batch", "train.precision=bf16")
    assert_finite_run(out)


def test_channels_last_gives_nhwc_weights_and_trains_like_nchw(tmp_path, images):
    """Memory format is layout, not maths: a few steps agree with the NCHW run to float tolerance."""
    cfg = load_config("digits", TINY_IMAGES + ["train.channels_last=true"])
    torch.manual_seed(0)
    data = build_data(cfg)
    gan = build_game(cfg, data, torch.device("cpu"))
    attach(gan, cfg, torch.device("cpu"), Dist())
    w = gan.D.head.weight  # (1, 4w, 4, 4)
    assert w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous()
    a = run(tmp_path, "a", "digits", images, "train.steps=5", "train.channels_last=true")
    b = run(tmp_path, "b", "digits", images, "train.steps=5")
    ga, gb = load_checkpoint(a)["G"], load_checkpoint(b)["G"]
    for k in ga:
        torch.testing.assert_close(ga[k], gb[k], rtol=1e-3, atol=1e-4)


def test_compile_trains_finite(tmp_path, tiny, monkeypatch):
    """torch.compile of G and D (the DDP-free path), penalties on the plain D. Inductor's C++
    build takes about a minute on one CPU thread, so this test compiles with the aot_eager
    backend: the same graph capture, guards and compiled autograd, without code generation."""
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="aot_eager"))
    out = run(tmp_path, "c", "grid25", tiny, "train.steps=20", "train.compile=true", "reg.r1.weight=1",
              "train.precision=bf16")
    assert_finite_run(out)


@pytest.mark.parametrize("impl", ["fused", "loop"])
def test_optimizer_kernels(tmp_path, tiny, impl):
    out = run(tmp_path, impl, "grid25", tiny, "train.steps=20", f"optim.impl={impl}")
    assert_finite_run(out)
    sgd = run(tmp_path, impl + "-sgd", "grid25", tiny, "train.steps=20", f"optim.impl={impl}", "optim.name=sgd")
    assert_finite_run(sgd)


@pytest.mark.parametrize("preset", ["digits", "stacked_digits"])
def test_data_on_device_serves_the_same_batches(preset):
    """Holding the images on the device changes where batches are cut, not which."""
    cfg = load_config(preset, ["data.resolution=8", "model.conditional=true"])
    a, b = build_data(cfg), build_data(cfg)
    b.hold_on(torch.device("cpu"))  # the device path, on the CPU
    for n in (7, 300, 2000):  # across epoch boundaries
        (xa, ya), (xb, yb) = a.sample(n), b.sample(n)
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_data_on_device_trains_identically(tmp_path, images):
    a = run(tmp_path, "on", "digits", images, "train.steps=10", "train.data_on_device=true")
    b = run(tmp_path, "off", "digits", images, "train.steps=10", "train.data_on_device=false")
    ca, cb = load_checkpoint(a), load_checkpoint(b)
    for part in ("G", "D"):
        for k in ca[part]:
            assert torch.equal(ca[part][k], cb[part][k]), (part, k)


def test_speed_options_are_validated():
    for bad, word in [("train.precision=fp8", "bf16, fp16, fp32"), ("optim.impl=magic", "foreach, fused, loop")]:
        with pytest.raises(GanforgeError, match=word):
            check_names(load_config("grid25", [bad]))
    for bad, word in [("train.data_on_device=maybe", "auto, true or false"), ("train.dist_backend=mpi", "nccl or gloo")]:
        with pytest.raises(GanforgeError, match=word):
            load_config("grid25", [bad])
    with pytest.raises(GanforgeError, match="double backward"):
        load_config("digits", ["train.sync_bn=true", "model.d_norm=batch", "reg.r1.weight=1"])
    load_config("digits", ["train.sync_bn=true", "model.d_norm=spectral", "reg.r1.weight=1"])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_cuda_speed_options(tmp_path, images, precision):
    out = run(tmp_path, precision, "digits", images, "train.steps=10", "train.device=cuda",
              f"train.precision={precision}", "train.channels_last=true", "optim.impl=fused", "reg.r1.weight=1",
              "model.d_norm=batch", "train.data_on_device=auto")
    assert_finite_run(out)
