"""The encoder (apps/encoder.py) inverts G on its own samples better than random latents, is
saved and refused when stale, and gives the projector a better start."""

import pytest
import torch

from conftest import TINY_IMAGES
from ganforge import api
from ganforge.apps.encoder import encode, load_encoder, save_encoder, train_encoder
from ganforge.apps.project import project
from ganforge.config import load_config
from ganforge.errors import GanforgeError


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("e")
    # reuse_fakes=false: this 60-step G is the fixture the encoder's margins were set on (with the
    # one-batch step its samples are ~20 % less diverse at 60 steps, too close to test an encoder)
    api.train(load_config("digits", TINY_IMAGES + ["train.steps=60", "doctor.enabled=false", "eval.n_samples=20",
                                                   "model.g_width=8", "train.reuse_fakes=false"]), out=d)
    return d


def test_the_encoder_reconstructs_gs_samples_better_than_random_latents(run_dir, tmp_path):
    run = api.load_run(run_dir)
    E = train_encoder(run, steps=300, batch_size=32, width=8)
    x = run.generate(64, seed=9)  # G's own samples, data space
    rec = lambda z: run.data.decode(run.G(z, None)).float()  # noqa: E731
    with torch.no_grad():
        err_enc = (rec(encode(E, run, x)) - x).pow(2).mean().item()
        err_rand = (rec(run.prior.sample(64, torch.Generator().manual_seed(10))) - x).pow(2).mean().item()
    assert err_enc < 0.5 * err_rand
    # as the projector's first start, it lands at least as well in fewer steps
    z0 = encode(E, run, x[:4])
    warm = project(run, x[:4], steps=30, starts=1, z_init=z0, feature_weight=0)
    cold = project(run, x[:4], steps=30, starts=1, seed=5, feature_weight=0)
    assert warm.mse.mean() < cold.mse.mean()


def test_saved_and_refused_when_missing_or_stale(run_dir, tmp_path):
    run = api.load_run(run_dir)
    with pytest.raises(GanforgeError, match="ganforge encoder"):
        load_encoder(tmp_path)
    E = train_encoder(run, steps=5, batch_size=8, width=8)
    save_encoder(E, tmp_path, run.step)
    x = torch.rand(2, 1, 8, 8)
    assert torch.equal(encode(load_encoder(tmp_path, run), run, x), encode(E, run, x))
    save_encoder(E, tmp_path, run.step - 1)
    with pytest.raises(GanforgeError, match="fitted to the generator of step"):
        load_encoder(tmp_path, run)
    (tmp_path / "encoder.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(GanforgeError, match="not a readable ganforge encoder"):
        load_encoder(tmp_path)
