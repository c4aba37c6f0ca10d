"""Golden runs: short fixed-seed runs whose every logged number and final weights are recorded.

A structural change (a refactor) must not change what a run computes. ``tests/data/golden.json``
holds, for each run below, every record of its ``metrics.jsonl`` and a SHA-256 of its final
weights and optimizer states, recorded *before* the refactor with the code of the time;
``tests/test_golden.py`` re-runs them and asks for the same numbers, bit for bit.

Bit-exactness holds for the same torch build on the same processor (the fixture records torch, the
CPU capability and the model name). What does not depend on floating-point kernels is checked on every platform: each record's
keys in order, the logged steps, the number of records, where the run stopped, and the layout of
the final checkpoint (every tensor's path, shape and dtype). A change that adds, drops or renames a
logged key fails there on any CPU. The numbers are compared bit for bit on the recorded platform and
within the tolerances of ``test_golden.py`` elsewhere (AVX2 and AVX-512 kernels of MKL and oneDNN
round differently, and a GAN amplifies the difference step by step).

Regenerate with ``python tests/golden.py --write`` on a commit known to be right, and say in the
commit what changed on purpose.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import torch

FIXTURE = Path(__file__).parent / "data" / "golden.json"

# train.reuse_fakes=false: the runs were recorded with two G batches per iteration (the default
# before reuse_fakes); the "reuse_fakes" run below covers the one-batch path
_COMMON = ["train.progress=false", "train.tensorboard=false", "train.threads=1", "train.sample_every=0",
           "doctor.warmup=2", "train.reuse_fakes=false"]
_TOY = ["model.g_width=16", "model.d_width=16", "model.g_depth=2", "model.d_depth=2", "train.batch_size=32",
        "train.log_every=5", "train.ckpt_every=30", "eval.every=30", "eval.n_samples=300", "doctor.probe_n=64"]
_IMG = ["data.resolution=8", "model.g_width=4", "model.d_width=4", "model.z_dim=8", "train.batch_size=16",
        "train.log_every=5", "train.ckpt_every=20", "eval.every=0", "eval.n_samples=60", "doctor.probe_n=16"]

# name -> (preset, overrides). Together they switch on every part of the step and the loop.
RUNS: dict[str, tuple[str, list[str]]] = {
    "mlp_grid25_r1_lazy_ema": ("grid25", _TOY + [
        "train.steps=60", "optim.schedule=constant", "train.d_steps=2", "train.ema_beta=0.99",
        "reg.r1.weight=0.1", "reg.r1.interval=4"]),
    "dcgan_digits_diffaugment_lecam": ("digits", _IMG + [
        "train.steps=40", "augment.policy=translation,cutout,color", "reg.lecam.weight=0.1",
        "train.ema_beta=0.9"]),
    "dcgan_digits_ada_bcr_conditional": ("digits", _IMG + [
        "train.steps=40", "model.conditional=true", "model.g_cond=cbn", "model.d_cond=projection", "augment.policy=translation,color",
        "augment.ada_target=0.6", "augment.ada_interval=2", "augment.ada_kimg=1", "reg.bcr.weight=1"]),
    "dcgan_digits_conditional_concat": ("digits", _IMG + [
        "train.steps=30", "model.conditional=true", "model.d_cond=concat", "model.g_cond=concat", "model.d_norm=spectral",
        "model.g_spectral=true", "train.d_steps=2"]),
    "mlp_grid25_remedies": ("grid25", _TOY + [
        "train.steps=40", "optim.schedule=linear", "train.instance_noise=0.1", "train.unroll_steps=2",
        "model.d_ensemble=2", "loss.label_smoothing=0.1", "model.pac=2", "model.mbstd=2",
        "reg.dragan.weight=1", "model.d_norm=layer"]),
    "mlp_ring8_wasserstein_sgd": ("ring8", _TOY + [
        "train.steps=40", "loss.name=wasserstein", "loss.clip=0.05", "optim.name=sgd", "optim.g_lr=0.01",
        "optim.d_lr=0.01", "model.prior=uniform", "optim.schedule=cosine", "train.d_steps=3"]),
    "mlp_grid25_wgan_gp_hinge_free": ("grid25", _TOY + [
        "train.steps=30", "loss.name=wgan_gp", "reg.r2.weight=0.5", "model.g_spectral=true"]),
    "dcgan_digits_fp16_channels_last": ("digits", _IMG + [
        "train.steps=30", "train.precision=fp16", "train.channels_last=true", "model.d_norm=layer",
        "model.mbstd=2", "reg.r1.weight=1", "reg.r1.interval=2", "loss.name=hinge"]),
    "dcgan_digits_bf16_instance": ("digits", _IMG + [
        "train.steps=20", "train.precision=bf16", "model.d_norm=instance", "loss.name=least_squares"]),
    "mlp_grid25_divergence_rollback": ("grid25", _TOY + [
        "train.steps=120", "optim.name=sgd", "optim.d_lr=0.3", "optim.g_lr=0.3", "doctor.max_retries=3",
        "train.ckpt_every=20"]),
    "dcgan_digits_reuse_fakes": ("digits", _IMG + [
        "train.steps=30", "train.reuse_fakes=true", "train.ema_beta=0.9", "reg.r1.weight=1", "reg.r1.interval=4",
        "augment.policy=translation"]),
}


def _cpu_model() -> str:
    """The processor's model name (/proc/cpuinfo), or the platform's word for it: Intel's and AMD's
    AVX-512 machines share a capability and still round differently (MKL and oneDNN pick their
    kernels by vendor), so the recorded platform names the processor too."""
    import platform as _platform

    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return _platform.processor() or _platform.machine()


def platform() -> dict:
    return {"torch": torch.__version__, "cpu": torch.backends.cpu.get_cpu_capability(), "model": _cpu_model()}


def _leaves(ckpt: dict):
    """(path, leaf) of the state of G, D, G_ema and both optimizers, in key order."""

    def walk(obj, path: str):
        if isinstance(obj, dict):
            for k in sorted(obj, key=str):
                yield from walk(obj[k], f"{path}.{k}")
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                yield from walk(v, f"{path}[{i}]")
        else:
            yield path, obj

    for key in ("G", "D", "G_ema", "opt_g", "opt_d"):
        yield from walk(ckpt.get(key), key)


def _hash_state(ckpt: dict) -> str:
    """SHA-256 over the tensors (and plain values) of the state, in key order."""
    h = hashlib.sha256()
    for path, obj in _leaves(ckpt):
        if isinstance(obj, torch.Tensor):
            h.update(path.encode())
            h.update(obj.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(obj, (int, float, str, bool)) or obj is None:
            h.update(f"{path}={obj!r}".encode())
    return h.hexdigest()


def _layout(ckpt: dict) -> list:
    """[path, shape, dtype] of every tensor, and [path, type name] of every other leaf, of the
    state the hash covers: what a checkpoint holds, with none of its numbers."""
    return [[path, list(obj.shape), str(obj.dtype)] if isinstance(obj, torch.Tensor) else [path, type(obj).__name__]
            for path, obj in _leaves(ckpt)]


def structure(result: dict) -> dict:
    """What a golden run must share with the fixture on every CPU: no floating-point numbers."""
    return {"record_keys": [list(r) for r in result["records"]],
            "steps": [r.get("step") for r in result["records"]],
            "final_step": result["final_step"], "stopped": result["stopped"],
            "checkpoint_keys": result["checkpoint_keys"], "state_layout": result["state_layout"]}


def run_one(name: str, out: Path) -> dict:
    """Train golden run ``name`` in ``out`` and return its records and the hash of its state."""
    from ganforge.config import load_config
    from ganforge.errors import TrainingDiverged
    from ganforge.train.checkpoint import load_checkpoint
    from ganforge.train.loop import train

    preset, overrides = RUNS[name]
    cfg = load_config(preset, _COMMON + overrides)
    out.mkdir(parents=True, exist_ok=True)
    stopped = False
    try:
        train(cfg, out)
    except TrainingDiverged:
        stopped = True
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    ckpt = load_checkpoint(out)
    return {"records": records, "state_sha256": _hash_state(ckpt), "final_step": int(ckpt["step"]),
            "stopped": stopped, "checkpoint_keys": sorted(ckpt), "state_layout": _layout(ckpt)}


def main(argv: list[str]) -> int:
    import tempfile

    if argv != ["--write"]:
        print("usage: python tests/golden.py --write   (records tests/data/golden.json)")
        return 2
    import os

    result = {"platform": platform(), "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        # a fresh cache, as the test session has (tests/conftest.py): the digit classifier that
        # scores the image runs is trained here, not taken from the user's cache
        os.environ["GANFORGE_CACHE"] = str(Path(tmp) / "cache")
        for name in RUNS:
            result["runs"][name] = run_one(name, Path(tmp) / name)
            print(name, result["runs"][name]["final_step"], result["runs"][name]["state_sha256"][:12], flush=True)
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps(result, indent=1, allow_nan=True) + "\n")
    print(f"wrote {FIXTURE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
