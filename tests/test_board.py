"""``ganforge board``: the page lists runs with status and links to their reports, in a real
headless browser too; nothing outside the runs folder can be read; bad input is one line."""

import http.client
import re
import shutil
import socket
import subprocess
import threading

import pytest

import ganforge
from ganforge.cli import main
from ganforge.report.board import make_server

TINY = ["train.steps=10", "train.log_every=5", "train.progress=false", "train.tensorboard=false", "eval.every=5",
        "eval.n_samples=50", "model.g_width=16", "model.d_width=16", "train.batch_size=32"]


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    root = tmp_path_factory.mktemp("board")
    runs = root / "runs"
    ganforge.train("grid25", TINY, runs / "alpha")
    ganforge.train("ring8", TINY, runs / "beta")
    (root / "secret.txt").write_text("not for the board")
    server = make_server(runs, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path)  # sent as written: no client-side normalisation of ..
    r = c.getresponse()
    return r.status, r.read().decode()


def test_the_page_lists_runs_with_status_and_reports(board):
    status, page = _get(board, "/")
    assert status == 200 and 'http-equiv="refresh"' in page
    rows = re.findall(r'<tr class="run">.*?</tr>', page)
    assert len(rows) == 2 and "alpha" in rows[0] and "beta" in rows[1]
    assert all("finished" in r and "10 / 10" in r and "modes" in r for r in rows)
    status, report = _get(board, "/run/alpha/")
    assert status == 200 and "ganforge report: alpha" in report


@pytest.mark.parametrize("path", ["/../secret.txt", "/run/../secret.txt", "/run/%2e%2e/", "/run/alpha/../../secret.txt",
                                  "/run/alpha/config.yaml", "/run/..%2Fsecret.txt/", "/runs/alpha/", "/secret.txt"])
def test_nothing_outside_the_runs_folder_is_served(board, path):
    status, body = _get(board, path)
    assert status == 404 and "not for the board" not in body


CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (apt-get install chromium)")
def test_the_page_in_headless_chromium(board, tmp_path):
    def dom(url):
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
               f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", url]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=True).stdout

    page = dom(f"http://127.0.0.1:{board}/")
    links = re.findall(r'<a href="(/run/[^"]+/)">', page)
    assert links == ["/run/alpha/", "/run/beta/"]
    assert "ganforge report: beta" in dom(f"http://127.0.0.1:{board}{links[1]}")


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
