"""Audio (issue 33): the spoken-digits set, the user's sounds, WAV files with provenance, the
spectrogram maths, WaveGAN and its phase shuffle, exact resume and the commands' bad input.

Tiny throughout: a set of 2 voices x 2 pitch levels x 10 digits, half a second at 4 kHz (40
clips, built once), WaveGAN of width 4 for a few steps.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from ganforge.cli import main
from ganforge.config import load_config
from ganforge.errors import GanforgeError

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                reason="needs espeak-ng (apt-get install espeak-ng; scripts/setup.sh --dev)")
SET = ["--voices", "2", "--pitches", "2", "--repeats", "1", "--sample-rate", "4000", "--seconds", "0.5"]
TINY = ["data.sample_rate=4000", "data.seconds=0.5", "model.g_width=4", "model.d_width=4", "model.z_dim=8",
        "train.batch_size=8", "train.d_steps=1", "train.threads=1", "train.progress=false", "train.log_every=2",
        "train.ckpt_every=2", "train.keep_ckpts=5", "train.sample_every=0", "eval.every=0", "eval.n_samples=20"]


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    out = tmp_path_factory.mktemp("audio") / "digits.gfd"
    assert main(["dataset", "build", "speech:digits", "--out", str(out), *SET]) == 0
    return out


def _data(digits, *extra):
    from ganforge.build import build_data

    return build_data(load_config("wavegan_digits", [f"data.path={digits}", *TINY, *extra]))


# ---------------------------------------------------------------------------- the spoken digits


def test_the_same_arguments_build_the_same_bytes_and_splits_hold_out_whole_speakers(digits, tmp_path):
    again = tmp_path / "again.gfd"
    assert main(["dataset", "build", "speech:digits", "--out", str(again), *SET]) == 0
    for name in ("waves.npy", "labels.npy", "test.npy"):
        assert (digits / name).read_bytes() == (again / name).read_bytes()
    m = json.loads((digits / "manifest.json").read_text())
    clips = m["record"]["clips"]
    assert len(clips) == 40 and {c["digit"] for c in clips} == set(range(10))
    assert all({"voice", "variant", "pitch", "speed", "seed", "split"} <= set(c) for c in clips)
    speaker = lambda c: (c["voice"], c["variant"], c["pitch_level"])  # noqa: E731
    train = {speaker(c) for c in clips if c["split"] == "train"}
    test = {speaker(c) for c in clips if c["split"] == "test"}
    assert train and test and not train & test  # whole voice+pitch combinations held out
    assert {v for v, _, _ in train} == {v for v, _, _ in test}  # every voice is heard in training
    waves = np.load(digits / "waves.npy")
    assert waves.shape == (40, 2000) and waves.dtype == np.int16 and np.abs(waves).max() > 3000
    other = tmp_path / "seed1.gfd"
    assert main(["dataset", "build", "speech:digits", "--out", str(other), *SET, "--seed", "1"]) == 0
    assert (other / "waves.npy").read_bytes() != (digits / "waves.npy").read_bytes()


def test_the_dataset_reads_the_set_with_its_held_out_speakers(digits):
    data = _data(digits)
    assert data.shape == (2000, 1) and data.n_classes == 10 and data.sample_rate == 4000
    hx, hy = data.holdout
    assert len(data.x) == len(hx) == 20 and hy.shape == (20,)
    x, y = data.sample(8)
    assert x.shape == (8, 2000, 1) and x.abs().max() <= 1 and y.shape == (8,)
    assert _data(digits, "data.sample_rate=8000").shape == (4000, 1)  # resampled on reading


def test_without_espeak_ng_the_build_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    from ganforge.data.kinds import audio_io

    monkeypatch.setattr(audio_io.shutil, "which", lambda name: None)
    assert main(["dataset", "build", "speech:digits", "--out", str(tmp_path / "x.gfd"), *SET]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "apt-get install espeak-ng" in err
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- the user's sounds


def test_a_folder_of_sounds_resampled_labelled_and_bad_files_counted(tmp_path):
    import soundfile as sf

    from ganforge.data.kinds.audio_io import read_folder

    t = np.arange(8000) / 8000
    for label, f0 in (("low", 220), ("high", 880)):
        (tmp_path / label).mkdir()
        for i, (rate, ext) in enumerate(((8000, "wav"), (16000, "flac"), (22050, "wav"))):
            n = int(rate * 0.7)
            sf.write(tmp_path / label / f"{i}.{ext}", 0.5 * np.sin(2 * np.pi * f0 * np.arange(n) / rate), rate)
    sf.write(tmp_path / "low" / "silent.wav", np.zeros(4000), 8000)
    sf.write(tmp_path / "low" / "short.wav", 0.5 * np.sin(t[:100]), 8000)
    (tmp_path / "high" / "broken.wav").write_bytes(b"RIFF not really")
    x, labels, info = read_folder(str(tmp_path), 4000, 0.5)
    assert x.shape == (6, 2000) and sorted(set(labels)) == ["high", "low"]
    assert info["skipped"] == {"unreadable": 1, "silent": 1, "too_short": 1}
    spec = np.abs(np.fft.rfft(x[labels.index("high")]))  # 880 Hz kept through resampling
    assert abs(np.argmax(spec) * 4000 / 2000 - 880) < 5


def test_an_empty_folder_and_a_non_audio_file_are_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("not audio")
    for path in (tmp_path / "empty", tmp_path / "notes.txt"):
        assert main(["train", "--out", str(tmp_path / "run"), "data.name=sounds", f"data.path={path}"]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and "data.path" in err
        assert not (tmp_path / "run").exists()  # nothing written


# ---------------------------------------------------------------------------- WAV files and spectrograms


def test_a_wav_carries_its_provenance_and_reads_back(digits, tmp_path):
    import soundfile as sf

    from ganforge.files import write_output
    from ganforge.wav import read_info

    data, kind = _data(digits), _data(digits).kind
    x = data.reference(3, 0)  # (3, 2000, 1)
    write_output(tmp_path / "a.wav", kind.content(x, ".wav", data), {"run": "r", "step": 5, "synthetic": True})
    info = read_info(tmp_path / "a.wav")
    assert info["INAM"].startswith("synthetic audio") and info["provenance"]["run"] == "r"
    assert info["provenance"]["clips"] == 3
    side = json.loads((tmp_path / "a.provenance.json").read_text())
    assert side["step"] == 5 and len(side["sha256"]) == 64
    y, rate = sf.read(tmp_path / "a.wav", dtype="float32")
    assert rate == 4000 and np.allclose(y, x.flatten().numpy(), atol=1 / 32768)
    back, names = kind.read_inputs(data, tmp_path / "a.wav")  # a ganforge WAV: its clips, split
    assert back.shape == x.shape and names == ["a.wav#0", "a.wav#1", "a.wav#2"]
    with pytest.raises(GanforgeError, match="not a readable audio file"):
        (tmp_path / "b.wav").write_text("text")
        kind.read_inputs(data, tmp_path / "b.wav")


def test_griffin_lim_recovers_a_real_clip_within_the_stated_bound(digits):
    from ganforge.data.kinds.audio import stft_size
    from ganforge.data.kinds.audio_spectral import griffin_lim, magnitude, spectral_convergence

    data = _data(digits)
    x = data.reference(2, 0).flatten(1)  # (2, 2000)
    n_fft, hop = stft_size(4000)
    y = griffin_lim(magnitude(x, n_fft, hop), n_fft, hop, x.shape[1], iters=32)
    assert y.shape == x.shape
    assert spectral_convergence(x, y, n_fft, hop) < 0.15  # docs/data/audio.md states this bound
    noise = torch.randn_like(x) * x.std()
    assert spectral_convergence(x, noise, n_fft, hop) > 0.5  # the bound is not met by anything


# ---------------------------------------------------------------------------- WaveGAN


def test_phase_shuffle_is_the_identity_at_zero_and_a_shift_otherwise():
    from ganforge.models.wavegan import phase_shuffle

    x = torch.randn(6, 3, 40)
    assert torch.equal(phase_shuffle(x, 0), x)
    y = phase_shuffle(x, 2, torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    for i in range(6):  # each example is its own shift by k in -2..2, the edges reflected
        assert any(torch.equal(y[i, :, 2:-2], x[i, :, 2 - k : 38 - k]) for k in range(-2, 3))


def test_wavegan_trains_resumes_exactly_and_samples_every_output(digits, tmp_path, capsys):
    from ganforge.train.checkpoint import list_checkpoints
    from ganforge.train.loop import train

    cfg = load_config("wavegan_digits", [f"data.path={digits}", *TINY, "train.steps=4"])
    run = tmp_path / "whole"
    for d in ("whole", "half"):
        (tmp_path / d).mkdir()
    train(cfg, run, callbacks=[])
    shutil.copytree(run, tmp_path / "half", dirs_exist_ok=True)
    for s, p in list_checkpoints(tmp_path / "half"):
        if s > 2:
            p.unlink()
    train(cfg, tmp_path / "half", resume=True, callbacks=[])
    a, b = (torch.load(list_checkpoints(tmp_path / d)[-1][1], weights_only=True) for d in ("whole", "half"))
    assert a["step"] == b["step"] == 4
    for key in ("G", "D"):
        for k in a[key]:
            assert torch.equal(a[key][k], b[key][k]), (key, k)
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])
    assert any("embed" in k for k in a["G"]) and any("proj" in k for k in a["D"])  # conditional on the digit
    capsys.readouterr()

    assert main(["sample", str(run), "--n", "3", "--class", "7", "--out", str(tmp_path / "seven.wav")]) == 0
    assert main(["sample", str(run), "--n", "2", "--out", str(tmp_path / "dir") + "/"]) == 0
    assert main(["sample", str(run), "--n", "20", "--out", str(tmp_path / "grid.png")]) == 0
    from ganforge.wav import read_info

    assert read_info(tmp_path / "seven.wav")["provenance"]["class"] == 7
    assert sorted(p.name for p in (tmp_path / "dir").iterdir()) == ["000000.wav", "000001.wav", "manifest.json"]
    from PIL import Image

    assert Image.open(tmp_path / "grid.png").width > 100
    capsys.readouterr()
    assert main(["sample", str(run), "--n", "3", "--class", "10", "--out", str(tmp_path / "ten.wav")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--class 10" in err and not (tmp_path / "ten.wav").exists()
    assert main(["sample", str(run), "--n", "3", "--out", str(tmp_path / "x.csv")]) == 2
    assert "audio runs write" in capsys.readouterr().err


def test_the_report_plays_each_clip_beside_its_spectrogram(digits, tmp_path):
    from ganforge.report.html import render_report
    from ganforge.report.sample_plots import SamplePlots
    from ganforge.train.loop import train

    run = tmp_path / "r"
    run.mkdir()
    train(load_config("wavegan_digits", [f"data.path={digits}", *TINY, "train.steps=2", "train.sample_every=2"]),
          run, callbacks=[SamplePlots()])
    assert (run / "samples" / "step-0000002.wav").is_file()
    page = render_report(run)
    assert page.count("<audio controls") == 10 and page.count('src="data:audio/wav;base64,') == 10
    assert "seven" in page
    chromium = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)
    if chromium is None:
        pytest.skip("no chromium binary on PATH: the players were not tried in a browser")
    _plays_in_chromium(chromium, page, tmp_path)


def _plays_in_chromium(chromium: str, page: str, tmp_path) -> None:
    """Headless Chromium decodes the report's WAVs: each player's source loads as a 0.5 s clip.
    (The report itself runs no script; this page of the same sources does, to read the durations.)"""
    import re
    import subprocess

    srcs = re.findall(r'<audio controls preload="none" src="(data:audio/wav;base64,[^"]+)"', page)
    script = ("const srcs = %s; const got = [];\n"
              "srcs.forEach((s, i) => { const a = new Audio(); a.preload = 'auto';\n"
              "  a.onloadedmetadata = () => { got.push(a.duration.toFixed(2));\n"
              "    if (got.length == srcs.length) document.getElementById('out').textContent = 'ok ' + got.join(','); };\n"
              "  a.onerror = () => { document.getElementById('out').textContent = 'error ' + i; }; a.src = s; });"
              % json.dumps(srcs))
    (tmp_path / "play.html").write_text(f"<html><body><div id=out>pending</div><script>{script}</script></body></html>")
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--dump-dom",
           (tmp_path / "play.html").as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=True).stdout
    out = re.search(r'<div id="out">([^<]*)', dom).group(1)
    assert out == "ok " + ",".join(["0.50"] * 10), out


def test_specgan_trains_a_few_steps_to_clips_of_the_run_length(digits, tmp_path):
    from ganforge.models.specgan import from_spec, to_spec
    from ganforge.train.loop import train

    data = _data(digits)
    x = data.reference(2, 0)
    back = from_spec(to_spec(x, 2000), 2000)  # the front ends invert each other up to Griffin-Lim's phase
    assert back.shape == x.shape
    assert (to_spec(back, 2000) - to_spec(x, 2000)).abs().mean() < 0.1
    (tmp_path / "s").mkdir()
    train(load_config("specgan_digits", [f"data.path={digits}", *TINY, "train.steps=2"]), tmp_path / "s",
          callbacks=[])
    recs = [json.loads(line) for line in (tmp_path / "s" / "metrics.jsonl").read_text().splitlines()]
    assert any("loss_d" in r and np.isfinite(r["loss_d"]) for r in recs)
