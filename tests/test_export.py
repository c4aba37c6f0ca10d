"""``ganforge export``: ONNX, TorchScript and safetensors files that run without ganforge, match
PyTorch on fixed noise, carry their provenance, and refuse bad input in one line."""

import hashlib
import json

import pytest
import torch

import ganforge
from conftest import TINY_IMAGES
from ganforge.cli import main
from ganforge.errors import GanforgeError

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
safetensors = pytest.importorskip("safetensors")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A conditional DCGAN with EMA and spectral norm in G, and an unconditional MLP on points."""
    root = tmp_path_factory.mktemp("export")
    img = ganforge.train("digits", TINY_IMAGES + ["train.steps=10", "model.conditional=true", "train.ema_beta=0.9",
                                                  "model.g_spectral=true"], root / "img")
    pts = ganforge.train("grid25", ["train.steps=10", "train.log_every=5", "train.progress=false",
                                    "train.tensorboard=false", "eval.every=0", "eval.n_samples=50",
                                    "model.g_width=16", "model.d_width=16", "train.batch_size=32"], root / "pts")
    return img, pts


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_provenance(prov, run):
    ckpt = run.path / f"ckpt-{run.step:07d}.pt"
    assert prov["run"] == run.path.name and prov["step"] == str(run.step)
    assert prov["checkpoint"] == ckpt.name and prov["checkpoint_sha256"] == _sha(ckpt)
    assert "synthetic" in prov["content"]


def _reference(run, z, y=None):
    """What the run's own (EMA) generator gives for noise z, in data space."""
    from ganforge.api import load_run

    g = load_run(run.path, ema=True if run.config.train.ema_beta else None)
    with torch.no_grad():
        return g.data.decode(g.G(z, y))


@pytest.mark.parametrize("which", [0, 1])
def test_onnx_matches_pytorch_at_any_batch_and_carries_provenance(runs, tmp_path, capsys, which):
    run = runs[which]
    out = tmp_path / "g.onnx"
    args = ["export", str(run.path), "--format", "onnx", "--out", str(out)] + (["--ema"] if which == 0 else [])
    assert main(args) == 0
    assert "max abs difference" in capsys.readouterr().out
    model = onnx.load(str(out))
    prov = {p.key: p.value for p in model.metadata_props}
    _check_provenance(prov, run)
    assert prov["weights"] == ("G_ema" if which == 0 else "G")
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    assert names == (["z", "y"] if which == 0 else ["z"])
    for batch in (1, 64):  # the batch axis is dynamic
        z = torch.randn(batch, run.config.model.z_dim, generator=torch.Generator().manual_seed(batch))
        y = torch.arange(batch) % 10 if which == 0 else None
        feeds = {"z": z.numpy(), **({"y": y.numpy()} if y is not None else {})}
        got = torch.from_numpy(session.run(None, feeds)[0])
        assert got.shape == (batch, *run.shape)
        assert (got - _reference(run, z, y)).abs().max() < 1e-4


def test_the_export_reports_its_own_check_under_1e_4(runs, tmp_path):
    for fmt in ("onnx", "torchscript", "safetensors"):
        r = runs[0].export(fmt, tmp_path / f"g.{fmt}", ema=True)
        assert r.max_abs_diff < 1e-4, (fmt, r.max_abs_diff)
        _check_provenance(r.provenance, runs[0])


def test_torchscript_loads_with_plain_torch_jit_load(runs, tmp_path):
    run = runs[0]
    out = tmp_path / "g.pt"
    assert main(["export", str(run.path), "--format", "torchscript", "--out", str(out), "--ema"]) == 0
    extra = {"ganforge.json": ""}
    m = torch.jit.load(str(out), _extra_files=extra)
    _check_provenance(json.loads(extra["ganforge.json"]), run)
    z, y = torch.randn(5, run.config.model.z_dim), torch.tensor([0, 1, 2, 3, 9])
    with torch.no_grad():
        assert (m(z, y) - _reference(run, z, y)).abs().max() < 1e-5


def test_safetensors_loads_without_the_run_and_samples_as_the_run_does(runs, tmp_path):
    for run in runs:
        out = tmp_path / f"{run.path.name}.safetensors"
        assert main(["export", str(run.path), "--format", "safetensors", "--out", str(out)]
                    + (["--ema"] if run is runs[0] else [])) == 0
        g = ganforge.load_generator(out)
        _check_provenance(g.provenance, run)
        if run is runs[0]:
            assert torch.equal(g.sample(6, seed=2, label=4), run.sample(6, seed=2, label=4))
        else:
            assert torch.equal(g.sample(50, seed=2), run.sample(50, seed=2))
        from safetensors import safe_open

        with safe_open(str(out), framework="pt") as f:
            assert "synthetic" in f.metadata()["content"]


def _one_line_exit_2(capsys, args, words):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganforge: error:") and "\n" not in err and words in err, err


def test_bad_export_requests_are_one_line_exit_2(runs, tmp_path, capsys):
    img, pts = runs
    empty = tmp_path / "nockpt"
    empty.mkdir()
    (empty / "config.yaml").write_text((img.path / "config.yaml").read_text())
    out = str(tmp_path / "g.onnx")
    _one_line_exit_2(capsys, ["export", str(empty), "--format", "onnx", "--out", out], "no checkpoint")
    _one_line_exit_2(capsys, ["export", str(img.path), "--format", "tflite", "--out", out], "onnx, torchscript")
    _one_line_exit_2(capsys, ["export", str(img.path), "--format", "onnx", "--out", out, "--truncation", "1.5"],
                     "[0, 1]")
    _one_line_exit_2(capsys, ["export", str(img.path), "--format", "onnx", "--out", out, "--truncation", "0.7"],
                     "no truncation trick")
    _one_line_exit_2(capsys, ["export", str(pts.path), "--format", "onnx", "--out", out, "--ema"], "no EMA")
    assert not (tmp_path / "g.onnx").exists()


def test_load_generator_refuses_other_programs_files_and_tampering(runs, tmp_path):
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(3)}, str(other))
    with pytest.raises(GanforgeError, match="not a ganforge export"):
        ganforge.load_generator(other)
    onnx_file = tmp_path / "g.onnx"
    runs[0].export("onnx", onnx_file, ema=True)
    with pytest.raises(GanforgeError, match="not a readable safetensors file"):
        ganforge.load_generator(onnx_file)

    good = tmp_path / "g.safetensors"
    runs[0].export("safetensors", good, ema=True)
    raw = good.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = raw[8 : 8 + n]
    cases = [
        (raw[:8] + header.replace(b"G_ema", b"G_xyz") + raw[8 + n :], "altered"),  # provenance edited
        (raw[:-4] + bytes(b ^ 0xFF for b in raw[-4:]), "altered"),  # a weight changed
        (raw[:8] + header.replace(b"{", b"[", 1) + raw[8 + n :], "not a readable safetensors file"),  # not JSON
    ]
    for i, (data, words) in enumerate(cases):
        bad = tmp_path / f"bad{i}.safetensors"
        bad.write_bytes(data)
        with pytest.raises(GanforgeError, match=words) as e:
            ganforge.load_generator(bad)
        assert "\n" not in str(e.value)
