"""The ganforge command line: it parses arguments and hands them to the command's handler.

Each command's handler is the ``run(args)`` of its module in ``ganforge.commands``
(``ganforge.commands.<command>``), imported only when that command runs, so that
``ganforge presets`` or a bad argument answers at once, without importing torch.

User errors (:class:`GanforgeError`) are printed as one line on stderr with exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from importlib import import_module
from typing import Optional, Sequence

from ._version import __version__
from .config import preset_names
from .errors import GanforgeError, GanforgeWarning, RunStopped, WriteFailed, os_error_line


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, like every other user error (argparse prints usage too)
        command = self.prog.partition(" ")[2]
        raise GanforgeError(f"{command + ': ' if command else ''}{message} (see {self.prog} --help)")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ganforge", description="Train, sample and evaluate GANs.")
    p.add_argument("--version", action="version", version=f"ganforge {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    t = sub.add_parser("train", help="train a GAN", description="Train a GAN. Settings: key=value overrides.",
                       epilog="`ganforge presets` lists the presets and what each trains; `ganforge keys [SECTION]` "
                              "lists every config key with its type, default and meaning.")
    t.add_argument("--preset", help=f"a shipped preset ({', '.join(preset_names())}) or a .yaml path")
    t.add_argument("--out", help="run directory (default: a new runs/NNN-NAME)")
    t.add_argument("--resume", metavar="RUN", help="continue RUN from its newest checkpoint")
    t.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    t.add_argument("--extend", choices=("restart", "continue", "rescale"),
                   help="--resume with a larger train.steps and a decaying optim.schedule: decay again over the "
                        "new steps (restart, the default), hold the final rate (continue), or stretch the decay (rescale)")
    t.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. train.steps=2000 loss.name=hinge")

    s = sub.add_parser("sample", help="draw samples from a trained run")
    _no_watermark(s)
    s.add_argument("run", metavar="RUN")
    s.add_argument("--n", type=int, required=True, help="number of samples")
    s.add_argument("--out", required=True,
                   help="points: FILE.npy or FILE.csv; images: GRID.png, DIR/ (one PNG each) or FILE.npy")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--class", dest="label", type=int, help="draw every sample from this class (conditional runs)")
    s.add_argument("--truncation", type=float, metavar="PSI",
                   help="truncation psi in [0, 1] (w = w_avg + psi (w - w_avg)), for style-based runs")
    s.add_argument("--condition", metavar="COL=VALUE", help="tables: every row holds this category")

    e = sub.add_parser("evaluate", help="measure a trained run's samples, or samples from another program")
    e.add_argument("run", metavar="RUN", nargs="?", help="a run directory (or use --samples)")
    e.add_argument("--samples", metavar="FILE", help="samples made by any program: .npz, .npy or a folder of PNGs")
    e.add_argument("--data", metavar="NAME", help="with --samples: the real data's data.name (digits, ring8, ...)")
    e.add_argument("--data-path", metavar="PATH", help="with --samples: the real data's data.path "
                                                       "(alone: a folder of images)")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--n", type=int, help="number of samples (default: eval.n_samples)")
    e.add_argument("--seed", type=int, help="sampling seed (default: eval.seed)")
    e.add_argument("--plot", help="also write a scatter plot of real vs generated points (.png)")
    e.add_argument("--inception-weights", metavar="PATH",
                   help="images: FID/KID in Inception-v3's space from this local weights file "
                        "(default: eval.inception_weights; never downloaded)")
    e.add_argument("--inception", action="store_true",
                   help="images: fetch torch-fidelity's Inception-v3 weights once into $GANFORGE_CACHE (checked "
                        "against their published hash) and measure FID/KID with them")
    e.add_argument("--truncation", type=float, metavar="PSI",
                   help="truncation psi in [0, 1] (w = w_avg + psi (w - w_avg)), for style-based runs")

    i = sub.add_parser("interpolate", help="a strip of images along paths between random latents")
    _no_watermark(i)
    i.add_argument("run", metavar="RUN")
    i.add_argument("--out", required=True, help="output PNG")
    i.add_argument("--steps", type=int, default=10, help="images per path, ends included")
    i.add_argument("--rows", type=int, default=4, help="number of paths")
    i.add_argument("--seed", type=int, default=0)
    i.add_argument("--class", dest="label", type=int, help="class of every image (conditional runs)")
    i.add_argument("--from", dest="from_image", metavar="A.png", help="start at this real image (projected first)")
    i.add_argument("--to", dest="to_image", metavar="B.png", help="end at this real image (projected first)")
    i.add_argument("--truncation", type=float, metavar="PSI",
                   help="truncation psi in [0, 1] (w = w_avg + psi (w - w_avg)), for style-based runs")

    d = sub.add_parser("doctor", help="diagnose a run: phases, failure events and remedies")
    d.add_argument("run", metavar="RUN")
    d.add_argument("--json", action="store_true", help="print one JSON object")

    r = sub.add_parser("report", help="write a self-contained HTML report of a run")
    r.add_argument("run", metavar="RUN")
    r.add_argument("--out", help="output .html (default: RUN/report.html)")

    x = sub.add_parser("export", help="export G as ONNX, TorchScript or safetensors, with provenance")
    x.add_argument("run", metavar="RUN")
    x.add_argument("--format", required=True, help="onnx, torchscript or safetensors")
    x.add_argument("--out", required=True, help="output file")
    x.add_argument("--ema", action="store_true", help="export G's EMA weights (the run must have kept them)")
    x.add_argument("--truncation", type=float, metavar="PSI",
                   help="truncation psi in [0, 1], for generators that support it (style-based)")

    c = sub.add_parser("card", help="write the run's model card (Markdown, YAML front matter)")
    c.add_argument("run", metavar="RUN")
    c.add_argument("--out", help="output .md (default: RUN/MODEL_CARD.md)")

    b = sub.add_parser("board", help="a local web page listing a folder's runs, refreshed while they train")
    b.add_argument("runs_dir", nargs="?", default="runs", metavar="RUNS_DIR", help="default: runs")
    b.add_argument("--port", type=int, default=8765)
    b.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1: this machine only")

    _applications(sub)
    _verify(sub)
    _anomaly(sub)
    _dataset(sub)
    sub.add_parser("presets", help="list the shipped presets, each with what it trains")
    c = sub.add_parser("cache", help="show or clean $GANFORGE_CACHE (classifiers, real-image features)")
    c.add_argument("action", nargs="?", choices=("show", "clean"), default="show")
    c.add_argument("--keep-mb", type=float, default=0.0, help="clean: keep the newest files up to this size")
    k = sub.add_parser("keys", help="list every config key with its type, default and meaning")
    k.add_argument("section", nargs="?", metavar="SECTION", help="one section (data, model, train, ...)")
    return p


def _verify(sub) -> None:
    j = sub.add_parser("score", help="the discriminator's probability that each input is real (a judge)")
    j.add_argument("run", metavar="RUN")
    j.add_argument("--data", required=True, help="a folder of images, an image, or points in .csv/.npy/.npz")
    j.add_argument("--out", required=True, help="scores.csv: one row per input")
    j.add_argument("--label", type=int, metavar="K", help="conditional runs: judge every input as class K")

    v = sub.add_parser("verify", help="is ganforge's invisible mark in these images? (z-score, p-value)")
    v.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...)")
    g = v.add_mutually_exclusive_group(required=True)
    g.add_argument("--run", help="the run whose key to check for (RUN/watermark.key)")
    g.add_argument("--key", help="a watermark key file (a copy of RUN/watermark.key)")


def _anomaly(sub) -> None:
    a = sub.add_parser("anomaly", help="anomaly detection with a run trained on normal data (fit, then score)")
    acts = a.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=_Parser)
    f = acts.add_parser("fit", help="train the anomaly encoder on the run's data (RUN/anomaly/)")
    f.add_argument("run", metavar="RUN")
    f.add_argument("--encoder-steps", type=int, default=2000)
    f.add_argument("--kappa", type=float, default=1.0, help="weight of D's feature residual in the score")
    f.add_argument("--seed", type=int, default=0)
    s = acts.add_parser("score", help="score inputs: one CSV row each (score, pixel, feature, flag)")
    s.add_argument("run", metavar="RUN")
    s.add_argument("--data", required=True, help="a folder of images, an image, an .npz, or points in .csv/.npy/.npz")
    s.add_argument("--out", required=True, help="scores.csv")
    s.add_argument("--maps", metavar="DIR/", help="image runs: write each input's residual map (where it differs) here")
    t = s.add_mutually_exclusive_group()
    t.add_argument("--threshold", type=float, metavar="T", help="flag inputs whose score is above T")
    t.add_argument("--fpr", type=float, help="threshold at this false-positive rate on held-out normals (default 0.05)")


def _dataset(sub) -> None:
    d = sub.add_parser("dataset", help="pack images once into a built dataset that training reads without decoding")
    acts = d.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=_Parser)
    b = acts.add_parser("build", help="pack a folder of images, an .npz, IDX files or CIFAR-10 batches into DATA.gfd",
                        epilog="Train on it with: ganforge train data.name=built data.path=DATA.gfd data.resolution=R "
                               "[data.workers=N]")
    b.add_argument("src", metavar="SRC", help="a folder of PNG/JPEG (recursive), an .npz (images, labels), a folder "
                                              "of IDX files or of CIFAR-10 python batches")
    b.add_argument("--out", required=True, metavar="DATA.gfd", help="the built dataset (a directory)")
    b.add_argument("--resolution", type=int, required=True, metavar="R", help="images are resized to R x R")
    b.add_argument("--labels", choices=("from-folders", "none"),
                   help="from-folders: a folder's class sub-folders are the labels; none: drop labels (default: "
                        "array sources keep theirs, folders are unlabelled)")
    b.add_argument("--channels", type=int, default=0, help="1 (grey) or 3 (RGB); default: the source's own")
    b.add_argument("--force", action="store_true", help="replace DATA.gfd if it exists")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    c = acts.add_parser("check", help="hash a built dataset in full against its manifest and summarise it")
    c.add_argument("path", metavar="DATA.gfd")


def _no_watermark(p) -> None:
    p.add_argument("--no-watermark", action="store_true",
                   help="leave the images unmarked (the provenance says so); see `ganforge verify`")


def _applications(sub) -> None:
    """Synthetic datasets, the encoder, inversion, latent directions and edits."""
    s = sub.add_parser("synth", help="a labelled synthetic dataset with provenance (folders, npz, csv, npy)")
    _no_watermark(s)
    s.add_argument("run", metavar="RUN")
    s.add_argument("--out", required=True, help="DIR/ (class sub-folders of PNGs), FILE.npz, FILE.csv or FILE.npy")
    s.add_argument("--n", type=int, help="number of samples (classes in turn for a conditional run)")
    s.add_argument("--per-class", type=int, metavar="N", help="N samples of every class (conditional runs)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--min-confidence", type=float, metavar="C",
                   help="keep only samples the judge classifier reads as their class with probability >= C")
    s.add_argument("--truncation", type=float, metavar="PSI", help="truncation psi, for style-based runs")

    for name, what in (("translate", "apply a pix2pix or CycleGAN run to images (any size)"),
                       ("upscale", "apply a super-resolution run to images (any size)")):
        t = sub.add_parser(name, help=what)
        t.add_argument("run", metavar="RUN")
        t.add_argument("--input", required=True, help="an image file (PNG/JPEG) or a folder of them")
        t.add_argument("--out", required=True, help="output folder: NAME.png per input and manifest.json")
        t.add_argument("--tile", type=int, default=256, help="inputs larger than this (px a side) go in tiles")
        _no_watermark(t)
        if name == "translate":
            t.add_argument("--direction", default="a2b", choices=("a2b", "b2a"), help="CycleGAN: which generator")
        else:
            t.add_argument("--scale", type=int, help="the factor expected (checked against the run's model.scale)")

    e = sub.add_parser("encoder", help="fit an encoder image -> z on the run's own samples (RUN/encoder.pt)")
    e.add_argument("run", metavar="RUN")
    e.add_argument("--steps", type=int, default=2000)
    e.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("project", help="find latents whose images reconstruct given images (inversion)")
    _no_watermark(p)
    p.add_argument("run", metavar="RUN")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--image", help="one image file (PNG/JPEG), the run's size and channels")
    src.add_argument("--data", help="a folder of images")
    p.add_argument("--out", required=True, help="output folder: latents.npy, reconstructions, side-by-side PNG")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--starts", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--class", dest="label", type=int, help="conditional runs: the class (default: what the judge reads)")
    p.add_argument("--no-encoder", action="store_true", help="do not start from RUN/encoder.pt even if it exists")

    d = sub.add_parser("directions", help="find and list latent directions (RUN/directions.pt)")
    d.add_argument("run", metavar="RUN")
    d.add_argument("--k", type=int, default=8, help="principal directions to keep")

    x = sub.add_parser("edit", help="a strip of images moved along a latent direction, or to another class")
    _no_watermark(x)
    x.add_argument("run", metavar="RUN")
    src = x.add_mutually_exclusive_group(required=True)
    src.add_argument("--latent", help="z.npy (from `ganforge project`), one latent per row")
    src.add_argument("--image", help="an image, projected first")
    how = x.add_mutually_exclusive_group(required=True)
    how.add_argument("--direction", help="a name from `ganforge directions RUN` (pc0, class_3, ...)")
    how.add_argument("--to-class", type=int, help="conditional runs: the same z under this class")
    x.add_argument("--strengths", default="-3,-1,0,1,3", help="comma-separated steps along the direction")
    x.add_argument("--out", required=True, help="output PNG")


def build_parser() -> argparse.ArgumentParser:
    """The parser of the whole command line, every command and its arguments (the documentation's
    command line reference is generated from it; ``main`` parses with the same)."""
    return _parser()


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, GanforgeWarning):
        print(f"ganforge: warning: {message}", file=sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def main(argv: Optional[Sequence[str]] = None) -> int:
    warnings.showwarning = _show_warning
    try:
        args = _parser().parse_args(argv)
        return import_module(f".commands.{args.command}", __package__).run(args)
    except RunStopped as e:  # the run failed, not the user's input: its own exit code
        print(f"ganforge: error: {e}", file=sys.stderr)
        return 3
    except WriteFailed as e:  # a full disk or a read-only directory: its own exit code too
        print(f"ganforge: error: {e}", file=sys.stderr)
        return 4
    except GanforgeError as e:
        print(f"ganforge: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # an output that cannot be written (atomic writes leave nothing half-written)
        print(f"ganforge: error: cannot write {os_error_line(e)}", file=sys.stderr)
        return 4
    except KeyboardInterrupt:
        print("ganforge: interrupted; the run's newest checkpoint is on disk", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
