"""The documentation site: it builds strictly (no broken link, anchor or ``:::`` reference), its
generated references list what the code holds, and the code blocks marked runnable run.

A runnable block is a fenced block right after a ``<!-- runnable -->`` line in ``docs/*.md``:
``python`` blocks are executed, ``bash`` blocks hold ``ganforge`` commands, each run through
``ganforge.cli.main`` (exit 0 expected). Each block runs in a fresh temporary folder.
"""

import argparse
import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from ganforge.cli import main
from ganforge.discover import config_keys

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
RUNNABLE = re.compile(r"^<!-- runnable -->\n```(\w+)\n(.*?)^```", re.S | re.M)

mkdocs = pytest.importorskip("mkdocs", reason="the docs extra: pip install -e '.[docs]'")
pytest.importorskip("mkdocstrings")
pytest.importorskip("material")


def _hooks():
    """docs/hooks.py, the generator of the reference pages (it finds the parser however cli.py builds it)."""
    spec = importlib.util.spec_from_file_location("ganforge_docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _blocks() -> list:
    out = []
    for page in sorted(DOCS.rglob("*.md")):
        for i, m in enumerate(RUNNABLE.finditer(page.read_text(encoding="utf-8"))):
            out.append(pytest.param(m.group(1), m.group(2), id=f"{page.relative_to(DOCS)}#{i}"))
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    return out


def test_the_site_builds_strictly_with_every_page(site):
    for page in ["index.html", "concepts/game/index.html", "concepts/failures/index.html", "data/images/index.html",
                 "data/points/index.html", "data/tables/index.html", "reference/cli/index.html",
                 "reference/config/index.html", "reference/api/index.html", "results/toy2d/index.html"]:
        assert (site / page).is_file(), page
    # the site loads nothing from elsewhere: no web fonts, no scripts or styles from another host
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "fonts.googleapis" not in text and "fonts.gstatic" not in text, page
        assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?://", text), page


def test_the_cli_reference_lists_every_command_and_argument(site):
    text = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    parser = _hooks().root_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subs.choices.items():
        assert f"ganforge {name}" in text, name
        for action in sub._actions:
            for flag in action.option_strings:
                assert flag in text, (name, flag)


def test_the_config_reference_lists_every_key(site):
    text = (site / "reference" / "config" / "index.html").read_text(encoding="utf-8")
    for k in config_keys():
        assert f"<code>{k.key}</code>" in text, k.key


def test_the_api_reference_renders_the_docstrings(site):
    text = (site / "reference" / "api" / "index.html").read_text(encoding="utf-8")
    for name in ["train", "load", "Run", "load_generator", "evaluate_samples", "GanforgeError", "config_keys"]:
        assert f'id="ganforge.' in text and re.search(rf'id="ganforge\.[\w.]*\b{name}"', text), name
    assert "Train a GAN and return its" in text  # api.train's docstring


def test_runnable_blocks_exist():
    kinds = [p.values[0] for p in _blocks()]
    assert "python" in kinds and "bash" in kinds


@pytest.mark.parametrize("kind,code", _blocks())
def test_a_runnable_block_runs(kind, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if kind == "python":
        exec(compile(code, "docs", "exec"), {})
        return
    assert kind == "bash", f"runnable blocks are python or bash, not {kind}"
    for line in code.splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        assert words[0] == "ganforge", f"a runnable bash block holds ganforge commands only: {line}"
        assert main(words[1:]) == 0, line


def test_the_module_index_lists_every_module_with_its_docstring(site):
    # the layout's list of modules is generated from the source: none left out, none without a docstring
    page = (site / "reference" / "modules" / "index.html").read_text(encoding="utf-8")
    src = ROOT / "src" / "ganforge"
    modules = [p.relative_to(src).as_posix() for p in sorted(src.rglob("*.py"))]
    assert modules and all(f"<code>{m}</code>" in page for m in modules)
    assert "(no docstring)" not in page, "a module without a docstring: say in one line what it holds"
