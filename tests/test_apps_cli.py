"""The applications from the command line: synth, encoder, project, directions, edit; and their
bad input, one line, exit 2, nothing written."""

import json

import numpy as np
import pytest
from PIL import Image

from conftest import TINY_IMAGES
from ganforge.cli import main


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("apps")
    for name, extra in (("u", []), ("c", ["model.conditional=true"])):
        assert main(["train", "--preset", "digits", "--out", str(root / name), *TINY_IMAGES, "train.steps=20",
                     "doctor.enabled=false", *extra]) == 0
    assert main(["sample", str(root / "u"), "--n", "3", "--out", str(root / "imgs") + "/"]) == 0
    return root


def test_the_applications_end_to_end(runs, tmp_path, capsys):
    u, c = str(runs / "u"), str(runs / "c")
    assert main(["synth", c, "--per-class", "2", "--out", str(tmp_path / "syn") + "/"]) == 0
    assert len(list((tmp_path / "syn").rglob("*.png"))) == 20 and (tmp_path / "syn" / "manifest.json").exists()
    assert main(["encoder", u, "--steps", "20"]) == 0 and (runs / "u" / "encoder.pt").exists()
    assert main(["project", u, "--data", str(runs / "imgs"), "--out", str(tmp_path / "p"), "--steps", "20"]) == 0
    errors = json.loads((tmp_path / "p" / "errors.json").read_text())
    assert len(errors) == 3 and all(e["mse"] >= 0 for e in errors)
    assert np.load(tmp_path / "p" / "latents.npy").shape == (3, 8)
    with Image.open(tmp_path / "p" / "side_by_side.png") as im:
        assert "synthetic" in im.text["Description"]
    assert main(["directions", u, "--k", "3"]) == 0
    assert "pc0" in capsys.readouterr().out
    assert main(["edit", u, "--latent", str(tmp_path / "p" / "latents.npy"), "--direction", "pc0",
                 "--out", str(tmp_path / "e.png")]) == 0
    assert main(["edit", c, "--image", str(runs / "imgs" / "000000.png"), "--to-class", "3",
                 "--out", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "e.png").exists() and (tmp_path / "c.png").exists()
    assert main(["interpolate", u, "--from", str(runs / "imgs" / "000000.png"), "--to", str(runs / "imgs" / "000001.png"),
                 "--steps", "5", "--out", str(tmp_path / "i.png")]) == 0
    with Image.open(tmp_path / "i.png") as im:
        assert im.size[0] > 4 * im.size[1]  # one row of 5 images


@pytest.mark.parametrize("args, words", [
    (["synth", "{u}", "--per-class", "2", "--out", "{t}/s.npz"], "not conditional"),
    (["synth", "{c}", "--n", "3", "--per-class", "2", "--out", "{t}/s.npz"], "exactly one"),
    (["synth", "{c}", "--n", "3", "--out", "{t}/s.txt"], "expected a folder"),
    (["project", "{u}", "--image", "{t}/missing.png", "--out", "{t}/p"], "no such file"),
    (["project", "{u}", "--image", "{t}/big.png", "--out", "{t}/p"], "12x12 pixels; this run makes 8x8"),
    (["project", "{u}", "--image", "{t}/junk.png", "--out", "{t}/p"], "not a readable image"),
    (["project", "{c}", "--image", "{r}/imgs/000000.png", "--class", "12", "--out", "{t}/p"], "0..9"),
    (["edit", "{u}", "--latent", "{t}/z.npy", "--direction", "smile", "--out", "{t}/e.png"], "no directions.pt|choose one of"),
    (["edit", "{u}", "--latent", "{t}/z.npy", "--to-class", "3", "--out", "{t}/e.png"], "not conditional"),
    (["edit", "{u}", "--latent", "{t}/z.npy", "--direction", "pc0", "--strengths", "a,b", "--out", "{t}/e.png"],
     "--strengths"),
    (["encoder", "{u}", "--steps", "0"], "--steps 0"),
    (["interpolate", "{u}", "--from", "{r}/imgs/000000.png", "--out", "{t}/i.png"], "--from and --to go together"),
    (["interpolate", "{u}", "--from", "{t}/big.png", "--to", "{t}/big.png", "--out", "{t}/i.png"], "12x12 pixels"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(runs, tmp_path, capsys, args, words):
    Image.new("L", (12, 12)).save(tmp_path / "big.png")
    (tmp_path / "junk.png").write_bytes(b"not an image")
    np.save(tmp_path / "z.npy", np.zeros((1, 8), dtype=np.float32))
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = [a.format(u=runs / "u", c=runs / "c", t=tmp_path, r=runs) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganforge: error:") and "\n" not in err
    import re
    assert re.search(words, err), err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_every_command_output_names_its_checkpoint_by_one_hash_in_one_provenance(runs, tmp_path):
    import hashlib

    c = runs / "c"
    ckpt = sorted(c.glob("ckpt-*.pt"))[-1]
    want = hashlib.sha256(ckpt.read_bytes()).hexdigest()
    img = str(runs / "imgs" / "000000.png")
    commands = {
        "sample": (["--n", "4", "--out", str(tmp_path / "s.npy")], tmp_path / "s.provenance.json"),
        "synth": (["--n", "4", "--out", str(tmp_path / "y.npz")], tmp_path / "y.provenance.json"),
        "score": (["--data", str(runs / "imgs"), "--out", str(tmp_path / "sc.csv"), "--class", "3"],
                  tmp_path / "sc.provenance.json"),
        "project": (["--image", img, "--out", str(tmp_path / "p"), "--steps", "2", "--class", "1"],
                    tmp_path / "p" / "manifest.json"),
        "edit": (["--image", img, "--to-class", "3", "--out", str(tmp_path / "e.png")], tmp_path / "e.png"),
    }
    for name, (args, where) in commands.items():
        assert main([name, str(c), *args]) == 0, name
        if where.suffix == ".png":
            with Image.open(where) as im:
                prov = dict(im.text)
        else:
            prov = json.loads(where.read_text())
        assert prov["checkpoint_sha256"] == want and prov["checkpoint"] == ckpt.name, name
        assert prov["command"] == name and prov["software"].startswith("ganforge ") and prov["created"], name
        assert prov["run"] == "c" and str(prov["step"]) == str(int(ckpt.stem.split("-")[1])), name


@pytest.mark.parametrize("args", [
    ["sample", "{c}", "--n", "2", "--out", "{t}/s.npy", "--class", "12"],
    ["score", "{c}", "--data", "{r}/imgs", "--out", "{t}/s.csv", "--class", "12"],
    ["project", "{c}", "--image", "{r}/imgs/000000.png", "--out", "{t}/p", "--class", "12"],
    ["interpolate", "{c}", "--out", "{t}/i.png", "--class", "12"],
    ["edit", "{c}", "--latent", "{t}/z.npy", "--to-class", "12", "--out", "{t}/e.png"],
])
def test_a_class_out_of_range_gets_the_same_answer_from_every_command(runs, tmp_path, capsys, args):
    np.save(tmp_path / "z.npy", np.zeros((1, 8), dtype=np.float32))
    flag = "--to-class" if "--to-class" in args else "--class"
    assert main([a.format(c=runs / "c", t=tmp_path, r=runs) for a in args]) == 2
    assert capsys.readouterr().err.strip() == f"ganforge: error: {flag} 12: choose a class in 0..9"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["z.npy"]


def test_check_class_is_the_one_label_check():
    from ganforge.errors import GanforgeError
    from ganforge.trained import check_class

    check_class(None, 0)
    check_class(3, 10)
    with pytest.raises(GanforgeError, match=r"^--class 10: choose a class in 0\.\.9$"):
        check_class(10, 10)
    with pytest.raises(GanforgeError, match=r"^--class -1: choose"):
        check_class(-1, 10)
    with pytest.raises(GanforgeError, match=r"^--to-class 2: this run is not conditional"):
        check_class(2, 0, "--to-class")
