"""Stabilisation remedies: D normalisations, spectral norm on G, minibatch std, ensembles of
D's, one-sided label smoothing, instance noise, unrolled D; and the remedies that were there
before (TTUR, EMA)."""

import copy
import json
import math

import pytest
import torch
from torch import nn

from ganforge.build import build_data
from ganforge.train.games import build_game
from ganforge.config import load_config
from ganforge.errors import GanforgeError
from ganforge.losses import build_loss, smooth_real_labels
from ganforge.models.layers import MinibatchStd
from ganforge.penalties import gradient_penalty, r1
from ganforge.train.checkpoint import load_checkpoint
from ganforge.train.loop import train
from ganforge.train.d_input import noised
from ganforge.train.games import StepValues
from ganforge.train.unroll import lookahead
from ganforge.train.runtime import Runtime
from ganforge.train.schedule import instance_noise_std
from test_train import assert_same_state, final_state


def make(preset, *overrides):
    cfg = load_config(preset, list(overrides))
    torch.manual_seed(0)
    data = build_data(cfg)
    return cfg, data, build_game(cfg, data, torch.device("cpu"))


def images(*overrides):
    return make("digits", "data.resolution=16", "model.g_width=4", "model.d_width=4", "model.z_dim=8",
                "train.batch_size=8", *overrides)


def points(*overrides):
    return make("grid25", "model.g_width=8", "model.d_width=8", "train.batch_size=16", *overrides)


def spectral_layers(module):
    return [m for m in module.modules() if hasattr(m, "parametrizations")]


def sigma(layer):
    """The largest singular value of the weight the layer uses (spectral_norm's own reshape)."""
    sn = layer.parametrizations.weight[0]
    return torch.linalg.matrix_norm(sn._reshape_weight_to_matrix(layer.weight.detach()), ord=2).item()


def d_grads_finite(gan, x, y):
    gan.D.zero_grad()
    gan.D(x, y).square().mean().backward()
    grads = [p.grad for p in gan.D.parameters()]
    return all(g is not None and torch.isfinite(g).all() for g in grads)


# ---------------------------------------------------------------- normalisation
@pytest.mark.parametrize("norm, kind", [("none", None), ("batch", nn.BatchNorm2d), ("spectral", None),
                                        ("instance", nn.InstanceNorm2d), ("layer", nn.GroupNorm)])
@pytest.mark.parametrize("extra", [[], ["model.conditional=true", "model.pac=2", "model.mbstd=2"]])
def test_dcgan_d_norms_shapes_and_gradients(norm, kind, extra):
    cfg, data, gan = images(f"model.d_norm={norm}", *extra)
    if kind is not None:
        assert any(isinstance(m, kind) for m in gan.D.modules())
    assert bool(spectral_layers(gan.D)) == (norm == "spectral")
    x, y = data.sample(8)
    y = y if cfg.model.conditional else None
    assert gan.D(x, y).shape == (8 // cfg.model.pac,)
    assert d_grads_finite(gan, x, y)


@pytest.mark.parametrize("norm", ["none", "spectral", "layer"])
def test_mlp_d_norms_shapes_and_gradients(norm):
    cfg, data, gan = points(f"model.d_norm={norm}", "model.mbstd=4")
    x, _ = data.sample(16)
    assert gan.D(x).shape == (16,) and d_grads_finite(gan, x, None)
    assert any(isinstance(m, nn.LayerNorm) for m in gan.D.modules()) == (norm == "layer")
    assert len(spectral_layers(gan.D)) == (cfg.model.d_depth + 1 if norm == "spectral" else 0)


def test_mlp_rejects_instance_norm():
    cfg = load_config("grid25", ["model.d_norm=instance"])
    with pytest.raises(GanforgeError, match="model.d_norm=instance: model.name=mlp offers none, spectral, layer, batch"):
        build_game(cfg, build_data(cfg), torch.device("cpu"))
    cfg = load_config("digits", ["model.d_norm=group"])
    with pytest.raises(GanforgeError, match="model.d_norm=group: model.name=dcgan offers none, batch"):
        build_game(cfg, build_data(cfg), torch.device("cpu"))


def test_spectral_norm_on_g_keeps_batch_norm_and_dcgan_init():
    """SN on G's transposed convolutions; the DCGAN init reaches the weights under SN, and the
    power iteration is refreshed after it, so every normalised weight starts at sigma ~ 1."""
    _, _, gan = images("model.g_spectral=true", "model.d_norm=spectral", "data.resolution=32")
    G = gan.G
    layers = spectral_layers(G)
    assert len(layers) == len(G.convs) + 1  # every (transposed) convolution, to_image included
    assert all(isinstance(n, nn.BatchNorm2d) for n in G.norms)
    for layer in layers:
        assert layer.parametrizations.weight.original.std().item() == pytest.approx(0.02, rel=0.25)
    for layer in layers + spectral_layers(gan.D):
        assert sigma(layer) == pytest.approx(1.0, abs=1e-3)
    z = gan.prior.sample(4, gan.gen)
    G.zero_grad()
    G(z).mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in G.parameters())
    _, _, gan = points("model.g_spectral=true")
    assert len(spectral_layers(gan.G)) == sum(isinstance(m, nn.Linear) for m in gan.G.net) == 4  # every linear layer


# ---------------------------------------------------------------- minibatch standard deviation
def test_mbstd_value_by_hand():
    """Groups of 2 in a batch of 4 are {0, 2} and {1, 3} (sample i is in group i mod N/g)."""
    x = torch.tensor([[0.0, 0.0], [1.0, 2.0], [2.0, 4.0], [3.0, 2.0]])
    out = MinibatchStd(2)(x)
    # group {0, 2}: per-feature std |0 - 2| / 2 = 1, |0 - 4| / 2 = 2 -> 1.5; group {1, 3}: 1, 0 -> 0.5
    assert out.shape == (4, 3) and torch.equal(out[:, :2], x)
    assert torch.allclose(out[:, 2], torch.tensor([1.5, 0.5, 1.5, 0.5]), atol=1e-4)
    # images: the statistic is a constant extra channel, averaged over channels and positions
    img = torch.zeros(2, 1, 2, 2)
    img[1] = torch.tensor([[2.0, 0.0], [0.0, 2.0]])  # stds over the pair: 1, 0, 0, 1 -> 0.5
    out = MinibatchStd(4)(img)  # a group larger than the batch: min(4, 2) = 2
    assert out.shape == (2, 2, 2, 2) and torch.allclose(out[:, 1], torch.full((2, 2, 2), 0.5), atol=1e-4)


def test_mbstd_needs_a_divisible_batch_and_acts_on_the_packed_batch():
    with pytest.raises(GanforgeError, match="model.mbstd=4.*batch of 6"):
        MinibatchStd(4)(torch.randn(6, 3))
    with pytest.raises(GanforgeError, match="train.batch_size.*multiple of the minibatch-std group"):
        load_config("grid25", ["model.mbstd=3", "train.batch_size=32"])
    with pytest.raises(GanforgeError, match="model.mbstd"):
        load_config("grid25", ["model.mbstd=1"])
    load_config("grid25", ["model.mbstd=3", "model.pac=2", "train.batch_size=24", "doctor.probe_n=24"])  # 12 % 3 == 0
    _, data, gan = points("model.pac=2", "model.mbstd=4")
    seen = []
    gan.D.mbstd.register_forward_hook(lambda m, inp, out: seen.append((inp[0].shape, out.shape)))
    gan.D(data.sample(16)[0])
    assert seen == [((8, 8), (8, 9))]  # 16 samples in packs of 2: 8 rows reach the layer


def test_mbstd_sees_diversity():
    """Same features for every sample (a collapsed batch) -> the extra feature is ~0."""
    layer = MinibatchStd(4)
    assert layer(torch.ones(8, 5))[:, -1].abs().max() < 1e-3
    assert layer(torch.randn(8, 5))[:, -1].min() > 0.1


# ---------------------------------------------------------------- ensemble of discriminators
def test_ensemble_members_are_independent_and_the_losses_are_member_means():
    _, data, gan = points("model.d_ensemble=3")
    D, K = gan.D, 3
    assert len(D.members) == K
    assert not torch.equal(D.members[0].head.weight, D.members[1].head.weight)  # independent inits
    _, _, single = points()
    assert_same_state(D.members[0].state_dict(), single.D.state_dict())  # member 0 = the single D
    real, fake = data.sample(16)[0], torch.randn(16, 2)
    logits = D(real)
    assert logits.shape == (K * 16,) and torch.equal(D.split(logits)[1], D.members[1](real))

    loss = gan.policy.loss
    D.zero_grad()
    loss.d_loss(D(real), D(fake)).backward()
    for k, member in enumerate(D.members):
        ref = copy.deepcopy(member)
        (loss.d_loss(ref(real), ref(fake)) / K).backward()  # its own loss, nothing from the others
        for p, q in zip(member.parameters(), ref.parameters()):
            assert torch.allclose(p.grad, q.grad, atol=1e-6)
    fl = D(fake)
    member_losses = [loss.g_loss(m(fake)) for m in D.members]
    assert loss.g_loss(fl).item() == pytest.approx(torch.stack(member_losses).mean().item(), rel=1e-6)
    assert torch.sigmoid(fl).mean().item() == pytest.approx(
        torch.stack([torch.sigmoid(m(fake)).mean() for m in D.members]).mean().item(), rel=1e-6)


def test_ensemble_penalties_are_per_member():
    """R1 and the gradient penalty of an ensemble = the mean of the members' own penalties, not
    a penalty on the gradient of their summed logits."""
    _, data, gan = points("model.d_ensemble=2")
    real, fake = data.sample(16)[0], torch.randn(16, 2)
    members = gan.D.members
    assert r1(gan.D, real, fake).item() == pytest.approx(
        sum(r1(m, real, fake).item() for m in members) / 2, rel=1e-5)
    per_member = [gradient_penalty(m, real, fake, torch.Generator().manual_seed(3)).item() for m in members]
    gp = gradient_penalty(gan.D, real, fake, torch.Generator().manual_seed(3)).item()
    assert gp == pytest.approx(sum(per_member) / 2, rel=1e-5)
    x = real.clone().requires_grad_(True)
    (grad_of_sum,) = torch.autograd.grad(gan.D(x).sum(), x)
    mixed = 0.5 * grad_of_sum.pow(2).sum(1).mean().item()  # the wrong penalty: on the members' sum
    assert r1(gan.D, real, fake).item() != pytest.approx(mixed, rel=1e-3)


def test_ensemble_with_conditional_pac_dcgan():
    cfg, data, gan = images("model.d_ensemble=2", "model.conditional=true", "model.pac=2", "model.mbstd=2")
    x, y = data.sample(8)
    assert gan.D(x, y).shape == (2 * 4,) and d_grads_finite(gan, x, y)
    out = gan.step(data.sample, 8, stats=True)
    assert all(torch.isfinite(v) for v in out.values()) and 0 < out["d_real"] < 1


# ---------------------------------------------------------------- one-sided label smoothing
def test_label_smoothing_value_by_hand():
    r, f = torch.tensor([math.log(3)]), torch.tensor([math.log(1 / 3)])  # D(x) = 3/4, D(G(z)) = 1/4
    s = 0.1
    expected = -(1 - s) * math.log(0.75) - s * math.log(0.25) - math.log(0.75)
    for name in ("minimax", "non_saturating"):
        loss = smooth_real_labels(build_loss(name), s)
        assert loss.d_loss(r, f).item() == pytest.approx(expected, rel=1e-6)
        assert loss.g_loss(f).item() == build_loss(name).g_loss(f).item()  # G's loss is unchanged
    # D's optimum on reals is now D(x) = 1 - s: zero gradient at logit log((1 - s) / s)
    l_star = torch.tensor([math.log((1 - s) / s)], requires_grad=True)
    smooth_real_labels(build_loss("non_saturating"), s).d_loss(l_star, torch.zeros(1)).backward()
    assert abs(l_star.grad.item()) < 1e-6
    plain = build_loss("non_saturating")
    assert smooth_real_labels(plain, 0.0) is plain


def test_label_smoothing_only_for_cross_entropy_losses():
    for name in ("hinge", "wasserstein", "wgan_gp", "least_squares"):
        with pytest.raises(GanforgeError, match=f"loss.label_smoothing.*loss.name={name}"):
            load_config("grid25", [f"loss.name={name}", "loss.label_smoothing=0.1"])
    with pytest.raises(GanforgeError, match="cross-entropy"):
        smooth_real_labels(build_loss("hinge"), 0.1)
    with pytest.raises(GanforgeError, match=r"\[0, 0.5\)"):
        load_config("grid25", ["loss.label_smoothing=0.6"])
    _, _, gan = points("loss.label_smoothing=0.2")
    r = torch.zeros(4)
    assert gan.policy.loss.d_loss(r, r).item() == pytest.approx(2 * math.log(2))  # at logit 0 the target does not matter


# ---------------------------------------------------------------- instance noise
def test_instance_noise_schedule():
    assert instance_noise_std(0.5, 1, 100) == 0.5
    assert instance_noise_std(0.5, 51, 100) == pytest.approx(0.25)
    assert instance_noise_std(0.5, 100, 100) == pytest.approx(0.005)
    assert instance_noise_std(0.5, 101, 100) == 0.0 and instance_noise_std(0.5, 5000, 100) == 0.0
    assert instance_noise_std(0.0, 1, 100) == 0.0
    with pytest.raises(GanforgeError, match="train.instance_noise"):
        load_config("grid25", ["train.instance_noise=-1"])


def test_instance_noise_off_is_a_no_op_and_on_draws_from_the_run_generator():
    _, data, gan = points("train.d_steps=1")
    x = data.sample(16)[0]
    state = gan.gen.get_state()
    assert noised(x, gan.gen, 0.0) is x and torch.equal(gan.gen.get_state(), state)  # no draw at sigma 0
    noisy = noised(x, gan.gen, 0.5)
    expected = x + 0.5 * torch.randn(x.shape, generator=torch.Generator().set_state(state))
    assert torch.allclose(noisy, expected)
    # every D input of a step is noisy: reals and fakes in D's update, fakes in G's
    seen = []
    hook = gan.D.register_forward_hook(lambda m, inp, out: seen.append(inp[0]))
    gan.step(data.sample, 16, StepValues(instance_noise=100.0))
    hook.remove()
    assert len(seen) == 3 and all(t.std() > 20 for t in seen)


# ---------------------------------------------------------------- unrolled D
@pytest.mark.parametrize("extra", [["model.d_norm=spectral"], ["model.d_ensemble=2", "reg.r1.weight=1"]])
def test_unroll_restores_d_exactly_and_changes_g_gradient(extra):
    _, data, gan = points("train.unroll_steps=3", *extra)
    gan.step(data.sample, 16)  # Adam has moments to restore
    d_before = copy.deepcopy(gan.D.state_dict())
    opt_before = copy.deepcopy(gan.players.opt_d.state_dict())
    z = gan.prior.sample(16, torch.Generator().manual_seed(5))

    def g_grad():  # D in eval mode: its spectral-norm power iteration leaves the buffers alone
        gan.G.zero_grad()
        gan.policy.loss.g_loss(gan.D.eval()(gan.G(z))).backward()
        gan.D.train()
        return torch.cat([p.grad.flatten() for p in gan.G.parameters()])

    g_plain = g_grad()
    rt = Runtime.plain(gan.G, gan.D)
    with lookahead(gan.D, gan.players.opt_d, 3,
                   lambda: gan.d_update(gan.scheduler.ahead, data.sample, 16, StepValues(), rt)):
        g_unrolled = g_grad()
    assert_same_state(gan.D.state_dict(), d_before)
    assert_same_state(gan.players.opt_d.state_dict(), opt_before)
    assert not torch.allclose(g_plain, g_unrolled)
    assert torch.equal(g_grad(), g_plain)
    with lookahead(gan.D, gan.players.opt_d, 0, lambda: pytest.fail("unrolled while off")):  # off at 0 steps
        pass


def test_unrolled_updates_leave_no_trace_in_the_step_counts():
    _, data, gan = points("train.unroll_steps=2", "train.d_steps=2")
    for _ in range(3):
        gan.step(data.sample, 16, stats=True)
    assert gan.d_updates == 6 and gan.g_updates == 3
    assert gan.players.opt_d.state[next(gan.D.parameters())]["step"].item() == 6  # only the real D updates
    assert gan.players.opt_g.state[next(gan.G.parameters())]["step"].item() == 3


# ---------------------------------------------------------------- the remedies that were there
def test_ttur_rates_reach_their_optimizers(tmp_path, tiny):
    cfg = load_config("grid25", tiny + ["train.steps=3", "optim.schedule=constant", "optim.g_lr=1e-4", "optim.d_lr=4e-4"])
    (tmp_path / "r").mkdir()
    train(cfg, tmp_path / "r")
    ckpt = load_checkpoint(tmp_path / "r")
    assert ckpt["opt_g"]["param_groups"][0]["lr"] == pytest.approx(1e-4)
    assert ckpt["opt_d"]["param_groups"][0]["lr"] == pytest.approx(4e-4)


def test_ema_ramp_up():
    from ganforge.train.ema import EMA

    G = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(G.weight)
    ema = EMA(G, 0.999)
    nn.init.ones_(G.weight)
    ema.update(G)  # beta_0 = min(0.999, 1 / 10) = 0.1: 0.1 * 0 + 0.9 * 1
    assert ema.model.weight.item() == pytest.approx(0.9)
    ema.update(G)
    assert ema.model.weight.item() == pytest.approx(0.9 * (2 / 11) + (9 / 11))


class _BNG(nn.Module):
    """z (B, 2) -> linear -> batch norm -> (B, 3): G's shape for the statistics test."""

    def __init__(self):
        super().__init__()
        self.lin, self.bn = nn.Linear(2, 3), nn.BatchNorm1d(3)

    def forward(self, z, y=None):
        return self.bn(self.lin(z))


def test_ema_batch_norm_statistics_are_its_own_weights_and_touch_nothing_else():
    from ganforge.train.ema import EMA

    torch.manual_seed(0)
    G = _BNG()
    ema = EMA(G, 0.5)
    with torch.no_grad():
        G.lin.weight.mul_(3.0).add_(1.0)  # G moves away from G_ema's weights
        G(torch.randn(64, 2))  # G's own running statistics (train mode)
    ema.update(G)
    assert torch.equal(ema.model.bn.running_mean, G.bn.running_mean)  # copied: G's, not G_ema's
    batches = [(torch.randn(16, 2), None) for _ in range(4)]
    rng = torch.get_rng_state()
    assert ema.refresh_stats(batches)
    assert torch.equal(torch.get_rng_state(), rng)
    with torch.no_grad():  # by hand: the plain average over the 4 batches of G_ema's pre-norm activations
        h = [ema.model.lin(z) for z, _ in batches]
    assert torch.allclose(ema.model.bn.running_mean, torch.stack([a.mean(0) for a in h]).mean(0), atol=1e-6)
    assert torch.allclose(ema.model.bn.running_var, torch.stack([a.var(0) for a in h]).mean(0), atol=1e-5)
    assert not ema.model.training and not ema.model.bn.training and ema.model.bn.momentum == 0.1
    assert not ema.refresh_stats(batches)  # fresh: nothing to do until the next update
    plain = EMA(nn.Linear(2, 3), 0.5)
    plain.update(nn.Linear(2, 3))
    assert not plain.refresh_stats(batches)  # no batch norm: nothing to re-estimate


def test_a_run_saves_g_ema_with_its_own_statistics(tmp_path):
    cfg = load_config("digits", ["data.resolution=8", "model.g_width=4", "model.d_width=4", "model.z_dim=8",
                                 "train.batch_size=16", "train.steps=6", "train.ckpt_every=6", "train.ema_beta=0.9",
                                 "eval.every=0", "eval.n_samples=20", "train.sample_every=0", "train.progress=false",
                                 "train.tensorboard=false", "train.threads=1", "doctor.enabled=false"])
    (tmp_path / "r").mkdir()
    train(cfg, tmp_path / "r", callbacks=[])
    ckpt = load_checkpoint(tmp_path / "r")
    g, e = ckpt["G"], ckpt["G_ema"]["model"]
    means = [k for k in g if k.endswith("running_mean")]
    assert means and all(not torch.equal(g[k], e[k]) for k in means)  # not G's copied statistics
    import types

    from ganforge.train.ema import EMA
    from ganforge.train.games.base import GameBase
    from ganforge.trained import load_run

    r = load_run(tmp_path / "r", ema=True)
    ema = EMA(r.G, 0.9)
    ema.model.load_state_dict({k: (g[k] if k in means or "running_var" in k or "num_batches" in k else v)
                               for k, v in e.items()})  # G_ema's weights with G's statistics, as before saving
    shim = types.SimpleNamespace(players=types.SimpleNamespace(ema=ema), from_noise=True,
                                 policy=types.SimpleNamespace(condition=r.condition))
    GameBase.ready_sampler(shim, r.prior)
    for k, v in ema.model.state_dict().items():  # re-estimated here exactly as the run did it
        assert torch.equal(v, e[k]), k


# ---------------------------------------------------------------- short runs and resume
REMEDIES = [
    ["model.d_norm=layer"], ["model.d_norm=spectral", "model.g_spectral=true"], ["model.mbstd=4"],
    ["model.d_ensemble=2"], ["loss.label_smoothing=0.1"], ["train.instance_noise=0.3"],
    ["train.unroll_steps=2"],
]


def finite_run(tmp_path, preset, base, overrides):
    cfg = load_config(preset, base + ["train.steps=10"] + overrides)
    out = tmp_path / "r"
    out.mkdir()
    train(cfg, out)
    recs = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    train_recs = [r for r in recs if "loss_d" in r]
    assert train_recs and all(math.isfinite(r[k]) for r in train_recs for k in ("loss_d", "loss_g", "d_real", "value"))


@pytest.mark.parametrize("overrides", REMEDIES)
def test_each_remedy_trains_on_points(tmp_path, tiny, overrides):
    finite_run(tmp_path, "grid25", tiny, overrides)


@pytest.mark.parametrize("overrides", [["model.d_norm=instance", "model.mbstd=4", "train.unroll_steps=1"],
                                       ["model.d_norm=layer", "model.d_ensemble=2", "model.g_spectral=true",
                                        "loss.label_smoothing=0.1", "model.pac=2", "model.conditional=true"]])
def test_remedies_train_on_digits(overrides):
    """The step on 16x16 digits (the loop around it is covered on points above; a run on digits
    would also train the digit classifier for its final evaluation)."""
    _, data, gan = images(*overrides)
    for _ in range(10):
        out = gan.step(data.sample, 8, StepValues(instance_noise=0.2), stats=True)
        assert all(torch.isfinite(v) for v in out.values())


def test_resume_is_exact_with_the_remedies_on(tmp_path, tiny):
    extra = ["optim.schedule=constant", "train.steps=40", "train.ckpt_every=20", "train.keep_ckpts=5",
             "model.d_norm=spectral", "model.g_spectral=true", "model.mbstd=4", "model.d_ensemble=2",
             "loss.label_smoothing=0.1", "train.instance_noise=0.3", "train.instance_noise_steps=30",
             "train.unroll_steps=1", "reg.r1.weight=0.1"]

    def run(name, resume=False):
        (tmp_path / name).mkdir(exist_ok=True)
        train(load_config("grid25", tiny + extra), tmp_path / name, resume=resume)

    run("whole")
    run("half")
    (tmp_path / "half" / "ckpt-0000040.pt").unlink()  # as if it had stopped at step 20
    run("half", resume=True)
    assert_same_state(final_state(tmp_path / "whole"), final_state(tmp_path / "half"))
