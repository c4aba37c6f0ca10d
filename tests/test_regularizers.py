import pytest
import torch
from torch import nn

from ganforge.regularizers import REGULARIZERS, gradient_penalty, r1, r2


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


@pytest.mark.parametrize("name", REGULARIZERS.names())
def test_penalty_contract(name):
    """Every penalty is a finite scalar that D can descend: a step on it lowers it."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    D = lambda x, y=None: net(x).squeeze(1)  # noqa: E731
    real, fake = torch.randn(64, 2), torch.randn(64, 2) + 1
    gen = torch.Generator().manual_seed(0)
    fn = REGULARIZERS.get(name)
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
