import math

import pytest
import torch

from ganforge.losses import LOSSES, build_loss, value

ALL = LOSSES.names()


def test_registry_holds_the_six_losses():
    assert set(ALL) == {"minimax", "non_saturating", "wasserstein", "wgan_gp", "hinge", "least_squares"}


# ---------------------------------------------------------------- contract: every registered loss
@pytest.mark.parametrize("name", ALL)
def test_losses_are_finite_scalars_of_logits(name):
    loss = build_loss(name)
    r, f = torch.randn(64), torch.randn(64)
    for out in (loss.d_loss(r, f), loss.g_loss(f), loss.g_loss(f, r)):
        assert out.shape == () and torch.isfinite(out)
    # (B, 1) logits give the same value as (B,)
    assert torch.allclose(loss.d_loss(r[:, None], f[:, None]), loss.d_loss(r, f))


@pytest.mark.parametrize("name", ALL)
def test_gradient_directions(name):
    """D's loss falls as real logits rise and fake logits fall; G's falls as fake logits rise.

    Checked at logit 0.5, inside every loss's active region (between LSGAN's targets 0 and 1,
    within the hinge margins)."""
    loss = build_loss(name)
    r = torch.full((8,), 0.5, requires_grad=True)
    f = torch.full((8,), 0.5, requires_grad=True)
    loss.d_loss(r, f).backward()
    assert (r.grad < 0).all() and (f.grad > 0).all()
    f2 = torch.full((8,), 0.5, requires_grad=True)
    loss.g_loss(f2).backward()
    assert (f2.grad < 0).all()


# ---------------------------------------------------------------- hand-computed values
def test_value_is_minus_log4_at_equilibrium():
    z = torch.zeros(10)  # D = sigmoid(0) = 1/2 everywhere
    assert value(z, z).item() == pytest.approx(-math.log(4))


def test_value_matches_definition():
    r, f = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    dr, df = torch.sigmoid(r), torch.sigmoid(f)
    expected = torch.log(dr).mean() + torch.log(1 - df).mean()
    assert value(r, f).item() == pytest.approx(expected.item(), rel=1e-6)


def test_value_is_stable_for_extreme_logits():
    assert torch.isfinite(value(torch.tensor([-200.0]), torch.tensor([200.0])))


def test_minimax_and_non_saturating_values():
    r, f = torch.tensor([math.log(3)]), torch.tensor([math.log(1 / 3)])  # D(x) = 3/4, D(G(z)) = 1/4
    for name in ("minimax", "non_saturating"):
        assert build_loss(name).d_loss(r, f).item() == pytest.approx(-2 * math.log(0.75))
    assert build_loss("minimax").g_loss(f).item() == pytest.approx(math.log(0.75))  # log(1 - 1/4)
    assert build_loss("non_saturating").g_loss(f).item() == pytest.approx(-math.log(0.25))


def test_minimax_saturates_where_non_saturating_does_not():
    """With D confident that fakes are fake, the minimax G gradient vanishes (Goodfellow 2014)."""
    grads = {}
    for name in ("minimax", "non_saturating"):
        f = torch.tensor([-10.0], requires_grad=True)
        build_loss(name).g_loss(f).backward()
        grads[name] = abs(f.grad.item())
    assert grads["minimax"] < 1e-3 < 0.9 < grads["non_saturating"]


def test_critic_hinge_and_least_squares_values():
    r, f = torch.tensor([2.0, 0.0]), torch.tensor([-0.5, 1.0])
    assert build_loss("wasserstein").d_loss(r, f).item() == pytest.approx(0.25 - 1.0)
    assert build_loss("wasserstein").g_loss(f).item() == pytest.approx(-0.25)
    assert build_loss("wgan_gp").penalty == "gradient_penalty"
    # hinge: relu(1 - r) = [0, 1] -> 0.5; relu(1 + f) = [0.5, 2] -> 1.25
    assert build_loss("hinge").d_loss(r, f).item() == pytest.approx(1.75)
    # LSGAN: 0.5 * mean((r - 1)^2) = 0.5 * 1 = 0.5; 0.5 * mean(f^2) = 0.5 * 0.625 = 0.3125
    assert build_loss("least_squares").d_loss(r, f).item() == pytest.approx(0.8125)
    assert build_loss("least_squares").g_loss(f).item() == pytest.approx(0.5 * (2.25 + 0.0) / 2)
