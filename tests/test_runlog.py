"""The run log (ganforge.runlog): record kinds, the loop's events as bytes, the writer's resume
truncation, the reader's tolerance of a torn line, and the one rollback rule that the report, the
live doctor and ``ganforge doctor``'s replay all follow. Nothing is trained here."""

from __future__ import annotations

import json
import math

import pytest

from ganforge.config import load_config, to_yaml
from ganforge.diagnostics import Doctor
from ganforge.diagnostics.doctor import diagnose
from ganforge.runlog import (Event, History, JsonlSink, Kind, keep_branch, load_history, read_records, record_kind,
                             rollback_to)
from ganforge.train.sinks import EventPrinter


def step(s, **kw):
    return {"step": s, "loss_d": 1.3, "loss_g": 0.8, "d_real": 0.6, "d_fake": 0.4, "value": -1.3, **kw}


# ----------------------------------------------------------------------------- kinds and events


def test_record_kinds():
    assert record_kind(step(1)) is Kind.STEP
    assert record_kind({"step": 1, "fid": 3.0}) is Kind.EVALUATION
    assert record_kind({"step": 1}) is Kind.EVALUATION  # nothing but a step: not training statistics
    # an event is an event even when its evidence (or a careless writer) mentions loss_d
    assert record_kind(Event.divergence(3, ["loss_d"], {"loss_d": math.nan}).record()) is Kind.EVENT
    assert record_kind({"step": 1, "event": "x", "loss_d": 1.0}) is Kind.EVENT


def test_the_loops_events_are_the_bytes_it_always_wrote():
    """metrics.jsonl is a file format: the key order and values of the loop's events are fixed
    (these strings were written by the loop's hand-built dicts before runlog.Event existed)."""
    line = lambda e: json.dumps(e.record(), allow_nan=True)  # noqa: E731  (as JsonlSink writes it)
    assert line(Event.divergence(40, ["loss_d", "value"], {"loss_d": math.nan, "value": math.inf})) == (
        '{"step": 40, "event": "divergence", "state": "raised", "severity": "error", '
        '"message": "loss_d, value became NaN or infinite", "evidence": {"loss_d": NaN, "value": Infinity}, '
        '"remedy": []}')
    assert line(Event.rollback(45, 40, 2, 3, 0.25)) == (
        '{"step": 45, "event": "rollback", "state": "raised", "severity": "warning", '
        '"message": "rolled back to step 40, learning rates x0.25 (retry 2 of 3)", '
        '"evidence": {"to_step": 40, "from_step": 45, "retry": 2, "lr_scale": 0.25}, "remedy": []}')
    assert line(Event.stopped(50, 3, ["optim.d_lr=1e-05", "optim.g_lr=2e-05"])) == (
        '{"step": 50, "event": "stopped", "state": "raised", "severity": "error", '
        '"message": "diverged again after 3 rollback(s); stopping", "evidence": {"retries": 3}, '
        '"remedy": ["optim.d_lr=1e-05", "optim.g_lr=2e-05"]}')


def test_event_printer_prints_events_only(capsys):
    p = EventPrinter()
    for rec in (step(1), {"step": 1, "fid": 2.0}, Event.rollback(5, 0, 1, 3, 0.5).record()):
        p.log(rec)
    err = capsys.readouterr().err.splitlines()
    assert err == ["[doctor] step 5: rollback: rolled back to step 0, learning rates x0.5 (retry 1 of 3)"]


# ----------------------------------------------------------------------------- writer and reader


def test_writer_drops_records_after_the_resume_step_and_a_torn_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    kept = ['{"step": 5, "loss_d": NaN}', '{"step":10,  "fid": 1.5}', '{"no_step": 1}']  # copied verbatim
    path.write_text("\n".join(kept + ['{"step": 15, "loss_d": 0.1}', "", '{"step": 20, "loss_d": 0.']))
    sink = JsonlSink(path, resume_step=10)
    sink.log({"step": 11, "loss_d": math.inf, "event_free": True})
    sink.close()
    assert path.read_text() == "\n".join(kept) + '\n{"step": 11, "loss_d": Infinity, "event_free": true}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.jsonl"]  # no temporary file left


def test_writer_without_resume_appends(tmp_path):
    path = tmp_path / "metrics.jsonl"
    for s in (1, 2):
        sink = JsonlSink(path)
        sink.log(step(s))
        sink.close()
    assert [r["step"] for r in read_records(path)[0]] == [1, 2]


def test_reader_skips_a_torn_last_line_and_counts_it(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps(step(1)), "", json.dumps({"step": 2, "fid": math.nan}), "[1, 2]", '{"step": "x"}',
             '{"step": NaN}', json.dumps(step(3)) + "  ", '{"step": 4, "loss_d": 0.']
    path.write_text("\n".join(lines))
    records, skipped = read_records(path)
    assert [r["step"] for r in records] == [1, 2, 3] and math.isnan(records[1]["fid"])
    assert skipped == 4  # a list, a step that is not a number, a NaN step, the torn line; blanks are not counted


# ----------------------------------------------------------------------------- the rollback rule


def test_keep_branch_is_the_rule():
    assert keep_branch([step(1), step(5), step(6)], 5) == [step(1), step(5)]
    assert keep_branch([("early", 2), ("learning", 9)], 4, step=lambda lab: lab[1]) == [("early", 2)]
    assert rollback_to({"step": 9, "event": "rollback", "evidence": {"to_step": 4}}) == 4
    for no_cut in ({"step": 9, "event": "rollback"}, {"step": 9, "event": "rollback", "evidence": {"to_step": math.nan}},
                   {"step": 9, "event": "rollback", "evidence": {"to_step": "4"}}, step(9),
                   {"step": 9, "event": "divergence", "evidence": {"to_step": 4}}):
        assert rollback_to(no_cut) is None


def test_history_cuts_on_rollback_and_keeps_every_event():
    h = History()
    for rec in [step(1), step(2), {"step": 2, "fid": 1.0}, step(3), {"step": 3, "fid": 9.0},
                Event.rollback(3, 2, 1, 3, 0.5).record(), step(3, loss_d=0.1)]:
        h.add(rec)
    assert [(r["step"], r["loss_d"]) for r in h.train] == [(1, 1.3), (2, 1.3), (3, 0.1)]
    assert h.evals == [{"step": 2, "fid": 1.0}]
    assert [e["event"] for e in h.events] == ["rollback"]


def _run_dir(tmp_path, records):
    cfg = load_config("grid25", ["doctor.warmup=2", "doctor.patience=2", "doctor.window=4"])
    (tmp_path / "config.yaml").write_text(to_yaml(cfg))
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r, allow_nan=True) + "\n" for r in records))
    return cfg


@pytest.mark.parametrize("evidence", [{"to_step": 5}, {}, {"to_step": math.nan}])
def test_report_live_doctor_and_replay_keep_the_same_branch(tmp_path, evidence):
    """Steps 1-8 (collapsing from 6 on), a rollback from 8, then 6-12 again. With a to_step of 5
    all three readers drop the abandoned 6-8; a rollback that does not say where it went (or says
    NaN) cuts nothing, in all three alike."""
    collapsing = [step(s, diversity=0.05 if s >= 6 else 1.0) for s in range(1, 9)]
    rollback = {"step": 8, "event": "rollback", "state": "raised", "severity": "warning", "message": "",
                "evidence": evidence, "remedy": []}
    again = [step(s, diversity=1.0) for s in range(6, 13)]
    records = collapsing + [rollback] + again
    cfg = _run_dir(tmp_path, records)
    cut = bool(evidence) and not math.isnan(evidence["to_step"])
    want = list(range(1, 13)) if cut else list(range(1, 9)) + list(range(6, 13))

    report = load_history(tmp_path)
    assert [r["step"] for r in report.train] == sorted(want)

    live = Doctor(cfg)
    events = [e for rec in records for e in live.observe(rec)]
    assert [r["step"] for r in live.history.train] == want  # arrival order
    # the alarm raised on the abandoned branch is forgotten with it, so nothing is cleared later
    assert [(e["event"], e["state"]) for e in events if e["event"] == "mode_collapse"] == \
        ([("mode_collapse", "raised")] if cut else [("mode_collapse", "raised"), ("mode_collapse", "cleared")])

    replay = diagnose(tmp_path)
    assert ("collapsed" in [p[0] for p in replay.phases]) is (not cut)
    assert replay.last_step == 12
    if cut:  # the phases tile the kept branch once: no step appears in two phases
        spans = [(a, b) for _, a, b in replay.phases]
        assert spans[0][0] == 1 and spans[-1][1] == 12
        assert all(b1 < a2 for (_, b1), (a2, _) in zip(spans, spans[1:]))
