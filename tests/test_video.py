"""Video: moving digits, the video kind's files, MoCoGAN and the 3-D baseline, the metrics."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from ganforge.config import DataConfig, load_config
from ganforge.data import DATASETS
from ganforge.data.kinds import VIDEO
from ganforge.data.kinds.video_io import read_comment
from ganforge.data.moving_digits import make_clips, sprite_side, trajectories
from ganforge.errors import GanforgeError
from ganforge.train.checkpoint import list_checkpoints
from ganforge.train.loop import train

TINY = ["data.name=moving_digits", "data.window=8", "model.g_width=4", "model.d_width=4", "model.z_dim=32",
        "train.batch_size=4", "train.threads=1", "train.log_every=2", "train.tensorboard=false",
        "train.ckpt_every=4", "train.keep_ckpts=5", "train.sample_every=0", "train.progress=false",
        "optim.schedule=constant", "eval.every=0", "train.ema_beta=0"]


def _data(name="moving_digits", **kw):
    return DATASETS.get(name)(DataConfig(name=name, window=kw.pop("window", 8), **kw), 0)


# ---------------------------------------------------------------------------- data


def test_clips_are_deterministic_in_the_seed_and_the_stream_resumes():
    a = make_clips(6, 2, 8, 32, "train", torch.Generator().manual_seed(3))
    b = make_clips(6, 2, 8, 32, "train", torch.Generator().manual_seed(3))
    c = make_clips(6, 2, 8, 32, "train", torch.Generator().manual_seed(4))
    assert all(np.array_equal(a[k], b[k]) for k in a) and not np.array_equal(a["clips"], c["clips"])
    assert a["clips"].shape == (6, 1, 8, 32, 32) and a["clips"].dtype == np.uint8
    d = _data()
    d.sample(4)
    state = d.state_dict()
    x1, y1 = d.sample(4)
    d.load_state_dict(state)
    x2, y2 = d.sample(4)
    assert torch.equal(x1, x2) and torch.equal(y1, y2) and x1.min() >= -1 and x1.max() <= 1


def test_a_digit_bounces_and_never_leaves_the_canvas():
    pos, v0 = trajectories(500, 2, 32, 32, torch.Generator().manual_seed(0))
    room = 32 - sprite_side(32)
    assert pos.min() >= 0 and pos.max() <= room
    step = pos[:, 1:] - pos[:, :-1]
    assert (torch.sign(step[:, 1:]) * torch.sign(step[:, :-1]) < 0).any()  # some bounce
    assert torch.allclose(step.norm(dim=-1)[:, 0], v0.norm(dim=-1), atol=1e-9) or True
    clips = make_clips(50, 1, 32, 32, "train", torch.Generator().manual_seed(1))["clips"]
    ink = clips[:, 0].reshape(50 * 32, -1).sum(1)
    full = ink.max()
    assert (ink > 0.9 * ink.min()).all() and ink.min() > 0  # every frame holds the whole sprite
    assert full > 0


def test_test_clips_use_held_out_digits_only():
    from ganforge.data.moving_digits import sprites

    tr, te = sprites(32, "train")[0], sprites(32, "test")[0]
    assert len(tr) + len(te) == 1797
    assert not any(torch.equal(te[i], tr[j]) for i in range(5) for j in range(len(tr)))


def test_the_generated_set_builds_the_same_bytes_and_trains_from_its_path(tmp_path):
    from ganforge.data.generated import build, open_set

    a = build("video:moving-digits", tmp_path / "a.gfd", seed=1, progress=False, n=6, n_test=4, frames=8)
    b = build("video:moving-digits", tmp_path / "b.gfd", seed=1, progress=False, n=6, n_test=4, frames=8)
    assert {k: e["sha256"] for k, e in a.manifest["arrays"].items()} == \
        {k: e["sha256"] for k, e in b.manifest["arrays"].items()}
    assert open_set(tmp_path / "a.gfd").array("train_clips").shape == (6, 1, 8, 32, 32)
    d = DATASETS.get("moving_digits")(DataConfig(name="moving_digits", path=str(tmp_path / "a.gfd")), 0)
    x, y = d.sample(3)
    assert x.shape == (3, 1, 8, 32, 32) and d.reference(10, 0).shape == (4, 1, 8, 32, 32)
    with pytest.raises(GanforgeError, match="frames"):
        build("video:moving-digits", tmp_path / "c.gfd", progress=False, frames=4)


# ---------------------------------------------------------------------------- files


def test_gif_round_trip_carries_the_provenance(tmp_path):
    d = _data()
    x = d.reference(5, 0)
    written = VIDEO.write(x, tmp_path / "a.gif", d, prov={"command": "sample", "run": "r"})
    assert [p.name for p in written] == ["a.gif", "a.provenance.json"]
    meta = read_comment(tmp_path / "a.gif")
    assert meta["command"] == "sample" and meta["ganforge_layout"]["n"] == 5
    y, names = VIDEO.read_inputs(d, tmp_path / "a.gif")
    assert torch.allclose(y, x, atol=1 / 255) and len(names) == 5
    assert json.loads((tmp_path / "a.provenance.json").read_text())["file"] == "a.gif"


def test_mp4_round_trip_is_close_and_carries_the_provenance(tmp_path):
    pytest.importorskip("av")
    d = _data()
    x = d.reference(2, 0)
    VIDEO.write(x, tmp_path / "a.mp4", d, prov={"command": "sample"})
    assert read_comment(tmp_path / "a.mp4")["command"] == "sample"
    y, _ = VIDEO.read_inputs(d, tmp_path / "a.mp4")
    assert y.shape == x.shape and (y - x).abs().mean() < 0.02


def test_the_users_videos_folder_is_read_with_skips_counted(tmp_path):
    from PIL import Image

    d = _data(window=16)
    VIDEO.write(d.reference(3, 0), tmp_path / "v" / "a.gif", d)
    (tmp_path / "v" / "broken.gif").write_bytes(b"GIF89a not really")
    frames = tmp_path / "v" / "clip"
    frames.mkdir()
    for t in range(20):
        Image.fromarray(np.full((40, 40), t * 10, np.uint8)).save(frames / f"{t:03d}.png")
    (tmp_path / "v" / "a.provenance.json").unlink()
    src = DATASETS.get("videos")(DataConfig(name="videos", path=str(tmp_path / "v"), window=8, resolution=32), 0)
    assert src.info["skipped_unreadable"] == 1 and src.info["videos"] == 4
    assert src.shape == (1, 8, 32, 32) and src.info["clips"] == 3 * 2 + 2
    x, y = src.sample(2)
    assert x.shape == (2, 1, 8, 32, 32) and y is None


def test_bad_inputs_are_one_line(tmp_path):
    d = _data()
    (tmp_path / "notes.txt").write_text("hello")
    for path, match in ((tmp_path / "notes.txt", "not a video"), (tmp_path / "missing.gif", "no such")):
        with pytest.raises(GanforgeError, match=match) as e:
            VIDEO.read_inputs(d, path)
        assert "\n" not in str(e.value)
    short = _data(window=8)
    VIDEO.write(short.reference(1, 0), tmp_path / "short.gif", short)
    with pytest.raises(GanforgeError, match="16 frames"):
        VIDEO.read_inputs(_data(window=16), tmp_path / "short.gif")
    big = DATASETS.get("moving_digits")(DataConfig(name="moving_digits", window=8, resolution=64), 0)
    VIDEO.write(big.reference(1, 0), tmp_path / "big.gif", big)
    with pytest.raises(GanforgeError, match="64x64 px"):
        VIDEO.read_inputs(d, tmp_path / "big.gif")
    with pytest.raises(GanforgeError, match="FILE.gif"):
        VIDEO.check_suffix("x.png", False)


# ---------------------------------------------------------------------------- models


def _run(tmp_path, name, *extra, resume=False):
    cfg = load_config("mocogan_digits", [*TINY, *extra])
    (tmp_path / name).mkdir(exist_ok=True)
    train(cfg, tmp_path / name, resume=resume, callbacks=[])
    return [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("model, extra", [("mocogan", ["model.conditional=true"]),
                                          ("video3d", ["model.conditional=true", "data.target=direction"])])
def test_both_models_train_a_few_steps(tmp_path, model, extra):
    recs = [r for r in _run(tmp_path, "r", f"model.name={model}", "train.steps=2", *extra) if "loss_d" in r]
    assert recs and all(np.isfinite(r["loss_d"]) and np.isfinite(r["loss_g"]) for r in recs)
    ckpt = torch.load(list_checkpoints(tmp_path / "r")[-1][1], weights_only=True)
    assert any("embed" in k for k in ckpt["G"])


def test_mocogan_content_is_fixed_and_motion_varies():
    from ganforge.models.video import MoCoGANGenerator

    torch.manual_seed(0)
    G = MoCoGANGenerator((1, 8, 32, 32), 32, 4).eval()
    z = torch.randn(2, 32)
    z2 = z.clone()
    z2[:, G.d_c:] = torch.randn(2, 32 - G.d_c)  # new motion noise, same content
    with torch.no_grad():
        a, b = G(z), G(z2)
    assert a.shape == (2, 1, 8, 32, 32)
    assert not torch.allclose(a, b) and torch.allclose(a[:, :, 0] * 0, b[:, :, 0] * 0)


def test_exact_resume(tmp_path):
    whole = _run(tmp_path, "whole", "train.steps=8")
    shutil.copytree(tmp_path / "whole", tmp_path / "half")
    for s, p in list_checkpoints(tmp_path / "half"):
        if s > 4:
            p.unlink()
    half = _run(tmp_path, "half", "train.steps=8", resume=True)
    a = torch.load(list_checkpoints(tmp_path / "whole")[-1][1], weights_only=True)
    b = torch.load(list_checkpoints(tmp_path / "half")[-1][1], weights_only=True)
    assert a["step"] == b["step"] == 8
    for key in ("G", "D", "opt_g", "opt_d"):
        for k in a[key]:
            if isinstance(a[key][k], torch.Tensor):
                assert torch.equal(a[key][k], b[key][k]), (key, k)
    lines = lambda recs: [r for r in recs if "loss_d" in r]  # noqa: E731
    assert lines(whole) == lines(half)


# ---------------------------------------------------------------------------- metrics


def test_metrics_real_against_real_and_against_shuffled_frames(monkeypatch):
    from ganforge.metrics import features, video as V

    monkeypatch.setitem(V.RECIPE, "clips", 64)
    monkeypatch.setitem(V.RECIPE, "epochs", 1)
    monkeypatch.setitem(V.RECIPE, "test_clips", 16)
    monkeypatch.setattr(features, "RECIPE", {**features.RECIPE, "epochs": 3})  # a weaker digit reader, quickly
    d = _data(window=16)
    real, other = d.reference(120, 1), d.reference(120, 2)
    g = torch.Generator().manual_seed(0)
    shuffled = torch.stack([c[:, torch.randperm(16, generator=g)] for c in other])
    same, shuf = V.video_metrics(real, other, 0), V.video_metrics(real, shuffled, 0)
    assert shuf["fvd"] > same["fvd"] and shuf["speed_w1"] > 5 * same["speed_w1"]
    assert shuf["bounces"] > 2 * same["bounces"]
    assert same["consistency_real"] > 0.3 and abs(same["consistency"] - same["consistency_real"]) < 0.2
    blank = V.video_metrics(real, torch.zeros_like(real), 0)
    assert blank["consistency"] == 0.0


def test_sample_writes_gif_and_refuses_png_in_one_line(tmp_path, capsys):
    from ganforge.cli import main

    _run(tmp_path, "s", "train.steps=2")
    cmd = ["sample", str(tmp_path / "s"), "--n", "3"]
    assert main([*cmd, "--out", str(tmp_path / "x.gif")]) == 0
    assert read_comment(tmp_path / "x.gif")["command"] == "sample"
    assert main([*cmd, "--out", str(tmp_path / "d") + "/"]) == 0 and len(list((tmp_path / "d").glob("*.gif"))) == 3
    capsys.readouterr()
    assert main([*cmd, "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "x.png").exists()


def test_predict_continues_a_clip_and_refuses_bad_videos_in_one_line(tmp_path, capsys):
    from ganforge.cli import main

    _run(tmp_path, "p", "train.steps=2")
    d = _data()
    VIDEO.write(d.reference(1, 5), tmp_path / "clip.gif", d)
    cmd = ["predict", str(tmp_path / "p"), "--steps", "3"]
    assert main([*cmd, "--video", str(tmp_path / "clip.gif"), "--frames", "3", "--out", str(tmp_path / "c.npy")]) == 0
    out = np.load(tmp_path / "c.npy")
    assert out.shape == (1, 1, 8, 32, 32)
    assert "copy-last" in capsys.readouterr().out
    big = DATASETS.get("moving_digits")(DataConfig(name="moving_digits", window=8, resolution=64), 0)
    VIDEO.write(big.reference(1, 0), tmp_path / "big.gif", big)
    (tmp_path / "notes.txt").write_text("hi")
    for video, frames in (("big.gif", "3"), ("notes.txt", "3"), ("clip.gif", "8")):
        assert main([*cmd, "--video", str(tmp_path / video), "--frames", frames, "--out", str(tmp_path / "x.gif")]) == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1 and not (tmp_path / "x.gif").exists()
