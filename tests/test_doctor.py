"""The training doctor: detectors on hand-made records, then seeded runs built to fail one way each."""

import json
import math

import pytest
import torch

from ganforge.cli import main
from ganforge.config import load_config
from ganforge.diagnostics import Doctor
from ganforge.diagnostics.doctor import diagnose, format_diagnosis
from ganforge.train.checkpoint import load_checkpoint

from test_train import run

LOG4 = math.log(4)


def rec(step, **kw):
    base = {"step": step, "loss_d": 1.3, "loss_g": 0.8, "d_real": 0.6, "d_fake": 0.4, "value": -1.3,
            "grad_d": 1.0, "grad_g": 1.0, "g_logit_grad": 0.5, "diversity": 1.0}
    return {**base, **kw}


def feed(doctor, records):
    return [e for r in records for e in doctor.observe(r)]


def cfg(*overrides):
    return load_config("grid25", ["doctor.warmup=2", "doctor.patience=3", "doctor.window=10", *overrides])


def kinds(events, state="raised"):
    return [e["event"] for e in events if e["state"] == state]


# ----------------------------------------------------------------------------- detectors


def test_an_alarm_is_raised_once_after_patience_and_cleared_once():
    d = Doctor(cfg())
    recs = [rec(s) for s in range(1, 6)] + [rec(s, diversity=0.1) for s in range(6, 16)] + \
           [rec(s) for s in range(16, 26)]
    events = feed(d, recs)
    collapse = [e for e in events if e["event"] == "mode_collapse"]
    assert [(e["state"], e["step"]) for e in collapse] == [("raised", 8), ("cleared", 18)]
    assert collapse[0]["evidence"]["diversity"] == 0.1
    assert "model.pac=2" in collapse[0]["remedy"]


def test_coverage_drop_needs_an_established_peak():
    d = Doctor(cfg())
    # early mode hopping below half of the 25 modes is not collapse
    hop = [rec(s, modes_probe=m, n_modes=25) for s, m in enumerate([2, 9, 11, 4, 3, 10, 2, 2, 2], 1)]
    assert not kinds(feed(d, hop))
    d = Doctor(cfg())
    good = [rec(s, modes_probe=25, n_modes=25) for s in range(1, 8)]
    drop = [rec(s, modes_probe=12, n_modes=25, diversity=0.7) for s in range(8, 14)]
    events = feed(d, good + drop)
    assert kinds(events) == ["mode_collapse"]
    # a running median of 3 probes, then patience 3: raised 4 log steps after the drop
    assert events[0]["step"] == 11 and events[0]["evidence"]["peak"] == 25
    # the same drop while the samples stay as spread as the data (a healthy grid25 run's
    # probe hopping 16 -> 11 modes at diversity 1.03) is not collapse
    d = Doctor(cfg())
    spread = [rec(s, modes_probe=12, n_modes=25, diversity=1.03) for s in range(8, 14)]
    assert not kinds(feed(d, good + spread))


def test_vanishing_gradients_needs_a_saturated_loss_and_a_winning_d():
    d = Doctor(cfg())
    sat = [rec(s, d_fake=0.02, g_logit_grad=0.02, grad_g=0.01) for s in range(1, 6)]
    events = feed(d, sat)
    assert kinds(events) == ["vanishing_gradients"]
    assert "loss.name=non_saturating" not in events[0]["remedy"]  # grid25 already uses it
    d = Doctor(cfg("loss.name=minimax"))
    assert feed(d, sat)[0]["remedy"][0] == "loss.name=non_saturating"
    d = Doctor(cfg())  # the same confident D with a non-saturating loss: G still gets gradient
    assert not feed(d, [rec(s, d_fake=0.02, g_logit_grad=0.98) for s in range(1, 6)])


def test_oscillation_is_swinging_without_trend():
    swing = [rec(s, d_real=0.5 + 0.3 * (-1) ** s, d_fake=0.4) for s in range(1, 30)]
    assert "oscillation" in kinds(feed(Doctor(cfg()), swing))
    trend = [rec(s, d_real=0.4 + 0.02 * s, d_fake=0.4) for s in range(1, 30)]  # large std, no swings
    assert not kinds(feed(Doctor(cfg()), trend))
    calm = [rec(s, d_real=0.6 + 0.02 * (-1) ** s, d_fake=0.4) for s in range(1, 30)]
    assert not kinds(feed(Doctor(cfg()), calm))


def test_fast_swings_are_seen_within_a_few_log_steps_even_during_warm_up():
    # the margin jumps by 0.2-0.4 between log steps from the start (k = 1, beta1 = 0.9)
    jumps = [0.2, 0.6, 0.4, 0.65, 0.3, 0.55, 0.25, 0.6, 0.35, 0.5]
    events = feed(Doctor(cfg("doctor.warmup=10")), [rec(s, d_real=0.5 + m / 2, d_fake=0.5 - m / 2)
                                                    for s, m in enumerate(jumps, 1)])
    assert kinds(events) == ["oscillation"]
    assert events[0]["step"] == 8 and events[0]["evidence"]["window"] == 6  # 6 log steps, then patience 3
    # a healthy run's margin drifts by 0.01-0.04 per log step: nothing
    drift = [0.0, 0.01, 0.03, 0.02, 0.05, 0.04, 0.08, 0.1, 0.09, 0.12]
    assert not feed(Doctor(cfg("doctor.warmup=10")), [rec(s, d_real=0.5 + m / 2, d_fake=0.5 - m / 2)
                                                      for s, m in enumerate(drift, 1)])
    # one large step (D pulls ahead) is a trend, not a swing
    step = [0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    assert not feed(Doctor(cfg("doctor.warmup=10")), [rec(s, d_real=0.5 + m / 2, d_fake=0.5 - m / 2)
                                                      for s, m in enumerate(step, 1)])


def test_swinging_samples_are_oscillation_while_the_margin_looks_calm():
    # k = 1, beta1 = 0.9 on grid25 (benchmarks/doctor.py): the sampled margin settles, but the
    # diversity of G's samples on fixed noise reads 0.15, 0.09, 2.45, 0.20, 1.21, ...
    div = [0.15, 0.09, 2.45, 0.20, 1.21, 1.36, 0.56, 0.97, 0.47, 1.17, 0.76, 1.11]
    events = feed(Doctor(cfg("doctor.warmup=10")), [rec(s, diversity=v, d_real=0.55, d_fake=0.5)
                                                    for s, v in enumerate(div, 1)])
    assert kinds(events) == ["oscillation"]
    # 6 probes, then patience 3; the evidence names the samples, not the margin
    assert events[0]["step"] == 8 and "diversity_jump" in events[0]["evidence"]
    # a healthy run's diversity moves by a few hundredths around 1
    calm = [1.0, 1.03, 0.96, 1.01, 1.01, 0.93, 0.95, 0.97, 1.01, 1.0, 0.97, 0.94]
    assert not feed(Doctor(cfg("doctor.warmup=10")), [rec(s, diversity=v) for s, v in enumerate(calm, 1)])
    # samples collapsing steadily are a trend (mode collapse's business), not a swing
    fall = [1.0, 0.8, 0.6, 0.45, 0.3, 0.2, 0.12, 0.08, 0.05, 0.03, 0.02, 0.01]
    assert "oscillation" not in kinds(feed(Doctor(cfg("doctor.warmup=10")),
                                           [rec(s, diversity=v) for s, v in enumerate(fall, 1)]))


def test_overfitting_is_a_gap_between_training_and_held_out_reals():
    over = [rec(s, d_train=0.9, d_holdout=0.5) for s in range(1, 10)]
    events = feed(Doctor(cfg()), over)
    assert kinds(events) == ["d_overfitting"] and events[0]["evidence"]["gap"] == pytest.approx(0.4)
    assert not kinds(feed(Doctor(cfg()), [rec(s, d_train=0.55, d_holdout=0.5) for s in range(1, 10)]))


def test_overfitting_is_seen_when_d_ranks_training_reals_first_though_its_outputs_stay_near_half():
    # 200 digits: D's mean outputs differ by 0.03, yet it ranks a training digit first 70 % of the time
    auc = [0.55, 0.7, 0.68, 0.72, 0.5, 0.71, 0.69, 0.74, 0.7, 0.73, 0.7, 0.72]  # one noisy probe at step 5
    events = feed(Doctor(cfg()), [rec(s, d_train=0.53, d_holdout=0.5, d_auc=a, r_t=0.4) for s, a in enumerate(auc, 1)])
    assert kinds(events) == ["d_overfitting"]
    # a median of 5 probes, then patience 3
    assert events[0]["step"] == 7 and events[0]["evidence"]["d_auc"] == 0.69 and events[0]["remedy"]
    # full data: the ranking is a coin toss, with a stray high probe or two
    fair = [0.52, 0.48, 0.66, 0.55, 0.5, 0.58, 0.47, 0.63, 0.51, 0.56, 0.49, 0.53]
    assert not feed(Doctor(cfg()), [rec(s, d_train=0.5, d_holdout=0.5, d_auc=a) for s, a in enumerate(fair, 1)])
    # no held-out probe (stacked digits, a user's points): nothing to judge
    assert not feed(Doctor(cfg()), [rec(s, d_auc=0.9) for s in range(1, 12)])


def test_equilibrium_is_good_news_and_needs_flat_quality():
    eq = [rec(s, d_real=0.51, d_fake=0.49, value=-LOG4) for s in range(1, 20)]
    assert not feed(Doctor(cfg()), eq)  # no quality measured: a weak D looks the same
    d = Doctor(cfg())
    events = feed(d, [{"step": 0, "hq": 0.9}, {"step": 0, "hq": 0.9}] + eq)
    assert kinds(events) == ["equilibrium"] and events[0]["severity"] == "info"
    d = Doctor(cfg())
    assert not feed(d, [{"step": 0, "hq": 0.5}, {"step": 0, "hq": 0.9}] + eq)  # still improving


def test_rollback_forgets_the_abandoned_records():
    d = Doctor(cfg())
    feed(d, [rec(s) for s in range(1, 6)] + [rec(s, diversity=0.1) for s in range(6, 12)])
    assert d.active["mode_collapse"]
    d.observe({"step": 11, "event": "rollback", "evidence": {"to_step": 5}})
    assert not d.active["mode_collapse"] and [r["step"] for r in d.history.train] == [1, 2, 3, 4, 5]


# ----------------------------------------------------------------------------- seeded runs

FAST = ["train.progress=false", "train.tensorboard=false", "train.sample_every=0", "train.threads=1",
        "train.ckpt_every=0", "optim.schedule=constant", "eval.every=0", "eval.n_samples=500"]


def events_of(run_dir, state="raised"):
    recs = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in recs if "event" in r and r.get("state", "raised") == state]


def test_minimax_against_a_much_stronger_d_is_diagnosed_as_vanishing_gradients(tmp_path):
    strong_d = ["train.steps=300", "train.log_every=20", "train.d_steps=5", "optim.d_lr=1e-3",
                "optim.g_lr=1e-5", "train.batch_size=128", *FAST]
    run(tmp_path, "mm", [], "loss.name=minimax", *strong_d)
    found = events_of(tmp_path / "mm")
    assert "vanishing_gradients" in [e["event"] for e in found]
    first = next(e for e in found if e["event"] == "vanishing_gradients")
    assert first["remedy"][0] == "loss.name=non_saturating"
    # the same game with the non-saturating loss: D wins as clearly, yet G keeps its gradient
    run(tmp_path, "ns", [], "loss.name=non_saturating", *strong_d)
    assert "vanishing_gradients" not in [e["event"] for e in events_of(tmp_path / "ns")]


def test_a_learning_rate_of_one_diverges_is_rolled_back_then_stops(tmp_path, tiny, capsys):
    args = ["train", "--preset", "grid25", "--out", str(tmp_path / "lr1"), *tiny, "train.steps=300", "train.ckpt_every=20",
            "optim.name=sgd", "optim.d_lr=1.0", "optim.g_lr=1.0", "doctor.max_retries=2"]
    assert main(args) == 3  # the run failed: its own exit code, not 2 (bad input)
    err = capsys.readouterr().err
    assert "after 2 rollback(s)" in err and "Traceback" not in err
    assert err.count("rollback:") == 2  # one console line per rollback
    found = events_of(tmp_path / "lr1")
    assert [e["event"] for e in found] == ["divergence", "rollback", "divergence", "rollback", "divergence", "stopped"]
    rollbacks = [e["evidence"] for e in found if e["event"] == "rollback"]
    assert [r["lr_scale"] for r in rollbacks] == [0.5, 0.25] and [r["retry"] for r in rollbacks] == [1, 2]


def test_rollback_recovers_with_a_lower_learning_rate(tmp_path, tiny):
    # SGD at 0.3 diverges on this tiny game; at 0.15 it trains
    r = run(tmp_path, "rec", tiny, "train.steps=200", "train.ckpt_every=20", "optim.name=sgd",
            "optim.d_lr=0.3", "optim.g_lr=0.3", "doctor.max_retries=3")
    events = events_of(tmp_path / "rec")
    rollbacks = [e for e in events if e["event"] == "rollback"]
    assert rollbacks and r.step == 200 and "stopped" not in [e["event"] for e in events]
    assert rollbacks[0]["evidence"]["to_step"] % 20 == 0  # back to a checkpointed state


def test_doctor_on_or_off_gives_the_same_weights(tmp_path, tiny):
    run(tmp_path, "on", tiny, "train.steps=30")
    run(tmp_path, "off", tiny, "train.steps=30", "doctor.enabled=false")
    a, b = load_checkpoint(tmp_path / "on"), load_checkpoint(tmp_path / "off")
    assert all(torch.equal(a["G"][k], b["G"][k]) for k in a["G"])


def test_doctor_cli_prints_phases_events_and_remedies(tmp_path, capsys):
    d = tmp_path / "mm"
    run(tmp_path, "mm", [], "loss.name=minimax", "train.steps=300", "train.log_every=20", "train.d_steps=5",
        "optim.d_lr=1e-3", "optim.g_lr=1e-5", "train.batch_size=128", *FAST)
    capsys.readouterr()
    assert main(["doctor", str(d)]) == 0
    text = capsys.readouterr().out
    assert "phases" in text and "d_ahead" in text and "vanishing_gradients" in text  # D wins at once
    assert "try: loss.name=non_saturating" in text
    assert main(["doctor", str(d), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["phases"][0]["phase"] == "d_ahead" and out["events"]
    # the replay finds what the live run logged
    live = [(e["step"], e["event"], e["state"]) for e in events_of(d) + events_of(d, "cleared")]
    replay = [(e["step"], e["event"], e["state"]) for e in diagnose(d).events]
    assert sorted(live) == sorted(replay)
    assert "verdict" in format_diagnosis(diagnose(d))


def test_a_collapsing_grid25_run_is_diagnosed_at_the_step_coverage_drops(tmp_path):
    # learn for 1,000 steps, then freeze D (tiny d_lr) and rush G (large g_lr): G runs to D's
    # favourite point and coverage falls from ~20 modes to 1 right after the switch. (The switch
    # was at 1,500: on AVX-512 CPUs the preset's own evaluated coverage dips from 21 to 12 modes at
    # step 1,250 and the doctor rightly says so before the switch; up to 1,000 steps neither AVX2
    # nor AVX-512 runs dip.)
    out = tmp_path / "col"
    switch = 1000
    common = ["train.progress=false", "train.tensorboard=false", "train.sample_every=0", "train.threads=1",
              "train.ckpt_every=500", "optim.schedule=constant", "eval.every=250", "eval.n_samples=1000"]
    assert main(["train", "--preset", "grid25", "--out", str(out), f"train.steps={switch}", *common]) == 0
    assert main(["train", "--resume", str(out), f"train.steps={switch + 300}", "optim.d_lr=1e-6",
                 "optim.g_lr=1e-2"]) == 0
    recs = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in recs if "hq" in r]
    assert max(e["modes"] for e in evals if e["step"] <= switch) >= 12
    after = [e for e in evals if e["step"] > switch]
    assert after and all(e["modes"] <= 2 for e in after)  # eval.every=250: at 1,250 and the final 1,300
    collapse = [e for e in events_of(out) if e["event"] == "mode_collapse"]
    assert collapse, "no mode-collapse alarm"
    # raised within patience (3) + smoothing (2) log steps of the drop, not before it
    assert switch < collapse[0]["step"] <= switch + 5 * 50
    assert not [e for e in events_of(out) if e["event"] == "mode_collapse" and e["step"] <= switch]


def test_a_healthy_grid25_run_raises_no_alarm(tmp_path):
    # the tuned preset, shortened (its learning rate decays over the 3,000 steps)
    run(tmp_path, "ok", [], "train.steps=3000", "eval.every=1000", "train.progress=false",
        "train.tensorboard=false", "train.sample_every=0", "train.threads=1", "train.ckpt_every=0")
    warnings = [e for e in events_of(tmp_path / "ok") if e["severity"] != "info"]
    assert warnings == []
    assert diagnose(tmp_path / "ok").phases[0][0] == "both_weak"


def test_the_live_doctor_holds_a_bounded_history_and_counts_every_record(monkeypatch):
    """A long run's doctor must not grow by every record (the 55-minute soak crept ~0.3 MB/min):
    it holds a window of step records yet still counts them all, and stop_after still fires."""
    from ganforge.diagnostics import live

    monkeypatch.setattr(live, "HISTORY_KEEP", 30)
    d = Doctor(cfg("doctor.stop_after=60"))
    healthy = [rec(s) for s in range(1, 200)]
    assert not kinds(feed(d, healthy))
    assert len(d.history.train) == 30 + 10 + 2  # HISTORY_KEEP + window + warmup
    assert d.history.n_train == 199
    collapsed = [rec(s, diversity=0.1) for s in range(200, 300)]
    events = feed(d, collapsed)
    assert kinds(events)[:1] == ["mode_collapse"]
    stop = [e for e in events if e["event"] == "stop_collapsed"]
    assert stop and stop[0]["evidence"]["log_steps"] == 60
    assert len(d.history.train) == 42


def test_doctor_without_config_yaml_uses_the_checkpoints_config_and_says_so(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["train", "--preset", "grid25", "--out", str(out), "train.steps=60", "train.log_every=20",
                 "eval.every=0", "train.progress=false"]) == 0
    (out / "config.yaml").unlink()
    capsys.readouterr()
    assert main(["doctor", str(out)]) == 0
    captured = capsys.readouterr()
    assert "no config.yaml; using the config stored in its checkpoint of step 60" in captured.err
    assert "step 60 of 60" in captured.out
    for p in out.glob("ckpt-*.pt"):
        p.unlink()
    assert main(["doctor", str(out)]) == 2
    assert "not a ganforge run directory" in capsys.readouterr().err


def test_phases_follow_the_seeds_story_from_d_s_margin():
    from ganforge.diagnostics.phases import PhaseTracker

    margins = [0.01, 0.02, 0.0, 0.3, 0.4, 0.5, 0.5, 0.5, 0.5, 0.3, 0.25, 0.2, 0.2, 0.2, 0.02, 0.01, 0.03, 0.0, 0.01]
    t = PhaseTracker()
    labels = [t.label(rec(s, d_real=0.5 + m / 2, d_fake=0.5 - m / 2)) for s, m in enumerate(margins, 1)]
    order = [lab for i, lab in enumerate(labels) if i == 0 or lab != labels[i - 1]]
    assert order == ["both_weak", "d_ahead", "g_catching_up", "d_cannot_tell"]
    # a weak D that never pulled ahead is not "D can no longer tell"
    t = PhaseTracker()
    assert {t.label(rec(s, d_real=0.51, d_fake=0.5)) for s in range(20)} == {"both_weak"}
