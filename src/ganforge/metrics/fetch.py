"""The one download ganforge can make, and only when asked: torch-fidelity's Inception-v3 weights.

``ganforge evaluate RUN --inception`` (or ``eval.inception=true``) fetches torch-fidelity's
published weights file once into ``$GANFORGE_CACHE/inception/`` and checks its published hash:
the hex digits in the file's name (``...-6726825d.pth``) are the start of its SHA-256, the
convention of ``torch.hub`` that torch-fidelity follows. Nothing is fetched otherwise.

- an interrupted download is kept as ``NAME.part`` and resumed with an HTTP range request;
- a file whose SHA-256 does not start with the published digits is deleted and refused;
- a machine that cannot reach the server gets one line naming the manual alternative,
  ``--inception-weights FILE``.

``GANFORGE_INCEPTION_URL`` points the fetch at a mirror (the file name, hence the hash, is the
last part of the URL).
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

from ..errors import GanforgeError

URL = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth"
_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,64})\.[A-Za-z0-9]+$")
_BLOCK = 1 << 20


def cache_dir() -> Path:
    return Path(os.environ.get("GANFORGE_CACHE", Path.home() / ".cache" / "ganforge")) / "inception"


def published_hash(url: str) -> str:
    """The SHA-256 prefix a URL's file name publishes (``weights-...-6726825d.pth`` -> ``6726825d``)."""
    m = _HASH_IN_NAME.search(url.rsplit("/", 1)[-1])
    if not m:
        raise GanforgeError(f"--inception: {url} publishes no hash in its file name; refusing to fetch it")
    return m.group(1)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            h.update(block)
    return h.hexdigest()


def _manual(url: str, reason: str) -> GanforgeError:
    return GanforgeError(f"--inception: cannot fetch the Inception weights from {url} ({reason}); download that "
                         "file by hand and pass --inception-weights FILE (or eval.inception_weights=FILE)")


def fetch_inception_weights(url: Optional[str] = None, folder: Optional[Path] = None, timeout_s: float = 30.0) -> Path:
    """The path of the verified weights file in the cache, downloading (or resuming) it first
    when it is not there yet. Raises a one-line GanforgeError when the server cannot be reached
    or the file's hash is wrong."""
    url = url or os.environ.get("GANFORGE_INCEPTION_URL") or URL
    want = published_hash(url)
    folder = Path(folder) if folder is not None else cache_dir()
    dest = folder / url.rsplit("/", 1)[-1]
    if dest.is_file() and _sha256(dest).startswith(want):
        return dest
    folder.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "ganforge"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            resumed = have and response.status == 206
            with open(part, "ab" if resumed else "wb") as f:  # a server that ignores the range restarts it
                for block in iter(lambda: response.read(_BLOCK), b""):
                    f.write(block)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # the part is already whole: check it below
            pass
        else:
            raise _manual(url, f"HTTP {e.code}") from None
    except (urllib.error.URLError, OSError) as e:  # no route, DNS, refused, timeout: the part stays for a resume
        raise _manual(url, str(getattr(e, "reason", e))) from None
    got = _sha256(part)
    if not got.startswith(want):
        part.unlink(missing_ok=True)
        raise GanforgeError(f"--inception: the file from {url} has SHA-256 {got[:16]}..., not the published "
                            f"{want}...; deleted it and refusing it (pass --inception-weights FILE for a file you trust)")
    os.replace(part, dest)
    return dest


__all__ = ["URL", "cache_dir", "fetch_inception_weights", "published_hash"]
