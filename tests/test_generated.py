"""Generated sets (``data/generated.py``): the same recipe, options and seed give the same bytes;
an edited array is refused; options of another recipe, an unknown set and an existing --out are
one line each, with nothing written."""

import json

import numpy as np
import pytest

from ganforge.data import generated as g
from ganforge.errors import GanforgeError


def _make(opts, seed, progress):
    rng = np.random.default_rng(seed)
    return {"x": rng.random((opts["n"], 3)).astype(np.float32), "y": np.arange(opts["n"])}, {"note": "toy"}


@pytest.fixture
def toy(monkeypatch):
    r = g.Recipe("toy:set", "toy", "data.generated:_unused", "a toy set", (g.Option("n", int, 5, "rows"),))
    monkeypatch.setitem(g.RECIPES, r.name, r)
    monkeypatch.setattr(g.Recipe, "function", lambda self: _make)
    return r


def test_same_arguments_same_bytes(toy, tmp_path):
    a = g.build("toy:set", tmp_path / "a.gfd", seed=3, n=4)
    b = g.build("toy:set", tmp_path / "b.gfd", seed=3, n=4)
    c = g.build("toy:set", tmp_path / "c.gfd", seed=4, n=4)
    assert a.manifest["arrays"] == b.manifest["arrays"]
    assert a.manifest["arrays"]["x"]["sha256"] != c.manifest["arrays"]["x"]["sha256"]
    opened = g.open_set(tmp_path / "a.gfd", expect="toy:set")
    assert opened.options == {"n": 4} and opened.record == {"note": "toy"}
    np.testing.assert_array_equal(opened.array("x"), _make({"n": 4}, 3, False)[0]["x"])


def test_refusals(toy, tmp_path):
    g.build("toy:set", tmp_path / "a.gfd", seed=0)
    with pytest.raises(GanforgeError, match="already exists"):
        g.build("toy:set", tmp_path / "a.gfd")
    with pytest.raises(GanforgeError, match="--frames is not one of its options"):
        g.build("toy:set", tmp_path / "z.gfd", frames=3)
    with pytest.raises(GanforgeError, match="no such generated set"):
        g.build("toy:nothing", tmp_path / "z.gfd")
    assert not (tmp_path / "z.gfd").exists()
    with pytest.raises(GanforgeError, match="a toy:set set, not other:set"):
        g.open_set(tmp_path / "a.gfd", expect="other:set")
    with pytest.raises(GanforgeError, match="no manifest.json"):
        g.open_set(tmp_path, expect="toy:set")
    # an edited array: refused with the command that rebuilds it
    x = np.load(tmp_path / "a.gfd" / "x.npy")
    x[0, 0] += 1
    np.save(tmp_path / "a.gfd" / "x.npy", x)
    with pytest.raises(GanforgeError, match="does not match its manifest.*--force --seed 0 --n 5"):
        g.open_set(tmp_path / "a.gfd")
    assert json.loads((tmp_path / "a.gfd" / "manifest.json").read_text())["recipe"] == "toy:set"


def test_cli_names_the_sets(capsys):
    from ganforge.cli import main

    assert main(["dataset", "build", "nope:x", "--out", "unused.gfd"]) == 2
    assert "no such generated set" in capsys.readouterr().err
