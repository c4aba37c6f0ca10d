"""The opt-in fetch of Inception weights, against a local file server on 127.0.0.1 that serves a
small stand-in file (never the network): hash check, resume of a partial download, refusal of a
wrong hash, one line when the server cannot be reached, and nothing fetched unless asked."""

import hashlib
import http.server
import socket
import threading

import pytest

from ganforge.cli import main
from ganforge.errors import GanforgeError
from ganforge.metrics.fetch import fetch_inception_weights, published_hash

PAYLOAD = bytes(range(256)) * 400  # 100 KiB stand-in for the weights
GOOD = hashlib.sha256(PAYLOAD).hexdigest()[:8]


class _Handler(http.server.BaseHTTPRequestHandler):
    requests: list = []

    def do_GET(self):  # noqa: N802 - the stdlib's name
        type(self).requests.append((self.path, self.headers.get("Range")))
        if not self.path.startswith("/weights-"):
            self.send_error(404)
            return
        start = 0
        rng = self.headers.get("Range")
        if rng and self.server.ranges:
            start = int(rng.split("=")[1].rstrip("-"))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.ranges = True
    _Handler.requests = []
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_fetch_checks_the_published_hash_and_caches(server, tmp_path):
    httpd, base = server
    url = f"{base}/weights-standin-{GOOD}.pth"
    assert published_hash(url) == GOOD
    path = fetch_inception_weights(url, tmp_path)
    assert path == tmp_path / f"weights-standin-{GOOD}.pth" and path.read_bytes() == PAYLOAD
    assert fetch_inception_weights(url, tmp_path) == path  # cached: no second request
    assert len(_Handler.requests) == 1
    assert not list(tmp_path.glob("*.part"))


@pytest.mark.parametrize("ranges", [True, False])
def test_a_partial_download_resumes(server, tmp_path, ranges):
    httpd, base = server
    httpd.ranges = ranges  # a server without range support sends it all again
    name = f"weights-standin-{GOOD}.pth"
    (tmp_path / f"{name}.part").write_bytes(PAYLOAD[:30_000])
    path = fetch_inception_weights(f"{base}/{name}", tmp_path)
    assert path.read_bytes() == PAYLOAD
    assert _Handler.requests == [(f"/{name}", "bytes=30000-")]


def test_a_wrong_hash_is_refused_and_deleted(server, tmp_path):
    _, base = server
    with pytest.raises(GanforgeError, match="not the published 0badc0de") as e:
        fetch_inception_weights(f"{base}/weights-standin-0badc0de.pth", tmp_path)
    assert "\n" not in str(e.value) and not list(tmp_path.iterdir())


def test_an_unreachable_server_is_one_line_with_the_manual_alternative(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(GanforgeError, match="--inception-weights FILE") as e:
        fetch_inception_weights(f"http://127.0.0.1:{port}/weights-x-{GOOD}.pth", tmp_path, timeout_s=5)
    assert "\n" not in str(e.value)


def test_the_cli_fetches_only_when_asked(server, tmp_path, monkeypatch, capsys):
    from conftest import TINY_IMAGES

    import ganforge

    _, base = server
    monkeypatch.setenv("GANFORGE_INCEPTION_URL", f"{base}/weights-standin-{GOOD}.pth")
    run = ganforge.train("digits", TINY_IMAGES + ["train.steps=5"], tmp_path / "r")
    assert main(["evaluate", str(run.path), "--n", "20"]) == 0
    assert _Handler.requests == []  # not asked: nothing fetched
    capsys.readouterr()
    # asked: fetched into the cache and verified; the stand-in is no Inception network, which is said in one line
    assert main(["evaluate", str(run.path), "--n", "20", "--inception"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"inception/weights-standin-{GOOD}.pth" in err and "refusing" in err
    assert len(_Handler.requests) == 1
