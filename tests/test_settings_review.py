"""The doctor names settings far outside what works as the likely cause, first."""

import json

import pytest

from ganforge.cli import main
from ganforge.config import load_config, preset_names
from ganforge.diagnostics import Doctor
from ganforge.diagnostics.settings import review_settings


def keys(overrides, preset="grid25"):
    return [f.key for f in review_settings(load_config(preset, overrides))]


def test_every_shipped_preset_is_within_what_works():
    for name in preset_names():
        assert review_settings(load_config(name)) == [], name


def test_a_learning_rate_a_thousand_times_the_presets_is_named_with_the_presets_value():
    found = review_settings(load_config("grid25", ["optim.g_lr=1.0", "optim.d_lr=1.0"]))
    assert [f.key for f in found] == ["optim.g_lr", "optim.d_lr"]
    assert "1000x the grid25 preset's 0.001" in found[0].message and found[0].suggest == "optim.g_lr=0.001"
    assert keys(["optim.g_lr=0.009"]) == []  # 9x: not named


@pytest.mark.parametrize("overrides, key", [
    (["optim.name=sgd", "optim.d_lr=1.0"], "optim.d_lr"),
    (["optim.g_betas=[0.9,0.999]"], "optim.g_betas"),
    (["train.batch_size=4"], "train.batch_size"),
    (["train.d_steps=10"], "train.d_steps"),
    (["model.d_norm=spectral"], "model.d_norm"),
    (["model.d_norm=batch"], "model.d_norm"),
    (["loss.name=wasserstein"], "loss.clip"),
])
def test_each_rule(overrides, key):
    assert keys(overrides) == [key]


def test_a_constrained_critic_is_fine():
    for extra in (["loss.clip=0.01"], ["reg.gradient_penalty.weight=10"]):
        assert keys(["loss.name=wasserstein", *extra]) == []
    assert keys(["loss.name=wgan_gp", "train.d_steps=10"]) == []  # WGAN's critic may take many steps


def _collapsed(step):
    return {"step": step, "loss_d": 1.0, "loss_g": 1.0, "d_real": 0.6, "d_fake": 0.4, "value": -1.4, "diversity": 0.1}


def test_alarms_put_the_likely_cause_first_and_drop_the_symptoms_advice_on_the_same_key():
    cfg = load_config("grid25", ["optim.g_lr=1.0", "optim.d_lr=1.0", "doctor.warmup=0", "doctor.patience=1"])
    doctor = Doctor(cfg)
    events = [e for s in range(1, 4) for e in doctor.observe(_collapsed(s))]
    raised = next(e for e in events if e["event"] == "mode_collapse")
    assert raised["remedy"][:2] == ["optim.g_lr=0.001", "optim.d_lr=0.001"]
    assert not any(r.startswith("optim.g_lr=0.5") for r in raised["remedy"])  # halving 1.0 is not the advice
    assert "likely cause: optim.g_lr=1 is 1000x" in raised["message"]
    plain = Doctor(load_config("grid25", ["doctor.warmup=0", "doctor.patience=1"]))
    raised = next(e for s in range(1, 4) for e in plain.observe(_collapsed(s)) if e["event"] == "mode_collapse")
    assert "likely cause" not in raised["message"] and "optim.g_lr=0.0005" in raised["remedy"]


def test_stop_after_stops_a_run_collapsed_for_that_long():
    cfg = load_config("grid25", ["doctor.warmup=0", "doctor.patience=1", "doctor.stop_after=3"])
    doctor = Doctor(cfg)
    seen = []
    for s in range(1, 8):
        seen += [(s, e["event"]) for e in doctor.observe(_collapsed(s))]
    assert (1, "mode_collapse") in seen and (4, "stop_collapsed") in seen
    assert [k for _, k in seen].count("stop_collapsed") == 1 and "lasted 3 log steps" in doctor.stop


def test_a_collapsed_run_stops_with_exit_3_and_the_settings_warning_is_printed(tmp_path, tiny, capsys):
    args = ["train", "--preset", "grid25", "--out", str(tmp_path / "r"), *tiny, "train.steps=200",
            "loss.name=wasserstein", "loss.clip=0", "doctor.collapse_diversity=0.99", "doctor.warmup=0",
            "doctor.patience=1", "doctor.stop_after=2"]
    assert main(args) == 3
    err = capsys.readouterr().err
    assert "ganforge: warning: loss.name=wasserstein with loss.clip=0" in err
    assert "ganforge: error: mode collapse has lasted 2 log steps (doctor.stop_after=2); stopped" in err
    recs = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert recs[-1]["event"] == "stop_collapsed" and recs[-1]["step"] == 30
    assert main(["doctor", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "likely causes" in out and "try loss.name=wgan_gp" in out and "stop_collapsed" in out


def _record(step, diversity, class_diversity):
    return {"step": step, "loss_d": 1.0, "loss_g": 1.0, "d_real": 0.6, "d_fake": 0.4, "value": -1.4,
            "diversity": diversity, "class_diversity": class_diversity}


def test_collapse_within_classes_is_seen_when_overall_diversity_looks_healthy():
    cfg = load_config("digits", ["model.conditional=true", "doctor.warmup=0", "doctor.patience=1"])
    collapsed = [e for s in range(1, 4) for e in Doctor(cfg).observe(_record(s, 0.96, 0.07))]
    raised = [e for e in collapsed if e["event"] == "mode_collapse"]
    assert raised and "each class is drawn as a few prototypes" in raised[0]["message"]
    assert raised[0]["evidence"]["class_diversity"] == 0.07
    assert "model.g_cond" not in " ".join(raised[0]["remedy"])  # the default is already the measured best
    # the pairs that collapsed within classes on conditional digits: the measured fix comes first
    old = load_config("digits", ["model.conditional=true", "doctor.warmup=0", "doctor.patience=1",
                                 "model.g_cond=concat", "model.d_cond=projection"])
    raised = [e for s in range(1, 4) for e in Doctor(old).observe(_record(s, 0.96, 0.07)) if e["state"] == "raised"]
    assert raised[0]["remedy"][:2] == ["model.g_cond=cbn", "model.d_cond=concat"]
    healthy = [e for s in range(1, 4) for e in Doctor(cfg).observe(_record(s, 0.96, 0.8))]
    assert not [e for e in healthy if e["event"] == "mode_collapse"]


def test_the_probe_measures_diversity_within_classes():
    import torch

    from ganforge.build import build_data
    from ganforge.diagnostics.probes import Probe
    from ganforge.priors import Prior

    cfg = load_config("digits", ["data.resolution=8", "model.conditional=true"])
    data = build_data(cfg)
    probe = Probe(data, Prior("normal", 4), 10, 64, 0, torch.device("cpu"))
    by_class = torch.stack([data.encode(data.images[data.labels == k][:1].float() / 255)[0] for k in range(10)])

    class OnePerClass(torch.nn.Module):  # every sample of class k is the same image
        def forward(self, z, y):
            return by_class[y]

    class Noise(torch.nn.Module):  # every sample different, spread like the data
        def forward(self, z, y):
            return by_class[y] + 0.5 * torch.randn(len(y), *by_class.shape[1:], generator=torch.Generator().manual_seed(1))

    D = torch.nn.Identity()
    D.forward = lambda x, y=None: x.flatten(1).mean(1)
    assert probe.measure(OnePerClass(), D)["class_diversity"] == 0.0
    assert probe.measure(Noise(), D)["class_diversity"] > 0.5
