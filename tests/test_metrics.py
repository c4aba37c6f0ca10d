import math

import pytest
import torch

from ganforge.data.toy2d import grid25, ring8
from ganforge.metrics.distances import energy_distance, frechet_gaussians
from ganforge.metrics.toy2d import mode_metrics

GRID = grid25(None, 0)


def test_all_points_on_the_centres():
    m = mode_metrics(GRID.centers.repeat(4, 1), GRID.centers, GRID.std)
    assert m["modes"] == 25 and m["hq"] == 1.0 and m["rev_kl"] == pytest.approx(0.0, abs=1e-12)


def test_all_points_on_one_centre():
    x = GRID.centers[7].repeat(100, 1)
    m = mode_metrics(x, GRID.centers, GRID.std)
    assert m["modes"] == 1 and m["hq"] == 1.0 and m["rev_kl"] == pytest.approx(math.log(25))


def test_quality_threshold_is_three_std():
    c = GRID.centers[0]
    inside = c + torch.tensor([2.9 * GRID.std, 0.0])
    outside = c + torch.tensor([3.1 * GRID.std, 0.0])
    m = mode_metrics(torch.stack([inside, outside]), GRID.centers, GRID.std)
    assert m["hq"] == 0.5 and m["modes"] == 1


def test_low_quality_points_capture_no_mode():
    x = torch.full((10, 2), 1.0)  # halfway between centres
    m = mode_metrics(x, GRID.centers, GRID.std)
    assert m["modes"] == 0 and m["hq"] == 0.0 and math.isinf(m["rev_kl"])


def test_true_mixture_scores_near_the_limit():
    ring = ring8(None, 0)
    m = mode_metrics(ring.reference(2500, 1), ring.centers, ring.std)
    assert m["modes"] == 8 and 0.98 < m["hq"] < 0.995 and m["rev_kl"] < 0.02
    g = mode_metrics(GRID.reference(2500, 1), GRID.centers, GRID.std)
    assert g["modes"] == 25 and 0.98 < g["hq"] < 0.995 and g["rev_kl"] < 0.03


def test_energy_distance():
    x = torch.randn(500, 2, generator=torch.Generator().manual_seed(0))
    y = torch.randn(500, 2, generator=torch.Generator().manual_seed(1))
    assert abs(energy_distance(x, y)) < 0.05
    assert energy_distance(x, y + 3) > 2


def test_the_frechet_distance_of_gaussians_matches_a_matrix_square_root():
    """frechet_gaussians takes the root's trace from symmetric eigendecompositions: the same
    number as scipy's sqrtm of S_a S_b, 0 for a Gaussian against itself, and the closed form for
    isotropic ones (|mu_a - mu_b|^2 + d (s_a - s_b)^2)."""
    import numpy as np
    from scipy import linalg

    g = np.random.default_rng(0)
    a, b = g.standard_normal((200, 16)) @ g.standard_normal((16, 16)), g.standard_normal((300, 16)) + 0.5
    mu_a, mu_b, s_a, s_b = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    want = (mu_a - mu_b) @ (mu_a - mu_b) + np.trace(s_a + s_b - 2 * np.real(linalg.sqrtm(s_a @ s_b)))
    assert frechet_gaussians(mu_a, s_a, mu_b, s_b) == pytest.approx(want, rel=1e-9)
    assert frechet_gaussians(mu_a, s_a, mu_a, s_a) == pytest.approx(0, abs=1e-8)
    d = 5
    assert frechet_gaussians(np.zeros(d), 4 * np.eye(d), np.ones(d), np.eye(d)) == pytest.approx(d + d * (2 - 1) ** 2)
