"""Inception FID/KID from a weights file the user already has: never downloaded.

FID and KID are usually quoted in the 2048-d pool3 space of the Inception-v3 network that
torchmetrics takes from torch-fidelity. ganforge uses that network only when the user names a
local weights file (``eval.inception_weights=PATH`` or ``ganforge evaluate RUN
--inception-weights PATH``; torch-fidelity's ``pt_inception-2015-12-05-6726825d.pth``). The
file is first opened with ``torch.load(weights_only=True)``, so a file that would run pickled
code is refused before torch-fidelity reads it.

Without such a file ganforge reports FID/KID in a classifier's feature space instead, and
every result says which space it was measured in (``provenance``).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import GanforgeError
from . import distances

INSTALL_HINT = "pip install torch-fidelity (it needs torchvision built for your torch)"


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def check_weights(path: str) -> Path:
    """The resolved path of a usable weights file, or a GanforgeError saying what is wrong."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise GanforgeError(f"eval.inception_weights: no such file: {p} (ganforge never downloads weights)")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any failure means: not a plain state dict
        raise GanforgeError(f"eval.inception_weights: {p} is not a plain PyTorch state dict "
                            f"({type(e).__name__}); refusing to load it") from None
    if not isinstance(state, dict) or not any("Mixed_7c" in k for k in state):
        raise GanforgeError(f"eval.inception_weights: {p} does not hold Inception-v3 (torch-fidelity) weights")
    return p


class InceptionFeatures(nn.Module):
    """Images (B, C, H, W) in [0, 1], C = 1 or 3 -> pool3 features (B, 2048), with
    torchmetrics' Inception-v3 loaded from ``path``. Grey images are repeated to RGB; the
    network resizes to 299x299 itself."""

    num_features = 2048

    def __init__(self, path: Path):
        super().__init__()
        try:
            from torchmetrics.image.fid import NoTrainInceptionV3
            from torchmetrics.utilities.imports import _TORCH_FIDELITY_AVAILABLE
        except ImportError as e:  # pragma: no cover - depends on the torchmetrics version
            raise GanforgeError(f"eval.inception_weights: torchmetrics cannot build Inception-v3 ({e})") from None
        if not _TORCH_FIDELITY_AVAILABLE:
            raise GanforgeError(f"eval.inception_weights needs the torch-fidelity package: {INSTALL_HINT}")
        net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                                 feature_extractor_weights_path=str(path))
        # Not registered as a submodule: the metrics move *their* states to float64
        # (``set_dtype``), which must not reach the network's float32 weights.
        object.__setattr__(self, "net", net)

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)  # (B, 3, H, W)
        x = (x.clamp(0, 1) * 255).round().to(torch.uint8)  # the network's input convention
        return self.net(x).reshape(len(x), -1)


@lru_cache(maxsize=2)
def _features(path: str, digest: str) -> InceptionFeatures:
    return InceptionFeatures(Path(path))


def inception_fid_kid(real: Tensor, fake: Tensor, path: str, batch_size: int = 100, seed: int = 0) -> dict:
    """FID and KID of images (N, C, H, W) in [0, 1] in Inception-v3's pool3 space, plus their
    provenance. ``path`` is the user's weights file."""
    p = check_weights(path)
    digest = _file_digest(p)
    net = _features(str(p), digest)
    feats = [torch.cat([net(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]) for x in (real, fake)]
    out = distances.fid_kid(feats[0], feats[1], seed=seed)  # (N, 2048), (M, 2048)
    out["fid_feature_space"] = f"Inception-v3 pool3 (2048 features, torchmetrics) from {p} (sha256 {digest})"
    return out


__all__ = ["InceptionFeatures", "check_weights", "inception_fid_kid"]
