"""The HTML report: history loading (rollbacks), a self-contained page, and a real headless
browser that renders it. The run directory is written by hand: nothing is trained here."""

from __future__ import annotations

import base64
import io
import json
import math
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from ganforge.errors import GanforgeError
from ganforge.report.html import write_report
from ganforge.runlog import load_history, split_history

SCRIPT_MESSAGE = "D wins <script>alert('x')</script> & more"
ABANDONED_LOSS = 999.0  # loss_d on the branch that the rollback abandons; must never be drawn


def _train(step, loss_d=0.6, **extra):
    rec = {"step": step, "loss_d": loss_d, "loss_g": 0.8, "d_real": 0.6, "d_fake": 0.4, "value": -1.3,
           "grad_d": 0.5 + step / 1000, "grad_g": 0.2, "r1": 0.01, "diversity": 0.9, "d_train": 0.6,
           "d_holdout": 0.55, "modes_probe": 7}
    rec.update(extra)
    return rec


def _records():
    """A run to step 300 that diverged at 200, rolled back to 100, and trained on again."""
    recs = [_train(s) for s in range(10, 101, 10)]
    recs[5]["loss_g"] = math.nan  # a NaN in the kept branch: a gap, not a crash
    recs.append({"step": 100, "modes": 6, "n_modes": 8, "hq": 0.8, "rev_kl": 0.3, "n": 2500,
                 "provenance": {"space": "data", "n_real": 2500, "seed": 0}})
    recs += [_train(s, loss_d=ABANDONED_LOSS) for s in range(110, 201, 10)]
    recs.append({"step": 150, "event": "mode_collapse", "state": "raised", "severity": "warning",
                 "message": SCRIPT_MESSAGE, "evidence": {"diversity": 0.12, "window": 50},
                 "remedy": ["loss.name=hinge", "model.pac=2"]})
    recs.append({"step": 200, "modes": 1, "n_modes": 8, "hq": 0.1, "rev_kl": 2.0, "n": 2500})  # abandoned
    recs.append({"step": 200, "event": "divergence", "state": "raised", "severity": "error",
                 "message": "non-finite loss_d", "evidence": {"loss_d": math.inf}})
    recs.append({"step": 200, "event": "rollback", "severity": "info", "message": "back to step 100",
                 "evidence": {"to_step": 100, "d_lr": 1e-4}, "remedy": ["optim.d_lr=1e-4"]})
    recs += [_train(s) for s in range(110, 301, 10)]
    recs.append({"step": 200, "modes": 8, "n_modes": 8, "hq": 0.95, "rev_kl": 0.02, "n": 2500})
    recs.append({"step": 250, "event": "mode_collapse", "state": "cleared", "severity": "info",
                 "message": "diversity back to 0.9"})
    recs.append({"step": 260, "event": "brand_new_kind", "message": "no state, no evidence"})
    recs.append({"step": 300, "modes": 8, "n_modes": 8, "hq": 0.97, "rev_kl": 0.01, "n": 2500})
    return recs


def _png(path: Path, colour, size=(40, 40), text=None):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    for k, v in (text or {}).items():
        info.add_text(k, v)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, pnginfo=info)


def make_run(root: Path, name: str = "007-ring8") -> Path:
    run = root / name
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(
        "data:\n  name: ring8\n  path: '<b>not bold</b>'\nloss:\n  name: non_saturating\ntrain:\n  steps: 300\n"
    )
    lines = [json.dumps(r, allow_nan=True) for r in _records()]
    (run / "metrics.jsonl").write_text("\n".join(lines) + '\n{"step": 310, "loss_d": 0.')  # killed mid-write
    (run / "eval.json").write_text(json.dumps({"modes": 8, "hq": 0.97, "wall_s": 12.5}))
    _png(run / "samples" / "step-0000100.png", (200, 30, 30))
    _png(run / "samples" / "step-0000200.png", (30, 160, 30))
    _png(run / "samples" / "step-0000300.png", (90, 90, 220), size=(900, 600), text={"Description": "synthetic"})
    return run


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """(run_dir, path of report.html, its text), written once for the module."""
    run = make_run(tmp_path_factory.mktemp("report"))
    path = write_report(run)
    return run, path, path.read_text(encoding="utf-8")


class _Page(HTMLParser):
    """What the assertions need from a page: title, section ids, img srcs, event rows, figcaptions."""

    def __init__(self, text: str):
        super().__init__()
        self.title, self.ids, self.imgs, self.event_rows, self.captions = "", [], [], [], []
        self._in, self._table, self._body = None, None, False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        if tag == "table":
            self._table = a.get("class")
        if tag == "tbody":
            self._body = True
        if tag == "tr" and self._table == "events" and self._body:
            self.event_rows.append("")
        self._in = tag

    def handle_endtag(self, tag):
        if tag == "table":
            self._table, self._body = None, False
        self._in = None

    def handle_data(self, data):
        if self._in == "title":
            self.title += data
        if self._in == "figcaption":
            self.captions.append(data)
        if self._table == "events" and self.event_rows:
            self.event_rows[-1] += data


def _decode_png(src: str) -> Image.Image:
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix), src[:60]
    img = Image.open(io.BytesIO(base64.b64decode(src[len(prefix):], validate=True)))
    assert img.format == "PNG"
    img.load()  # decodes every pixel: a truncated payload raises here
    return img


EXPECTED_IDS = {"summary", "losses", "d-outputs", "value", "gradients", "quality", "diversity",
                "other-stats", "events", "samples", "config"}


# ---------------------------------------------------------------------------------------------


def test_rollback_drops_the_abandoned_branch(tmp_path):
    h = load_history(make_run(tmp_path))
    train, evals, events = h.train, h.evals, h.events
    steps = [r["step"] for r in train]
    assert steps == list(range(10, 301, 10))  # each step once: the kept branch
    assert all(r["loss_d"] != ABANDONED_LOSS for r in train)
    assert [(r["step"], r["modes"]) for r in evals] == [(100, 6), (200, 8), (300, 8)]
    kinds = ["mode_collapse", "divergence", "rollback", "mode_collapse", "brand_new_kind"]
    assert [e["event"] for e in events] == kinds
    assert math.isnan(train[5]["loss_g"])


def test_split_history_is_pure_and_keeps_events():
    recs = [{"step": 1, "loss_d": 1.0}, {"step": 2, "loss_d": 2.0}, {"step": 2, "fid": 9.0},
            {"step": 2, "event": "rollback", "evidence": {"to_step": 1}},
            {"step": 2, "loss_d": 0.5}, {"no_step": True}, {"step": 3, "event": "rollback"}]  # no to_step: no cut
    h = split_history(recs)
    assert [(r["step"], r["loss_d"]) for r in h.train] == [(1, 1.0), (2, 0.5)]
    assert h.evals == []
    assert len(h.events) == 2


def test_report_is_self_contained_and_escaped(report):
    run, path, text = report
    assert path == run / "report.html"
    page = _Page(text)
    assert run.name in page.title
    assert EXPECTED_IDS <= set(page.ids)
    # Nothing leaves the page: no URL in any src or href, no script at all.
    assert not re.search(r'(?:src|href)\s*=\s*["\']?\s*(?:https?:)?//', text, re.I)
    assert "<script" not in text.lower()
    escaped = "D wins &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more"
    assert escaped in text.replace("&#x27;", "&#39;")  # two spellings of "'"; either will do
    assert any(SCRIPT_MESSAGE in r for r in page.event_rows)  # the message reads back as text
    assert "&lt;b&gt;not bold&lt;/b&gt;" in text  # the config, escaped in its <pre>
    # Figures and samples are PNG data URIs that decode.
    assert len(page.imgs) >= 11
    for src in page.imgs:
        _decode_png(src)
    assert page.captions == ["step 100", "step 200", "step 300"]
    # One row per event, the unknown kind included; the summary counts them.
    assert len(page.event_rows) == 5
    assert any("brand_new_kind" in r for r in page.event_rows)
    assert any("optim.d_lr=1e-4" in r and "to_step=100" in r for r in page.event_rows)
    assert "unreadable lines skipped" in text
    assert len(text) < 600_000  # figures are small


def test_names_and_config_values_from_the_run_are_text_not_markup(tmp_path):
    """A run directory, a config value and an event are the user's text: a ``<script>`` in any
    of them is shown, never run (the report is meant to be mailed and opened)."""
    evil = "<script>alert(1)</script>"
    run = tmp_path / "<script>run"  # '/' cannot appear in a directory name
    run.mkdir()
    (run / "config.yaml").write_text(f"data:\n  name: '{evil}'\nloss:\n  name: '\"><img src=x onerror=alert(2)>'\n")
    (run / "metrics.jsonl").write_text(
        json.dumps(_train(10)) + "\n" + json.dumps({"step": 10, "event": evil, "severity": evil, "state": evil,
                                                    "message": evil, "evidence": {evil: evil}, "remedy": [evil]}) + "\n")
    (run / "eval.json").write_text(json.dumps({evil: evil}))
    text = write_report(run).read_text()
    assert "<script" not in text.lower() and "<img src=x" not in text
    page = _Page(text)
    assert page.title == "ganforge report: <script>run"
    assert len(page.imgs) >= 4 and all(src.startswith("data:image/png;base64,") for src in page.imgs)
    assert page.event_rows and evil in page.event_rows[0]


def test_large_sample_is_downscaled_and_keeps_its_synthetic_mark(report):
    _, _, text = report
    big = [img for img in map(_decode_png, _Page(text).imgs) if img.size[0] == 420]
    assert len(big) == 1 and big[0].size == (420, 280)
    assert big[0].text.get("Description") == "synthetic"


def test_samples_are_spread_across_the_run(tmp_path):
    run = make_run(tmp_path)
    for step in range(400, 2001, 100):
        _png(run / "samples" / f"step-{step:07d}.png", (step % 255, 0, 0), size=(8, 8))
    captions = _Page(write_report(run, tmp_path / "out" / "r.html").read_text()).captions
    assert len(captions) == 8 and captions[0] == "step 100" and captions[-1] == "step 2000"


def test_errors_are_one_line(tmp_path):
    with pytest.raises(GanforgeError, match="no such run directory"):
        write_report(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(GanforgeError, match="no metrics.jsonl") as e:
        write_report(tmp_path / "empty")
    assert "\n" not in str(e.value)
    assert not (tmp_path / "empty" / "report.html").exists()


def test_a_run_with_no_records_still_reports(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    (run / "metrics.jsonl").write_text("")
    text = write_report(run).read_text()
    assert "no training records" in text and "no config.yaml" in text and "no events" in text


def test_phases_appear_when_the_doctor_gives_them(report):
    """The doctor ships with ganforge, so this always runs: this 300-step
    history has phases, and the report's table lists each with its first and last step."""
    from ganforge.diagnostics.doctor import diagnose

    run, _, text = report
    phases = diagnose(run).phases
    from ganforge.diagnostics.phases import DESCRIPTIONS

    assert phases and all(name in DESCRIPTIONS for name, _, _ in phases)
    assert 'id="phases"' in text
    for name, first, last in phases:
        assert re.search(rf"{name}</td>\s*<td>{first}</td>\s*<td>{last}</td>", text), (name, first, last)


# ---------------------------------------------------------------------------------------------
# A real browser. CI installs Chromium from Debian's packages (see .ci/run).

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=True)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (apt-get install chromium)")
def test_report_renders_in_headless_chromium(report, tmp_path):
    run, path, _ = report
    url = path.resolve().as_uri()

    dom = _chromium(tmp_path, "--dump-dom", url).stdout  # the DOM after parsing, as the browser built it
    page = _Page(dom)
    assert run.name in page.title
    assert EXPECTED_IDS <= set(page.ids)
    assert len(page.imgs) >= 11
    for src in page.imgs:
        _decode_png(src)
    assert len(page.event_rows) == 5
    assert any(SCRIPT_MESSAGE in r for r in page.event_rows)  # shown as text, not run
    assert "<script" not in dom.lower()

    shot = tmp_path / "shot.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,3000", url)
    img = Image.open(shot).convert("RGB")
    colours = img.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50, "the screenshot is (nearly) one colour"
    # The plots were drawn: matplotlib's first line colour (tab:blue) appears, and the page's
    # own CSS never uses it.
    blue = sum(n for n, (r, g, b) in colours if abs(r - 31) < 25 and abs(g - 119) < 25 and abs(b - 180) < 25)
    assert blue > 100
