import math

import pytest
import torch

from ganforge.augment import OPS, Augment, augment, flip_translate, initial_p, parse_policy, translation, _rotate, _shift
from ganforge.build import build_augment, build_data, check_names, lazy_scale
from ganforge.train.games import build_game
from ganforge.config import load_config
from ganforge.errors import GanforgeError

ALL = tuple(OPS)


def images(b=8, c=3, r=8, seed=0):
    return torch.rand(b, c, r, r, generator=torch.Generator().manual_seed(seed)) * 2 - 1  # in [-1, 1]


@pytest.mark.parametrize("policy", [(name,) for name in ALL] + [ALL])
@pytest.mark.parametrize("shape", [(8, 3, 8, 8), (5, 1, 16, 16)])
def test_shapes_kept_and_gradients_reach_the_input(policy, shape):
    x = torch.rand(shape).requires_grad_(True)
    y = augment(x, policy, 1.0, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and torch.isfinite(y).all()
    y.pow(2).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("policy", [(name,) for name in ALL] + [ALL])
def test_p_zero_is_the_identity_and_draws_as_much_noise_as_p_one(policy):
    """The number of draws never depends on p, so turning p up or down keeps runs aligned."""
    x = images()
    g0, g1 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(augment(x, policy, torch.tensor(0.0), g0), x)
    assert not torch.equal(augment(x, policy, torch.tensor(1.0), g1), x)
    assert torch.equal(g0.get_state(), g1.get_state())


def test_same_seed_same_output_other_seed_other_output():
    x = images()
    a = augment(x, ALL, 0.5, torch.Generator().manual_seed(1))
    b = augment(x, ALL, 0.5, torch.Generator().manual_seed(1))
    c = augment(x, ALL, 0.5, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_p_is_the_chance_per_sample():
    x = images(b=2000, c=1, r=8)
    y = augment(x, ("color",), 0.3, torch.Generator().manual_seed(0))
    changed = (y != x).flatten(1).any(1).float().mean().item()
    assert changed == pytest.approx(0.3, abs=0.04)


def test_rotation_turns_pixels_about_the_centre():
    """A quarter turn of a square image is a 90-degree array rotation; a half turn of a non-square one
    flips both axes; no turn changes nothing."""
    sq, wide = images(b=2, c=2, r=5), torch.rand(2, 1, 4, 6, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(_rotate(sq, torch.full((2,), math.pi / 2)), torch.rot90(sq, 1, (2, 3)), atol=1e-5)
    assert torch.allclose(_rotate(wide, torch.full((2,), math.pi)), wide.flip(2, 3), atol=1e-5)
    assert torch.allclose(_rotate(wide, torch.zeros(2)), wide, atol=1e-6)
    # the classic small angles: a dot off the centre moves, the centre pixel of an odd image stays
    y = augment(sq, ("rotation",), 1.0, torch.Generator().manual_seed(0))
    assert not torch.allclose(y, sq) and torch.allclose(y[..., 2, 2], sq[..., 2, 2], atol=1e-5)


def test_shift_moves_pixels_and_fills_zeros():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    y = _shift(x, torch.tensor([1]), torch.tensor([-1]))  # down one row, left one column
    assert torch.equal(y[0, 0, 1:, :3], x[0, 0, :3, 1:])
    assert (y[0, 0, 0] == 0).all() and (y[0, 0, :, 3] == 0).all()


def test_translation_and_flip_keep_the_pixel_sum_of_a_centred_image():
    x = torch.zeros(6, 1, 16, 16)
    x[:, :, 2:14, 2:14] = 1.0  # a border of 2 = the largest shift, 16 / 8
    gen = torch.Generator().manual_seed(0)
    assert torch.equal(translation(x, gen).sum(dim=(1, 2, 3)), x.sum(dim=(1, 2, 3)))
    assert torch.equal(flip_translate(x, gen).sum(dim=(1, 2, 3)), x.sum(dim=(1, 2, 3)))


def test_ada_raises_p_when_D_is_sure_of_reals_and_lowers_it_otherwise():
    """r_t = E[sign(D(real))] over an interval of 2 D steps of 16 reals; step = 32 / (kimg 1000)."""
    aug = Augment(("translation",), p=0.5, target=0.6, interval=2, kimg=1.0)
    sure = torch.full((16,), 3.0)
    aug.observe(sure, 16, d_updates=1)
    assert aug.p.item() == 0.5  # mid-interval: p waits
    aug.observe(sure, 16, d_updates=2)
    assert aug.rt.item() == 1.0 and aug.p.item() == pytest.approx(0.5 + 32 / 1000)
    unsure = torch.tensor([1.0, -1.0] * 8)  # r_t = 0 < 0.6
    aug.observe(unsure, 16, 3)
    aug.observe(unsure, 16, 4)
    assert aug.rt.item() == 0.0 and aug.p.item() == pytest.approx(0.5)
    for t in range(5, 200):  # p stays in [0, 1]
        aug.observe(-sure, 16, t)
    assert aug.p.item() == 0.0 and aug.stats()["ada_rt"].item() == -1.0


def test_fixed_p_does_not_move_and_the_state_round_trips():
    fixed = Augment(("color",), p=0.7)
    fixed.observe(torch.ones(8), 8, 4)
    assert fixed.p.item() == pytest.approx(0.7) and set(fixed.stats()) == {"aug_p"}
    a = Augment(("color",), p=0.0, target=0.6, interval=4, kimg=1.0)
    a.observe(torch.ones(8), 8, 1)
    b = Augment(("color",), p=0.0, target=0.6, interval=4, kimg=1.0)
    b.load_state_dict(a.state_dict())
    for t in (2, 3, 4):
        a.observe(torch.ones(8), 8, t)
        b.observe(torch.ones(8), 8, t)
    assert torch.equal(a.p, b.p) and a.p.item() > 0


def test_config_defaults_and_policy_parsing():
    assert parse_policy(" translation, color ") == ("translation", "color") and parse_policy("") == ()
    assert initial_p(None, adaptive=False) == 1.0 and initial_p(None, adaptive=True) == 0.0
    assert initial_p(0.2, adaptive=True) == 0.2
    cfg = load_config("digits", ["augment.policy=translation,color", "augment.ada_target=0.6"])
    assert cfg.augment.policy == "translation,color" and cfg.augment.p is None


@pytest.mark.parametrize(
    "overrides, words",
    [
        (["augment.policy=rotate"], ["augment.policy", "rotate", "color, cutout, rotation, translation"]),
        (["augment.policy=color,color"], ["augment.policy", "once"]),
        (["augment.policy=color", "augment.p=1.5"], ["augment.p", "[0, 1]"]),
        (["augment.ada_target=0.6"], ["augment.ada_target", "augment.policy"]),
        (["augment.policy=color", "augment.ada_target=1"], ["augment.ada_target", "[0, 1)"]),
        (["augment.ada_interval=0"], ["augment.ada_interval", ">= 1"]),
        (["augment.ada_kimg=0"], ["augment.ada_kimg", "> 0"]),
        (["reg.r1.weight=1", "reg.r1.interval=4", "reg.lecam.weight=1", "reg.lecam.interval=8"],
         ["reg.lecam.interval=8", "reg.r1.interval=4", "same interval"]),
    ],
)
def test_bad_augment_and_lazy_settings_give_one_line_naming_the_key(overrides, words):
    with pytest.raises(GanforgeError) as e:
        check_names(load_config("digits", overrides))
    assert "\n" not in str(e.value)
    for w in words:
        assert w in str(e.value)


def test_augmentation_and_bcr_refuse_vector_data():
    cfg = load_config("grid25", ["augment.policy=translation"])
    with pytest.raises(GanforgeError, match="augment.policy"):
        build_augment(cfg, (2,), torch.device("cpu"))
    cfg = load_config("grid25", ["reg.bcr.weight=1"])
    with pytest.raises(GanforgeError, match="reg.bcr"):
        build_augment(cfg, (2,), torch.device("cpu"))
    assert build_augment(load_config("grid25"), (2,), torch.device("cpu")) is None


def test_lazy_regularisation_rescales_D_optimizer():
    """StyleGAN2: an R1 every N = 4 D steps -> D's lr x 0.8 and betas ** 0.8; G's untouched."""
    cfg = load_config("grid25", ["reg.r1.weight=1", "reg.r1.interval=4", "optim.d_lr=1e-3", "optim.d_betas=[0.5,0.9]"])
    torch.manual_seed(0)
    gan = build_game(cfg, build_data(cfg), torch.device("cpu"))
    group = gan.players.opt_d.param_groups[0]
    assert gan.policy.d_lr == pytest.approx(1e-3 * 0.8)  # the base rate the schedule scales
    assert group["lr"] == pytest.approx(1e-3 * 0.8)
    assert group["betas"] == pytest.approx((0.5 ** 0.8, 0.9 ** 0.8))
    assert gan.players.opt_g.param_groups[0]["lr"] == pytest.approx(cfg.optim.g_lr)
    assert lazy_scale(()) == 1.0
    plain_cfg = load_config("grid25", ["reg.r1.weight=1", "optim.d_betas=[0.5,0.8]"])
    plain = build_game(plain_cfg, build_data(plain_cfg), torch.device("cpu"))
    assert plain.policy.d_lr == plain_cfg.optim.d_lr and plain.players.opt_d.param_groups[0]["betas"] == (0.5, 0.8)


def test_D_judges_augmented_images_in_both_phases_and_logs_p():
    """With cutout at p = 1 every image D sees (B real + B fake per D step, B fake for G) has a
    zeroed square; G's samples themselves (tanh outputs) never are exactly zero there."""
    cfg = load_config("digits", ["data.resolution=8", "model.g_width=4", "model.d_width=4", "model.z_dim=8",
                                 "augment.policy=cutout", "augment.p=1"])
    torch.manual_seed(0)
    data = build_data(cfg)
    gan = build_game(cfg, data, torch.device("cpu"))
    seen = []
    gan.D.register_forward_hook(lambda m, inp, out: seen.append(inp[0].detach()))
    out = gan.step(data.sample, 8, stats=True)
    assert len(seen) == 3
    for x in seen:
        zero_area = (x == 0).flatten(1).sum(1)  # (B,) cutout: a 4 x 4 square, clipped at the border
        assert (zero_area >= 4).all()
    assert out["aug_p"].item() == 1.0 and "ada_rt" not in out
