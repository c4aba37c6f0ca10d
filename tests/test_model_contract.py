"""The contract every registered noise -> data model keeps, run over the whole registry: adding a
model to ``MODELS`` puts it under these tests with no edit here. Image-to-image models (whose G
takes images) have their own contract in ``test_img2img.py``."""

import inspect
import io

import pytest
import torch

from ganforge.config import load_config
from ganforge.errors import GanforgeError
from ganforge.models import MODELS


def _shape(spec):
    """A small sample shape the model can build: its smallest square image, a sequence (4 steps of
    2 features, so that z_dim = 8 reads as 2 noise values per step), a tile map, a clip of video or
    of sound, or a 2-D point."""
    if "sequence" in spec.kinds:
        return (4, 2)
    if "level" in spec.kinds:  # a tile map one-hot (C, H, W), not square
        return (5, 6, 10)
    if "video" in spec.kinds:  # a clip (C, T, H, W): 4 frames of 16 px
        return (1, 4, 16, 16)
    if "audio" in spec.kinds:  # a clip (L, 1): half a second at 4 kHz
        return (2000, 1)
    return (3, spec.resolutions[0], spec.resolutions[0]) if spec.images else (2,)


def _cfg(spec, *extra):
    return load_config("grid25", [f"model.name={spec.name}", "model.g_width=4", "model.d_width=4", "model.z_dim=8",
                                  "model.g_depth=1", "model.d_depth=1", *extra])


# noise -> data models built from a sample shape alone (a table's model needs its column layout:
# tests/test_tabular.py)
NOISE = [name for name in MODELS.names() if MODELS.get(name).game == "noise_to_data"
         and "layout" not in inspect.signature(MODELS.get(name).build).parameters]
CASES = [(name, cond, norm, g_norm) for name in NOISE for cond in (False, True)
         for norm in MODELS.get(name).d_norms for g_norm in MODELS.get(name).g_norms]


@pytest.mark.parametrize("name, conditional, norm, g_norm", CASES)
def test_shapes_finite_outputs_and_gradients_reach_both_players(name, conditional, norm, g_norm):
    spec = MODELS.get(name)
    cfg = _cfg(spec, f"model.d_norm={norm}", f"model.g_norm={g_norm}", f"model.conditional={str(conditional).lower()}")
    shape, k, B = _shape(spec), 3 if conditional else 0, 4
    spec.check(cfg, shape)
    torch.manual_seed(0)
    G, D = spec.build(cfg.model, shape, k)
    z = torch.randn(B, cfg.model.z_dim)
    y = torch.arange(B) % 3 if conditional else None
    fake = G(z, y)
    assert fake.shape == (B, *shape) and torch.isfinite(fake).all()
    logits = D(fake, y)
    assert logits.shape == (B,) and torch.isfinite(logits).all()
    logits.sum().backward()
    assert all(p.grad is not None for p in G.parameters() if p.requires_grad)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in D.parameters())


@pytest.mark.parametrize("name", NOISE)
def test_state_dict_round_trip_rebuilds_the_same_networks(name):
    spec = MODELS.get(name)
    cfg, shape = _cfg(spec), _shape(spec)
    torch.manual_seed(0)
    G, D = spec.build(cfg.model, shape, 0)
    torch.manual_seed(1)
    G2, D2 = spec.build(cfg.model, shape, 0)
    for a, b in ((G, G2), (D, D2)):
        buf = io.BytesIO()
        torch.save(a.state_dict(), buf)
        buf.seek(0)
        b.load_state_dict(torch.load(buf, weights_only=True))
    G.eval(), G2.eval(), D.eval(), D2.eval()
    z = torch.randn(4, cfg.model.z_dim)
    with torch.no_grad():
        assert torch.equal(G(z), G2(z)) and torch.equal(D(G(z)), D2(G(z)))


@pytest.mark.parametrize("name", NOISE)
def test_the_spec_refuses_what_the_model_cannot_build(name):
    spec = MODELS.get(name)
    with pytest.raises(GanforgeError, match="model.d_norm=nonsense"):
        spec.check(_cfg(spec, "model.d_norm=nonsense"), _shape(spec))
    with pytest.raises(GanforgeError, match="model.g_norm=nonsense"):
        spec.check(_cfg(spec, "model.g_norm=nonsense"), _shape(spec))
    if spec.images:
        lo, hi = spec.resolutions
        for bad in ((3, lo * 2, lo), (3, hi * 2, hi * 2), (3, lo + 1, lo + 1), (2,)):
            with pytest.raises(GanforgeError, match=f"model.name={name}"):
                spec.check(_cfg(spec), bad)


@pytest.mark.parametrize("name", NOISE)
def test_d_dropout_is_built_where_offered_and_refused_elsewhere(name):
    spec = MODELS.get(name)
    cfg, shape = _cfg(spec, "model.d_dropout=0.5"), _shape(spec)
    if not spec.d_dropout:
        with pytest.raises(GanforgeError, match="model.d_dropout=0.5"):
            spec.check(cfg, shape)
        return
    spec.check(cfg, shape)
    torch.manual_seed(0)
    _, D = spec.build(cfg.model, shape, 0)
    _, plain = spec.build(_cfg(spec).model, shape, 0)
    assert any(isinstance(m, torch.nn.Dropout) for m in D.modules())
    assert not any(isinstance(m, torch.nn.Dropout) for m in plain.modules())
    x = torch.rand(8, *shape)
    with torch.no_grad():
        assert not torch.equal(D(x), D(x))  # training mode: a fresh mask per call
        D.eval()
        assert torch.equal(D(x), D(x))  # eval mode (the doctor's probes, evaluation): no dropout


@pytest.mark.parametrize("name", NOISE)
def test_an_ema_of_d_is_refused_unless_d_classifies(name):
    spec = MODELS.get(name)
    if spec.classifies:
        return
    with pytest.raises(GanforgeError, match="train.d_ema_beta"):
        spec.check(_cfg(spec, "train.d_ema_beta=0.9"), _shape(spec))
