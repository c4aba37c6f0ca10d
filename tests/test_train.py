import json
import math

import pytest
import torch

from ganforge.build import build_data
from ganforge.train.games import build_game
from ganforge.config import load_config
from ganforge.errors import GanforgeError
from ganforge.train.checkpoint import list_checkpoints, load_checkpoint
from ganforge.train.loop import TrainingDiverged, train


def run(tmp_path, name, tiny, *overrides, resume=False):
    cfg = load_config("grid25", tiny + list(overrides))
    out = tmp_path / name
    out.mkdir(exist_ok=True)
    return train(cfg, out, resume=resume)


def assert_same_state(a: dict, b: dict, path=""):
    assert type(a) is type(b), path
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            assert_same_state(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), path
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_state(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


def final_state(run_dir):
    ckpt = load_checkpoint(run_dir)
    ckpt.pop("config")  # train.steps differs between the two halves of a resumed run
    return ckpt


def test_same_seed_same_weights_and_different_seed_differs(tmp_path, tiny):
    run(tmp_path, "a", tiny, "train.steps=30")
    run(tmp_path, "b", tiny, "train.steps=30")
    run(tmp_path, "c", tiny, "train.steps=30", "train.seed=1")
    assert_same_state(final_state(tmp_path / "a"), final_state(tmp_path / "b"))
    assert not torch.equal(final_state(tmp_path / "a")["G"]["net.0.weight"], final_state(tmp_path / "c")["G"]["net.0.weight"])


def test_resume_continues_exactly(tmp_path, tiny):
    """Stopped at 200 and resumed to 400 == an uninterrupted run to 400, bit for bit, with the
    state that a resume must carry: Adam moments, EMA, k = 2 D steps and a lazy penalty.
    (A constant rate: a decaying schedule runs over train.steps, which differs between the
    two halves here; test_linear_schedule_... covers resuming a decaying run.)"""
    extra = ["optim.schedule=constant", "train.d_steps=2", "train.ema_beta=0.99", "reg.r1.weight=0.1", "reg.r1.interval=3", "train.ckpt_every=100"]
    run(tmp_path, "whole", tiny, "train.steps=400", *extra)
    run(tmp_path, "half", tiny, "train.steps=200", *extra)
    run(tmp_path, "half", tiny, "train.steps=400", *extra, resume=True)
    assert final_state(tmp_path / "whole")["step"] == 400
    assert_same_state(final_state(tmp_path / "whole"), final_state(tmp_path / "half"))
    # and the training log reads as if the run had never stopped (the stopped half also
    # evaluated at its last step, 200, which the whole run did not)
    def train_lines(name):
        lines = (tmp_path / name / "metrics.jsonl").read_text().splitlines()
        return [line for line in lines if "loss_d" in line]

    assert train_lines("whole") == train_lines("half") and len(train_lines("whole")) == 40


def test_resume_from_a_middle_checkpoint_drops_later_log_lines(tmp_path, tiny):
    run(tmp_path, "r", tiny, "train.steps=100", "train.ckpt_every=50", "train.keep_ckpts=5")
    (tmp_path / "r" / "ckpt-0000100.pt").unlink()  # as if the run had crashed after step 50
    run(tmp_path, "r", tiny, "train.steps=100", "train.ckpt_every=50", resume=True)
    recs = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in recs if "loss_d" in r]
    assert steps == list(range(10, 101, 10))


def test_checkpoints_are_safe_to_load_and_complete(tmp_path, tiny):
    run(tmp_path, "r", tiny, "train.steps=100", "train.ckpt_every=20", "train.keep_ckpts=2")
    found = list_checkpoints(tmp_path / "r")
    assert [s for s, _ in found] == [80, 100]  # only the newest two are kept
    assert not list((tmp_path / "r").glob("*.tmp"))  # no temporary file left behind
    ckpt = torch.load(found[-1][1], weights_only=True)
    for key in ("G", "D", "opt_g", "opt_d", "rng", "step", "config"):
        assert key in ckpt
    assert ckpt["config"]["train"]["steps"] == 100
    assert set(ckpt["rng"]) == {"noise", "torch", "data"}


def test_k_discriminator_steps_with_equal_real_and_fake_batches():
    cfg = load_config("grid25", ["model.g_width=8", "model.d_width=8", "train.batch_size=16", "train.d_steps=5"])
    torch.manual_seed(0)
    data = build_data(cfg)
    gan = build_game(cfg, data, torch.device("cpu"))
    seen = []
    D = gan.D
    D.register_forward_hook(lambda m, inp, out: seen.append(len(inp[0])))
    for _ in range(3):
        gan.step(data.sample, 16, stats=True)
    assert gan.d_updates == 15
    assert gan.players.opt_d.state[next(D.parameters())]["step"].item() == 15
    assert gan.players.opt_g.state[next(gan.G.parameters())]["step"].item() == 3
    assert seen == [16] * (3 * (5 * 2 + 1))  # every D step sees B real and B fake; G step B fake


def test_fresh_noise_for_every_update():
    cfg = load_config("grid25", ["model.g_width=8", "model.d_width=8", "train.batch_size=4", "train.d_steps=2"])
    torch.manual_seed(0)
    data = build_data(cfg)
    gan = build_game(cfg, data, torch.device("cpu"))
    zs = []
    G = gan.G
    hook = G.register_forward_hook(lambda m, inp, out: zs.append(inp[0].clone()))
    gan.step(data.sample, 4)  # an unconditional GAN ignores labels
    hook.remove()
    assert len(zs) == 3
    assert not torch.equal(zs[0], zs[1]) and not torch.equal(zs[1], zs[2])


def test_weight_clipping_for_wasserstein(tmp_path, tiny):
    run(tmp_path, "w", tiny, "train.steps=20", "loss.name=wasserstein", "loss.clip=0.01")
    D = load_checkpoint(tmp_path / "w")["D"]
    assert max(t.abs().max().item() for t in D.values()) <= 0.01 + 1e-7


def test_wgan_gp_logs_its_penalty(tmp_path, tiny):
    run(tmp_path, "gp", tiny, "train.steps=20", "loss.name=wgan_gp")
    rec = json.loads((tmp_path / "gp" / "metrics.jsonl").read_text().splitlines()[0])
    assert rec["gradient_penalty"] >= 0


def test_divergence_stops_with_a_clear_error_and_keeps_good_checkpoints(tmp_path, tiny):
    # 20 sane steps (checkpoints at 10 and 20), then resumed at lr = 1e6: NaN by the next check
    # at step 30. A run that diverges at once has no checkpoint to keep, so it could not test this.
    common = ["train.ckpt_every=10", "optim.name=sgd", "loss.name=least_squares", "doctor.max_retries=0"]
    run(tmp_path, "nan", tiny, "train.steps=20", "optim.d_lr=0.01", "optim.g_lr=0.01", *common)
    with pytest.raises(TrainingDiverged, match="diverged at step 30"):
        run(tmp_path, "nan", tiny, "train.steps=200", "optim.d_lr=1e6", "optim.g_lr=1e6", *common, resume=True)
    found = list_checkpoints(tmp_path / "nan")
    assert [s for s, _ in found] == [10, 20]  # nothing saved from the diverged state
    for _, path in found:
        ckpt = torch.load(path, weights_only=True)
        for part in ("G", "D"):
            assert all(torch.isfinite(t).all() for t in ckpt[part].values() if t.is_floating_point())
    events = [json.loads(x) for x in (tmp_path / "nan" / "metrics.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events if "event" in e] == ["divergence", "stopped"]


@pytest.mark.parametrize("overrides", [["loss.name=minimax"], ["loss.name=hinge", "model.prior=uniform"],
                                       ["optim.name=sgd", "optim.d_lr=0.01", "optim.g_lr=0.01"]])
def test_other_settings_train_to_finite_stats(tmp_path, tiny, overrides):
    r = run(tmp_path, "o", tiny, "train.steps=20", "eval.every=10", *overrides)
    rec = [json.loads(x) for x in (tmp_path / "o" / "metrics.jsonl").read_text().splitlines()]
    train_recs = [x for x in rec if "loss_d" in x]
    assert [x["step"] for x in train_recs] == [10, 20]  # else the checks below pass on nothing
    for key in ("loss_d", "loss_g", "d_real", "d_fake", "value", "grad_d", "grad_g"):
        assert all(key in x and math.isfinite(x[key]) for x in train_recs)
    assert 0 <= r.metrics["hq"] <= 1


def test_schedules():
    from ganforge.train.schedule import lr_factor

    assert lr_factor("constant", 50, 100) == 1.0
    assert lr_factor("linear", 1, 100) == 1.0 and lr_factor("linear", 51, 100) == pytest.approx(0.5)
    assert lr_factor("cosine", 51, 100) == pytest.approx(0.5) and lr_factor("cosine", 100, 100) > 0


def test_linear_schedule_reaches_the_optimizer_and_resumes_exactly(tmp_path, tiny):
    extra = ["optim.schedule=linear", "optim.d_lr=0.001", "train.steps=60", "train.ckpt_every=30", "train.keep_ckpts=5"]
    run(tmp_path, "whole", tiny, *extra)
    lr = load_checkpoint(tmp_path / "whole")["opt_d"]["param_groups"][0]["lr"]
    assert lr == pytest.approx(1e-3 * (1 - 59 / 60))  # the rate of the last update
    run(tmp_path, "half", tiny, *extra)
    (tmp_path / "half" / "ckpt-0000060.pt").unlink()
    run(tmp_path, "half", tiny, *extra, resume=True)
    assert_same_state(final_state(tmp_path / "whole"), final_state(tmp_path / "half"))


def test_pac_discriminator_judges_groups(tmp_path, tiny):
    from ganforge.models.mlp import MLPDiscriminator

    D = MLPDiscriminator((2,), 8, 1, pac=4)
    x = torch.randn(12, 2)
    assert D(x).shape == (3,)
    swapped = x.clone()
    swapped[[0, 4]] = x[[4, 0]]  # moving a sample into another pack changes both packs' logits
    assert not torch.allclose(D(x)[:2], D(swapped)[:2])
    run(tmp_path, "pac", tiny, "train.steps=20", "model.pac=4", "reg.r1.weight=1", "loss.name=wgan_gp")
    with pytest.raises(GanforgeError, match="multiple of model.pac=3"):
        load_config("grid25", ["model.pac=3"])


def test_ctrl_c_stops_between_steps_with_a_checkpoint_that_resumes_exactly(tmp_path, tiny):
    import os
    import signal

    class InterruptAt:
        def __init__(self, step):
            self.step = step

        def log(self, record):
            if record["step"] == self.step and "loss_d" in record:
                os.kill(os.getpid(), signal.SIGINT)

        def close(self):
            pass

    cfg = load_config("grid25", tiny + ["train.steps=60", "train.ckpt_every=1000"])
    (tmp_path / "cut").mkdir()
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "cut", sinks=[InterruptAt(20)])
    assert [s for s, _ in list_checkpoints(tmp_path / "cut")] == [20]  # saved at the step it stopped
    train(cfg, tmp_path / "cut", resume=True)
    run(tmp_path, "whole", tiny, "train.steps=60", "train.ckpt_every=1000")
    assert_same_state(final_state(tmp_path / "whole"), final_state(tmp_path / "cut"))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_training_matches_shapes_and_stays_finite(tmp_path, tiny):
    r = run(tmp_path, "cuda", tiny, "train.steps=30", "train.device=cuda", "reg.r1.weight=1")
    assert 0 <= r.metrics["hq"] <= 1


@pytest.fixture
def images_no_eval(monkeypatch):
    """Tiny digits runs without the final image metrics (their classifier costs ~30 s once):
    these tests are about the training mechanics."""
    from conftest import TINY_IMAGES

    monkeypatch.setattr("ganforge.train.callbacks.sample_metrics", lambda x, data, seed, **kw: {})
    return TINY_IMAGES + ["doctor.enabled=false"]


def run_digits(tmp_path, name, tiny_images, *overrides, resume=False):
    cfg = load_config("digits", tiny_images + list(overrides))
    out = tmp_path / name
    out.mkdir(exist_ok=True)
    return train(cfg, out, resume=resume)


ADA = ["augment.policy=translation,cutout,color", "augment.ada_target=0.6", "augment.ada_interval=3", "augment.ada_kimg=1"]


@pytest.mark.parametrize("overrides", [
    ["reg.lecam.weight=0.3"], ["reg.dragan.weight=1"], ["reg.bcr.weight=1"], ADA,
    ["augment.policy=translation", "reg.r1.weight=1", "reg.r1.interval=4"],
], ids=["lecam", "dragan", "bcr", "ada", "lazy_r1"])
def test_stabilisers_train_to_finite_losses(tmp_path, images_no_eval, overrides):
    run_digits(tmp_path, "s", images_no_eval, "train.steps=20", *overrides)
    recs = [json.loads(x) for x in (tmp_path / "s" / "metrics.jsonl").read_text().splitlines()]
    train_recs = [r for r in recs if "loss_d" in r]
    assert len(train_recs) == 4 and all(math.isfinite(r["loss_d"]) and math.isfinite(r["loss_g"]) for r in train_recs)
    name = overrides[0].split(".")[1] if overrides[0].startswith("reg.") else None
    if name:
        assert all(name in r and r[name] >= 0 for r in train_recs)
    if overrides is ADA:  # p is logged over time; it starts at 0 and moves by 48 / 1000 per interval
        ps = [r["aug_p"] for r in train_recs]
        assert all("ada_rt" in r for r in train_recs) and all(0 <= p <= 1 for p in ps) and max(ps) > 0


def test_lazy_rescale_survives_the_loops_learning_rate_updates(tmp_path, images_no_eval):
    run_digits(tmp_path, "l", images_no_eval, "train.steps=10", "optim.d_lr=1e-3", "reg.r1.weight=1", "reg.r1.interval=2")
    group = load_checkpoint(tmp_path / "l")["opt_d"]["param_groups"][0]
    assert group["lr"] == pytest.approx(1e-3 * 2 / 3)
    assert group["betas"][1] == pytest.approx(0.999 ** (2 / 3))


def test_resume_with_ada_and_lecam_continues_exactly(tmp_path, images_no_eval):
    """ADA's p and its half-full accumulator (20 D steps, interval 3) and LeCam's moving
    averages are in the checkpoint: stopped at 20 and resumed to 40 == a run to 40, bit for bit."""
    extra = [*ADA, "reg.lecam.weight=0.3", "train.ckpt_every=20"]
    run_digits(tmp_path, "whole", images_no_eval, "train.steps=40", *extra)
    run_digits(tmp_path, "half", images_no_eval, "train.steps=20", *extra)
    half = load_checkpoint(tmp_path / "half")
    assert half["augment"]["n_logits"] > 0 and set(half["penalties"]["lecam"]) == {"alpha_real", "alpha_fake"}
    run_digits(tmp_path, "half", images_no_eval, "train.steps=40", *extra, resume=True)
    whole = final_state(tmp_path / "whole")
    assert whole["augment"]["p"].item() > 0
    assert_same_state(whole, final_state(tmp_path / "half"))


def test_checkpoints_without_stabiliser_state_still_load(tmp_path, tiny):
    """Checkpoints written before augment/penalty state existed resume with their initial values."""
    run(tmp_path, "old", tiny, "train.steps=20", "train.ckpt_every=20", "reg.lecam.weight=0.1")
    path = list_checkpoints(tmp_path / "old")[-1][1]
    ckpt = torch.load(path, weights_only=True)
    del ckpt["penalties"], ckpt["augment"]
    torch.save(ckpt, path)
    run(tmp_path, "old", tiny, "train.steps=30", "train.ckpt_every=20", "reg.lecam.weight=0.1", resume=True)
    assert load_checkpoint(tmp_path / "old")["step"] == 30
