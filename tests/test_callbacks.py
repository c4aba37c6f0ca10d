"""Loop callbacks: an application adds its own part of the run without editing the loop."""

import json

from ganforge import api
from ganforge.config import load_config
from ganforge.train.callbacks import Callback


class Counter(Callback):
    def __init__(self):
        self.started, self.steps, self.logged = 0, [], []

    def on_start(self, run):
        self.started += 1

    def on_log(self, run, record):
        record["my_measure"] = float(record["step"]) / 10

    def observe(self, run, record):
        self.logged.append(record["step"])
        return [{"step": record["step"], "event": "my_note", "state": "raised", "severity": "info",
                 "message": "seen", "evidence": {}, "remedy": []}] if record.get("step") == 20 and "loss_d" in record else []

    def on_step_end(self, run, step):
        self.steps.append(step)
        if step == 15:
            run.emit({"step": step, "my_metric": 1.5})


def test_a_callback_sees_every_step_adds_measurements_records_and_events(tmp_path, tiny):
    cfg = load_config("grid25", tiny + ["train.steps=30"])
    cb = Counter()
    (tmp_path / "r").mkdir()
    api.train(cfg, out=tmp_path / "r", callbacks=[cb])
    assert cb.started == 1 and cb.steps == list(range(1, 31))
    recs = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in recs if "loss_d" in r]
    assert [r["my_measure"] for r in train] == [1.0, 2.0, 3.0]
    assert {"step": 15, "my_metric": 1.5} in recs
    i = next(i for i, r in enumerate(recs) if r.get("event") == "my_note")
    assert recs[i - 1]["step"] == 20 and "loss_d" in recs[i - 1]  # the event follows the record that raised it


def test_api_train_adds_sample_plots_and_the_loop_alone_does_not(tmp_path, tiny):
    from ganforge.train.loop import train as loop_train

    cfg = load_config("grid25", tiny + ["train.steps=10"])
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    api.train(cfg, out=tmp_path / "a")
    loop_train(cfg, tmp_path / "b")
    assert (tmp_path / "a" / "samples" / "step-0000010.png").exists()
    assert not (tmp_path / "b" / "samples").exists()
