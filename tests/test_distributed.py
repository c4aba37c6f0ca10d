"""Data-parallel training: 2 gloo processes under torchrun on the CPU reproduce a single process
with the same global batch, up to the order of float sums.

Measured on the tiny mlp / grid25 runs below (30 steps, k = 2 D steps, lazy R1, EMA): the
largest weight difference is 6e-8 (weights of size ~0.7), and the logged statistics agree to
1e-7; the tests allow 1e-6.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import ganforge
from ganforge.config import load_config
from ganforge.errors import GanforgeError
from ganforge.priors import Prior
from ganforge.train.checkpoint import list_checkpoints, load_checkpoint
from ganforge.train.distributed import Dist, ShardedPrior, check_batch
from ganforge.train.loop import train

TOL = 1e-6
EXTRA = ["reg.r1.weight=1", "reg.r1.interval=2", "train.ema_beta=0.9"]  # a penalty through DDP, and EMA


def torchrun(*args, nproc=2):
    """``torchrun --standalone --nproc_per_node=2 -m ganforge ...`` with this checkout on the path."""
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(Path(ganforge.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "ganforge", *args]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def single(tmp_path, name, tiny, *overrides):
    out = tmp_path / name
    out.mkdir()
    train(load_config("grid25", tiny + list(overrides)), out)
    return out


def assert_close_state(a: Path, b: Path):
    ca, cb = load_checkpoint(a), load_checkpoint(b)
    assert ca["step"] == cb["step"]
    for part in ("G", "D"):
        for k in ca[part]:
            torch.testing.assert_close(ca[part][k], cb[part][k], rtol=0, atol=TOL, msg=f"{part}.{k}")
    for k in ca["G_ema"]["model"]:
        torch.testing.assert_close(ca["G_ema"]["model"][k], cb["G_ema"]["model"][k], rtol=0, atol=TOL)


def train_records(run_dir: Path):
    return [r for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if "loss_d" in r]


def test_two_gloo_processes_match_one_process_with_the_same_global_batch(tmp_path, tiny):
    r = torchrun("train", "--preset", "grid25", "--out", str(tmp_path / "ddp"), *tiny, "train.steps=30", *EXTRA)
    assert r.stdout.count("run: ") == 1  # rank 0 speaks for the run
    one = single(tmp_path, "one", tiny, "train.steps=30", *EXTRA)
    assert_close_state(tmp_path / "ddp", one)
    ddp, ref = train_records(tmp_path / "ddp"), train_records(one)
    assert [x["step"] for x in ddp] == [10, 20, 30]  # written once, by rank 0
    assert [y["step"] for y in ref] == [10, 20, 30]  # zip below would silently stop at the shorter log
    for x, y in zip(ddp, ref):
        assert x.keys() == y.keys()
        for k in x:
            assert abs(x[k] - y[k]) <= TOL, (k, x[k], y[k])  # statistics averaged over ranks = global batch


def test_resume_under_ddp_from_the_command_line(tmp_path, tiny):
    extra = [*EXTRA, "optim.schedule=constant", "train.ckpt_every=10"]
    run = str(tmp_path / "ddp")
    torchrun("train", "--preset", "grid25", "--out", run, *tiny, "train.steps=20", *extra)
    torchrun("train", "--resume", run, "train.steps=40")
    assert [s for s, _ in list_checkpoints(run)][-1] == 40
    assert [x["step"] for x in train_records(Path(run))] == [10, 20, 30, 40]
    one = single(tmp_path, "one", tiny, "train.steps=40", *extra)
    assert_close_state(Path(run), one)


def test_shards_split_the_global_batch_and_the_prior_advances_alike():
    x = torch.arange(12).view(6, 2)
    assert torch.equal(torch.cat([Dist(r, 3).shard(x) for r in range(3)]), x)
    assert Dist().shard(x) is x
    prior = Prior("normal", 4)
    g0, g1, ref = (torch.Generator().manual_seed(5) for _ in range(3))
    parts = [ShardedPrior(prior, Dist(0, 2)).sample(8, g0), ShardedPrior(prior, Dist(1, 2)).sample(8, g1)]
    assert torch.equal(torch.cat(parts), prior.sample(8, ref))
    assert torch.equal(g0.get_state(), ref.get_state())  # every rank's generator is where one process's is


def test_per_row_draws_differ_between_ranks_and_keep_the_shared_generator_in_step():
    """Augmentation, instance noise and penalties' random points are drawn for each rank's own
    rows: from a generator seeded by the run's seed, the update counters and the rank, so two
    ranks never repeat each other's draws and the shared generator is not advanced."""
    from types import SimpleNamespace

    from ganforge.train.games.gan import NoiseToData

    def game(rank, world=2):
        g = NoiseToData(None, None, None, torch.Generator().manual_seed(5))
        g.runtime = SimpleNamespace(dist=Dist(rank, world))
        return g

    ranks = [game(0), game(1)]
    before = ranks[0].gen.get_state()
    draws = [torch.rand(6, generator=g.sample_gen()) for g in ranks]
    assert not torch.allclose(draws[0], draws[1])
    assert torch.equal(ranks[0].gen.get_state(), before)  # the shared generator is not advanced
    assert not torch.equal(torch.rand(6, generator=ranks[0].sample_gen()), draws[0])  # the next call: new draws
    again = game(0)  # the same counters (a resumed run) give the same draws
    assert torch.equal(torch.rand(6, generator=again.sample_gen()), draws[0])
    alone = game(0, world=1)
    assert alone.sample_gen() is alone.gen  # one process: the run's generator, as before


def test_resume_under_ddp_is_exact_with_per_row_draws(tmp_path, tiny):
    """WGAN-GP's random points and instance noise under two processes: a run resumed halfway
    ends where the same run trained at once ends."""
    extra = ["loss.name=wgan_gp", "train.instance_noise=0.1", "train.instance_noise_steps=20", "optim.schedule=constant", "train.ckpt_every=10"]
    whole, half = str(tmp_path / "whole"), str(tmp_path / "half")
    torchrun("train", "--preset", "grid25", "--out", whole, *tiny, "train.steps=20", *extra)
    torchrun("train", "--preset", "grid25", "--out", half, *tiny, "train.steps=10", *extra)
    torchrun("train", "--resume", half, "train.steps=20")
    a, b = load_checkpoint(whole), load_checkpoint(half)
    for part in ("G", "D"):
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), f"{part}.{k}"


def test_the_global_batch_must_split_evenly():
    with pytest.raises(GanforgeError, match="global batch"):
        check_batch(30, 4, Dist(0, 2))
    check_batch(32, 4, Dist(0, 2))
