"""Inception FID/KID from a weights file the user has: path checks, and (where torch-fidelity is
installed) the real Inception-v3 network, loaded from a local file and never downloaded."""

import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.metrics.inception import check_weights


class _NotAStateDict:  # pickled code: weights_only=True must refuse it
    pass


def test_missing_or_unsafe_weights_are_refused(tmp_path):
    with pytest.raises(GanforgeError, match="no such file"):
        check_weights(str(tmp_path / "nope.pth"))
    unsafe = tmp_path / "unsafe.pth"
    torch.save({"Mixed_7c.w": _NotAStateDict()}, unsafe)
    with pytest.raises(GanforgeError, match="not a plain PyTorch state dict"):
        check_weights(str(unsafe))
    other = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, other)
    with pytest.raises(GanforgeError, match="does not hold Inception-v3"):
        check_weights(str(other))


def test_without_torch_fidelity_the_error_says_what_to_install(tmp_path, monkeypatch):
    import torchmetrics.utilities.imports as imports

    from ganforge.metrics.inception import inception_fid_kid

    monkeypatch.setattr(imports, "_TORCH_FIDELITY_AVAILABLE", False)
    path = tmp_path / "inception.pth"
    torch.save({"Mixed_7c.branch1x1.conv.weight": torch.zeros(1)}, path)
    x = torch.rand(4, 1, 16, 16)
    with pytest.raises(GanforgeError, match="pip install torch-fidelity"):
        inception_fid_kid(x, x, str(path))


def test_cli_evaluate_rejects_a_missing_weights_file(tmp_path, capsys):
    from ganforge.cli import main

    run = tmp_path / "r"
    assert main(["train", "--out", str(run), "train.steps=2", "train.progress=false", "train.tensorboard=false",
                 "eval.every=0", "eval.n_samples=20", "train.sample_every=0", "doctor.enabled=false"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--inception-weights", str(tmp_path / "none.pth")]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.fixture(scope="module")
def random_inception(tmp_path_factory):
    """A file of randomly initialised Inception-v3 weights in torch-fidelity's layout: the
    architecture is real, only the numbers are not the published ones."""
    fe = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3")
    from unittest import mock

    def no_download(*a, **k):
        raise AssertionError("tried to download")

    with mock.patch.object(fe, "load_state_dict_from_url", no_download), \
            mock.patch.object(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd, strict=True: None), \
            mock.patch.object(fe.torch, "load", lambda *a, **k: {}):
        torch.manual_seed(0)
        net = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path="x")
    for m in net.modules():  # He initialisation, so that signal survives ~100 random layers
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    path = tmp_path_factory.mktemp("inception") / "pt_inception-random.pth"
    torch.save(torch.nn.Module.state_dict(net), path)
    return path


def test_inception_fid_from_a_local_file_never_downloads(random_inception, monkeypatch):
    import torch.hub

    from ganforge.metrics.inception import inception_fid_kid

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda *a, **k: pytest.fail("download attempted"))
    g = torch.Generator().manual_seed(0)
    real = torch.rand(40, 1, 16, 16, generator=g)
    same = inception_fid_kid(real, real.clone(), str(random_inception), batch_size=20)
    other = inception_fid_kid(real, torch.rand(40, 1, 16, 16, generator=g).pow(4), str(random_inception),
                              batch_size=20)
    assert same["fid"] == pytest.approx(0.0, abs=1e-2)
    assert other["fid"] > same["fid"] + 1e-3
    assert "Inception-v3 pool3" in same["fid_feature_space"] and str(random_inception) in same["fid_feature_space"]
