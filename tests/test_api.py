"""The public Python API: the README's example runs, names are typed and documented, the CLI and
the API give the same samples, and ``ganforge.train`` is both a function and a subpackage."""

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import ganforge
from conftest import TINY_IMAGES
from ganforge.cli import main
from ganforge.errors import GanforgeError

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## The Python API"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readmes_example_runs(tmp_path, monkeypatch, capsys):
    code = _readme_example()
    assert 'overrides={"train.steps": 500}' in code and "ganforge.load(" in code
    # the example's budget, cut to seconds: the same calls on a tiny DCGAN
    tiny = dict(item.split("=", 1) for item in TINY_IMAGES + ["train.steps=10"])
    code = code.replace('overrides={"train.steps": 500}', f"overrides={tiny!r}")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "healthy" in out or "problems" in out
    assert (tmp_path / "runs" / "x" / "ckpt-0000010.pt").exists()


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("api") / "c"
    run = ganforge.train("digits", TINY_IMAGES + ["train.steps=10", "model.conditional=true"], out)
    return run


def test_train_returns_a_run_that_samples_evaluates_and_diagnoses(image_run):
    run = image_run
    assert isinstance(run, ganforge.Run) and run.step == 10 and run.result.step == 10
    x = run.sample(16, seed=0, label=7)
    assert x.shape == (16, 1, 8, 8) and 0 <= x.min() and x.max() <= 1
    assert torch.equal(x, run.sample(16, seed=0, label=7))
    assert not torch.equal(x, run.sample(16, seed=1, label=7))
    ev = run.evaluate(n=40)
    assert ev.fid == ev.metrics["fid"] and ev.provenance["n_fake"] == 40 and ev.step == 10
    assert ev.to_dict()["data"] == "digits"
    with pytest.raises(AttributeError, match="this evaluation has"):
        ev.nonsense
    assert run.doctor().verdict
    again = ganforge.load(run.path)
    assert torch.equal(again.sample(4, seed=3, label=1), run.sample(4, seed=3, label=1))
    with pytest.raises(GanforgeError, match="choose a class in 0..9"):
        run.sample(4, label=10)


def test_the_cli_and_the_api_give_the_same_samples(image_run, tmp_path):
    assert main(["sample", str(image_run.path), "--n", "8", "--seed", "5", "--class", "2",
                 "--out", str(tmp_path / "s.npy")]) == 0
    import numpy as np

    assert np.array_equal(np.load(tmp_path / "s.npy"), image_run.sample(8, seed=5, label=2).numpy())


def test_overrides_as_a_dict_or_a_list_and_a_config(tmp_path):
    a = ganforge.resolve_config("grid25", {"train.steps": 7, "loss.name": "hinge", "train.tensorboard": False})
    b = ganforge.resolve_config("grid25", ["train.steps=7", "loss.name=hinge", "train.tensorboard=false"])
    assert a == b and a.train.steps == 7
    assert ganforge.resolve_config(a, {"train.steps": 9}).train.steps == 9
    with pytest.raises(GanforgeError, match="train.stepz"):
        ganforge.resolve_config("grid25", {"train.stepz": 3})
    with pytest.raises(GanforgeError, match="not a ganforge run"):
        ganforge.load(tmp_path)


def test_public_names_are_typed_and_documented():
    for name in ganforge.__all__:
        obj = getattr(ganforge, name)
        if name == "__version__":
            continue
        assert (obj.__doc__ or "").strip(), name
        fns = [obj] if inspect.isfunction(obj) else []
        if inspect.isclass(obj):
            fns = [f for n, f in vars(obj).items() if inspect.isfunction(f) and not n.startswith("_")]
        for fn in fns:
            assert (fn.__doc__ or "").strip(), f"{name}.{fn.__name__}: no docstring"
            sig = inspect.signature(fn)
            assert sig.return_annotation is not inspect.Signature.empty, f"{name}.{fn.__name__}: return type"
            for p in sig.parameters.values():
                assert p.name == "self" or p.annotation is not inspect.Parameter.empty, f"{name}.{fn.__name__}({p.name})"


def test_ganforge_train_is_the_api_and_the_subpackage():
    """In a fresh interpreter, in both import orders: the submodules stay reachable as attributes
    and ``ganforge.train(...)`` trains; ``import ganforge`` alone does not import torch."""
    code = """
import sys
import ganforge
assert "torch" not in sys.modules, "import ganforge imported torch"
import ganforge.train.loop
from ganforge.train.checkpoint import list_checkpoints
from ganforge.train import loop
assert ganforge.train.loop is loop and callable(ganforge.train)
run = ganforge.train("grid25", {"train.steps": 3, "train.log_every": 1, "train.progress": False,
                     "train.tensorboard": False, "eval.every": 0, "eval.n_samples": 50, "model.g_width": 8,
                     "model.d_width": 8, "train.batch_size": 16, "doctor.enabled": False}, out=sys.argv[1])
assert isinstance(run, ganforge.Run) and run.step == 3, run.step
assert ganforge.train.loop.RunResult is loop.RunResult
"""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        out = subprocess.run([sys.executable, "-c", code, str(Path(d) / "r")], env=ENV, capture_output=True,
                             text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]


def test_python_m_ganforge_and_the_entry_point_behave_alike(capsys):
    for args in (["--version"], ["presets"], ["keys", "nope"], ["train", "train.stepz=1"]):
        m = subprocess.run([sys.executable, "-m", "ganforge", *args], env=ENV, capture_output=True, text=True,
                           timeout=120)
        try:
            code = main(args)
        except SystemExit as e:  # argparse's --version
            code = e.code
        cap = capsys.readouterr()
        assert (m.returncode, m.stdout, m.stderr) == (code, cap.out, cap.err), args
    assert m.returncode == 2 and m.stderr.count("\n") == 1


def test_version_has_one_home():
    from ganforge._version import __version__

    assert ganforge.__version__ == __version__
    text = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in text and "ganforge._version.__version__" in text
    assert f"## {__version__}" in (ROOT / "CHANGELOG.md").read_text()
    assert json.dumps(__version__)


def test_load_run_loads_only_the_parts_asked_for(image_run):
    from ganforge.trained import load_run

    both = load_run(image_run.path, parts=("G", "D"))
    g_only, d_only = load_run(image_run.path), load_run(image_run.path, parts=("D",))
    assert g_only.D is None and d_only.G is None and both.G is not None and both.D is not None
    assert not d_only.D.training and both.run_dir == Path(image_run.path)
    ckpt = torch.load(both.ckpt_path, weights_only=True)
    for name, t in d_only.D.state_dict().items():  # D as trained, not freshly initialised
        assert torch.equal(t, ckpt["D"][name]), name
    assert torch.equal(g_only.generate(4, 0, 3), both.generate(4, 0, 3))
    with pytest.raises(ValueError, match="parts"):
        load_run(image_run.path, parts=("E",))


def test_every_application_is_a_method_of_run():
    for name in ("write_samples", "synth", "translate", "upscale", "score", "anomaly_fit", "anomaly_score",
                 "fit_encoder", "project", "directions", "edit", "interpolate_file", "export", "card", "report"):
        assert callable(getattr(ganforge.Run, name)), name
