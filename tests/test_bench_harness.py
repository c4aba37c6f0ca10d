"""benchmarks/_harness.py: its statistics, writer and footer; and the rules every benchmark script
keeps: it uses the harness, and it imports no private name of ganforge."""

from __future__ import annotations

import ast
import datetime
import math
import os
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import _harness as H  # noqa: E402

SCRIPTS = sorted(p for p in BENCH.glob("*.py") if p.name != "_harness.py")


# ----------------------------------------------------------------------------- statistics


def test_mean_sd_se_by_hand():
    xs = [1.0, 2.0, 3.0, 6.0]  # mean 3; squared deviations 4 + 1 + 0 + 9 = 14
    assert H.mean(xs) == 3.0
    assert H.sd(xs) == pytest.approx(math.sqrt(14 / 3))
    assert H.sd(xs, ddof=0) == pytest.approx(math.sqrt(14 / 4))
    assert H.se(xs) == pytest.approx(math.sqrt(14 / 3) / 2)
    assert H.mean(iter([2, 4])) == 3.0  # any iterable, ints too


def test_one_value_and_non_finite():
    assert H.se([5.0]) == 0.0 and math.isnan(H.se([5.0], alone=math.nan))
    assert H.sd([5.0]) == 0.0
    assert H.mean([1.0, math.inf]) == math.inf  # a run with no mode found: rev_kl = inf
    assert math.isnan(H.se([1.0, math.inf]))  # statistics.stdev would raise on inf


def test_pm_formats():
    assert H.pm([1.0, 2.0, 3.0]) == "2 ± 0.577"
    assert H.pm([1.0, 2.0, 3.0], "{:.2f}", spread=H.sd) == "2.00 ± 1.00"
    assert H.pm([0.5], "{:.1f}", scale=100) == "50.0 ± 0.0"
    assert H.pm([0.5], "{:.1f}", scale=100, alone=None) == "50.0"
    assert H.pm([0.5], "{:.1f}", scale=100, alone=math.nan) == "50.0 ± nan"
    assert H.pm([0.25, 0.75], "{:.1f}", scale=100) == "50.0 ± 25.0"
    assert H.pm([1.0, 2.0], "{:.1f}", center=lambda xs: 7.0) == "7.0 ± 0.5"  # a script's own mean


def test_mean_is_fsum_then_divide():
    """The mean the ablation, claims, tabular, conditional and augmentation tables printed
    (statistics.fmean: the sum rounded once, then divided); pm's ``center`` keeps another."""
    xs = [0.1] * 10 + [1e16, -1e16]
    assert H.mean(xs) == math.fsum(xs) / len(xs) != sum(xs) / len(xs)


# ----------------------------------------------------------------------------- results


def test_machine_footer():
    line = H.machine(3)
    assert line.startswith("Machine: ") and H.cpu_model() in line
    assert f"{os.cpu_count()} cores" in line and f"torch {torch.__version__}" in line
    assert "3 torch thread(s)" in line
    assert datetime.datetime.now(datetime.timezone.utc).date().isoformat() in line


def test_write_results_footer_and_kept_reading(tmp_path, capsys):
    out = tmp_path / "sub" / "r.md"
    text = H.write_results(["# T", "", "| a | b |", "|---|---|", "| 1 | 2 |"], out, threads=1)
    assert out.read_text() == text
    lines = text.splitlines()
    assert lines[:5] == ["# T", "", "| a | b |", "|---|---|", "| 1 | 2 |"]
    assert lines[-1] == H.machine(1) and lines[-2] == ""
    assert "| 1 | 2 |" in capsys.readouterr().out  # printed as well

    mark = "<!-- reading -->"
    out.write_text(text + "\n" + mark + "\nwhat the numbers mean\n")
    H.write_results("# T2\n", out, keep=mark, echo=False)
    new = out.read_text()
    assert new.startswith("# T2\n") and "| 1 | 2 |" not in new
    assert new.endswith(mark + "\nwhat the numbers mean\n")  # the reading survives a rebuilt table
    H.write_results("# T3", out, keep=mark, footer=False, echo=False)
    assert "Machine:" not in out.read_text().split(mark)[0]


def test_pool_map_keeps_the_order():
    assert list(H.pool_map(abs, [-3, 1, -2], 2)) == [3, 1, 2]


def test_stacked_modes_from_src():
    from ganforge.metrics.image import stacked_modes

    every = torch.stack(torch.meshgrid(*[torch.arange(10)] * 3, indexing="ij"), -1).reshape(1000, 3)
    modes, kl = stacked_modes(every)  # every triple once: all 1,000 modes, uniform
    assert modes == 1000 and kl == pytest.approx(0.0, abs=1e-9)
    modes, kl = stacked_modes(torch.tensor([[1, 2, 3]] * 50))  # one mode: KL = log 1000
    assert modes == 1 and kl == pytest.approx(math.log(1000), rel=1e-6)


# ----------------------------------------------------------------------------- rules for the scripts


def _imports_harness(tree: ast.AST) -> bool:
    return any(isinstance(n, ast.Import) and any(a.name == "_harness" for a in n.names) for n in ast.walk(tree))


def private_uses(source: str) -> list[str]:
    """Private ganforge names a script reaches: ``from ganforge.x import _y``, ``import
    ganforge.x._y``, ``ganforge.x._y``, and ``._y`` on anything reached from a name it imported
    from ganforge (``api.load(d)._generator()``)."""
    tree = ast.parse(source)
    found, roots = [], set()
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == "ganforge":
            parts = n.module.split(".")
            found += [f"from {n.module} import {a.name}" for a in n.names if a.name.startswith("_")]
            found += [f"from {n.module}" for p in parts if p.startswith("_") and not p.startswith("__")]
            roots |= {a.asname or a.name for a in n.names}
        elif isinstance(n, ast.Import):
            for a in n.names:
                if a.name.split(".")[0] == "ganforge":
                    found += [f"import {a.name}" for p in a.name.split(".") if p.startswith("_")]
                    roots.add(a.asname or "ganforge")
    for n in ast.walk(tree):
        if isinstance(n, ast.Attribute) and n.attr.startswith("_") and not n.attr.startswith("__"):
            root = n.value
            while isinstance(root, (ast.Attribute, ast.Call, ast.Subscript)):
                root = root.func if isinstance(root, ast.Call) else root.value
            if isinstance(root, ast.Name) and root.id in roots:
                found.append(f"{ast.unparse(n)} (line {n.lineno})")
    return found


def test_the_private_name_check_can_fail():
    assert private_uses("from ganforge.apps.project import _features, project\n")
    assert private_uses("from ganforge.data.pack import build_dataset, _ImageWriter\n")
    assert private_uses("import ganforge.apps.export\nganforge.apps.export._plain(G)\n")
    assert private_uses("from ganforge import api\ng = api.load(d)._generator()\n")
    assert private_uses("import ganforge as gf\ngf._version\n")
    assert not private_uses("from ganforge import api\nx = api.load(d).generator\ny = other._private\n")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_script_uses_the_harness_and_no_private_name(script):
    tree = ast.parse(script.read_text())
    assert _imports_harness(tree), f"{script.name} does not import _harness"
    assert not private_uses(script.read_text()), f"{script.name}: {private_uses(script.read_text())}"


def test_no_script_copies_the_stacked_mode_count():
    """Stacked digits' modes come from src (through the harness), not from a copy of the formula."""
    for script in SCRIPTS:
        assert "class_histogram_kl" not in script.read_text(), script.name
