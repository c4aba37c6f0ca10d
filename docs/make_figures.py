"""The figures of the documentation, made by ganforge itself from short real runs.

    python docs/make_figures.py [--only NAME ...] [--work DIR]

Every run uses one thread (``train.threads=1``) and a fixed seed; all of them together take a
few minutes on a CPU. The PNGs land in ``docs/figures/`` and are committed; each page's caption
names the run that made its figure, as listed in ``FIGURES`` below. Figures the benchmarks made
from their own runs (``benchmarks/results/claims_*.png``, ``anomaly_maps_*.png``) are not copied:
the site serves ``benchmarks/results/`` as ``results/`` (docs/hooks.py), and pages link them there.
The default job's grid trains the whole default job (6,000 steps, about 3 minutes alone); the
other runs take about a minute together.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import ganforge
from ganforge.diagnostics.doctor import diagnose
from ganforge.report.figures import Curve, series, timeline

from ganforge.files import image_grid

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "figures"
QUIET = ["train.threads=1", "train.progress=false", "train.tensorboard=false", "train.seed=0"]
SIZE = (7.0, 2.8)  # inches at the report's 80 dpi: 560 x 224 px


def _records(run_dir: Path) -> tuple[list[dict], list[dict], list[dict]]:
    """(training records, evaluation records, events) of a run's metrics.jsonl."""
    train, evals, events = [], [], []
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if "event" in rec:
            events.append(rec)
        elif "loss_d" in rec:
            train.append(rec)
        elif "step" in rec:
            evals.append(rec)
    return train, evals, events


def _curve(records: list[dict], key: str, label: str = "") -> Curve:
    steps, values = series(records, key)
    return Curve(label or key, steps, values)


def _margin(records: list[dict]) -> Curve:
    steps, real = series(records, "d_real")
    _, fake = series(records, "d_fake")
    return Curve("d_real - d_fake (D's margin)", steps, [a - b for a, b in zip(real, fake)])


def _save(name: str, png: bytes) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / name).write_bytes(png)
    return OUT / name


def _side_by_side(paths: list[Path], name: str) -> Path:
    """Training's own sample plots, next to each other (the same height)."""
    from PIL import Image

    imgs = [Image.open(p).convert("RGB") for p in paths]
    h = min(i.height for i in imgs)
    imgs = [i.resize((round(i.width * h / i.height), h)) for i in imgs]
    canvas = Image.new("RGB", (sum(i.width for i in imgs), h), "white")
    x = 0
    for img in imgs:
        canvas.paste(img, (x, 0))
        x += img.width
    OUT.mkdir(parents=True, exist_ok=True)
    canvas.save(OUT / name, optimize=True)
    return OUT / name


def default_grid(work: Path) -> None:
    """The default job (`ganforge train`: the digits_conditional preset, 6,000 steps), one row per class."""
    run = ganforge.train("digits_conditional", QUIET + ["eval.every=0", "train.sample_every=0", "train.ckpt_every=0"],
                         work / "digits")
    import torch

    rows = [run.sample(10, seed=k, label=k) for k in range(run.n_classes)]  # 10 x (10, 1, 16, 16)
    image_grid(torch.cat(rows), OUT / "default_grid.png", nrow=10, scale=3)


def equilibrium(work: Path) -> None:
    """ring8 preset at 3,000 steps: D -> 1/2, V -> -log 4, the phases, and the final samples."""
    out = work / "ring8"
    ganforge.train("ring8", QUIET + ["train.steps=3000", "eval.every=1000", "train.sample_every=3000"], out)
    train, _, events = _records(out)
    phases = diagnose(out).phases
    _save("equilibrium_d.png", timeline([_curve(train, "d_real", "mean D(x)"), _curve(train, "d_fake", "mean D(G(z))")],
                                        "ring8: D's mean output on reals and fakes", events, phases,
                                        hline=(0.5, "1/2"), size=SIZE))
    _save("equilibrium_value.png", timeline([_curve(train, "value", "V(D, G) on the batch")],
                                            "ring8: the value of the game", events, phases,
                                            hline=(-math.log(4), "-log 4"), size=SIZE))
    _save("phases.png", timeline([_margin(train)], "ring8: the phases the doctor reads from D's margin", events,
                                 phases, hline=(0.08, "0.08"), size=SIZE))
    shutil.copyfile(sorted((out / "samples").glob("step-*.png"))[-1], OUT / "ring8_samples.png")


def collapse(work: Path) -> None:
    """grid25 for 1,000 steps, then D frozen and G rushed (tests/test_doctor.py's collapse test)."""
    out = work / "collapse"
    ganforge.train("grid25", QUIET + ["train.steps=1000", "optim.schedule=constant", "eval.every=250",
                                      "eval.n_samples=1000", "train.ckpt_every=500", "train.sample_every=1000"], out)
    ganforge.train(overrides=["train.steps=1300", "optim.d_lr=1e-6", "optim.g_lr=1e-2", "train.sample_every=300"],
                   resume=out)
    train, evals, events = _records(out)
    _save("collapse.png", timeline([_curve(train, "diversity", "diversity of G's samples (probe)"),
                                    Curve("modes covered / 25 (evaluation)", *_scaled(evals, "modes", 25))],
                                   "grid25: D frozen and G rushed at step 1,000", events, diagnose(out).phases,
                                   size=SIZE))
    plots = sorted((out / "samples").glob("step-*.png"))
    _side_by_side([plots[0], plots[-1]], "collapse_samples.png")


def _scaled(records: list[dict], key: str, by: float) -> tuple[list[float], list[float]]:
    steps, values = series(records, key)
    return steps, [v / by for v in values]


def vanishing(work: Path) -> None:
    """The doctor benchmark's vanishing scenario: the saturating minimax loss against a strong D."""
    out = work / "vanishing"
    ganforge.train("grid25", QUIET + ["loss.name=minimax", "train.steps=300", "train.log_every=20", "train.d_steps=5",
                                      "optim.d_lr=1e-3", "optim.g_lr=1e-5", "train.batch_size=128",
                                      "optim.schedule=constant", "eval.every=0"], out)
    train, _, events = _records(out)
    _save("vanishing.png", timeline([_curve(train, "d_fake", "mean D(G(z))"),
                                     _curve(train, "g_logit_grad", "|d loss_G / d logit| per fake")],
                                    "grid25, minimax loss, 5 D steps at 100x G's rate", events,
                                    diagnose(out).phases, size=SIZE))


def instability(work: Path) -> None:
    """The doctor benchmark's oscillation scenario (grid25, k = 1, beta1 = 0.9, constant rate)."""
    out = work / "oscillation"
    ganforge.train("grid25", QUIET + ["train.steps=2000", "train.d_steps=1", "optim.g_betas=[0.9,0.999]",
                                      "optim.d_betas=[0.9,0.999]", "optim.schedule=constant", "eval.every=0"], out)
    train, _, events = _records(out)
    _save("instability.png", timeline([_margin(train), _curve(train, "diversity", "diversity (probe)")],
                                      "grid25 with beta1 = 0.9, one D step, no decay", events,
                                      diagnose(out).phases, size=SIZE))


def _screenshot(page, name: str, size: tuple[int, int]) -> None:
    """A PNG of an HTML page (a file, or a URL) as a browser shows it (headless Chromium;
    skipped without one)."""
    import subprocess

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        print(f"  no chromium on PATH: {name} not made")
        return
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--window-size={size[0]},{size[1]}", f"--screenshot={OUT / name}", page if isinstance(page, str) else page.resolve().as_uri()],
                   check=True, capture_output=True, timeout=120)
    from PIL import Image

    Image.open(OUT / name).convert("RGB").save(OUT / name, optimize=True)


def report(work: Path) -> None:
    """`ganforge report` of the collapsing grid25 run (made first if this work folder lacks it)."""
    if not (work / "collapse" / "metrics.jsonl").exists():
        collapse(work)
    page = ganforge.load(work / "collapse").report(work / "report.html")
    # the picture shows the timelines: the summary tables above them are hidden in a copy
    hide = "<style>#summary, #plots-key, #losses {display: none}</style></head>"
    view = work / "report_view.html"
    view.write_text(page.read_text(encoding="utf-8").replace("</head>", hide, 1), encoding="utf-8")
    _screenshot(view, "report.png", (1000, 1000))


BOARD_RUNS = {"digits-r1": [], "digits-no-r1": ["reg.r1.weight=0"]}  # the default job, shortened, with and without R1


def board(work: Path) -> None:
    """The board serving two short runs of the default job (trained first if ``work`` lacks
    them): its front page, and the sampler of the first drawing one row per class."""
    import threading

    from ganforge.report.board import make_server

    folder = work / "board"  # the page shows this folder: only these two runs in it
    for name, extra in BOARD_RUNS.items():
        if not (folder / name / "eval.json").exists():
            ganforge.train("digits_conditional", QUIET + ["train.steps=2000", "train.sample_every=250", "eval.every=250",
                                                          "eval.n_samples=500", *extra], folder / name)
    here = Path.cwd()
    os.chdir(work)  # the page names the folder as given: "board", not a temporary path
    try:
        server = make_server(Path(folder.name), port=0)
    finally:
        os.chdir(here)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        _screenshot(base + "/", "board_front.png", (620, 600))
        _screenshot(base + "/run/digits-r1/sampler?seed=7&class=rows&n=80", "board_sampler.png", (900, 860))
    finally:
        server.shutdown()
        server.server_close()


FIGURES = {"default_grid": default_grid, "equilibrium": equilibrium, "collapse": collapse, "vanishing": vanishing,
           "instability": instability, "report": report, "board": board}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", choices=list(FIGURES))
    p.add_argument("--work", type=Path, help="where the runs go (default: a temporary folder)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp) / "runs"  # the board's picture shows this folder's name
        for name in args.only or FIGURES:
            print(f"{name} ...", flush=True)
            FIGURES[name](work)
    for png in sorted(OUT.glob("*.png")):
        print(f"{png.relative_to(ROOT)}  {png.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
