import numpy as np
import pytest
import torch

from ganforge.config import DataConfig
from ganforge.data import DATASETS
from ganforge.errors import GanforgeError


@pytest.mark.parametrize("name", ["ring8", "grid25", "spiral"])
def test_known_densities_sample_and_resume(name):
    data = DATASETS.get(name)(DataConfig(name=name), 0)
    x, y = data.sample(100)
    assert y is None
    assert x.shape == (100, 2) and torch.isfinite(x).all()
    state = data.state_dict()
    a, _ = data.sample(10)
    data.load_state_dict(state)
    assert torch.equal(a, data.sample(10)[0])


def test_mixture_std_and_centres():
    data = DATASETS.get("grid25")(DataConfig(), 0)
    x = data.decode(data.sample(20000)[0])  # model space -> data space
    assert data.sample(1000)[0].abs().max() < 1.2  # models see unit-sized coordinates
    d, idx = torch.cdist(x, data.centers).min(1)
    assert torch.bincount(idx, minlength=25).min() > 600  # roughly uniform over the 25 modes
    assert (d.pow(2).mean() / 2).sqrt().item() == pytest.approx(0.05, rel=0.05)


def test_points_from_csv_and_npy(tmp_path):
    pts = np.random.default_rng(0).normal(size=(50, 2))
    np.save(tmp_path / "p.npy", pts)
    np.savetxt(tmp_path / "p.csv", pts, delimiter=",", header="x,y", comments="")
    for f in ("p.npy", "p.csv"):
        data = DATASETS.get("points")(DataConfig(name="points", path=str(tmp_path / f)), 0)
        assert data.shape == (2,)
        batch, _ = data.sample(120)  # more than one epoch
        assert batch.shape == (120, 2)
        # the model sees each column standardised (sample std), and every epoch of 50 in the batch is
        # a reshuffled permutation of the 50 points (rows sorted by their first coordinate)
        want = (pts - pts.mean(0)) / pts.std(0, ddof=1)
        want = want[np.argsort(want[:, 0])]
        epochs = [batch[:50].numpy(), batch[50:100].numpy()]
        for e in epochs:
            np.testing.assert_allclose(e[np.argsort(e[:, 0])], want, rtol=0, atol=1e-5)
        assert not np.array_equal(epochs[0], epochs[1])
        tail = batch[100:].numpy()  # 20 distinct points of the third epoch
        nearest = np.abs(tail[:, None] - want[None]).max(2).argmin(1)  # (20,) index of the matching point
        np.testing.assert_allclose(tail, want[nearest], rtol=0, atol=1e-5)
        assert len(set(nearest.tolist())) == 20


@pytest.mark.parametrize(
    "content, words",
    [
        (None, "no such file"),
        ("1,2\n3,oops\n", "could not be read"),
        ("1,2\nnan,3\n4,5\n", "NaN or infinite"),
        ("1,2\n", "shape"),
    ],
)
def test_bad_point_files(tmp_path, content, words):
    path = tmp_path / "p.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(GanforgeError, match=words):
        DATASETS.get("points")(DataConfig(name="points", path=str(path)), 0)


def test_points_need_a_path_and_a_known_suffix(tmp_path):
    with pytest.raises(GanforgeError, match="data.path"):
        DATASETS.get("points")(DataConfig(name="points"), 0)
    (tmp_path / "p.txt").write_text("1,2\n")
    with pytest.raises(GanforgeError, match=".npy or .csv"):
        DATASETS.get("points")(DataConfig(name="points", path=str(tmp_path / "p.txt")), 0)
    np.save(tmp_path / "inf.npy", np.array([[1.0, np.inf], [0.0, 0.0]]))
    with pytest.raises(GanforgeError, match="infinite"):
        DATASETS.get("points")(DataConfig(name="points", path=str(tmp_path / "inf.npy")), 0)


def test_data_limit_keeps_the_first_items_of_a_finite_dataset():
    from ganforge.build import build_data
    from ganforge.config import load_config
    from ganforge.errors import GanforgeError

    cfg = load_config("digits", ["data.limit=200", "data.resolution=8"])
    data = build_data(cfg)
    assert len(data.images) == 200 and len(data.labels) == 200 and len(data.holdout[0]) == 360
    assert data.sample(450)[0].shape == (450, 1, 8, 8)  # epochs of 200 images
    with pytest.raises(GanforgeError, match="data.limit"):
        build_data(load_config("grid25", ["data.limit=10"]))
