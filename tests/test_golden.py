"""Golden runs (see ``tests/golden.py``): the same settings give the same numbers, bit for bit,
as the code that recorded ``tests/data/golden.json``."""

import json
import math

import pytest

from golden import FIXTURE, RUNS, platform, run_one

FIX = json.loads(FIXTURE.read_text())


def _same(a, b, path="") -> list[str]:
    """Paths where two JSON values differ; NaN equals NaN here."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a)} != {sorted(b)}"]
        return [d for k in a for d in _same(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _same(x, y, f"{path}[{i}]")]
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return []
    return [] if a == b and type(a) is type(b) else [f"{path}: {a!r} != {b!r}"]


def test_fixture_covers_every_golden_run():
    assert sorted(FIX["runs"]) == sorted(RUNS)


@pytest.mark.parametrize("name", sorted(RUNS))
def test_golden_run_is_bit_exact(tmp_path, name):
    if FIX["platform"] != platform():
        pytest.skip(f"golden numbers were recorded on {FIX['platform']}, this is {platform()}")
    got = run_one(name, tmp_path / name)
    want = FIX["runs"][name]
    diffs = _same(want["records"], got["records"], "records")
    assert not diffs, f"{len(diffs)} differences, first: {diffs[:5]}"
    assert got["final_step"] == want["final_step"]
    assert got["stopped"] == want["stopped"]
    assert got["state_sha256"] == want["state_sha256"], "final weights or optimizer states differ"
