"""The discriminator as a judge of authenticity: D's probability that each input is real.

D was trained to tell the run's data from G's samples, so sigmoid(D(x)) is its belief that x
came from the data; at the game's equilibrium it is 1/2 everywhere (Goodfellow et al. 2014),
so a well-trained run's D is a weak judge by design, and a strong judge means G has not caught
up. Scores are in [0, 1] for every loss (for the critic losses, sigmoid of the critic's score).

- A packed D (PacGAN, ``model.pac`` = m) judges m samples at once: each input is judged packed
  with m - 1 copies of itself, so its score depends on it alone.
- A conditional D needs a class: ``label`` for all inputs, else, for image runs with a judge
  classifier (digits, labelled images), the class that classifier reads; else refused.
- Image runs also get the class reader's class and confidence, when one applies.

A semi-supervised run's D (``ModelSpec.classifies``: Salimans et al. 2016) is also a K-class
classifier of the data: :func:`classify` gives its class probabilities softmax(l(x)) (the
fake class left out: D's logits are the real classes'), ``ganforge classify`` one CSV row per input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import torch
from torch import Tensor

from ..errors import GanforgeError
from ..files import check_output, provenance, write_output
from ..metrics.evaluators import class_reader
from ..build import model_spec
from ..trained import TrainedRun, check_class, load_run

WHAT = ("p_real: sigmoid of the run's D on each input (1/2 at the game's equilibrium); class, confidence: "
        "the class reader")


def read_inputs(data, path: Path, resize: bool = False) -> tuple[Tensor, list[str]]:
    """The user's inputs in data space, as the data's kind reads them (``data/kinds``): images
    (N, C, H, W) in [0, 1] of the run's size (``resize``: of any size, resized as the run's data
    was), points (N, d) from a .csv/.npy/.npz, or a table's rows in its layout (N, width); with
    their names (an ``Inputs`` pair: ``.resized`` says what was resized)."""
    return data.kind.read_inputs(data, Path(path), resize)


@torch.no_grad()
def score(run_dir: Path, path: Path, label: Optional[int] = None, batch: int = 256,
          resize: bool = False) -> tuple[list[dict], dict]:
    """One row per input of ``path``: ``name``, ``p_real`` (D's probability) and, for image runs
    with a class reader, ``class`` and ``confidence``; and what was used (``about``; its
    ``resized`` says what ``resize`` resized, as the run's data was, or None)."""
    r = load_run(run_dir, parts=("D",))
    D, cfg, data, classes, step = r.D, r.cfg, r.data, r.n_classes, r.step
    check_class(label, classes)  # before any input is read
    inputs = read_inputs(data, Path(path), resize)
    x, names = inputs
    clf = class_reader(data)  # a classifier of the data's images (digits, labelled images), else None
    read = None
    if clf is not None:
        probs = torch.softmax(clf.logits(x), dim=1)  # (N * C, K) for per-channel digits
        per = probs.reshape(len(x), -1, probs.shape[1])  # (N, C or 1, K)
        conf, cls = per.max(dim=2)  # (N, C)
        read = (cls, conf.prod(dim=1))
    y = None
    if classes:
        if label is not None:
            y = torch.full((len(x),), label, dtype=torch.long)
        elif read is not None and read[0].shape[1] == 1 and clf.n_classes == classes:
            y = read[0][:, 0]
        elif data.kind.holds_conditions:  # a table row is judged under the condition it holds
            y = data.kind.conditions_of(data, x)
        else:
            raise GanforgeError("this run's D is conditional: give --class K (the class to judge the inputs as)")
    m = cfg.model.pac
    p_real = []
    for i in range(0, len(x), batch):
        xb = data.encode(x[i: i + batch])  # model space
        yb = y[i: i + batch] if y is not None else None
        if m > 1:  # PacGAN: each input packed with copies of itself
            xb = xb.repeat_interleave(m, dim=0)
            yb = yb.repeat_interleave(m) if yb is not None else None
        p_real.append(torch.sigmoid(D(xb, yb).float()))
    p = torch.cat(p_real)
    rows = []
    for i, name in enumerate(names):
        row = {"name": name, "p_real": round(float(p[i]), 6)}
        if y is not None:
            row["judged_as_class"] = int(y[i])
        if read is not None:
            row["class"] = "".join(str(int(c)) for c in read[0][i])
            row["confidence"] = round(float(read[1][i]), 6)
        rows.append(row)
    about = provenance("score", r.run_dir, step, r.ckpt_path, synthetic=False, data=str(path), n=len(rows),
                       what=WHAT, pac=m, loss=cfg.loss.name, resized=inputs.resized,
                       classifier=getattr(clf, "space", None) if clf is not None else None)
    return rows, about


def score_file(run_dir: Path, path: Path, out: Path, label: Optional[int] = None,
               resize: bool = False) -> tuple[list[dict], dict]:
    """``ganforge score``: :func:`score` written to ``out`` (a CSV, one row per input) with its
    provenance; every input is read and judged before anything is written."""
    check_output(out, "--out")
    rows, about = score(run_dir, path, label, resize=resize)
    write_output(Path(out), rows, about)
    return rows, about


def classifier_run(run_dir: Path) -> TrainedRun:
    """The run with its D, refused in one line unless D is a classifier (a semi-supervised run)."""
    r = load_run(run_dir, parts=("D",))
    if not model_spec(r.cfg).classifies:
        raise GanforgeError(f"{run_dir}: model.name={r.cfg.model.name} has no classifier; classify needs a "
                            "semi-supervised run (model.name=ssl_dcgan, preset digits_ssl)")
    return r


@torch.no_grad()
def class_probs(r: TrainedRun, x: Tensor, batch: int = 512) -> Tensor:
    """D's class probabilities (N, K) of images ``x`` (N, *shape) in data space ([0, 1])."""
    if tuple(x.shape[1:]) != tuple(r.data.shape):
        raise GanforgeError(f"classify: inputs of shape {tuple(x.shape[1:])}; this run classifies "
                            f"{tuple(r.data.shape)}")
    return torch.cat([torch.softmax(r.D.classify(r.data.encode(b.float())), 1) for b in x.split(batch)])


def classify(run_dir: Path, x: Union[Tensor, str, Path], out: Optional[Path] = None,
             resize: bool = False) -> Union[Tensor, tuple[list[dict], dict]]:
    """A semi-supervised run's D as a classifier. ``x`` a tensor (N, C, H, W) in [0, 1]: its
    class probabilities (N, K). ``x`` a path (a folder of images, an image, an .npz/.npy of
    images; ``resize``: of another size, resized as the run's data was): one row per input
    (``name``, ``class``, ``confidence``, ``p_<class>`` each) and what was used, written to
    ``out`` (a .csv with its provenance sidecar) when given; every input is read and classified
    before anything is written."""
    if out is not None:
        check_output(out, "--out", (".csv",))
    r = classifier_run(Path(run_dir))
    if isinstance(x, Tensor):
        return class_probs(r, x)
    inputs = read_inputs(r.data, Path(x), resize)
    probs = class_probs(r, inputs[0])  # (N, K)
    conf, cls = probs.max(1)
    spec = r.data.condition_spec  # ClassIds of the data's classes: their names, else their ids
    names = spec.names if spec is not None and spec.names else [str(k) for k in range(probs.shape[1])]
    rows = [{"name": name, "class": names[int(cls[i])], "confidence": round(float(conf[i]), 6),
             **{f"p_{names[k]}": round(float(probs[i, k]), 6) for k in range(probs.shape[1])}}
            for i, name in enumerate(inputs[1])]
    about = provenance("classify", r.run_dir, r.step, r.ckpt_path, synthetic=False, data=str(x), n=len(rows),
                       what=f"class: argmax of the run's {'D_ema (EMA of D)' if r.d_ema else 'D'} over the data's "
                            "classes (Salimans et al. 2016); confidence and p_<class>: its softmax",
                       resized=inputs.resized)
    if out is not None:
        write_output(Path(out), rows, about)
    return rows, about
