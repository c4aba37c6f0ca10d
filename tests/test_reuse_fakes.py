"""train.reuse_fakes: one G forward pass per iteration (the canonical DCGAN loop)."""

import torch

from ganforge.build import build_data, check_names
from ganforge.train.games import build_game
from ganforge.config import load_config


def _game(*overrides):
    cfg = load_config("digits", ["data.resolution=8", "model.g_width=4", "model.d_width=4", "model.z_dim=8",
                                 *overrides])
    check_names(cfg)
    torch.manual_seed(0)
    data = build_data(cfg)
    return build_game(cfg, data, torch.device("cpu")), data


def _params(m):
    return [p.detach().clone() for p in m.parameters()]


def test_reuse_and_two_batches_make_the_same_d_update_on_the_same_noise():
    """D's update sees the same reals and the same fakes either way; only G's differs: the reuse
    path backs G's loss through the fakes D just saw, the two-batch path draws new ones."""
    (a, data_a), (b, data_b) = _game("train.reuse_fakes=true"), _game("train.reuse_fakes=false")
    assert a.policy.reusing and not b.policy.reusing
    a.step(data_a.sample, 16)
    b.step(data_b.sample, 16)
    for pa, pb in zip(_params(a.D), _params(b.D)):
        assert torch.equal(pa, pb)
    assert any(not torch.equal(pa, pb) for pa, pb in zip(_params(a.G), _params(b.G)))


def test_reuse_draws_one_batch_of_noise_per_iteration():
    (a, data_a), (b, data_b) = _game("train.reuse_fakes=true"), _game("train.reuse_fakes=false")
    a.step(data_a.sample, 16)
    b.step(data_b.sample, 16)
    # the next draw of a's noise generator is b's draw for G's phase of the first iteration
    a_next = torch.randn(8, generator=a.gen)
    b2, _ = _game("train.reuse_fakes=false")
    b2.prior.sample(16, b2.gen, torch.device("cpu"))  # D's noise
    assert torch.equal(a_next, torch.randn(8, generator=b2.gen))


def test_reuse_applies_only_where_it_is_the_same_game():
    assert not _game("train.reuse_fakes=true", "train.d_steps=2")[0].policy.reusing
    assert not _game("train.reuse_fakes=true", "train.unroll_steps=2")[0].policy.reusing
