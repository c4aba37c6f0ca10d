import gzip
import pickle
import struct

import numpy as np
import pytest
import torch

from ganforge.config import DataConfig, load_config
from ganforge.build import build_data
from ganforge.train.games import build_game
from ganforge.data import DATASETS
from ganforge.errors import GanforgeError, GanforgeWarning
from ganforge.models.base import MODELS


def cfg_for(name, **kw):
    return DataConfig(name=name, **kw)


def test_digits_split_resize_and_range():
    d = DATASETS.get("digits")(cfg_for("digits", resolution=16), 0)
    assert d.shape == (1, 16, 16) and len(d.images) == 1437 and len(d.holdout[0]) == 360
    x, y = d.sample(32)
    assert x.shape == (32, 1, 16, 16) and -1 <= x.min() and x.max() <= 1 and y.shape == (32,)
    assert d.n_classes == 10 and set(d.labels.tolist()) == set(range(10))
    assert d.decode(x).min() >= 0


def test_stacked_digits_have_a_thousand_modes():
    d = DATASETS.get("stacked_digits")(cfg_for("stacked_digits", resolution=8), 0)
    x, y = d.sample(5000)
    assert x.shape == (5000, 3, 8, 8) and d.n_classes == 1000
    assert len(set(y.tolist())) > 990  # nearly every triple appears in 5,000 draws


@pytest.mark.parametrize("res", [8, 16, 32, 64, 128])
@pytest.mark.parametrize("extra", [[], ["model.conditional=true", "model.g_cond=cbn", "model.d_norm=spectral"],
                                   ["model.conditional=true", "model.d_cond=concat", "model.d_norm=batch", "model.pac=2"]])
def test_dcgan_shapes_at_every_resolution(res, extra):
    cfg = load_config("digits", [f"data.resolution={res}", "model.g_width=4", "model.d_width=4", "train.batch_size=4", *extra])
    torch.manual_seed(0)
    data = build_data(cfg)
    gan = build_game(cfg, data, torch.device("cpu"))
    x, y = data.sample(4)
    fake = gan.G(gan.prior.sample(4, gan.gen), gan.fake_labels(4))
    assert fake.shape == x.shape and fake.abs().max() <= 1
    logits = gan.D(x, y if cfg.model.conditional else None)
    assert logits.shape == (4 // cfg.model.pac,) and torch.isfinite(logits).all()


def test_conditional_dcgan_defaults_to_cbn_in_g_and_a_label_map_in_d():
    """The measured best pair (benchmarks/results/conditional.md); the others stay available."""
    from ganforge.build import build_models

    cfg = load_config("digits", ["model.conditional=true", "model.g_width=4", "model.d_width=4"])
    assert (cfg.model.g_cond, cfg.model.d_cond) == ("default", "default")
    G, D = build_models(cfg, (1, 16, 16), 10)
    assert G.cbn and G.embed is None and D.cond_map is not None and D.project is None
    old = load_config("digits", ["model.conditional=true", "model.g_cond=concat", "model.d_cond=projection"])
    G, D = build_models(old, (1, 16, 16), 10)
    assert not G.cbn and G.embed is not None and D.cond_map is None and D.project is not None


def test_dcgan_rejects_non_square_data():
    with pytest.raises(GanforgeError, match="square images"):
        MODELS.get("dcgan").check(load_config("digits"), (2,))


def test_conditional_needs_labels():
    cfg = load_config("grid25", ["model.conditional=true"])
    with pytest.raises(GanforgeError, match="labelled dataset"):
        build_game(cfg, build_data(cfg), torch.device("cpu"))


def test_folder_with_classes_and_a_corrupt_file(tmp_path):
    from PIL import Image

    for cls in ("cats", "dogs"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.fromarray(np.full((10, 12, 3), 40 * i, dtype=np.uint8)).save(tmp_path / cls / f"{i}.png")
    (tmp_path / "dogs" / "broken.jpg").write_bytes(b"not an image")
    with pytest.warns(GanforgeWarning, match="skipped 1"):
        d = DATASETS.get("folder")(cfg_for("folder", path=str(tmp_path), resolution=8), 0)
    assert d.shape == (3, 8, 8) and len(d.images) == 6 and d.n_classes == 2
    assert d.class_names == ["cats", "dogs"] and d.labels.tolist() == [0, 0, 0, 1, 1, 1]


def test_folder_errors(tmp_path):
    with pytest.raises(GanforgeError, match="no such file"):
        DATASETS.get("folder")(cfg_for("folder", path=str(tmp_path / "missing")), 0)
    (tmp_path / "junk.png").write_bytes(b"junk")
    with pytest.warns(GanforgeWarning):
        with pytest.raises(GanforgeError, match="no readable"):
            DATASETS.get("folder")(cfg_for("folder", path=str(tmp_path)), 0)


def test_npz_idx_and_cifar_readers(tmp_path):
    imgs = np.random.default_rng(0).integers(0, 256, (20, 28, 28), dtype=np.uint8)
    labels = np.arange(20) % 4
    np.savez(tmp_path / "d.npz", images=imgs, labels=labels)
    d = DATASETS.get("npz")(cfg_for("npz", path=str(tmp_path / "d.npz"), resolution=8), 0)
    assert d.shape == (1, 8, 8) and d.n_classes == 4

    def idx_bytes(arr):
        return bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()

    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(imgs)))
    (tmp_path / "mnist" / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels.astype(np.uint8))))
    d = DATASETS.get("idx")(cfg_for("idx", path=str(tmp_path / "mnist"), resolution=32), 0)
    assert d.shape == (1, 32, 32) and d.n_classes == 4 and len(d.images) == 20

    (tmp_path / "cifar").mkdir()
    batch = {b"data": np.zeros((5, 3072), dtype=np.uint8), b"labels": [0, 1, 2, 3, 9]}
    (tmp_path / "cifar" / "data_batch_1").write_bytes(pickle.dumps(batch))
    d = DATASETS.get("cifar10")(cfg_for("cifar10", path=str(tmp_path / "cifar")), 0)
    assert d.shape == (3, 32, 32) and d.n_classes == 10


def test_bad_image_files(tmp_path):
    np.savez(tmp_path / "nan.npz", images=np.full((3, 8, 8), np.nan))
    with pytest.raises(GanforgeError, match="NaN"):
        DATASETS.get("npz")(cfg_for("npz", path=str(tmp_path / "nan.npz")), 0)
    np.savez(tmp_path / "x.npz", pictures=np.zeros((3, 8, 8)))
    with pytest.raises(GanforgeError, match="'images'"):
        DATASETS.get("npz")(cfg_for("npz", path=str(tmp_path / "x.npz")), 0)
    (tmp_path / "evil").mkdir()

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "evil" / "data_batch_1").write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(GanforgeError, match="refusing"):
        DATASETS.get("cifar10")(cfg_for("cifar10", path=str(tmp_path / "evil")), 0)
    cfg = load_config("digits", ["data.resolution=24"])
    with pytest.raises(GanforgeError, match="power of two"):
        build_game(cfg, build_data(cfg), torch.device("cpu"))
