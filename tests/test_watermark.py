"""The invisible mark on generated images, and `ganforge verify`."""

import io
import json

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from ganforge import watermark as W
from ganforge.cli import main

KEY, OTHER = bytes(range(16)), bytes(range(1, 17))


def _photo(size=96, seed=0):
    """A smooth random image with edges: a stand-in for a generated picture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    img = 128 + 60 * np.sin(6 * x + rng.random() * 6) * np.cos(4 * y) + 40 * (x + y > 1)
    return np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)


def _resave(a, fmt, **kw):
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format=fmt, **kw)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())))


def test_the_mark_is_found_with_its_key_only_and_survives_ordinary_handling():
    img = _photo()
    marked = W.embed(img, KEY)
    assert np.sqrt(((marked.astype(float) - img) ** 2).mean()) < 2.5  # grey levels RMS: invisible
    assert W.detect(marked, KEY)[0] >= W.THRESHOLD_Z
    assert W.detect(img, KEY)[0] < W.THRESHOLD_Z and W.detect(marked, OTHER)[0] < W.THRESHOLD_Z
    for attacked in (_resave(marked, "PNG"), _resave(marked, "JPEG", quality=75), np.roll(marked, 1, axis=1),
                     np.asarray(Image.fromarray(marked).resize((86, 86), Image.Resampling.BICUBIC))):
        assert W.detect(attacked, KEY)[0] >= W.THRESHOLD_Z


def test_unmarked_images_look_standard_normal():
    digits = load_digits().images
    zs = []
    for i in range(60):
        a = np.asarray(Image.fromarray((digits[i] * 16).clip(0, 255).astype(np.uint8)).resize((64, 64)))
        zs.append(W._z(a.astype(float), KEY))
    zs = np.array(zs)
    assert abs(zs.mean()) < 0.6 and 0.5 < zs.std() < 1.6
    assert (zs < W.THRESHOLD_Z).all()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("wm") / "r"
    assert main(["train", "--preset", "digits", "--out", str(out), "data.resolution=8", "model.g_width=4",
                 "model.d_width=4", "model.z_dim=8", "train.batch_size=16", "train.steps=10", "eval.every=0",
                 "eval.n_samples=60", "doctor.probe_n=16", "train.progress=false", "train.sample_every=0"]) == 0
    return out


def test_sample_marks_its_png_and_verify_finds_it(run_dir, tmp_path, capsys):
    grid, plain = tmp_path / "g.png", tmp_path / "plain.png"
    assert main(["sample", str(run_dir), "--n", "64", "--out", str(grid)]) == 0
    assert main(["sample", str(run_dir), "--n", "64", "--out", str(plain), "--no-watermark"]) == 0
    assert (run_dir / W.KEY_FILE).is_file()
    text = Image.open(grid).text
    assert text["watermark"].startswith(W.SCHEME) and W.read_key(run_dir / W.KEY_FILE).hex() not in json.dumps(text)
    assert "off" in Image.open(plain).text["watermark"]
    resaved = tmp_path / "resaved.png"  # a re-save drops the text chunks; the mark stays
    Image.open(grid).save(resaved)
    capsys.readouterr()
    assert main(["verify", str(grid), str(resaved), str(plain), "--run", str(run_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("marked") and lines[2].startswith("marked") and lines[3].startswith("unmarked")
    assert "2 of 3" in lines[-1]


def test_numeric_outputs_say_they_are_unmarked(run_dir, tmp_path):
    out = tmp_path / "x.npy"
    assert main(["sample", str(run_dir), "--n", "8", "--out", str(out)]) == 0
    prov = json.loads((tmp_path / "x.npy.json").read_text()) if (tmp_path / "x.npy.json").exists() else None
    if prov is None:
        prov = json.loads(next(tmp_path.glob("x*.json")).read_text())
    assert prov["watermark"].startswith("none") and "_watermark" not in prov


def test_verify_bad_input_is_one_line(run_dir, tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert main(["verify", str(text), "--run", str(run_dir)]) == 2
    assert main(["verify", str(tmp_path / "missing.png"), "--run", str(run_dir)]) == 2
    assert main(["verify", str(text), "--key", str(text)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("ganforge: error:") for line in err)
