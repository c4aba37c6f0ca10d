"""The sequence kind: a sample is a multivariate time series (T, F), T steps of F features,
steps first (as a GRU reads it with ``batch_first=True``); a batch is (B, T, F).

It owns writing sequences as ``.npy`` (N, T, F) float32, as a long-format ``.csv`` (``id``,
``time``, one column per feature, and ``label`` for a conditional run: the format
``data.name=series`` reads back) or as a ``.png`` of traces; reading a user's .npy / .csv of
the run's (T, F) to score or test for anomalies; the figure of real against generated traces
with TimeGAN's PCA overlay beside them (``report/sequences.py`` writes t-SNE too); and a GRU encoder trunk.
Datasets: ``data/series.py`` (sines, basicmotions, macro, and the user's ``series``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import Tensor, nn

from ...errors import GanforgeError
from .base import DataKind, Inputs, register_kind
from .points import figure_image

TRACES = 4  # sequences of each (real, generated) in the figure
MAX_FEATURES = 6  # feature panels in the figure


def pca_coords(real: np.ndarray, fake: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """TimeGAN's PCA view: each sequence (N, T, F) reduced to its mean over features (N, T),
    the 2 principal axes fitted on the real curves, both projected: (n_real, 2), (n_fake, 2)."""
    r, f = real.mean(2).astype(np.float64), fake.mean(2).astype(np.float64)  # (N, T)
    mu = r.mean(0, keepdims=True)
    _, _, vt = np.linalg.svd(r - mu, full_matrices=False)  # rows of vt: principal axes (T,)
    axes = vt[:2].T  # (T, 2)
    return (r - mu) @ axes, (f - mu) @ axes


def trace_figure(real: Optional[Tensor], fake: Tensor, features: Optional[list] = None, title: str = "",
                 n: int = TRACES, max_features: int = MAX_FEATURES, overlay: bool = False):
    """Real (grey) and generated (blue) traces, the first ``n`` sequences (N, T, F) of each, one
    panel per feature (the first ``max_features``); ``overlay``: beside them, the PCA of all of
    them (:func:`pca_coords`). On matplotlib's Agg canvas: the Figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    f_all = fake.detach().cpu().float().numpy()  # (N, T, F)
    r_all = real.detach().cpu().float().numpy() if real is not None else f_all[:0]
    f, r = f_all[:n], r_all[:n]
    overlay = overlay and len(r_all) >= 3 and len(f_all) >= 3 and f_all.shape[1] >= 2
    k = min(f.shape[2], max_features)
    names = list(features) if features else [f"feature {j}" for j in range(f.shape[2])]
    fig = Figure(figsize=(6 + 4 * overlay, 1.5 * k + 0.6), dpi=100)
    FigureCanvasAgg(fig)  # attaches itself to fig: savefig renders with Agg
    grid = fig.add_gridspec(k, 2 if overlay else 1, width_ratios=[3, 2] if overlay else None)
    axes = [fig.add_subplot(grid[j, 0]) for j in range(k)]
    t = np.arange(f.shape[1])
    for j, ax in enumerate(axes):
        for i in range(len(r)):
            ax.plot(t, r[i, :, j], c="0.55", lw=1, label="real" if i == 0 else None)
        for i in range(len(f)):
            ax.plot(t, f[i, :, j], c="tab:blue", lw=1, alpha=0.8, label="generated" if i == 0 else None)
        ax.set_ylabel(names[j], fontsize=7)
        ax.tick_params(labelsize=6)
        if j < k - 1:
            ax.tick_params(labelbottom=False)
    axes[0].legend(loc="upper right", fontsize=7)
    axes[-1].set_xlabel("step")
    if overlay:
        ax = fig.add_subplot(grid[:, 1])
        pr, pf = pca_coords(r_all, f_all)
        ax.scatter(pr[:, 0], pr[:, 1], s=5, c="tab:red", alpha=0.3, label="real", linewidths=0)
        ax.scatter(pf[:, 0], pf[:, 1], s=5, c="tab:blue", alpha=0.3, label="generated", linewidths=0)
        ax.set_title(f"PCA, {len(pr)} real and {len(pf)} generated", fontsize=8)
        ax.tick_params(labelsize=6)
        ax.legend(fontsize=7, markerscale=2)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


class GRUTrunk(nn.Module):
    """x (B, T, F) -> a GRU's last hidden state (B, width): the encoder trunk of a sequence."""

    def __init__(self, features: int, width: int):
        super().__init__()
        self.rnn = nn.GRU(features, width, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        _, h_n = self.rnn(x)  # h_n (1, B, width)
        return h_n[-1]


class SequenceKind(DataKind):
    name = "sequence"
    default_model = "conv1d"  # beat timegan and rcgan on every set, and takes any z_dim (docs/data/series.md)
    default_dataset = "series"
    demo_data = {"name": "sines"}
    evaluator = "series"
    suffixes = (".npy", ".csv", ".png")
    task = "time-series-generation"  # the model hub has no pipeline tag for it
    conditional_task = "class-conditional-time-series-generation"
    figure_n = 500  # sequences drawn for the figure: the first TRACES as traces, all of them in its PCA

    def describe(self, shape: tuple) -> str:
        return f"sequences of {shape[0]} steps x {shape[1]} features"

    def check_shape(self, data, x: Tensor, where: str) -> Tensor:
        """``x`` (N, T, F) of the run's (T, F), at least one, as float32; else one line."""
        want = tuple(data.shape)
        if tuple(x.shape[1:]) != want or len(x) == 0:
            raise GanforgeError(f"{where}: sequences of shape {tuple(x.shape)}; this run's are (N, {want[0]}, "
                                f"{want[1]}) (steps, features)")
        return x.float()

    def content(self, x: Tensor, suffix: str, data=None, labels: Optional[Tensor] = None):
        """.npy: float32 (N, T, F); .csv: the long format (``id``, ``time``, the features, and
        ``label`` given labels); .png: the traces (as an image (3, H, W) in [0, 1])."""
        if suffix == ".npy":
            return x.float().numpy()
        if suffix == ".png":
            img = figure_image(trace_figure(None, x, feature_names(data)))
            return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).permute(2, 0, 1)  # (3, H, W)
        from .sequence_io import long_frame

        feats = feature_names(data) or [f"x{j}" for j in range(x.shape[2])]
        return long_frame(x.float().numpy(), feats, labels.tolist() if labels is not None else None)

    def read_inputs(self, data, path: Path, resize: bool = False) -> Inputs:
        """Sequences of the run's (T, F) from a .npy (N, T, F) or a .csv in long format (what
        :meth:`content` writes; ``data.name=series`` reads it the same way). ``resize``: longer
        sequences are cut into windows of T steps, as the run cut its own series (its stride,
        else T: windows side by side); shorter ones, or other features, are refused."""
        from .sequence_io import load_series, windows

        path = Path(path)
        if path.suffix not in (".npy", ".csv"):
            raise GanforgeError(f"--data {path}: a sequence run reads a .npy (N, T, F) or a long-format .csv")
        if not path.is_file():
            raise GanforgeError(f"--data {path}: no such file")
        if path.suffix == ".npy":
            x = torch.from_numpy(np.load(path, allow_pickle=False).astype(np.float32))
        else:
            x = torch.from_numpy(load_series(str(path))[0])
        (t, f), where = tuple(data.shape), f"--data {path}"
        if not resize or x.dim() != 3 or x.shape[1] <= t or x.shape[2] != f:
            if x.dim() == 3 and x.shape[1] != t and x.shape[2] == f:
                where += (f" (give --resize to cut them into windows of {t} steps, as this run cut its series)"
                          if x.shape[1] > t else " (--resize cuts longer sequences; it cannot stretch shorter ones)")
            return Inputs(self.check_shape(data, x, where), [str(i) for i in range(len(x))])
        stride = int(getattr(data, "info", {}).get("stride") or t)  # the run's own stride; none (generated): T
        cut = [windows(s.numpy(), t, stride) for s in x]  # (W, T, F) per sequence
        names = [f"{i}[{j * stride}:{j * stride + t}]" for i, c in enumerate(cut) for j in range(len(c))]
        note = (f"cut {len(x)} sequence(s) of {x.shape[1]} steps into {len(names)} windows of {t} steps, "
                f"stride {stride} (as this run cut its series)")
        return Inputs(torch.from_numpy(np.concatenate(cut)).float(), names, note)

    def from_array(self, arr: np.ndarray, where: str) -> Tensor:
        """(N, T, F) numbers in the data's own units -> float32."""
        if arr.dtype.kind not in "fiu" or len(arr.shape) != 3:
            raise GanforgeError(f"{where}: sequences are (N, T, F) numbers; found shape {tuple(arr.shape)}")
        return torch.from_numpy(arr.astype(np.float32))

    def data_settings(self, x: Tensor) -> dict:
        return {"window": int(x.shape[1])}

    def figure(self, fake: Tensor, data=None, seed: int = 0, title: str = "", rows: Optional[list[str]] = None):
        """Real (grey, ``data.reference``) against generated (blue) traces, one panel per feature,
        and beside them TimeGAN's PCA overlay of as many real as generated sequences."""
        real = data.reference(len(fake), seed) if data is not None else None
        return figure_image(trace_figure(real, fake, feature_names(data), title, overlay=True))

    def encoder_trunk(self, shape: tuple, width: int) -> tuple[nn.Module, int]:
        """A GRU over the steps, its last state: (B, T, F) -> (B, 4 width)."""
        return GRUTrunk(shape[1], 4 * width), 4 * width

    def normal_data(self, data, seed: int, n: int = 12000) -> tuple[Tensor, Optional[Tensor]]:
        """The training sequences themselves (N, T, F) and their labels (or None)."""
        return data.x.float(), data.labels


def feature_names(data) -> Optional[list]:
    """The feature names of a sequence source, None without one (a bare writer)."""
    return list(data.features) if data is not None else None


SEQUENCE = register_kind(SequenceKind())
