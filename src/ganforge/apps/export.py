"""Export a trained generator: ONNX, TorchScript or safetensors, each with its provenance.

What is exported is the sampler ``z (B, z_dim)[, y (B,)] -> x (B, *shape)`` in *data space*
(G, then the data's ``decode``: images in [0, 1], points in the data's units), with G in
eval mode and spectral norms folded into plain weights, so the file needs nothing of ganforge:

- ``onnx``: ``torch.onnx.export`` (opset 17) with a dynamic batch axis; inputs ``z`` and,
  for a conditional run, ``y`` (int64 classes); output ``x``. The provenance is in the model's
  ``metadata_props``. Checked after export by onnxruntime against PyTorch on fixed noise.
- ``torchscript``: ``torch.jit.trace``; ``torch.jit.load(FILE)`` runs it. The provenance is
  the extra file ``ganforge.json`` (``torch.jit.load(FILE, _extra_files={"ganforge.json": ""})``).
- ``safetensors``: G's state dict and the data normalisation, with the model config, the data
  shape and the provenance as JSON in the header, and a SHA-256 digest over all of them, so
  :func:`read_export` (``ganforge.load_generator``) rebuilds G without the run directory and
  refuses a file that was altered.

Every export's provenance names the run, step and checkpoint (and its SHA-256) and says that
the model generates synthetic data.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from ..build import build_models
from ..config import load_config, to_dict
from ..data.base import Normalized
from ..data.kinds import KINDS
from ..errors import GanforgeError
from ..evaluation import generate
from ..files import provenance as output_provenance, write_bytes_atomic
from ..models import MODELS
from ..priors import Prior
from ..trained import TrainedRun, check_class, truncated


FORMATS = ("onnx", "torchscript", "safetensors")
EXPORT_FORMAT = 1  # the layout of a safetensors export's header
INSTALL_HINT = {"onnx": "pip install 'ganforge[export]' (or: pip install onnx onnxruntime)",
                "safetensors": "pip install 'ganforge[export]' (or: pip install safetensors)"}
SYNTHETIC = "generates synthetic data: its outputs are not real observations"
_CHECK_BATCH = 7  # the fixed-noise check uses a batch size other than the traced one (2): dynamic batch


@dataclass(frozen=True)
class ExportResult:
    """An exported file: its path and format, the largest absolute difference between the
    file's outputs and PyTorch eager on fixed noise, and the provenance written into it."""

    path: Path
    format: str
    max_abs_diff: float
    provenance: dict


class _Sampler(nn.Module):
    """z (B, z_dim)[, y (B,)] -> x (B, *shape) in data space: G, then ``x * scale + loc``."""

    def __init__(self, G: nn.Module, loc: Tensor, scale: Tensor):
        super().__init__()
        self.G = G
        self.register_buffer("loc", loc.detach().clone().float())
        self.register_buffer("scale", scale.detach().clone().float())

    def forward(self, z: Tensor, y: Optional[Tensor] = None) -> Tensor:
        return self.G(z, y) * self.scale + self.loc


def _need(module: str, fmt: str):
    try:
        return __import__(module)
    except ImportError:
        raise GanforgeError(f"--format {fmt} needs the '{module}' package: {INSTALL_HINT[fmt]}") from None


def _plain(G: nn.Module) -> nn.Module:
    """A copy of G in eval mode with every parametrization (spectral norm) folded into its weight."""
    G = copy.deepcopy(G).cpu().eval()
    for m in G.modules():
        if parametrize.is_parametrized(m):
            for name in list(m.parametrizations):
                parametrize.remove_parametrizations(m, name, leave_parametrized=True)
    return G


def eager_sampler(g: TrainedRun) -> nn.Module:
    """The sampler an export writes, in PyTorch eager (no truncation): z (B, z_dim)[, y (B,)] -> x in
    data space, spectral norms folded, eval mode. For comparing an exported file with eager speed."""
    return _Sampler(_plain(g.G), g.data.loc, g.data.scale).eval()


def provenance(g: TrainedRun, run_dir: Path, fmt: str, truncation: Optional[float]) -> dict:
    """What every export says about itself: the provenance every command's output carries
    (:func:`ganforge.files.provenance`), then the export's own; all values strings (None: "none"),
    as every format's metadata wants them."""
    prov = output_provenance("export", run_dir, g.step, g.ckpt_path, content=SYNTHETIC,
                             weights="G_ema" if g.ema else "G", truncation=truncation, model=g.cfg.model.name,
                             data=g.cfg.data.name, shape=json.dumps(list(g.data.shape)), n_classes=g.n_classes,
                             z_dim=g.cfg.model.z_dim, prior=g.cfg.model.prior,
                             output="data space (images in [0, 1], points in the data's units)", format=fmt)
    return {k: "none" if v is None else str(v) for k, v in prov.items()}


def _fixed_inputs(g: TrainedRun, n: int, seed: int = 0) -> tuple:
    gen = torch.Generator().manual_seed(seed)
    z = g.prior.sample(n, gen)  # (n, z_dim)
    return (z, torch.randint(g.n_classes, (n,), generator=gen)) if g.n_classes else (z,)


def export_generator(g: TrainedRun, run_dir: Path, fmt: str, out: Path,
                     truncation: Optional[float] = None) -> ExportResult:
    """Write ``g``'s sampler to ``out`` as ``fmt`` and check it on fixed noise (see the module)."""
    if fmt not in FORMATS:
        raise GanforgeError(f"--format {fmt}: choose one of {', '.join(FORMATS)}")
    if g.condition is not None and g.condition.kind in ("text", "attributes"):
        raise GanforgeError(f"export: this run's G is conditioned on {g.condition.kind} (model.name={g.cfg.model.name}); "
                            "exporting it (token ids in) is not supported yet: sample from the run instead")
    G = truncated(g.G, truncation, g.cfg.model.name)
    if fmt == "safetensors" and truncation is not None:
        raise GanforgeError("--truncation: a safetensors export holds G's weights; truncate when sampling from it, "
                            "or export onnx or torchscript")
    prov = provenance(g, run_dir, fmt, truncation)
    sampler = _Sampler(_plain(G), g.data.loc, g.data.scale).eval()
    out = Path(out)
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True)
    check = _fixed_inputs(g, _CHECK_BATCH)
    with torch.no_grad():
        want = sampler(*check)
    if fmt == "onnx":
        got = _write_onnx(sampler, _fixed_inputs(g, 2, seed=1), out, prov, check)
    elif fmt == "torchscript":
        got = _write_torchscript(sampler, _fixed_inputs(g, 2, seed=1), out, prov, check)
    else:
        _write_safetensors(g, out, prov)
        with torch.no_grad():
            got = read_export(out).sampler(*check)
    return ExportResult(out, fmt, float((got - want).abs().max()), prov)


def _write_onnx(sampler: nn.Module, example: tuple, out: Path, prov: dict, check: tuple) -> Tensor:
    onnx = _need("onnx", "onnx")
    ort = _need("onnxruntime", "onnx")
    names = ["z", "y"][: len(example)]
    buf = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript-based exporter is deprecated; it needs no onnxscript
        warnings.simplefilter("ignore")
        torch.onnx.export(sampler, example, buf, input_names=names, output_names=["x"], opset_version=17,
                          dynamic_axes={k: {0: "batch"} for k in names + ["x"]}, dynamo=False)
    model = onnx.load_from_string(buf.getvalue())
    model.doc_string = f"ganforge generator of run {prov['run']} at step {prov['step']}; {SYNTHETIC}"
    for k, v in prov.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    data = model.SerializeToString()
    write_bytes_atomic(out, data)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    feeds = {k: v.numpy() for k, v in zip(names, check)}
    return torch.from_numpy(session.run(None, feeds)[0])


def _write_torchscript(sampler: nn.Module, example: tuple, out: Path, prov: dict, check: tuple) -> Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(sampler, example, check_trace=False)
        buf = io.BytesIO()
        torch.jit.save(traced, buf, _extra_files={"ganforge.json": json.dumps(prov)})
        write_bytes_atomic(out, buf.getvalue())
        loaded = torch.jit.load(str(out))
    with torch.no_grad():
        return loaded(*check)


# ----------------------------------------------------------------------------- safetensors


def _digest(header: dict, tensors: dict[str, Tensor]) -> str:
    """SHA-256 over the header's JSON (without the digest) and every tensor's name, dtype, shape, bytes."""
    h = hashlib.sha256(json.dumps(header, sort_keys=True).encode())
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _write_safetensors(g: TrainedRun, out: Path, prov: dict) -> None:
    _need("safetensors", "safetensors")
    from safetensors.torch import save
    tensors = {f"G.{k}": v.detach().cpu().contiguous().clone() for k, v in g.G.state_dict().items()}
    tensors["data.loc"] = g.data.loc.detach().cpu().float().contiguous().clone()
    tensors["data.scale"] = g.data.scale.detach().cpu().float().contiguous().clone()
    header = {"format": EXPORT_FORMAT, "model": to_dict(g.cfg)["model"], "shape": list(g.data.shape),
              "n_classes": g.n_classes, "provenance": prov}
    meta = {"ganforge": json.dumps(header, sort_keys=True), "digest": _digest(header, tensors), **prov}
    write_bytes_atomic(out, save(tensors, metadata=meta))


class ExportedGenerator:
    """A generator read from a safetensors export (:func:`ganforge.load_generator`).

    ``sample(n, seed, label)`` draws as the run's own sampling does (same seed, same samples);
    ``sampler(z, y)`` maps noise to data space; ``provenance`` says where it came from."""

    def __init__(self, sampler: nn.Module, prior: Prior, shape: tuple, n_classes: int, provenance: dict,
                 kind=None):
        self.sampler, self.prior, self.shape, self.n_classes = sampler, prior, shape, n_classes
        self.provenance = provenance
        self.kind = kind  # the data kind its model builds (data/kinds), as the model declares it

    def __repr__(self) -> str:
        p = self.provenance
        return f"ExportedGenerator(run={p.get('run')!r}, step={p.get('step')}, shape={self.shape})"

    def sample(self, n: int, seed: int = 0, label: Optional[int] = None) -> Tensor:
        """``n`` samples (n, *shape) in data space; ``label``: every sample's class (conditional)."""
        if n < 1:
            raise GanforgeError(f"n={n}: must be >= 1")
        check_class(label, self.n_classes, "label")
        data = Normalized()
        data.loc, data.scale, data.kind = self.sampler.loc, self.sampler.scale, self.kind
        return generate(self.sampler.G, self.prior, n, seed, data, self.n_classes, label)


def read_export(path: Path, device: str = "cpu") -> ExportedGenerator:
    """Rebuild the generator of a safetensors export, checking that it is one and unaltered."""
    _need("safetensors", "safetensors")
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise GanforgeError(f"{path}: no such file")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
    except Exception as e:  # noqa: BLE001 - any failure to parse means: not a safetensors file we can read
        raise GanforgeError(f"{path}: not a readable safetensors file ({str(e).splitlines()[0][:120]})") from None
    if "ganforge" not in meta:
        raise GanforgeError(f"{path}: not a ganforge export (its header has no 'ganforge' entry); "
                            "load_generator reads files written by `ganforge export --format safetensors`")
    try:
        header = json.loads(meta["ganforge"])
        ok = isinstance(header, dict) and header.get("format") == EXPORT_FORMAT
    except json.JSONDecodeError:
        ok = False
    if not ok:
        raise GanforgeError(f"{path}: the ganforge header is not of export format {EXPORT_FORMAT}")
    if meta.get("digest") != _digest(header, tensors):
        raise GanforgeError(f"{path}: the file was altered after export (its digest does not match); refusing it")
    try:
        cfg = load_config(base={"model": header["model"]})
        G, _ = build_models(cfg, tuple(header["shape"]), int(header["n_classes"]))
        G.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("G.")})
    except (GanforgeError, KeyError, RuntimeError, TypeError, ValueError) as e:
        raise GanforgeError(f"{path}: its weights do not fit its model config ({str(e).splitlines()[0][:120]})") from None
    sampler = _Sampler(G.eval(), tensors["data.loc"], tensors["data.scale"]).to(device).eval()
    prior = Prior(cfg.model.prior, cfg.model.z_dim)
    kind = KINDS.get(MODELS.get(cfg.model.name).kinds[0])
    return ExportedGenerator(sampler, prior, tuple(header["shape"]), int(header["n_classes"]), header["provenance"],
                             kind)
