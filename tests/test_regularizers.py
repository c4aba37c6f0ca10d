import json
import math

import pytest
import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.penalties import D_PENALTIES, bcr, dragan, gradient_penalty, lecam, r1, r2

IMAGES_ONLY = {"bcr"}  # penalties that transform images: their contract runs on (B, 1, 4, 4)


def linear_D(w):
    D = nn.Linear(len(w), 1, bias=True)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([w]))
        D.bias.fill_(0.3)
    return lambda x, y=None: D(x).squeeze(1), D


def test_penalties_of_a_linear_D_are_analytic():
    """For D(x) = w.x + b the input gradient is w everywhere: GP = (|w| - 1)^2, R1 = R2 = |w|^2 / 2."""
    D, _ = linear_D([3.0, 4.0])  # |w| = 5
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    assert gradient_penalty(D, real, fake).item() == pytest.approx(16.0, rel=1e-5)
    assert r1(D, real, fake).item() == pytest.approx(12.5, rel=1e-5)
    assert r2(D, real, fake).item() == pytest.approx(12.5, rel=1e-5)
    assert dragan(D, real, fake, torch.Generator().manual_seed(0)).item() == pytest.approx(16.0, rel=1e-5)


class _PackedLinear(nn.Module):
    """D(pack) = w . (x_1 + ... + x_pac): each sample's input gradient is w, the pack's is w
    repeated pac times, of norm sqrt(pac) |w|."""

    def __init__(self, w, pac):
        super().__init__()
        self.w, self.pac = torch.tensor(w), pac

    def forward(self, x, y=None):
        return (x.reshape(x.shape[0] // self.pac, self.pac, -1) @ self.w).sum(1)  # (B // pac,)


def test_the_gradient_penalty_of_a_packed_d_is_taken_per_pack():
    """PacGAN's D judges a pack as one input: the pack's norm sqrt(4) * 0.5 = 1 meets the
    target, though each sample's gradient has norm 0.5 (a per-sample penalty would be 0.25)."""
    D = _PackedLinear([0.3, 0.4], pac=4)  # |w| = 0.5
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    assert gradient_penalty(D, real, fake).item() == pytest.approx(0.0, abs=1e-6)
    D = _PackedLinear([3.0, 4.0], pac=4)  # pack norm 10: (10 - 1)^2
    assert gradient_penalty(D, real, fake).item() == pytest.approx(81.0, rel=1e-5)


@pytest.mark.parametrize("name", D_PENALTIES.names())
def test_penalty_contract(name):
    """Every penalty is a finite scalar that D can descend: a step on it lowers it."""
    torch.manual_seed(0)
    shape = (1, 4, 4) if name in IMAGES_ONLY else (2,)
    net = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), 16), nn.Tanh(), nn.Linear(16, 1))
    D = lambda x, y=None: net(x).squeeze(1)  # noqa: E731
    real, fake = torch.randn(64, *shape), torch.randn(64, *shape) + 1
    gen = torch.Generator().manual_seed(0)
    fn = D_PENALTIES.get(name)
    before = fn(D, real, fake, gen)
    assert before.shape == () and torch.isfinite(before)
    net.zero_grad()
    before.backward()
    with torch.no_grad():
        for p in net.parameters():
            if p.grad is not None:  # the last bias does not move an input gradient
                p -= 1e-3 * p.grad
    after = fn(D, real, fake, torch.Generator().manual_seed(0))
    assert after.item() < before.item()


def test_dragan_perturbs_reals_with_the_generator():
    """The perturbation is drawn from ``gen``: same seed, same value; another seed, another."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    D = lambda x, y=None: net(x).squeeze(1)  # noqa: E731
    real = torch.randn(32, 2)
    a = dragan(D, real, real, torch.Generator().manual_seed(1))
    b = dragan(D, real, real, torch.Generator().manual_seed(1))
    c = dragan(D, real, real, torch.Generator().manual_seed(2))
    assert a.item() == b.item() != c.item()


def test_lecam_against_hand_computed_values_and_its_moving_averages():
    """R = E[(D(x) - a_F)^2] + E[(D(G(z)) - a_R)^2], a = 0.99 a + 0.01 mean(logits), from 0."""
    real_logits, fake_logits = torch.tensor([1.0, 3.0]), torch.tensor([-2.0, 0.0])  # means 2, -1
    state = {}
    D = None  # unused: the logits are given
    r = lecam(D, None, None, real_logits=real_logits, fake_logits=fake_logits, state=state)
    a_r, a_f = 0.01 * 2.0, 0.01 * -1.0
    expected = ((1 - a_f) ** 2 + (3 - a_f) ** 2) / 2 + ((-2 - a_r) ** 2 + (0 - a_r) ** 2) / 2
    assert r.item() == pytest.approx(expected, rel=1e-6)
    assert state["alpha_real"].item() == pytest.approx(a_r) and state["alpha_fake"].item() == pytest.approx(a_f)
    lecam(D, None, None, real_logits=real_logits + 1, fake_logits=fake_logits, state=state)  # means 3, -1
    assert state["alpha_real"].item() == pytest.approx(0.99 * a_r + 0.01 * 3.0)
    assert state["alpha_fake"].item() == pytest.approx(0.99 * a_f + 0.01 * -1.0)


def test_lecam_without_logits_calls_D_and_its_gradient_reaches_D():
    D_fn, net = linear_D([1.0, -1.0])
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    r = lecam(D_fn, real, fake)
    r.backward()
    assert net.weight.grad is not None and net.weight.grad.abs().sum() > 0


def test_bcr_is_zero_for_a_D_blind_to_flips_and_shifts_and_positive_otherwise():
    """Images with a zero border of 2 pixels (>= the 16 / 8 = 2 pixel shift): their pixel sum is
    unchanged by flips and translations, so a D that sums pixels pays nothing; a D that weighs
    the left and right halves differently does."""
    torch.manual_seed(0)
    x = torch.zeros(16, 1, 16, 16)
    x[:, :, 2:14, 2:14] = torch.rand(16, 1, 12, 12)
    real, fake = x[:8], x[8:]
    gen = torch.Generator().manual_seed(0)
    constant = lambda x, y=None: torch.zeros(x.shape[0])  # noqa: E731
    assert bcr(constant, real, fake, gen).item() == 0.0
    summing = lambda x, y=None: x.sum(dim=(1, 2, 3))  # noqa: E731
    assert bcr(summing, real, fake, gen).item() == pytest.approx(0.0, abs=1e-8)
    ramp = torch.linspace(-1, 1, 16)
    tilted = lambda x, y=None: (x * ramp).sum(dim=(1, 2, 3))  # noqa: E731
    assert bcr(tilted, real, fake, gen).item() > 1e-2


def test_bcr_refuses_vector_data():
    D, _ = linear_D([1.0, 1.0])
    with pytest.raises(GanforgeError, match="reg.bcr"):
        bcr(D, torch.randn(4, 2), torch.randn(4, 2))


def test_a_lazy_penalty_is_logged_at_every_log_step(tmp_path, tiny):
    """R1 every 4th D update, logged every 10 steps: the log steps' own D updates need not carry
    R1, yet each record has R1's latest value."""
    from ganforge.config import load_config
    from ganforge.train.loop import train

    out = tmp_path / "lazy"
    out.mkdir()
    train(load_config("grid25", tiny + ["train.steps=40", "train.log_every=10", "reg.r1.weight=1",
                                         "reg.r1.interval=4"]), out)
    recs = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in recs if "loss_d" in r]
    assert len(steps) == 4 and all(r["r1"] > 0 for r in steps)
