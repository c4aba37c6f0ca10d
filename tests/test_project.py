"""Inversion (apps/project.py): an image G made is found again; bad shapes are refused."""

import pytest
import torch

from conftest import TINY, TINY_IMAGES
from ganforge import api
from ganforge.apps.project import project
from ganforge.config import load_config
from ganforge.errors import GanforgeError


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("d")
    # reuse_fakes=false: the 30-step G these margins were set on (the one-batch step's samples are
    # less spread at 30 steps, too close together for "a random start is far off")
    api.train(load_config("digits", TINY_IMAGES + ["train.steps=30", "doctor.enabled=false", "eval.n_samples=20",
                                                   "train.reuse_fakes=false"]), out=d)
    return api.load_run(d)


def test_an_image_g_made_is_reconstructed_almost_exactly(digits_run):
    run = digits_run
    x = run.generate(3, seed=42)  # (3, 1, 8, 8): in G's range by construction
    random_start = project(run, x, steps=0, starts=1, seed=1)
    found = project(run, x, steps=300, starts=4, seed=1)
    assert found.mse.max() < 2e-5 and random_start.mse.min() > 2e-4  # 8x8 pixels in [0, 1]
    assert (found.mse < random_start.mse / 25).all()
    exact = project(run, x, steps=300, starts=4, seed=1, feature_weight=0, latent_weight=0)
    assert exact.mse.max() < 1e-10  # the pixel loss alone finds G's own latent
    assert found.recon.shape == x.shape and found.z.shape == (3, run.cfg.model.z_dim)


def test_points_project_too_and_a_uniform_prior_stays_in_its_box(tmp_path):
    api.train(load_config("grid25", TINY + ["train.steps=20", "doctor.enabled=false", "model.prior=uniform"]), out=tmp_path)
    run = api.load_run(tmp_path)
    x = run.generate(2, seed=3)[:, :, None, None]  # points are not images: refused
    with pytest.raises(GanforgeError, match="shape"):
        project(run, x)


def test_a_wrong_image_shape_is_one_line(digits_run):
    with pytest.raises(GanforgeError, match=r"\(3, 8, 8\); this run makes \(1, 8, 8\)"):
        project(digits_run, torch.zeros(2, 3, 8, 8))
