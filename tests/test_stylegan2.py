"""StyleGAN2: shapes at every size, the maths of its parts (demodulation, truncation, style
mixing, path length through w), conditioning, exact resume and the --truncation flag."""

import math

import pytest
import torch

from ganforge.config import ModelConfig, load_config
from ganforge.errors import GanforgeError
from ganforge.models import MODELS
from ganforge.models.stylegan2_layers import ModulatedConv2d
from ganforge.penalties import path_length
from ganforge.train.loop import train
from test_train import assert_same_state, final_state, images_no_eval  # noqa: F401  (a fixture)


def _build(res=8, n_classes=0, c=1, **kw):
    cfg = ModelConfig(name="stylegan2", z_dim=6, w_dim=5, mapping_depth=2, g_width=2, d_width=2, **kw)
    return MODELS.get("stylegan2").build(cfg, (c, res, res), n_classes)


@pytest.mark.parametrize("res", [8, 16, 32, 64, 128])
@pytest.mark.parametrize("n_classes", [0, 3])
def test_shapes_at_every_resolution(res, n_classes):
    torch.manual_seed(0)
    G, D = _build(res, n_classes, c=3)
    z, y = torch.randn(4, 6), (torch.arange(4) % 3 if n_classes else None)
    x = G(z, y)
    assert x.shape == (4, 3, res, res) and torch.isfinite(x).all()
    assert G.num_ws == 2 + 2 * int(math.log2(res / 4))
    assert G.mapping(z, y).shape == (4, 5)
    assert G.synthesis(G.mapping(z, y)[:, None].repeat(1, G.num_ws, 1), y).shape == x.shape
    assert D(x, y).shape == (4,)


def test_demodulation_keeps_unit_variance_at_init():
    torch.manual_seed(0)
    conv = ModulatedConv2d(64, 64, 3, w_dim=16)
    x = torch.randn(8, 64, 16, 16)
    w = torch.randn(8, 16) * 3  # styles far from 1: demodulation undoes their scale
    out = conv(x, w)[:, :, 1:-1, 1:-1]  # away from the zero padding
    assert out.std().item() == pytest.approx(1.0, abs=0.1)
    conv.demodulate = False
    assert abs(conv(x, w)[:, :, 1:-1, 1:-1].std().item() - 1) > 0.3  # without it the styles' scale shows


def test_truncation_psi_zero_is_w_avg_and_psi_one_is_identity():
    torch.manual_seed(0)
    G, _ = _build(16)
    G.train()
    for _ in range(3):
        G(torch.randn(8, 6))  # training forwards move w_avg
    assert G.w_avg.abs().sum() > 0 and "w_avg" in G.state_dict()
    G.eval()
    z = torch.randn(5, 6)
    with torch.no_grad():
        at_zero = G.truncated(0.0)(z)
        expected = G.synthesis(G.w_avg.expand(5, -1))
        assert torch.allclose(at_zero, expected, atol=1e-6)
        assert torch.allclose(at_zero, at_zero[:1].expand_as(at_zero), atol=1e-6)  # one image for every z
        assert torch.allclose(G.truncated(1.0)(z), G(z), atol=1e-6)
        assert not torch.allclose(G.truncated(0.5)(z), G(z), atol=1e-4)


def test_w_avg_is_a_moving_average_of_training_ws_only():
    torch.manual_seed(0)
    G, _ = _build(8)
    z = torch.randn(8, 6)
    G.eval()
    G(z)
    assert G.w_avg.abs().sum() == 0  # sampling leaves it alone
    G.train()
    G(z)
    with torch.no_grad():
        assert torch.allclose(G.w_avg, 0.005 * G.mapping(z).mean(0), atol=1e-6)


def test_style_mixing_two_ws_reach_different_layers():
    torch.manual_seed(0)
    G, _ = _build(16)
    G.eval()
    w1, w2 = torch.randn(2, 5), torch.randn(2, 5)
    with torch.no_grad():
        base = G.synthesis(torch.stack([w1] * G.num_ws, 1))
        for cut in (1, G.num_ws // 2, G.num_ws - 1):
            ws = torch.stack([w1] * cut + [w2] * (G.num_ws - cut), 1)  # (2, L, 5)
            mixed = G.synthesis(ws)
            assert not torch.allclose(mixed, base, atol=1e-5)  # the late layers follow w2
            assert not torch.allclose(mixed, G.synthesis(w2), atol=1e-5)  # the early ones still follow w1


def test_training_forward_mixes_with_mixing_prob():
    torch.manual_seed(0)
    G, _ = _build(16, mixing_prob=1.0)
    seen = []
    G.synthesis = lambda w, y=None: seen.append(w) or torch.zeros(1)  # record what synthesis receives
    G.train()
    G(torch.randn(3, 6))
    assert seen[-1].shape == (3, G.num_ws, 5)
    ws = seen[-1]
    assert not torch.equal(ws[:, 0], ws[:, -1])  # two ws, split at a crossover layer
    G.mixing_prob = 0.0
    G(torch.randn(3, 6))
    assert seen[-1].shape == (3, 5)


def test_path_length_gradient_matches_finite_differences_on_a_tiny_stylegan2(monkeypatch):
    monkeypatch.setattr("ganforge.penalties.PL_DECAY", 0.0)
    torch.manual_seed(0)
    G, _ = _build(8)
    G = G.double().eval()  # eval: fixed noise maps, so the penalty is a function of the weights
    with torch.no_grad():
        for layer in G.layers:
            layer.noise_strength.fill_(0.3)
    z = torch.randn(3, 6, dtype=torch.float64)

    def penalty():
        state = {"pl_mean": torch.tensor(0.2, dtype=torch.float64)}
        return path_length(G, z, None, torch.Generator().manual_seed(3), state=state)

    # (the mapping network is not in the graph: the penalty differentiates with respect to w)
    params = [G.layers[1].conv.weight, G.layers[0].conv.affine.weight, G.const, G.to_rgb[1].conv.weight]
    grads = torch.autograd.grad(penalty(), params)
    eps = 1e-6
    for p, g in zip(params, grads):
        for idx in [(0,) * p.dim(), tuple(s - 1 for s in p.shape)]:
            old = p[idx].item()
            values = []
            for x in (old + eps, old - eps):
                with torch.no_grad():
                    p[idx] = x
                values.append(penalty().item())
            with torch.no_grad():
                p[idx] = old
            assert g[idx].item() == pytest.approx((values[0] - values[1]) / (2 * eps), rel=1e-4, abs=1e-8)


def test_conditional_sampling_follows_the_class():
    torch.manual_seed(0)
    G, D = _build(8, n_classes=4)
    G.eval()
    z = torch.randn(1, 6).repeat(4, 1)  # one z, four classes
    with torch.no_grad():
        w = G.mapping(z, torch.arange(4))
        x = G(z, torch.arange(4))
        assert all(not torch.allclose(w[i], w[j]) for i in range(4) for j in range(i))
        assert all(not torch.allclose(x[i], x[j], atol=1e-5) for i in range(4) for j in range(i))
        assert torch.allclose(x[2], G(z[:1], torch.tensor([2]))[0], atol=1e-6)  # the same class, the same image
        assert not torch.allclose(D(x, torch.arange(4)), D(x, torch.zeros(4, dtype=torch.long)))  # projection


TINY_SG2 = ["model.name=stylegan2", "model.w_dim=8", "model.mapping_depth=1", "model.mixing_prob=0.5",
            "optim.schedule=constant", "train.d_steps=1", "train.ckpt_every=6", "reg.path_length.weight=1",
            "reg.path_length.interval=2", "reg.r1.weight=0.1", "reg.r1.interval=4", "train.ema_beta=0.9"]


def _run(tmp_path, name, images_no_eval, *overrides, resume=False):
    cfg = load_config("stylegan2_digits", images_no_eval + TINY_SG2 + list(overrides))
    out = tmp_path / name
    out.mkdir(exist_ok=True)
    return train(cfg, out, resume=resume)


def test_resume_is_exact_with_path_length_mixing_and_w_avg(tmp_path, images_no_eval):
    _run(tmp_path, "whole", images_no_eval, "train.steps=12")
    _run(tmp_path, "half", images_no_eval, "train.steps=6")
    _run(tmp_path, "half", images_no_eval, "train.steps=12", resume=True)
    whole, half = final_state(tmp_path / "whole"), final_state(tmp_path / "half")
    assert_same_state(whole, half)
    assert whole["penalties"]["path_length"]["pl_mean"].item() > 0
    assert whole["G"]["w_avg"].abs().sum() > 0 and torch.equal(whole["G_ema"]["model"]["w_avg"], whole["G"]["w_avg"])


@pytest.mark.parametrize("override, match", [
    ("model.mixing_prob=1.5", "model.mixing_prob"), ("model.mapping_depth=-1", "model.mapping_depth"),
    ("model.w_dim=-2", "model.w_dim"),
])
def test_bad_settings_give_one_line_errors(override, match):
    with pytest.raises(GanforgeError, match=match):
        load_config("stylegan2_digits", [override])


def test_spec_refuses_what_stylegan2_does_not_offer():
    from ganforge.build import build_models

    spec = MODELS.get("stylegan2")
    with pytest.raises(GanforgeError, match="model.d_norm=spectral"):
        spec.check(load_config("stylegan2_digits", ["model.d_norm=spectral"]), (1, 16, 16))
    with pytest.raises(GanforgeError, match="model.g_spectral"):
        build_models(load_config("stylegan2_digits", ["model.g_spectral=true"]), (1, 16, 16), 0)


def test_truncation_on_sample_interpolate_and_synth_via_the_cli(tmp_path, images_no_eval, capsys):
    from PIL import Image

    from ganforge.cli import main

    _run(tmp_path, "sg", images_no_eval, "train.steps=2", "reg.path_length.weight=0")
    cfg = load_config("digits", images_no_eval + ["train.steps=2"])
    (tmp_path / "dc").mkdir()
    train(cfg, tmp_path / "dc")
    sg, dc = str(tmp_path / "sg"), str(tmp_path / "dc")
    assert main(["sample", sg, "--n", "4", "--out", str(tmp_path / "t.png"), "--truncation", "0.5"]) == 0
    assert Image.open(tmp_path / "t.png").text["truncation"] == "0.5"  # the PNG says how it was drawn
    assert main(["interpolate", sg, "--out", str(tmp_path / "i.png"), "--rows", "1", "--steps", "3",
                 "--truncation", "0"]) == 0
    assert main(["synth", sg, "--n", "3", "--out", str(tmp_path / "s.npy"), "--truncation", "0.7"]) == 0
    capsys.readouterr()
    for args, words in (([dc, "--truncation", "0.5"], "no truncation trick"), ([sg, "--truncation", "1.5"], "[0, 1]")):
        assert main(["sample", *args[:1], "--n", "2", "--out", str(tmp_path / "x.png"), *args[1:]]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("ganforge: error:") and "\n" not in err and words in err, err
    assert main(["evaluate", dc, "--truncation", "0.5"]) == 2  # refused before any sample is measured
    assert "no truncation trick" in capsys.readouterr().err
