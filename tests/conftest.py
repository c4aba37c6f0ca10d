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


@pytest.fixture(scope="session", autouse=True)
def _classifier_cache(tmp_path_factory):
    """One digit-classifier cache for the whole test session, never the user's own."""
    import os

    path = tmp_path_factory.mktemp("ganforge-cache")
    old = os.environ.get("GANFORGE_CACHE")
    os.environ["GANFORGE_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("GANFORGE_CACHE", None)
    else:
        os.environ["GANFORGE_CACHE"] = old


TINY_IMAGES = [
    "data.resolution=8", "model.g_width=4", "model.d_width=4", "model.z_dim=8", "train.batch_size=16",
    "train.log_every=5", "train.ckpt_every=50", "train.sample_every=0", "train.progress=false",
    "train.tensorboard=false", "eval.every=0", "eval.n_samples=60", "train.threads=1",
]
