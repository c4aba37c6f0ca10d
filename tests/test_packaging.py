"""Packaging: ``python -m build`` makes a wheel that installs, with its ``dev`` extra, into a
fresh virtual environment and runs from there (not from the source tree).

The fresh environment borrows the test environment's installed dependencies through a ``.pth``
file, so nothing is downloaded (``--no-index``) and no torch build is ever replaced; what it
checks is the wheel itself: files, metadata, entry point, extras, version.
"""

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd, cwd, env=None, timeout=600):
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{cmd}:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
    return out.stdout


def test_the_wheel_installs_and_runs_in_a_fresh_venv(tmp_path):
    pytest.importorskip("build")
    dist = tmp_path / "dist"
    # --no-isolation: build with this environment's setuptools (no download)
    _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(ROOT)], ROOT)
    wheel = next(dist.glob("ganforge-*.whl"))
    from ganforge._version import __version__

    assert wheel.name.startswith(f"ganforge-{__version__}-")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = z.read(next(n for n in names if n.endswith("METADATA"))).decode()
        entry = z.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "ganforge/presets/digits.yaml" in names and "ganforge/report/templates/report.html.j2" in names
    assert "ganforge/commands/train.py" in names and "ganforge/apps/export.py" in names
    assert f"Version: {__version__}" in meta and "Provides-Extra: dev" in meta and "Provides-Extra: export" in meta
    assert "ganforge = ganforge.cli:main" in entry

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    py = venv / "bin" / "python"
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path).strip())
    (site / "_borrowed_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # never the source tree
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-index", f"{wheel}[dev]"],
         tmp_path, env)
    code = "import ganforge, ganforge.train.loop; print(ganforge.__version__, ganforge.__file__)"
    version, where = _run([str(py), "-c", code], tmp_path, env).split()
    assert version == __version__ and where.startswith(str(venv))
    assert _run([str(venv / "bin" / "ganforge"), "--version"], tmp_path, env).strip() == f"ganforge {__version__}"
    assert "digits_small" in _run([str(venv / "bin" / "ganforge"), "presets"], tmp_path, env)
