"""The table kind: a sample is one row of a table of mixed types, held as a row of the table's
transformed layout (width,) (``data/table_transform.py``); the source's ``to_frame`` turns rows
back into the table's own columns, types and labels.

It owns writing rows as a CSV with the table's columns, reading a user's table to score, and
the figure: real against generated distributions of the first columns. The conditions (a row's
category, which it holds itself, and G's draws at the data's frequencies) are the source's
condition spec's (``ganforge.conditions.TableConditions``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
from torch import Tensor

from .base import DataKind, Inputs, register_kind
from .points import figure_image

FIGURE_COLUMNS = 6  # columns drawn in the sample figure


class TableKind(DataKind):
    name = "table"
    default_model = "tabular"
    default_dataset = "table"
    demo_data = {"name": "table", "path": "penguins"}
    evaluator = "table"
    suffixes = (".csv",)
    holds_conditions = True
    task = "tabular-generation"
    figure_n = 500  # rows in the report's figure

    def describe(self, shape: tuple) -> str:
        return f"table rows (a layout of width {shape[0]}, written as the table's own columns)"

    def unseen(self, data, x: Tensor) -> Optional[Tensor]:
        return data.unseen(x)

    def content(self, x: Tensor, suffix: str, data=None, labels: Optional[Tensor] = None):
        """Rows (N, width) as a table with the table's own columns, types and labels (.csv)."""
        return data.to_frame(x)

    def read_inputs(self, data, path: Path, resize: bool = False) -> Inputs:
        """A user's table with this run's columns -> rows of the layout (``TableData.read_rows``);
        a row has no size to resize (``resize`` changes nothing)."""
        return Inputs(*data.read_rows(Path(path)))

    def figure(self, fake: Tensor, data=None, seed: int = 0, title: str = "", rows: Optional[list[str]] = None):
        """Real (grey) against generated (blue) distributions of the table's first columns:
        histograms of numbers, bar charts of category frequencies."""
        if data is None:
            return None
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        synth, real = data.to_frame(fake), data.to_frame(data.reference(len(fake), seed))
        cols = list(synth.columns)[:FIGURE_COLUMNS]
        fig = Figure(figsize=(3 * min(len(cols), 3), 2.4 * ((len(cols) + 2) // 3)), dpi=80)
        FigureCanvasAgg(fig)
        axes = fig.subplots((len(cols) + 2) // 3, min(len(cols), 3), squeeze=False).flatten()
        for ax, col in zip(axes, cols):
            r, s = real[col].dropna(), synth[col].dropna()
            if r.dtype.kind in "fiu" and r.nunique() > 10:
                bins = np.histogram_bin_edges(np.concatenate([r.to_numpy(float), s.to_numpy(float)]), bins=20)
                ax.hist(r, bins=bins, color="0.6", alpha=0.6, density=True, label="real")
                ax.hist(s, bins=bins, color="tab:blue", alpha=0.5, density=True, label="generated")
            else:
                cats = sorted(set(r.astype(str)) | set(s.astype(str)))[:12]
                pr = r.astype(str).value_counts(normalize=True).reindex(cats, fill_value=0)
                ps = s.astype(str).value_counts(normalize=True).reindex(cats, fill_value=0)
                at = np.arange(len(cats))
                ax.bar(at - 0.2, pr.to_numpy(), 0.4, color="0.6", label="real")
                ax.bar(at + 0.2, ps.to_numpy(), 0.4, color="tab:blue", label="generated")
                ax.set_xticks(at, [c[:8] for c in cats], rotation=60, fontsize=6)
            ax.set_title(str(col), fontsize=8)
            ax.tick_params(labelsize=6)
        for ax in axes[len(cols):]:
            ax.set_visible(False)
        axes[0].legend(fontsize=6)
        if title:
            fig.suptitle(title, fontsize=9)
        fig.tight_layout()
        return figure_image(fig)

    def normal_data(self, data, seed: int, n: int = 12000) -> tuple[Tensor, Optional[Tensor]]:
        """Its training rows in the layout (N, width), each under the condition it holds."""
        return data.rows.float(), data.row_labels(data.rows)


TABLE = register_kind(TableKind())
