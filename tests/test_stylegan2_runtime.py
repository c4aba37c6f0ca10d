"""StyleGAN2 with the rest of ganforge: ADA, bf16 + channels_last, compile, two data-parallel
processes, the doctor and the report. Each run is a few steps of the tiny StyleGAN2 of
test_stylegan2 on 8x8 RGB images (measured by the energy distance: no classifier to train)."""

import functools
import torch

from ganforge.config import load_config
from ganforge.diagnostics.doctor import diagnose
from ganforge.report.html import write_report
from ganforge.train.checkpoint import load_checkpoint
from ganforge.train.loop import train
from test_distributed import torchrun
from test_speed import assert_finite_run, images  # noqa: F401  (a fixture)
from test_stylegan2 import TINY_SG2


def _sg2(images, *overrides):
    return images + TINY_SG2 + list(overrides)


def _run(tmp_path, name, images, *overrides):
    out = tmp_path / name
    out.mkdir()
    train(load_config("stylegan2_digits", _sg2(images, *overrides)), out)
    return out


def test_ada_with_bf16_channels_last_and_ema(tmp_path, images):
    out = _run(tmp_path, "ada", images, "train.steps=12", "augment.policy=translation,color",
               "augment.ada_target=0.6", "augment.ada_interval=1", "augment.ada_kimg=0.1",
               "train.precision=bf16", "train.channels_last=true")
    recs = assert_finite_run(out)
    # D starts confident on reals, so ADA raises p from 0 within a dozen steps
    assert max(r["aug_p"] for r in recs) > 0
    ema = torch.load(out / "ckpt-0000012.pt", weights_only=True)["G_ema"]["model"]
    assert torch.isfinite(ema["w_avg"]).all()


def test_compile_trains_finite(tmp_path, images, monkeypatch):
    """aot_eager: the graph capture and compiled autograd without inductor's C++ build (see
    test_speed.test_compile_trains_finite); path length takes a second derivative through G."""
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="aot_eager"))
    assert_finite_run(_run(tmp_path, "c", images, "train.steps=6", "train.compile=true"))


def test_two_gloo_processes_train_finite(tmp_path, images):
    """Data-parallel StyleGAN2 (mixing, per-layer noise, path length on G, lazy R1, EMA) under
    torchrun trains and writes one run. It is not compared number for number with one process
    as the DCGAN and MLP runs of test_distributed are: minibatch std groups each rank's rows (as
    in StyleGAN2-ADA's multi-GPU training); the draws are (next test)."""
    extra = ["train.steps=10", "reg.path_length.interval=3", "model.mixing_prob=0.9"]
    r = torchrun("train", "--preset", "stylegan2_digits", "--out", str(tmp_path / "ddp"), *_sg2(images, *extra))
    assert r.stdout.count("run: ") == 1  # rank 0 speaks for the run
    recs = assert_finite_run(tmp_path / "ddp")
    assert [x["step"] for x in recs] == [5, 10]
    ckpt = load_checkpoint(tmp_path / "ddp")
    assert ckpt["G"]["w_avg"].abs().sum() > 0 and ckpt["penalties"]["path_length"]["pl_mean"] > 0


def test_each_rank_draws_its_rows_of_one_global_draw(monkeypatch):
    """Under DDP every rank seeds torch alike; G's noise and mixing z must still differ between
    ranks. With shard_randomness, ranks 0 and 1 of 2, each given half of z, together give what
    one process gives on all of z, draw for draw."""
    from ganforge.models import stylegan2 as sg2
    from test_stylegan2 import _build

    monkeypatch.setattr(sg2, "mean_over_ranks", lambda x, rows: x)  # w_avg: no process group here
    G, _ = _build(res=8, mixing_prob=1.0)
    G.train()
    for layer in G.layers:
        layer.noise_strength.data.fill_(1.0)  # 0 at init: the noise would not show
    z = torch.randn(8, 6)
    torch.manual_seed(1)
    whole = G(z)
    halves = []
    for rank in (0, 1):
        G.shard_randomness(rank, 2)
        torch.manual_seed(1)  # every rank's torch starts alike
        halves.append(G(z[4 * rank:4 * (rank + 1)]))
    torch.testing.assert_close(torch.cat(halves), whole)
    G.shard_randomness(0, 1)  # without it, rank 1 would draw rank 0's noise for its rows
    torch.manual_seed(1)
    assert not torch.allclose(G(z[4:]), whole[4:])


def test_the_doctor_and_the_report_read_a_stylegan2_run(tmp_path, images):
    out = _run(tmp_path, "dr", images, "train.steps=30", "doctor.enabled=true")
    recs = assert_finite_run(out)
    assert all(0 <= r["diversity"] for r in recs)  # the doctor's probe drew from G at every log step
    phases = diagnose(out).phases
    assert phases
    page = write_report(out).read_text()
    assert 'id="phases"' in page and "stylegan2" in page
