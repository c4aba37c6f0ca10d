"""``ganforge board``: a card per run (newest sample grid as a thumbnail, a sparkline of its
headline metric), a sampler per run (seed, class or a row per class, truncation, n -> a grid),
and several runs' curves overlaid; driven in a real headless Chromium too (form filled, button
clicked, images decoded, screenshots taken). Nothing outside the runs folder can be read; bad
input is one line."""

import http.client
import io
import os
import re
import shutil
import socket
import threading
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

import ganforge
from browser import CHROMIUM, Browser
from ganforge.cli import main
from ganforge.report.board import make_server, render_index

# 8x8 conditional digits, 10 steps: a sample grid and an evaluation at steps 5 and 10
TINY = ["data.resolution=8", "model.conditional=true", "model.g_width=4", "model.d_width=4", "model.z_dim=8",
        "train.batch_size=16", "train.steps=10", "train.log_every=5", "train.sample_every=5", "eval.every=5",
        "eval.n_samples=40", "doctor.probe_n=16", "train.progress=false", "train.tensorboard=false",
        "train.threads=1"]


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    root = tmp_path_factory.mktemp("board")
    runs = root / "runs"
    ganforge.train("digits", TINY, runs / "alpha")
    ganforge.train("digits", TINY + ["optim.g_lr=0.0005", "train.seed=1"], runs / "beta")
    ganforge.train("ring8", ["train.steps=10", "train.log_every=5", "eval.every=5", "eval.n_samples=200",
                             "train.progress=false", "train.tensorboard=false", "model.g_width=16",
                             "model.d_width=16", "train.threads=1"], runs / "gamma")
    (root / "secret.txt").write_text("not for the board")
    server = make_server(runs, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield SimpleNamespace(port=server.server_address[1], runs=runs)
    server.shutdown()
    server.server_close()


def _get(port, path, raw=False):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", path)  # sent as written: no client-side normalisation of ..
    r = c.getresponse()
    body = r.read()
    return r.status, body if raw else body.decode()


def test_the_front_page_has_a_card_per_run_with_a_thumbnail_and_a_sparkline(board):
    status, page = _get(board.port, "/")
    assert status == 200 and "<tr" not in page  # cards, not bare table rows
    assert 'http-equiv="refresh"' not in page  # nothing trains: the page keeps its ticked boxes
    cards = re.findall(r'<article class="run".*?</article>', page, re.S)
    assert [re.search(r'id="run-(\w+)"', c).group(1) for c in cards] == ["alpha", "beta", "gamma"]
    for c in cards:
        assert "finished" in c and "10 / 10" in c and 'class="thumb"' in c
        assert re.search(r'<svg class="spark".*?<polyline points="[\d., ]+"', c)  # two evaluations: a line
    assert "<b>fid</b>" in cards[0] and "<b>modes</b>" in cards[2]  # each kind's headline metric
    status, png = _get(board.port, "/run/alpha/thumb.png", raw=True)
    thumb = Image.open(io.BytesIO(png))
    assert status == 200 and max(thumb.size) <= 216 and "synthetic" in thumb.info["Description"]
    status, report = _get(board.port, "/run/alpha/")
    assert status == 200 and "ganforge report: alpha" in report


def test_the_page_refreshes_only_while_a_run_trains(board, tmp_path):
    shutil.copytree(board.runs / "alpha", tmp_path / "alpha")
    (tmp_path / "alpha" / "eval.json").unlink()  # not finished, and its log was just written: running
    os.utime(tmp_path / "alpha" / "metrics.jsonl")
    page = render_index(tmp_path)
    assert 'http-equiv="refresh"' in page and 'class="status running"' in page


def _png(port, query, run="alpha"):
    status, body = _get(port, f"/run/{run}/sample.png?{query}", raw=True)
    return status, body


def test_the_sampler_draws_the_grid_that_ganforge_sample_draws(board, tmp_path):
    status, body = _png(board.port, "seed=7&class=2&n=12")
    assert status == 200
    img = Image.open(io.BytesIO(body))
    assert "synthetic" in img.info["Description"] and img.info["seed"] == "7" and img.info["run"] == "alpha"
    assert main(["sample", str(board.runs / "alpha"), "--n", "12", "--seed", "7", "--class", "2", "--out", str(tmp_path / "g.png")]) == 0
    same = np.asarray(Image.open(tmp_path / "g.png"))
    assert np.array_equal(np.asarray(img), same)  # the same samples, laid out and marked the same way
    assert _png(board.port, "seed=7&class=2&n=12")[1] == body  # the same seed draws the same grid
    assert _png(board.port, "seed=8&class=2&n=12")[1] != body
    rows = Image.open(io.BytesIO(_png(board.port, "seed=7&class=rows&n=20")[1]))  # a row per class, named
    assert rows.size[1] > img.size[1] and rows.info.get("class") == "rows"
    status, page = _get(board.port, "/run/alpha/sampler?seed=7&class=2&n=12")
    assert status == 200 and 'id="grid"' in page and "seed=7" in page and "truncation" not in page  # dcgan: none
    assert '<option value="2" selected>' in page and 'value="rows"' in page
    status, scatter = _png(board.port, "seed=1&n=50", run="gamma")  # points: the kind's own figure
    assert status == 200 and scatter[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("query, words", [("class=10", "class"), ("n=0", "n in 1..256"), ("seed=x", "whole numbers"),
                                          ("truncation=0.5", "no truncation trick"), ("class=rows&n=4", None)])
def test_bad_sampler_fields_are_one_line_400(board, query, words):
    status, body = _png(board.port, query)
    if words is None:
        assert status == 200
        return
    assert status == 400 and body.decode().count("\n") == 0 and words in body.decode()
    status, page = _get(board.port, f"/run/alpha/sampler?{query}")
    assert status == 400 and 'class="error"' in page and 'id="grid"' not in page
    status, body = _png(board.port, "class=rows", run="gamma")
    assert status == 400 and b"no classes" in body


def test_the_comparison_overlays_the_chosen_runs(board):
    status, page = _get(board.port, "/compare?run=alpha&run=beta&metric=fid")
    assert status == 200
    assert re.findall(r'<polyline class="curve" data-run="(\w+)"', page) == ["alpha", "beta"]
    assert "fid (lower is better)" in page and '<option selected>fid</option>' in page
    status, page = _get(board.port, "/compare?run=alpha&run=beta&metric=loss_d")  # a training statistic too
    assert len(re.findall(r'<polyline class="curve"', page)) == 2
    status, page = _get(board.port, "/compare?run=../secret.txt")  # unknown names are dropped, never read
    assert status == 200 and "not for the board" not in page


@pytest.mark.parametrize("path", ["/../secret.txt", "/run/../secret.txt", "/run/%2e%2e/", "/run/alpha/../../secret.txt",
                                  "/run/alpha/config.yaml", "/run/..%2Fsecret.txt/", "/runs/alpha/", "/secret.txt",
                                  "/run/%2e%2e/thumb.png", "/run/..%2F..%2Fsecret.txt/sampler", "/compare/../secret.txt"])
def test_nothing_outside_the_runs_folder_is_served(board, path):
    status, body = _get(board.port, path)
    assert status == 404 and "not for the board" not in body


SHOTS = os.environ.get("GANFORGE_BOARD_SHOTS")  # a folder to keep the screenshots in (docs/figures)


def _colours(path) -> int:
    colours = Image.open(path).convert("RGB").getcolors(maxcolors=1 << 20)
    return len(colours) if colours is not None else 1 << 20


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (apt-get install chromium)")
def test_the_board_in_headless_chromium(board, tmp_path):
    base = f"http://127.0.0.1:{board.port}"
    with Browser(tmp_path / "profile") as b:
        b.goto(base + "/")
        assert b.js("[...document.querySelectorAll('img.thumb')].map(i => i.complete && i.naturalWidth > 0)") \
            == [True, True, True]  # every thumbnail came back and decoded
        assert b.js("document.querySelectorAll('svg.spark polyline').length") == 3
        front = b.screenshot(tmp_path / "board_front.png")

        # the sampler: fill the form, click draw, and the grid of that seed and class comes back
        b.js("document.querySelector('#run-alpha a').click()")
        b.wait_for("Page.loadEventFired")
        assert b.js("location.pathname") == "/run/alpha/sampler"
        assert b.js("document.querySelector('#grid').naturalWidth") > 0  # a bare sampler draws a row per class
        assert b.js("document.querySelector('[name=class]').value") == "rows"
        b.js("document.querySelector('[name=seed]').value = '7';"
             "document.querySelector('[name=class]').value = '2';"
             "document.querySelector('[name=n]').value = '24'")
        b.submit("#sampler")
        assert b.js("location.search") == "?seed=7&class=2&n=24"
        assert b.js("document.querySelector('#grid').complete && document.querySelector('#grid').naturalWidth") > 0
        assert "seed 7, class 2" in b.js("document.querySelector('figcaption').textContent")
        sampler = b.screenshot(tmp_path / "board_sampler.png")

        # compare: tick two runs on the front page, click compare, two curves overlaid
        b.goto(base + "/")
        b.js("for (const n of ['alpha', 'beta']) document.querySelector(`input[value=${n}]`).checked = true")
        b.submit("#pick")
        assert b.js("location.search") == "?run=alpha&run=beta"
        assert b.js("[...document.querySelectorAll('polyline.curve')].map(p => p.dataset.run)") == ["alpha", "beta"]
        compare = b.screenshot(tmp_path / "board_compare.png")
    for shot in (front, sampler, compare):
        assert _colours(shot) > 50, f"{shot.name} is (nearly) one colour"
        if SHOTS:
            shutil.copy(shot, os.path.join(SHOTS, shot.name))


def test_bad_board_input_is_one_line_exit_2(tmp_path, capsys):
    assert main(["board", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such folder" in err
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert main(["board", str(tmp_path), "--port", str(s.getsockname()[1])]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "choose another --port" in err
