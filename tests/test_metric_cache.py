"""The on-disk cache of real-image features behind FID/KID: reused when nothing changed, never
when the data or the feature network did."""

import torch

from ganforge.metrics.features import Classifier, DigitNet
from ganforge.metrics.image import features_key, fid_kid, image_features


def clf(seed=0):
    torch.manual_seed(seed)
    return Classifier(DigitNet().eval(), 0.0, key=f"test-{seed}")


def images(n=40, seed=0):
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed))


def test_real_features_are_cached_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path))
    c, real = clf(), images()
    first = image_features(real, c, cache=True)
    files = list((tmp_path / "features").glob("real-*.pt"))
    assert len(files) == 1
    assert torch.equal(image_features(real, c, cache=True), first)
    assert torch.equal(image_features(real, c, cache=False), first)  # what the cache holds is what it stands for
    files[0].write_bytes(b"damaged")  # a damaged file is recomputed, not trusted
    assert torch.equal(image_features(real, c, cache=True), first)


def test_a_changed_dataset_or_network_never_reuses_stale_features():
    c, real = clf(), images()
    key = features_key(real, c)
    changed = real.clone()
    changed[3, 0, 2, 2] += 1e-3  # one pixel
    assert features_key(changed, c) != key
    assert features_key(real[:-1], c) != key
    other = clf()
    with torch.no_grad():
        next(other.net.parameters())[0].mul_(1.01)  # same cache key, other weights
    assert features_key(real, other) != key
    assert features_key(real, clf()) == key  # and a rebuilt, identical setup hits the cache


def test_fid_kid_cached_equals_uncached():
    c, real, fake = clf(), images(60), images(50, seed=1)

    def measure(cache):  # no reseeding here: KID's subsets come from fid_kid's own seed, not torch's RNG
        return fid_kid(real, fake, c, cache=cache)

    assert measure(False) == measure(True) == measure(True)
