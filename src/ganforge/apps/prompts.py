"""Text to image from a trained run: ``ganforge sample RUN --prompt "..."`` / ``--prompts FILE.txt``
and ``Run.sample(prompt=...)``.

Every prompt is read through the run's vocabulary (built from its training captions) before
anything is drawn: an empty prompt, a prompt of unknown words only, or an unknown word (named,
with the closest known words) is one line, and nothing is written. A grid (GRID.png) has one
row of ``n`` images per prompt with the prompt written under it; DIR/ gets one PNG per image
(``PPP-NNN.png``: prompt, sample); FILE.npy the images (P * n, 3, R, R) in [0, 1], prompt-major.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import torch
from torch import Tensor

from ..errors import GanforgeError
from ..files import write_output

MAX_PROMPTS = 64


def read_prompts(path: str) -> list[str]:
    """The prompts of a text file, one a line (blank lines skipped); one line when it has none."""
    p = Path(path)
    if not p.is_file():
        raise GanforgeError(f"--prompts {path}: no such file")
    try:
        lines = [s.strip() for s in p.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as e:
        raise GanforgeError(f"--prompts {path}: unreadable ({type(e).__name__})") from None
    prompts = [s for s in lines if s]
    if not prompts:
        raise GanforgeError(f"--prompts {path}: no prompts in it (one a line)")
    if len(prompts) > MAX_PROMPTS:
        raise GanforgeError(f"--prompts {path}: {len(prompts)} prompts; at most {MAX_PROMPTS} a call")
    return prompts


def text_condition(run, name: str = "--prompt"):
    """The run's captions spec; one line when the run is not conditioned on text."""
    spec = run.condition
    if spec is None or spec.kind != "text" or getattr(spec, "vocabulary", None) is None:
        raise GanforgeError(f"{name}: this run (data.name={run.cfg.data.name}) is not conditioned on captions; "
                            "train one with --preset dfgan_scenes")
    return spec


def generate_prompts(run, prompts: Sequence[str], n: int, seed: int = 0, name: str = "--prompt") -> Tensor:
    """``n`` images for each prompt, (P * n, 3, R, R) in [0, 1], prompt-major; same seed, same images."""
    if n < 1:
        raise GanforgeError(f"--n {n}: must be >= 1")
    text_condition(run, name).check(list(prompts), name)  # every prompt checked, named as the user gave it
    return run.generate(n, seed, prompt=list(prompts))


def caption_grid(x: Tensor, prompts: Sequence[str], scale: int = 2):
    """One row of images per prompt, the prompt written under its row: a PIL image."""
    from PIL import Image, ImageDraw, ImageFont

    from ..files import grid_image

    per = len(x) // len(prompts)
    font = ImageFont.load_default()
    rows = []
    for i, p in enumerate(prompts):
        row = grid_image(x[i * per:(i + 1) * per], nrow=per)
        row = row.resize((row.width * scale, row.height * scale), Image.NEAREST)
        band = Image.new("RGB", (row.width, row.height + 16), (255, 255, 255))
        band.paste(row.convert("RGB"), (0, 0))
        ImageDraw.Draw(band).text((4, row.height + 2), p, fill=(0, 0, 0), font=font)
        rows.append(band)
    width = max(r.width for r in rows + [Image.new("RGB", (8 * max(map(len, prompts)), 1))])
    out = Image.new("RGB", (width, sum(r.height for r in rows)), (255, 255, 255))
    y = 0
    for r in rows:
        out.paste(r, (0, y))
        y += r.height
    return out


def prompt_file(run, out: str, prompts: Sequence[str], n: int, seed: int = 0, watermark: bool = True,
                name: str = "--prompt") -> tuple[int, str]:
    """``n`` images per prompt written to ``out`` (GRID.png, DIR/ or FILE.npy) with provenance."""
    from .synth import sample_target

    path, is_dir = sample_target(out, n)
    if path.suffix == ".csv" and not is_dir:
        raise GanforgeError(f"--out {out}: a text-to-image run writes GRID.png, DIR/ or FILE.npy")
    x = generate_prompts(run, prompts, n, seed, name)
    marked = watermark and (is_dir or path.suffix == ".png")
    prov = run.provenance("sample", seed, None, marked, n=len(x), prompts=list(prompts))
    if is_dir:
        items = ((f"{i // n:03d}-{i % n:03d}.png", img) for i, img in enumerate(x))
        write_output(path, items, prov, folder=True)
    elif path.suffix == ".png":
        write_output(path, caption_grid(x, prompts), prov)
    else:
        write_output(path, x.float().numpy(), prov)
    return len(x), "images"


def describe(prompts: Sequence[str], limit: Optional[int] = 3) -> str:
    shown = ", ".join(repr(p) for p in prompts[:limit])
    return shown + (f" and {len(prompts) - limit} more" if limit and len(prompts) > limit else "")
