"""Data kinds (``ganforge/data/kinds``): a kind is an object, not a tensor rank.

1. Outside ``data/kinds/`` no code decides what data holds from a tensor's rank (``len(x.shape)
   == 3``, ``x.ndim != 2``) or by sniffing objects with ``hasattr``; the checker is tried first
   on small snippets, so that a passing test means a clean tree and not a blind checker.
2. The contract every registered kind keeps, run over the registry: a new kind is tested with
   no edit here.
3. A kind names its default model: ``ganforge train data.name=table data.path=FILE.csv`` with
   no model.name trains the tabular model; a named model of another kind is one line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import TINY
from ganforge.api import resolve_config
from ganforge.build import build_data, check_compatible
from ganforge.cli import main
from ganforge.config import load_config, preset_names
from ganforge.data import DATASETS
from ganforge.data.kinds import KINDS
from ganforge.errors import GanforgeError
from ganforge.metrics.evaluators import EVALUATORS, HEADLINES
from ganforge.models import MODELS

SRC = Path(__file__).resolve().parents[1] / "src" / "ganforge"
KIND_PACKAGE = SRC / "data" / "kinds"
# decisions that other changes of issue 30 remove; each entry is (file, the call's first line)
PENDING = {("report/samples.py", 'if hasattr(run.game, "visuals"):')}  # games declare their visuals (item 5)


# ---------------------------------------------------------------------------------------------
# 1. The checker


def _rank(node: ast.AST) -> bool:
    """``len(<...>.shape...)`` or ``<...>.ndim``: a tensor's or an array's rank."""
    if isinstance(node, ast.Attribute) and node.attr == "ndim":
        return True
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len"
            and len(node.args) == 1):
        return False
    arg = node.args[0].value if isinstance(node.args[0], ast.Subscript) else node.args[0]  # x.shape[1:]
    return isinstance(arg, ast.Attribute) and arg.attr == "shape"


def _int(node: ast.AST) -> bool:
    """An integer literal, or a tuple/list/set of them (``ndim in (3, 4)``)."""
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return bool(node.elts) and all(_int(e) for e in node.elts)
    return isinstance(node, ast.Constant) and type(node.value) is int


def kind_decisions(source: str) -> list[tuple[int, str]]:
    """(line, source line) of every rank comparison with an integer and every ``hasattr`` call."""
    tree, lines, hits = ast.parse(source), source.splitlines(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_rank(a) and _int(b) or _rank(b) and _int(a) for a, b in zip(sides, sides[1:])):
                hits.append(node.lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "hasattr":
            hits.append(node.lineno)
    return [(n, lines[n - 1].strip()) for n in sorted(set(hits))]


@pytest.mark.parametrize("snippet", [
    "if len(x.shape) == 3: pass",
    "images = len(data.shape) == 3",
    "ok = len(arr.shape[1:]) != 3",
    "if arr.ndim == 2: pass",
    "if 4 > a.ndim: pass",
    "if arr.ndim not in (2, 3, 4): pass",
    "if hasattr(run.data, 'to_frame'): pass",
    "y = G.draw_labels(n) if hasattr(G, 'draw_labels') else None",
])
def test_the_checker_sees_rank_and_hasattr_decisions(snippet):
    assert len(kind_decisions(snippet)) == 1


@pytest.mark.parametrize("snippet", [
    "n = len(x.shape)",  # a rank used, not compared
    "c, h, w = data.shape",
    "if x.shape[1] == 3: pass",  # channels, not a rank
    "if len(files) == 0: pass",
    "if len({a.shape for a in arrs}) != 1: pass",  # images of one size, whatever their rank
    "s = 'hasattr(data, \"to_frame\")'  # in a string or a comment: hasattr(x, 'y')",
    "if data.kind.pixels: pass",
])
def test_the_checker_leaves_other_code_alone(snippet):
    assert kind_decisions(snippet) == []


def test_the_checker_finds_the_decisions_of_the_code_before_kinds():
    """What ``apps/synth.py`` and ``report/samples.py`` held before kinds (issue 30)."""
    before = '''
def check(run, out):
    images = len(run.data.shape) == 3
    if hasattr(run.data, "to_frame"):
        return None
    if len(data.shape) == 3:
        pass
'''
    assert [n for n, _ in kind_decisions(before)] == [3, 4, 6]


def test_no_rank_or_hasattr_decisions_outside_the_kind_modules():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if KIND_PACKAGE in path.parents:
            continue
        rel = path.relative_to(SRC).as_posix()
        found += [f"{rel}:{n}: {line}" for n, line in kind_decisions(path.read_text(encoding="utf-8"))
                  if not any(rel == f and line.startswith(start) for f, start in PENDING)]
    assert found == [], "ask the data kind (source.kind, data/kinds) instead:\n" + "\n".join(found)


# ---------------------------------------------------------------------------------------------
# 2. The contract of every registered kind

KIND_NAMES = KINDS.names()


@pytest.fixture(scope="module")
def demo():
    """Each kind's bundled (or generated) dataset, built once."""
    return {name: build_data(load_config(base={"data": KINDS.get(name).demo_data})) for name in KIND_NAMES}


def test_every_dataset_declares_a_registered_kind_and_its_sources_name_it(demo):
    for name in DATASETS.names():
        assert DATASETS.get(name).kind in [KINDS.get(k) for k in KIND_NAMES], name
    for name, data in demo.items():
        assert data.kind is KINDS.get(name)
        assert DATASETS.get(KINDS.get(name).demo_data["name"]).kind is data.kind


@pytest.mark.parametrize("name", KIND_NAMES)
def test_a_kind_names_a_default_model_that_declares_it_and_its_game(name):
    kind = KINDS.get(name)
    spec = MODELS.get(kind.default_model)
    assert name in spec.kinds and spec.game == kind.game
    assert DATASETS.get(kind.default_dataset).kind is kind


def test_every_model_declares_registered_kinds():
    for model in MODELS.names():
        kinds = MODELS.get(model).kinds
        assert kinds and all(k in KINDS for k in kinds), model


@pytest.mark.parametrize("name", KIND_NAMES)
def test_a_kind_has_an_evaluator_with_a_headline_and_card_words(name, demo):
    kind, data = KINDS.get(name), demo[name]
    assert kind.evaluator in EVALUATORS and kind.evaluator in HEADLINES
    assert data.evaluator in EVALUATORS and data.evaluator in HEADLINES
    for conditional in (False, True):
        assert isinstance(kind.card_task(conditional), str) and kind.card_task(conditional)
    assert isinstance(kind.describe(tuple(data.shape)), str)


@pytest.mark.parametrize("name", KIND_NAMES)
def test_a_kind_draws_a_figure_of_a_small_batch(name, demo):
    from PIL import Image

    kind, data = KINDS.get(name), demo[name]
    img = kind.figure(data.reference(16, 0), data, 0, "a title")
    assert isinstance(img, Image.Image) and img.width > 16 and img.height > 16


@pytest.mark.parametrize("name", KIND_NAMES)
def test_a_kind_writes_sample_files_that_it_reads_back(name, demo, tmp_path):
    kind, data = KINDS.get(name), demo[name]
    x = data.reference(8, 0)  # (8, *shape) real samples in data space
    written = 0
    for suffix in kind.suffixes:
        if suffix == ".png":  # a grid: one picture of many samples, for the eye (below: a folder)
            continue
        path = tmp_path / f"a{suffix}"
        kind.write(x, path, data)
        y, names = kind.read_inputs(data, path)
        assert y.shape == x.shape and len(names) == len(x)
        kind.write(y, tmp_path / f"b{suffix}", data)  # what was read writes and reads back the same
        assert torch.allclose(kind.read_inputs(data, tmp_path / f"b{suffix}")[0], y, atol=1e-5)
        written += 1
    assert written
    if kind.pixels:  # a folder of PNGs, one per sample
        from ganforge.io import image_files

        image_files(x, tmp_path / "dir")
        y, names = kind.read_inputs(data, tmp_path / "dir")
        assert y.shape == x.shape and torch.allclose(y, x, atol=1 / 255)


@pytest.mark.parametrize("name", KIND_NAMES)
def test_a_kind_refuses_what_it_does_not_write_in_one_line(name):
    kind = KINDS.get(name)
    with pytest.raises(GanforgeError) as e:
        kind.check_suffix("out.xyz", False)
    assert "\n" not in str(e.value) and name in str(e.value)


@pytest.mark.parametrize("name", KIND_NAMES)
def test_a_kind_builds_an_encoder_trunk_for_its_samples(name, demo):
    kind, data = KINDS.get(name), demo[name]
    trunk, feat = kind.encoder_trunk(tuple(data.shape), 8)
    x = data.encode(data.reference(4, 0))
    assert trunk(x).shape == (len(x), feat)


@pytest.mark.parametrize("name", KIND_NAMES)
def test_a_kind_gives_normal_data_for_anomaly_detection(name, demo):
    kind, data = KINDS.get(name), demo[name]
    x, y = kind.normal_data(data, 0, 100)
    assert x.shape[1:] == tuple(data.shape) and len(x) >= 3
    assert y is None or len(y) == len(x)


# ---------------------------------------------------------------------------------------------
# 3. Config resolution: a kind's default model


@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_keeps_its_model(preset):
    assert resolve_config(preset).model.name == load_config(preset).model.name


def _csv(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"size": rng.normal(10, 2, 60).round(2), "count": rng.integers(0, 50, 60),
                       "colour": rng.choice(["red", "green", "blue"], 60)})
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    return path


def test_a_table_without_model_name_resolves_to_the_tabular_model(tmp_path):
    cfg = resolve_config(None, [f"data.name=table", f"data.path={_csv(tmp_path)}"])
    assert cfg.model.name == "tabular" and cfg.data.name == "table"
    # a model named after the data, or by a preset next to its data, is kept
    assert resolve_config("grid25", ["data.name=digits", "model.name=dcgan"]).model.name == "dcgan"
    assert resolve_config("grid25", ["data.name=digits"]).model.name == "dcgan"  # mlp builds points


def test_train_on_a_table_without_model_name_picks_the_tabular_model(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--out", str(out), "data.name=table", f"data.path={_csv(tmp_path)}", *TINY,
            "model.z_dim=8", "train.steps=4", "train.log_every=2", "train.ckpt_every=0", "eval.n_samples=40",
            "doctor.probe_n=16", "train.ema_beta=0"]
    assert main(args) == 0, capsys.readouterr().err
    stored = load_config(base=__import__("yaml").safe_load((out / "config.yaml").read_text()))
    assert stored.model.name == "tabular"  # the resolved config in the run records the chosen model
    assert "quality" in capsys.readouterr().out  # the table evaluator's headline


def test_a_named_model_of_another_kind_is_one_line_naming_the_kind(tmp_path, capsys):
    path = _csv(tmp_path)
    with pytest.raises(GanforgeError) as e:
        resolve_config(None, ["data.name=table", f"data.path={path}", "model.name=dcgan"])
    msg = str(e.value)
    assert "\n" not in msg and "table" in msg and "model.name=tabular" in msg
    assert main(["train", "--dry-run", "data.name=table", f"data.path={path}", "model.name=mlp"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "gives table data" in err
    with pytest.raises(GanforgeError, match="gives points data"):  # the source's own kind, checked again
        check_compatible(load_config("digits", ["data.name=ring8"]), (2,))
