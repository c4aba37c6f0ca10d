"""Sound from its sources: spoken digits made with espeak-ng, and the user's WAV/FLAC files.

Every reader returns clips in *data space*: float32 waveforms in [-1, 1], (N, L) with L =
round(seconds * sample_rate), at ``sample_rate`` Hz, and labels.

**Spoken digits** (``ganforge dataset build speech:digits``; in the spirit of SC09, the ten digit
words of Speech Commands that WaveGAN trained on; Donahue et al. 2019). Each clip is one word,
"zero" to "nine", said by espeak-ng (a Debian package; formant synthesis, so deterministic):

- a *speaker* is a voice with a variant (:data:`VOICES`, e.g. ``en-gb-scotland+m5``) at a pitch
  level (``--pitches`` levels spread over espeak's 0..99, each jittered by up to 4 per clip);
- each speaker says every digit ``--repeats`` times, each time at a random speed (130..210
  words a minute), peak amplitude (0.3..0.9), start within the clip, a small room (an
  exponentially decaying noise impulse response, RT60 0.05..0.3 s, 0..30 % wet) and white
  noise (25..45 dB SNR), all drawn from the clip's own seed;
- clips are resampled from espeak's 22,050 Hz with a polyphase filter, then cut or padded to
  ``--seconds``;
- the test split holds out whole speakers: speaker (voice v, pitch level p) is held out when
  p == v mod pitches, so every voice is heard in training at other pitches, and every pitch level
  with other voices, but never that combination. Clips are ordered repeat by repeat, speaker by
  speaker, digit by digit, so any first N clips hold every digit.

The same options and seed give byte-identical clips (int16 PCM); the record lists each clip's
voice, pitch, speed, amplitude, seed and split.

**The user's sounds** (:func:`read_folder`): WAV/FLAC/OGG files read with ``soundfile``, mixed
down to mono, resampled to ``sample_rate`` (polyphase), cut or padded to ``seconds``; labels from
the first-level subfolder names. Unreadable, silent and too-short (under a tenth of a second)
files are skipped and counted.
"""

from __future__ import annotations

import shutil
import subprocess
from math import gcd
from pathlib import Path
from typing import Optional

import numpy as np

from ...errors import GanforgeError

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
VOICES = (("en-us", "m3"), ("en-gb", "f2"), ("en-gb-scotland", "m5"), ("en-029", "f4"), ("en-gb-x-rp", "m7"),
          ("en-gb-x-gbclan", "f1"), ("en-gb-x-gbcwmd", "m2"), ("en-us", "f5"), ("en-gb", "klatt"),
          ("en-029", "m1"), ("en-gb-x-rp", "f3"), ("en-gb-scotland", "m4"))
ESPEAK_RATE = 22050
INSTALL = "speech:digits needs espeak-ng: install it with `apt-get install espeak-ng` (or `scripts/setup.sh --dev`)"
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
MIN_SECONDS = 0.1  # shorter user files are skipped
SILENT = 1e-4  # a user file whose peak is below this is silent


def espeak() -> str:
    """The espeak-ng executable, or one line saying how to install it."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise GanforgeError(INSTALL)
    return exe


def say(exe: str, word: str, voice: str, pitch: int, speed: int) -> np.ndarray:
    """espeak-ng saying ``word``: float32 samples at 22,050 Hz in [-1, 1]."""
    out = subprocess.run([exe, "-v", voice, "-p", str(pitch), "-s", str(speed), "-a", "100", "--stdout", word],
                         capture_output=True, check=False)
    if out.returncode != 0 or b"data" not in out.stdout[:256]:
        raise GanforgeError(f"espeak-ng -v {voice} failed: {out.stderr.decode(errors='replace').strip()[:200]}")
    start = out.stdout.index(b"data", 0, 256) + 8  # the header's data size is a streaming placeholder
    raw = out.stdout[start : start + (len(out.stdout) - start) // 2 * 2]
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """``x`` (..., L) from ``rate_in`` to ``rate_out`` Hz (polyphase filtering; exact integer ratio)."""
    if rate_in == rate_out:
        return x.astype(np.float32)
    from scipy.signal import resample_poly

    g = gcd(int(rate_in), int(rate_out))
    return resample_poly(x.astype(np.float64), rate_out // g, rate_in // g, axis=-1).astype(np.float32)


def fit_length(x: np.ndarray, length: int, start: int = 0) -> np.ndarray:
    """``x`` (L,) placed at ``start`` in ``length`` zeros; what runs past the end is cut."""
    out = np.zeros(length, dtype=np.float32)
    seg = x[: max(0, length - start)]
    out[start : start + len(seg)] = seg
    return out


def speakers(voices: int, pitches: int) -> list[tuple[int, int, bool]]:
    """Every (voice index, pitch level, held out) of a set: held out when p == v mod pitches."""
    return [(v, p, p == v % pitches) for v in range(voices) for p in range(pitches)]


def pitch_of(level: int, pitches: int) -> int:
    """Pitch level -> espeak's pitch (0..99): levels spread over 20..80."""
    return int(round(20 + 60 * (level + 0.5) / pitches))


def _room(x: np.ndarray, rate: int, rng: np.random.Generator) -> np.ndarray:
    """A small room: ``x`` convolved with exponentially decaying noise (RT60 0.05..0.3 s), 0..30 % wet."""
    rt60, wet = rng.uniform(0.05, 0.3), rng.uniform(0.0, 0.3)
    n = int(rt60 * rate)
    ir = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)  # -60 dB at rt60
    ir /= np.sqrt((ir**2).sum()) + 1e-12
    return ((1 - wet) * x + wet * np.convolve(x, ir)[: len(x)]).astype(np.float32)


def digit_clip(exe: str, digit: int, voice: int, level: int, opts: dict, seed: int) -> tuple[np.ndarray, dict]:
    """One clip (L,) float32 at ``opts['sample_rate']`` and its record, from the clip's ``seed``."""
    rng = np.random.default_rng(seed)
    name, variant = VOICES[voice]
    pitch = int(np.clip(pitch_of(level, opts["pitches"]) + rng.integers(-4, 5), 0, 99))
    speed = int(rng.integers(130, 211))
    x = resample(say(exe, DIGITS[digit], f"{name}+{variant}", pitch, speed), ESPEAK_RATE, opts["sample_rate"])
    nz = np.flatnonzero(np.abs(x) > 1e-3)  # trim espeak's leading and trailing silence
    x = x[nz[0] : nz[-1] + 1] if len(nz) else x
    length = int(round(opts["seconds"] * opts["sample_rate"]))
    slack = max(0, length - len(x))
    start = int(rng.integers(slack // 4, 3 * slack // 4 + 1)) if slack else 0
    x = _room(fit_length(x, length, start), opts["sample_rate"], rng)
    amp = float(rng.uniform(0.3, 0.9))
    x = x * (amp / max(float(np.abs(x).max()), 1e-6))
    snr = float(rng.uniform(25, 45))
    power = float((x**2).mean())
    x = x + rng.standard_normal(length).astype(np.float32) * np.float32(np.sqrt(power / 10 ** (snr / 10)))
    rec = {"digit": digit, "word": DIGITS[digit], "voice": name, "variant": variant, "pitch": pitch,
           "pitch_level": level, "speed": speed, "amplitude": round(amp, 4), "snr_db": round(snr, 2), "seed": seed}
    return np.clip(x, -1, 1).astype(np.float32), rec


def digit_plan(opts: dict) -> list[tuple[int, int, int, bool, int]]:
    """Every clip of a set, in order: (digit, voice, pitch level, held out, repeat)."""
    spk = speakers(opts["voices"], opts["pitches"])
    return [(d, v, p, held, r) for r in range(opts["repeats"]) for v, p, held in spk for d in range(len(DIGITS))]


def speech_digits(opts: dict, seed: int, progress: bool = False, train_limit: int = 0) -> tuple[dict, dict]:
    """The spoken-digits set: arrays ``waves`` (N, L) int16, ``labels`` (N,) int64, ``test``
    (N,) uint8 (1: a held-out speaker), and the record (options, speakers, one entry per clip).
    ``train_limit`` > 0: stop after that many training clips (the first clips of the full set)."""
    exe = espeak()
    if not 1 <= opts["voices"] <= len(VOICES):
        raise GanforgeError(f"--voices {opts['voices']}: choose 1 to {len(VOICES)}")
    if opts["pitches"] < 2 or opts["repeats"] < 1 or not 0.25 <= opts["seconds"] <= 4 or opts["sample_rate"] < 4000:
        raise GanforgeError("speech:digits needs --pitches >= 2, --repeats >= 1, --seconds in [0.25, 4] and "
                            "--sample-rate >= 4000")
    plan = digit_plan(opts)
    waves, labels, test, clips, n_train = [], [], [], [], 0
    for i, (d, v, p, held, _) in enumerate(plan):
        x, rec = digit_clip(exe, d, v, p, opts, int(np.random.SeedSequence([seed, i]).generate_state(1)[0]))
        waves.append(np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16))
        labels.append(d)
        test.append(int(held))
        clips.append({**rec, "split": "test" if held else "train"})
        n_train += not held
        if progress and (i + 1) % 100 == 0:
            print(f"speech:digits: {i + 1}/{len(plan)} clips", flush=True)
        if train_limit and n_train >= train_limit:
            break
    arrays = {"waves": np.stack(waves), "labels": np.array(labels, dtype=np.int64), "test": np.array(test, np.uint8)}
    record = {"words": list(DIGITS), "sample_rate": opts["sample_rate"], "seconds": opts["seconds"],
              "speakers": [{"voice": VOICES[v][0], "variant": VOICES[v][1], "pitch_level": p,
                            "split": "test" if held else "train"} for v, p, held in speakers(opts["voices"], opts["pitches"])],
              "clips": clips}
    return arrays, record


def make_speech_digits(options: dict, seed: int, progress: bool) -> tuple[dict, dict]:
    """The ``speech:digits`` recipe (``data/generated.py``)."""
    return speech_digits(options, seed, progress)


# ---------------------------------------------------------------------------- the user's files


def read_sound(path: Path, sample_rate: int) -> Optional[np.ndarray]:
    """One file as mono float32 at ``sample_rate``, or None when it is unreadable."""
    try:
        import soundfile as sf
    except ImportError:
        raise GanforgeError("reading WAV/FLAC files needs soundfile: pip install 'ganforge[audio]'") from None
    try:
        x, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception:  # libsndfile raises several kinds for a file that is not audio
        return None
    return resample(x.mean(1), rate, sample_rate)


def read_folder(folder: str, sample_rate: int, seconds: float) -> tuple[np.ndarray, Optional[list], dict]:
    """The user's sounds: (clips (N, L) float32, labels (subfolder names) or None, info with the
    counts of files read and skipped). One line when nothing usable is found."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise GanforgeError(f"data.path: {folder}: not a folder (give a folder of WAV/FLAC files, subfolders "
                            "as labels)")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    length = int(round(seconds * sample_rate))
    clips, labels, skipped = [], [], {"unreadable": 0, "silent": 0, "too_short": 0}
    for f in files:
        x = read_sound(f, sample_rate)
        if x is None:
            skipped["unreadable"] += 1
        elif len(x) < MIN_SECONDS * sample_rate:
            skipped["too_short"] += 1
        elif float(np.abs(x).max()) < SILENT:
            skipped["silent"] += 1
        else:
            clips.append(fit_length(np.clip(x, -1, 1), length))
            rel = f.relative_to(root).parts
            labels.append(rel[0] if len(rel) > 1 else None)
    if not clips:
        raise GanforgeError(f"data.path: {folder}: no usable sound file ({len(files)} WAV/FLAC/OGG found; skipped "
                            + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in skipped.items()) + ")")
    has = [lab is not None for lab in labels]
    if any(has) and not all(has):
        raise GanforgeError(f"data.path: {folder}: some files sit in subfolders (labels) and some at the top; "
                            "put every file in a subfolder named after its label, or none")
    info = {"format": "folder", "files": len(files), "read": len(clips), "skipped": skipped}
    return np.stack(clips), (labels if all(has) else None), info
