import pytest

# Tiny, fast settings for end-to-end tests: a few steps of small MLPs, no progress bar.
TINY = [
    "model.g_width=16", "model.d_width=16", "model.g_depth=2", "model.d_depth=2",
    "train.batch_size=32", "train.log_every=10", "train.ckpt_every=50", "train.sample_every=0",
    "train.progress=false", "train.tensorboard=false", "eval.every=0", "eval.n_samples=200",
    "train.threads=1",
]


@pytest.fixture
def tiny():
    return list(TINY)
