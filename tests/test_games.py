"""The games' structure: the scheduler of the noise -> data phases (lazy intervals and their
gains, D steps, unrolling, reused fakes), the game registry, and what each game declares
(callbacks, visuals, its frozen policy)."""

import dataclasses
import functools

import pytest
import torch

from ganforge.build import build_data, check_names
from ganforge.config import load_config
from ganforge.errors import GanforgeError
from ganforge.models import MODELS
from ganforge.penalties import PenaltyTerm
from ganforge.train.callbacks import (DoctorCallback, EvaluationCallback, ImageToImageDoctorCallback,
                                      ImageToImageEvaluationCallback)
from ganforge.train.games import GAMES, Cycle, NoiseToData, Paired, SuperRes, TimeGANGame, build_game, \
    default_callbacks, game_class
from ganforge.train.games.latentgan import LatentGANGame
from ganforge.train.games.text2image import TextToImage
from ganforge.train.games.semi_supervised import SemiSupervised
from ganforge.train.games.i2i import I2IPolicy
from ganforge.train.games.phases import Main, Player, Regularisers, Scheduler, Update


def term(name, weight=1.0, interval=1):
    return PenaltyTerm(name, lambda *a, **k: torch.zeros(()), weight, interval)


LECAM, R1, PL = term("lecam", 0.5), term("r1", 0.1, 4), term("path_length", 2.0, 3)


# ----------------------------------------------------------------------------- the scheduler


def test_lazy_penalties_are_due_every_interval_updates_with_gain_interval():
    s = Scheduler((LECAM, R1), (PL,), d_steps=2)
    plan = s.plan(d_updates=0, g_updates=0)
    assert [u.reg.names for u in plan.d] == [("lecam", "r1"), ("lecam",)]  # D clocks 0 and 1
    assert plan.d[0].reg.gains == (1, 4) and plan.d[1].reg.gains == (1,)
    assert plan.g.reg.names == ("path_length",) and plan.g.reg.gains == (3,)
    assert [w for _, w in plan.d[0].reg.weighted()] == [0.5, 0.1 * 4]  # weight x gain
    later = s.plan(d_updates=2, g_updates=1)  # D clocks 2 and 3, G clock 1: no lazy penalty due
    assert [u.reg.names for u in later.d] == [("lecam",), ("lecam",)] and later.g.reg.names == ()
    assert s.plan(4, 3).d[0].reg.names == ("lecam", "r1") and s.plan(4, 3).g.reg.names == ("path_length",)


def test_a_lazy_penalty_keeps_its_mean_strength():
    """Over any whole number of intervals, the gains of a lazy penalty sum to the number of
    updates: its average weight is its configured weight (Karras et al. 2020)."""
    s = Scheduler((R1,), (), d_steps=3)
    gains = [g for k in range(0, 24, 3) for u in s.plan(k, 0).d for p, g in zip(u.reg.due, u.reg.gains)]
    assert len(gains) == 24 // 4 and sum(gains) == 24


def test_phases_are_typed_and_name_their_player():
    plan = Scheduler((R1,), (PL,)).plan(0, 0)
    (d,) = plan.d
    assert d == Update(Main(Player.D), Regularisers(Player.D, (R1,), (4,)))
    assert plan.g.main == Main(Player.G) and plan.g.reg.player is Player.G
    assert d.counted and not d.keep_fakes


def test_unrolled_look_ahead_carries_every_penalty_at_its_plain_weight_and_is_not_counted():
    s = Scheduler((LECAM, R1), (), d_steps=1, unroll_steps=3)
    plan = s.plan(1, 0)  # r1 is not due at D clock 1 ...
    assert plan.unroll_steps == 3 and plan.d[0].reg.names == ("lecam",)
    assert plan.ahead.reg.names == ("lecam", "r1") and plan.ahead.reg.gains == (1, 1)  # ... but each look-ahead has it
    assert not plan.ahead.counted and not plan.ahead.keep_fakes
    assert Scheduler().plan(0, 0).unroll_steps == 0


def test_only_the_counted_d_updates_keep_fakes_when_reusing():
    assert all(u.keep_fakes for u in Scheduler(reuse_fakes=True).plan(0, 0).d)
    assert not any(u.keep_fakes for u in Scheduler(reuse_fakes=False).plan(0, 0).d)
    assert not Scheduler(reuse_fakes=True, unroll_steps=2).plan(0, 0).ahead.keep_fakes


def _game(preset, *over):
    cfg = load_config(preset, ["model.g_width=8", "model.d_width=8", "model.g_depth=1", "model.d_depth=1", *over])
    check_names(cfg)
    torch.manual_seed(0)
    data = build_data(cfg)
    return build_game(cfg, data, torch.device("cpu")), data


def test_the_step_runs_the_penalties_its_plan_names():
    """Lazy r1 every 3rd D update, 2 D steps, 1 unrolled look-ahead: over 3 steps D updates at
    clocks 0..5 carry r1 at 0 and 3, and each of the 3 look-aheads carries it too."""
    game, data = _game("grid25", "reg.r1.weight=1", "reg.r1.interval=3", "train.d_steps=2", "train.unroll_steps=1")
    (r1,) = game.policy.d_penalties
    calls = []

    @functools.wraps(r1.fn)  # the same signature, so the term passes the same arguments
    def counted(*a, **k):
        calls.append(game.d_updates)
        return counted.__wrapped__(*a, **k)

    object.__setattr__(r1, "fn", counted)  # PenaltyTerm is frozen; the game holds this very term
    for _ in range(3):
        game.step(data.sample, 16)
    # step 1: clock 0, then the look-ahead (D at 2); step 2: clock 3, look-ahead; step 3: look-ahead
    assert calls == [0, 2, 3, 4, 6]
    assert game.d_updates == 6 and game.g_updates == 3


# ----------------------------------------------------------------------------- the registry


def test_the_game_registry_holds_every_model_game_and_names_the_valid_ones():
    assert GAMES.names() == ["cycle", "latentgan", "noise_to_data", "paired", "semi_supervised", "superres",
                             "text_to_image", "timegan"]
    assert {GAMES.get(n) for n in GAMES.names()} == {Cycle, LatentGANGame, NoiseToData, Paired, SemiSupervised, SuperRes,
                                                      TextToImage, TimeGANGame}
    for name in MODELS.names():
        GAMES.get(MODELS.get(name).game)  # every model's game is registered
    with pytest.raises(GanforgeError, match="game: unknown name 'chess'; choose one of: cycle, latentgan, "
                                            "noise_to_data, paired, semi_supervised, superres, text_to_image, "
                                            "timegan"):
        GAMES.get("chess")


def test_a_game_declares_its_callbacks_and_visuals():
    noise = load_config("grid25", [])
    assert game_class(noise) is NoiseToData
    assert [type(c) for c in default_callbacks(noise)] == [DoctorCallback, EvaluationCallback]
    off = load_config("grid25", ["doctor.enabled=false"])
    assert [type(c) for c in default_callbacks(off)] == [EvaluationCallback]
    assert NoiseToData.visuals is None and callable(Paired.visuals)
    for cls in (Paired, Cycle, SuperRes):
        assert [type(c) for c in cls.callbacks(noise)] == [ImageToImageDoctorCallback, ImageToImageEvaluationCallback]


def test_image_to_image_games_take_a_frozen_policy():
    cfg = load_config("grid25", ["model.scale=4", "data.resolution=32", "i2i.pool_size=7"])
    policy = I2IPolicy.of(cfg)
    assert (policy.scale, policy.resolution, policy.weights.pool_size) == (4, 32, 7)
    assert policy.d_lr == cfg.optim.d_lr and policy.g_lr == cfg.optim.g_lr
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.scale = 2


def test_players_state_round_trips_through_the_shared_helper():
    game, data = _game("grid25", "train.ema_beta=0.9")
    game.step(data.sample, 16)
    state = game.players.state_dict()
    assert list(state) == ["G", "D", "G_ema", "opt_g", "opt_d"]
    other, _ = _game("grid25", "train.ema_beta=0.9", "train.seed=1")
    other.players.load_state_dict(state)
    for a, b in zip(game.players.sampler.parameters(), other.players.sampler.parameters()):
        assert torch.equal(a, b)
    plain, _ = _game("grid25", "train.ema_beta=0.9")
    with pytest.raises(GanforgeError, match="no EMA weights"):
        plain.players.load_state_dict({**state, "G_ema": None})
