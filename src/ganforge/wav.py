"""WAV files with their provenance inside: 16-bit PCM mono RIFF/WAVE with a ``LIST``/``INFO`` chunk.

ganforge writes its own WAV bytes (the standard library's ``wave`` writes no metadata) so that
every generated clip says what it is in the file itself, as a PNG's text chunks do:

- ``INAM`` (title): "synthetic audio made by ganforge";
- ``ISFT`` (software): ``ganforge <version>``;
- ``ICMT`` (comment): the provenance as JSON (:func:`ganforge.files.provenance`).

Players ignore the chunk; ``sox --i``, libsndfile (``soundfile``) and :func:`read_info` read it.
Samples in [-1, 1] become ``round(x * 32768)`` clipped to int16, and are read back as
``k / 32768`` (libsndfile's own convention), so a clip read from a WAV writes the same bytes again.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TITLE = "synthetic audio made by ganforge"


@dataclass(frozen=True)
class Wave:
    """One WAV file's sound: ``samples`` (L,) float32 in [-1, 1] at ``rate`` Hz; ``clips``: it
    holds that many clips of equal length back to back (written in its INFO chunk)."""

    samples: np.ndarray
    rate: int
    clips: int = 1


def to_pcm16(x: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] -> int16, ``round(x * 32768)`` clipped."""
    return np.clip(np.round(np.asarray(x, dtype=np.float64) * 32768.0), -32768, 32767).astype("<i2")


def _chunk(tag: bytes, payload: bytes) -> bytes:
    pad = b"\x00" if len(payload) % 2 else b""
    return tag + struct.pack("<I", len(payload)) + payload + pad


def _zstr(text: str) -> bytes:
    return text.encode("utf-8") + b"\x00"


def wav_bytes(wave: Wave, info: dict) -> bytes:
    """The bytes of a WAV file of ``wave`` whose INFO chunk holds ``info`` (JSON, in ICMT)."""
    from ._version import __version__

    pcm = to_pcm16(wave.samples).tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, wave.rate, wave.rate * 2, 2, 16)  # PCM, mono, rate, byte rate, align, bits
    meta = {**info, "clips": wave.clips}
    if "Description" in meta:  # the run's synthetic-media words name images; this file is sound
        meta["Description"] = TITLE
    lst = b"INFO" + _chunk(b"INAM", _zstr(TITLE)) + _chunk(b"ISFT", _zstr(f"ganforge {__version__}")) \
        + _chunk(b"ICMT", _zstr(json.dumps(meta, sort_keys=True)))
    body = b"WAVE" + _chunk(b"fmt ", fmt) + _chunk(b"LIST", lst) + _chunk(b"data", pcm)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def read_info(path) -> dict:
    """The INFO chunk of a WAV file as {tag: text} (e.g. ``ICMT``, ``ISFT``), and ``provenance``:
    the ICMT's JSON when it parses. {} for a file without one; never raises on a damaged file."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return {}
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return {}
    out, pos = {}, 12
    while pos + 8 <= len(data):
        tag, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if tag == b"LIST" and data[pos + 8 : pos + 12] == b"INFO":
            sub, end = pos + 12, pos + 8 + size
            while sub + 8 <= end:
                t, s = data[sub : sub + 4], struct.unpack("<I", data[sub + 4 : sub + 8])[0]
                out[t.decode("ascii", "replace")] = data[sub + 8 : sub + 8 + s].rstrip(b"\x00").decode("utf-8", "replace")
                sub += 8 + s + (s % 2)
        pos += 8 + size + (size % 2)
    try:
        out["provenance"] = json.loads(out["ICMT"])
    except (KeyError, ValueError):
        pass
    return out


def read_wav(path) -> tuple[np.ndarray, int, dict]:
    """A 16-bit PCM mono WAV (as :func:`wav_bytes` writes): (samples (L,) float32, rate, INFO as
    :func:`read_info`). Other WAVs: read them with ``soundfile``. Raises ValueError on anything else."""
    data = Path(path).read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a WAV file")
    pos, rate, pcm = 12, None, None
    while pos + 8 <= len(data):
        tag, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if tag == b"fmt ":
            fmt, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[pos + 8 : pos + 24])
            if (fmt, channels, bits) != (1, 1, 16):
                raise ValueError(f"{path}: not 16-bit PCM mono")
        elif tag == b"data":
            pcm = np.frombuffer(data[pos + 8 : pos + 8 + size // 2 * 2], dtype="<i2")
        pos += 8 + size + (size % 2)
    if rate is None or pcm is None:
        raise ValueError(f"{path}: no fmt or data chunk")
    return pcm.astype(np.float32) / 32768.0, int(rate), read_info(path)
