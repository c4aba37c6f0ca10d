"""Grids that show the condition (issue 38): a class-conditional run's sample figures have one
row per class, in class order, named; an unconditional run's keep the plain grid."""

import torch
from PIL import Image

from conftest import TINY_IMAGES
from ganforge.cli import main
from ganforge.conditions import ClassIds
from ganforge.evaluation import condition_rows


def test_condition_rows_are_class_major_and_named():
    labels, names = condition_rows(ClassIds(10), per_row=8)
    assert labels.tolist() == [k for k in range(10) for _ in range(8)]
    assert names == [str(k) for k in range(10)]
    labels, names = condition_rows(ClassIds(10), n=25)  # 3 a row, the last row shorter
    assert labels.tolist() == [k for k in range(9) for _ in range(3)][:25] and names == [str(k) for k in range(9)]
    assert condition_rows(ClassIds(1000), per_row=8) == (None, None)  # stacked digits: too many rows
    assert condition_rows(None, per_row=8) == (None, None)


def _rows_of_cells(path, cell_px: int) -> int:
    """Rows of a grid picture: its height over one cell's (1-pixel gaps, enlarged 4x for 16 px)."""
    return round(Image.open(path).height / cell_px)


def test_a_conditional_run_draws_one_row_per_class(tmp_path):
    out = tmp_path / "c"
    assert main(["train", "--preset", "digits_conditional", "--out", str(out), *TINY_IMAGES, "train.steps=4",
                 "train.sample_every=4"]) == 0
    step_grid = out / "samples" / "step-0000004.png"
    cell = (8 + 1) * 8  # 8 px digits, a 1-pixel gap, enlarged 8x to ~64 px
    assert _rows_of_cells(step_grid, cell) == 10  # 8 samples of each of the 10 classes
    assert main(["sample", str(out), "--n", "30", "--out", str(tmp_path / "g.png")]) == 0
    assert _rows_of_cells(tmp_path / "g.png", cell) == 10  # 3 of each class
    plain = tmp_path / "three.png"
    assert main(["sample", str(out), "--n", "16", "--class", "3", "--out", str(plain)]) == 0
    assert _rows_of_cells(plain, cell) == 4  # one class asked for: the plain 4 x 4 grid
    # the named rows add a margin on the left: wider than the plain grid of as many columns
    assert Image.open(tmp_path / "g.png").width > 3 * cell


def test_the_row_names_are_drawn_left_of_the_rows():
    from ganforge.files import grid_image, label_rows

    grid = grid_image(torch.zeros(6, 1, 8, 8), nrow=3, scale=4)  # 2 rows of black cells
    img = label_rows(grid, ["a", "b"])
    assert img.height == grid.height and img.width > grid.width
    import numpy as np

    margin = np.asarray(img.crop((0, 0, img.width - grid.width, img.height)))
    assert (margin < 128).any(), "no text drawn in the margin"


def test_a_run_ends_with_where_its_outputs_are_and_commands_that_work(tmp_path, capsys):
    import shlex

    from conftest import TINY

    out = tmp_path / "runs" / "r"
    assert main(["train", "--preset", "ring8", "--out", str(out), *TINY, "train.steps=20"]) == 0
    text = capsys.readouterr().out
    assert f"checkpoint:  {out / 'ckpt-0000020.pt'}" in text and f"metrics:     {out / 'metrics.jsonl'}" in text
    suggested = [line.split("#")[0].split() for line in text.splitlines() if line.strip().startswith("ganforge ")]
    assert [cmd[1] for cmd in suggested] == ["sample", "report", "doctor", "board"]
    for cmd in suggested[:3]:  # each runs as printed (the board serves until stopped: not run here)
        assert main(shlex.split(" ".join(cmd[1:]))) == 0, cmd
    assert (out / "samples.csv").is_file() and (out / "report.html").is_file()
