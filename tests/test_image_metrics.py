import math

import numpy as np
import pytest
import torch

from ganforge.data.images import digits_split
from ganforge.metrics.features import digit_classifier
from ganforge.metrics.distances import class_histogram_kl, classifier_score, prdc
from ganforge.metrics.image import image_metrics


def test_digit_classifier_is_accurate_and_cached(_classifier_cache):
    clf = digit_classifier()
    assert clf.test_accuracy >= 0.97
    files = list(_classifier_cache.glob("digit-classifier-*.pt"))
    assert len(files) == 1 and clf.key in files[0].name
    assert torch.load(files[0], weights_only=True)["test_accuracy"] == clf.test_accuracy


def test_prdc_extremes():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(300, 8, generator=g)
    same = prdc(a, a.clone())
    assert same["precision"] == 1.0 and same["recall"] == 1.0 and same["coverage"] == 1.0
    # each fake sits on its own real point (1 hit) and in the balls of the k = 5 reals that have
    # it among their 5 nearest neighbours (5 hits on average): density (1 + 5) / 5
    assert same["density"] == pytest.approx(1.2, abs=0.01)  # (ties at a radius may round either way)
    other = prdc(a, torch.randn(300, 8, generator=g))  # an independent sample of the same law
    assert 0.7 < other["density"] < 1.3 and other["precision"] > 0.6 and other["recall"] > 0.6
    far = prdc(a, a + 100)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}
    half = prdc(a, a[:150] * 0.01 + 0)  # fakes collapsed to the centre: precise, little recall
    assert half["recall"] < 0.5


def test_histogram_kl_and_classifier_score():
    assert class_histogram_kl(torch.arange(100) % 10, 10) == (10, pytest.approx(0.0, abs=1e-12))
    assert class_histogram_kl(torch.zeros(50, dtype=torch.long), 10) == (1, pytest.approx(math.log(10)))
    sharp = torch.eye(10).repeat(5, 1) * 50
    assert classifier_score(sharp) == pytest.approx(10, rel=1e-3)
    assert classifier_score(torch.zeros(20, 10)) == pytest.approx(1.0)


def test_real_digits_score_as_real():
    (xtr, _), (xte, yte) = digits_split()
    real = torch.from_numpy(xtr)[:, None]
    test = torch.from_numpy(xte)[:, None]
    m = image_metrics(test, real, digit_classifier(), seed=0, labels=torch.from_numpy(yte))
    assert m["classes"] == 10 and m["class_kl"] < 0.05 and m["class_accuracy"] >= 0.97
    noise = torch.rand(360, 1, 8, 8)
    bad = image_metrics(noise, real, digit_classifier(), seed=0)
    assert bad["fid"] > 5 * m["fid"] and bad["precision"] < m["precision"]
    assert m["provenance"]["n_real"] == 1437 and "digit classifier" in m["provenance"]["feature_space"]


def test_labelled_user_images_are_measured_with_a_classifier_trained_on_their_labels(tmp_path):
    """A folder of two classes (bright top half vs bright left half): ganforge trains a classifier
    on their labels, reports its feature space, and the real images score as real."""
    from PIL import Image

    from ganforge.config import DataConfig
    from ganforge.data import DATASETS
    from ganforge.evaluation import sample_metrics

    g = np.random.default_rng(0)
    for cls in ("top", "left"):
        (tmp_path / cls).mkdir()
        for i in range(60):
            a = (g.random((16, 16)) * 60).astype(np.uint8)
            if cls == "top":
                a[:8] += 150
            else:
                a[:, :8] += 150
            Image.fromarray(a).save(tmp_path / cls / f"{i}.png")
    data = DATASETS.get("folder")(DataConfig(name="folder", path=str(tmp_path), resolution=16, channels=1), 0)
    real = data.reference(120, seed=1)
    m = sample_metrics(real, data, seed=2)
    assert "trained on this dataset's labels" in m["provenance"]["feature_space"]
    assert m["n_classes"] == 2 and m["classes"] == 2 and m["class_kl"] < 0.05
    assert m["precision"] > 0.9 and m["recall"] > 0.9
    blank = torch.zeros(120, 1, 16, 16)  # one flat image: a collapsed generator
    bad = sample_metrics(blank, data, seed=2)
    assert bad["classes"] == 1 and bad["fid"] > m["fid"] + 10 and bad["coverage"] < 0.1


def test_the_digit_classifier_trains_to_the_same_weights_on_any_thread_count(monkeypatch):
    # its weights define the feature space of every digits FID: they must not depend on how many
    # threads the process that first trained it had (1 vs 2 threads gave different weights before)
    import hashlib

    import torch

    from ganforge.metrics import features

    monkeypatch.setitem(features.RECIPE, "epochs", 1)
    xtr, ytr, xte, yte = features._data()
    xtr, ytr = xtr[:512], ytr[:512]
    seen = []
    old = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            net, _ = features.train_classifier(xtr, ytr, xte, yte)
            assert torch.get_num_threads() == threads  # the caller's setting is restored
            h = hashlib.sha256(b"".join(v.numpy().tobytes() for v in net.state_dict().values()))
            seen.append(h.hexdigest())
    finally:
        torch.set_num_threads(old)
    assert seen[0] == seen[1]
