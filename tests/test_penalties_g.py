"""Penalties on G: path-length regularisation's maths, and the G-penalty hook of the game
(weight, lazy interval with its gain and optimizer rescale, checkpointed state)."""

import json
import math

import pytest
import torch
from torch import nn

from ganforge.build import build_data, check_names
from ganforge.train.games import build_game
from ganforge.config import load_config
from ganforge.errors import GanforgeError
from ganforge.penalties import PL_DECAY, path_length, penalty_player
from test_train import assert_same_state, final_state, run


class Linear(nn.Module):
    """G(z) = A z: its Jacobian is A, so J^T u = A^T u exactly."""

    def __init__(self, A):
        super().__init__()
        self.A = nn.Parameter(A)

    def forward(self, z, y=None):
        return z @ self.A.T


def test_path_length_of_a_linear_generator_is_the_norm_of_A_transpose_u():
    torch.manual_seed(0)
    A = torch.randn(3, 2, dtype=torch.float64)
    G = Linear(A.clone())
    z = torch.randn(5, 2, dtype=torch.float64)
    gen = torch.Generator().manual_seed(7)
    state = {"pl_mean": torch.tensor(0.4, dtype=torch.float64)}
    value = path_length(G, z, None, gen, state=state)
    u = torch.randn((5, 3), generator=torch.Generator().manual_seed(7), dtype=torch.float32).double()  # spatial 1
    lengths = (u @ A).norm(dim=1)  # (5,) = ||A^T u_i||
    a = 0.4 + PL_DECAY * (lengths.mean() - 0.4)  # the moving average moves first
    assert state["pl_mean"].item() == pytest.approx(a.item(), rel=1e-6)
    assert value.item() == pytest.approx(((lengths - a) ** 2).mean().item(), rel=1e-5)


def test_path_length_gradient_matches_finite_differences(monkeypatch):
    """d penalty / d theta of a tiny two-layer G, autograd vs central differences (float64),
    with the random direction and the moving average held fixed (the average is a detached
    constant in the gradient, as in StyleGAN2; a decay of 0 keeps it fixed under the probes)."""
    monkeypatch.setattr("ganforge.penalties.PL_DECAY", 0.0)
    torch.manual_seed(1)
    G = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    G_call = lambda z, y=None: G(z)  # noqa: E731
    z = torch.randn(6, 3, dtype=torch.float64)

    class Wrap(nn.Module):
        def forward(self, z, y=None):
            return G_call(z)

    def penalty():
        state = {"pl_mean": torch.tensor(0.3, dtype=torch.float64)}
        return path_length(Wrap(), z, None, torch.Generator().manual_seed(3), state=state)

    params = list(G.parameters())
    grads = torch.autograd.grad(penalty(), params, allow_unused=True)  # the last bias moves no Jacobian
    grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]
    eps = 1e-6
    for p, g in zip(params, grads):
        for idx in [(0,) * p.dim(), tuple(s - 1 for s in p.shape)]:
            old = p[idx].item()
            values = []
            for x in (old + eps, old - eps):
                with torch.no_grad():
                    p[idx] = x
                values.append(penalty().item())  # the penalty takes its own input gradient
            with torch.no_grad():
                p[idx] = old
            up, down = values
            assert g[idx].item() == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-9)


def test_a_name_belongs_to_one_player_and_unknown_names_list_both():
    assert penalty_player("r1") == "D" and penalty_player("path_length") == "G"
    with pytest.raises(GanforgeError, match="path_length.*r1|r1.*path_length"):
        penalty_player("pl")


def test_lazy_g_penalty_every_interval_with_its_gain_and_rescaled_optimizer():
    cfg = load_config("grid25", ["model.g_width=8", "model.d_width=8", "train.batch_size=8", "train.d_steps=1",
                                 "reg.path_length.weight=2", "reg.path_length.interval=3", "optim.g_lr=1e-3",
                                 "optim.g_betas=[0.5,0.9]"])
    check_names(cfg)
    torch.manual_seed(0)
    data = build_data(cfg)
    game = build_game(cfg, data, torch.device("cpu"))
    c = 3 / 4
    group = game.players.opt_g.param_groups[0]
    assert group["lr"] == pytest.approx(1e-3 * c) and group["betas"] == pytest.approx((0.5 ** c, 0.9 ** c))
    assert game.players.opt_d.param_groups[0]["lr"] == pytest.approx(cfg.optim.d_lr)  # D untouched
    logged = [game.step(data.sample, 8, stats=True)["path_length"] for _ in range(7)]
    # computed on G updates 0, 3, 6; between them a log carries the latest value (the same tensor)
    fresh = [i == 0 or logged[i] is not logged[i - 1] for i in range(7)]
    assert fresh == [True, False, False, True, False, False, True]
    assert game.g_updates == 7 and "pl_mean" in game.state_dict()["penalties"]["path_length"]


def test_lazy_penalties_of_one_player_must_share_an_interval_but_players_may_differ():
    ok = load_config("grid25", ["reg.r1.weight=1", "reg.r1.interval=4", "reg.path_length.weight=1",
                                "reg.path_length.interval=8"])
    check_names(ok)
    bad = load_config("grid25", ["reg.r1.weight=1", "reg.r1.interval=4", "reg.r2.weight=1", "reg.r2.interval=8"])
    with pytest.raises(GanforgeError, match="lazy penalties on D must share one interval"):
        check_names(bad)


def test_resume_is_exact_with_a_lazy_g_penalty(tmp_path, tiny):
    extra = ["optim.schedule=constant", "train.ckpt_every=20", "reg.path_length.weight=1",
             "reg.path_length.interval=3", "train.d_steps=1"]
    run(tmp_path, "whole", tiny, "train.steps=40", *extra)
    run(tmp_path, "half", tiny, "train.steps=20", *extra)
    run(tmp_path, "half", tiny, "train.steps=40", *extra, resume=True)
    whole, half = final_state(tmp_path / "whole"), final_state(tmp_path / "half")
    assert_same_state(whole, half)
    assert whole["g_updates"] == 40 and whole["penalties"]["path_length"]["pl_mean"].item() > 0
    recs = [json.loads(x) for x in (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()]
    assert all(math.isfinite(r["path_length"]) for r in recs if "path_length" in r)
