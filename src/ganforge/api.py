"""The public Python API; the command line calls it, so both take one code path.

    import ganforge
    run = ganforge.train(preset="digits", overrides={"train.steps": 500}, out="runs/x")
    x = run.sample(64, seed=0)                 # (64, C, H, W) in data space
    print(run.evaluate().fid, run.doctor().verdict)
    run = ganforge.load("runs/x")              # any run directory
    g = ganforge.load_generator("g.safetensors")   # an exported generator, without its run

Public: :func:`train`, :func:`resolve_config`, :func:`load`, :func:`load_generator`,
:func:`evaluate_samples`, :func:`build_dataset`, :func:`check_dataset`, :class:`Run`, :class:`Evaluation`. ``load_run``, ``TrainedRun`` and
``callbacks_for`` are the internal layer that the command line's handlers and the
applications share. Below the API, nothing parses arguments or prints.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

from torch import Tensor

from .data.generated import build as build_generated  # `dataset build KIND:NAME`: a set ganforge makes
from .apps.anomaly_io import fit_run, score_file as anomaly_file
from .apps.edit import edit_file, find_directions, interpolate_file
from .apps.encoder import fit_encoder
from .apps.export import ExportResult, ExportedGenerator, export_generator, read_export
from .apps.judge import classify, score_file
from .apps.project import project_files
from .apps.synth import SynthResult, sample_file, synth
from .apps.translate import TILE, Translator, translate_files
from .build import build_data, check_names, fit_to_data, model_spec, resolve_model
from .config import Config, load_config, preset_sets, to_dict
from .data.base import DataSource
from .data.pack import BuildResult
from .diagnostics.doctor import Diagnosis, diagnose, run_config
from .diagnostics.settings import review_settings
from .errors import GanforgeError, GanforgeWarning
from .evaluation import evaluate_run, sample_metrics
from .metrics.fetch import fetch_inception_weights
from .report.sample_plots import SamplePlots
from .resume import resume_config
from .rundir import existing_run, new_run_dir
from .train import distributed
from .train.callbacks import Callback
from .train.games import GAMES, default_callbacks
from .train.checkpoint import list_checkpoints
from .train.loop import RunResult
from .train.loop import train as _train_loop
from .trained import TrainedRun, check_class, load_run  # noqa: F401  (public: the loaded generator)
from .train.sinks import EventPrinter, ProgressSink

Overrides = Union[Mapping[str, Any], Sequence[str]]
PathLike = Union[str, Path]


# ----------------------------------------------------------------------------- the internal layer


def callbacks_for(cfg: Config, extra: Sequence[Callback] = ()) -> list[Callback]:
    """A run's callbacks: the doctor, evaluation, sample plots, then ``extra`` (an application's own)."""
    return default_callbacks(cfg) + [SamplePlots(), *extra]


def _as_overrides(overrides: Overrides) -> list[str]:
    """``{"train.steps": 500}`` or ``["train.steps=500"]`` -> ``["train.steps=500"]``."""
    if isinstance(overrides, Mapping):
        return [f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in overrides.items()]
    if isinstance(overrides, (str, bytes)):
        raise GanforgeError(f"overrides={overrides!r}: give a dict or a list of key=value strings")
    return list(overrides)


# ----------------------------------------------------------------------------- evaluation results


@dataclass(frozen=True)
class Evaluation:
    """Metrics of generated samples and their provenance. A metric reads as an attribute:
    ``ev.fid``, ``ev.modes``; :meth:`to_dict` gives the JSON the CLI prints."""

    run: str  # the run directory, or the samples file measured
    step: Optional[int]  # the checkpoint's step (None for samples from another program)
    data: str  # data.name of the real data
    seed: int
    metrics: dict = field(default_factory=dict)
    evaluator: Optional[str] = None  # the evaluator that measured them (its headline keys; None: a game's own)

    def __getattr__(self, name: str) -> Any:
        metrics = self.__dict__.get("metrics", {})
        if name in metrics:
            return metrics[name]
        raise AttributeError(f"no metric '{name}'; this evaluation has: {', '.join(sorted(metrics))}")

    @property
    def provenance(self) -> dict:
        """Feature space in words, ``n_real``, ``n_fake``, ``seed`` (empty for the exact 2D metrics)."""
        return self.metrics.get("provenance", {})

    def to_dict(self) -> dict:
        """One JSON-safe dict: run, step, data, seed and every metric (infinities become None)."""
        out = {"run": self.run, "step": self.step, "data": self.data, "seed": self.seed, **self.metrics}
        return {k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in out.items()}


# ----------------------------------------------------------------------------- runs


class Run:
    """A run directory: what :func:`train` returns and :func:`load` opens.
    It samples, evaluates, diagnoses, reports, exports and describes the run (model card).
    The generator is read from the newest checkpoint when first needed (G_ema if kept).
    """

    def __init__(self, path: PathLike, result: Optional[RunResult] = None, main: bool = True, device: str = "cpu"):
        self.path = existing_run(str(path)) if result is None else Path(path)
        self.result = result  # step, final metrics and wall time, when this Run was just trained
        self.main = main  # False on every torchrun rank but 0
        self.device = device
        self._trained: Optional[TrainedRun] = None
        # the evaluator of ``result.metrics`` (its headline keys); None: the game measured itself
        self.evaluator: Optional[str] = None

    def __repr__(self) -> str:
        return f"Run('{self.path}')"

    @property
    def config(self) -> Config:
        """The run's resolved config: its ``config.yaml`` (or its newest checkpoint's, said)."""
        return run_config(self.path)

    @property
    def step(self) -> int:
        """The step of the newest checkpoint (0 when there is none yet)."""
        found = list_checkpoints(self.path)
        return found[-1][0] if found else 0

    def _generator(self) -> TrainedRun:
        if self._trained is None or self._trained.step != self.step:
            self._trained = load_run(self.path, self.device)
        return self._trained

    @property
    def generator(self) -> TrainedRun:
        """The newest checkpoint's generator (G_ema if kept) with its data and prior: what the
        applications (``ganforge.apps``: synth, project, edit, encoder) take."""
        return self._generator()

    @property
    def shape(self) -> tuple:
        """One sample's shape: (d,) for points, (C, H, W) for images."""
        return tuple(self._generator().data.shape)

    @property
    def n_classes(self) -> int:
        """Classes G is conditioned on; 0 for an unconditional run."""
        return self._generator().n_classes

    def sample(self, n: int, seed: int = 0, label: Optional[int] = None, truncation: Optional[float] = None,
               prompt: Union[str, Sequence[str], None] = None) -> Tensor:
        """``n`` samples (n, *shape) in data space (images in [0, 1]); same seed, same samples. ``label``: every
        sample's class (None: drawn uniformly); ``truncation``: psi in [0, 1] (style-based runs); ``prompt``: a
        caption, or a list of them (n images each, prompt-major), for text-to-image runs."""
        if n < 1:
            raise GanforgeError(f"--n {n}: must be >= 1")
        g = self._generator()
        check_class(label, g.n_classes)
        return g.generate(n, seed, label, truncation, prompt)

    def interpolate(self, rows: int = 4, steps: int = 10, seed: int = 0, label: Optional[int] = None,
                    truncation: Optional[float] = None) -> Tensor:
        """``rows`` latent paths of ``steps`` samples each, (rows * steps, *shape), in data space."""
        if steps < 2 or rows < 1:
            raise GanforgeError("--steps must be >= 2 and --rows >= 1")
        g = self._generator()
        check_class(label, g.n_classes)
        return g.interpolate(rows, steps, seed, label, truncation=truncation)

    def meta(self, truncation: Optional[float] = None, watermark: bool = True) -> dict:
        """Provenance of what this run generates (PNG text chunks): synthetic, run and step (and
        the truncation psi, when one was used), and the run's watermark key for the image
        writers (``watermark=False``: unmarked, and said; see :mod:`ganforge.watermark`)."""
        return self._generator().meta(self.path, truncation, watermark)

    def evaluate(self, n: Optional[int] = None, seed: Optional[int] = None, inception_weights: Optional[str] = None,
                 plot: Optional[PathLike] = None, inception: bool = False,
                 truncation: Optional[float] = None) -> Evaluation:
        """Measure ``n`` samples (default ``eval.n_samples``) drawn with ``seed`` (default
        ``eval.seed``) against the run's data, by the evaluator its data names; a conditional
        run is asked for every class equally often. ``inception_weights``: FID/KID in
        Inception-v3's space from that local file (images); ``inception``: fetch torch-fidelity's
        weights once into the cache for that (or ``eval.inception``). ``plot``: a scatter plot (2D)."""
        g = self._generator()
        metrics, seed = evaluate_run(g, n, seed, inception_weights, plot, inception, truncation)
        return Evaluation(str(self.path), g.step, g.cfg.data.name, seed, metrics, g.data.evaluator)

    def doctor(self) -> Diagnosis:
        """The doctor's diagnosis: phases, events with evidence and remedies, ``verdict``."""
        return diagnose(self.path)

    def report(self, out: Optional[PathLike] = None) -> Path:
        """Write the self-contained HTML report (default ``RUN/report.html``); its path."""
        from .report.html import write_report

        return write_report(self.path, Path(out) if out else None)

    def export(self, format: str, out: PathLike, ema: bool = False, truncation: Optional[float] = None) -> ExportResult:
        """Write G as ``onnx``, ``torchscript`` or ``safetensors`` to ``out``, with its
        provenance, and check the file against PyTorch on fixed noise (``max_abs_diff``).
        ``ema``: the EMA weights (the run must have kept them). ``truncation``: psi in [0, 1],
        for generators that support it."""
        g = load_run(self.path, self.device, ema=ema)
        return export_generator(g, self.path, format, Path(out), truncation)

    def card(self, out: Optional[PathLike] = None) -> Path:
        """Write the model card (Markdown with YAML front matter; default ``RUN/MODEL_CARD.md``)."""
        from .apps.card import write_card

        try:
            diagnosis: Optional[Diagnosis] = self.doctor()
        except GanforgeError:  # no metrics.jsonl yet: the card says so
            diagnosis = None
        return write_card(self.path, self._generator(), diagnosis, Path(out) if out else None)

    # ------------------------------------------------------------------ applications: each a line into apps/
    # (each loads the run's newest checkpoint once, then hands it to its application's function)

    def write_samples(self, out: PathLike, n: int, seed: int = 0, label: Optional[int] = None,
                      truncation: Optional[float] = None, condition: Optional[str] = None,
                      watermark: bool = True) -> tuple[int, str]:
        """``n`` samples written to ``out`` with provenance (:func:`ganforge.apps.synth.sample_file`)."""
        return sample_file(self._generator(), str(out), n, seed, label, truncation, condition, watermark)

    def synth(self, out: PathLike, n: Optional[int] = None, per_class: Optional[int] = None, seed: int = 0,
              min_confidence: Optional[float] = None, truncation: Optional[float] = None,
              watermark: bool = True) -> SynthResult:
        """A labelled synthetic dataset at ``out`` (:func:`ganforge.apps.synth.synth`)."""
        return synth(self._generator(), self.path, str(out), n, per_class, seed, min_confidence, truncation, watermark)

    def translate(self, src: PathLike, out: PathLike, direction: str = "a2b", tile: int = TILE,
                  watermark: bool = True) -> tuple[Translator, list[Path]]:
        """A pix2pix or CycleGAN run applied to images (:func:`ganforge.apps.translate.translate_files`)."""
        return translate_files(self._generator(), str(src), str(out), direction, None, False, tile, watermark)

    def upscale(self, src: PathLike, out: PathLike, scale: Optional[int] = None, tile: int = TILE,
                watermark: bool = True, alpha: float = 1.0) -> tuple[Translator, list[Path]]:
        """A super-resolution run applied to images, its L1 network and GAN blended by ``alpha`` (:func:`translate_files`)."""
        return translate_files(self._generator(), str(src), str(out), "a2b", scale, True, tile, watermark, alpha)

    def score(self, data: PathLike, out: PathLike, label: Optional[int] = None, resize: bool = False) -> tuple[list, dict]:
        """D's probability that each input is real, as a CSV at ``out`` (:func:`ganforge.apps.judge.score_file`)."""
        return score_file(self.path, Path(data), Path(out), label, resize)

    def classify(self, x: Union[Tensor, PathLike], out: Optional[PathLike] = None,
                 resize: bool = False) -> Union[Tensor, tuple[list[dict], dict]]:
        """A semi-supervised run's D as a classifier: probabilities (N, K), or rows per input of a path (:func:`ganforge.apps.judge.classify`)."""
        return classify(self.path, x if isinstance(x, Tensor) else Path(x), out and Path(out), resize)

    def anomaly_fit(self, steps: int = 2000, kappa: float = 1.0, seed: int = 0,
                    progress: Optional[Callable[..., None]] = None, **options: Any) -> tuple[Path, Any]:
        """Fit an anomaly detector on the run's data in ``RUN/anomaly/``; returns (what it wrote, the detector).
        ``options``: ``method`` (fanogan|patch|knn|autoencoder), ``data``... (:func:`ganforge.apps.anomaly_io.fit_run`)."""
        return fit_run(self.path, self._generator(), steps, kappa, seed, progress, **options)

    def anomaly_score(self, data: PathLike, threshold: Optional[float] = None, fpr: Optional[float] = None,
                      maps: Optional[PathLike] = None, out: Optional[PathLike] = None, resize: bool = False,
                      method: str = "fanogan") -> tuple[list, dict]:
        """Score the inputs in ``data`` (a folder, image or .npz of images, ``resize``d as the run's data
        was if asked; points in .csv/.npy/.npz): one dict per input (name, score, pixel, feature, flag)
        and what was used (weights, threshold: ``threshold`` as given, else at ``fpr``, default 0.05, on
        held-out normals). ``maps``: a folder for each image input's map; ``out``: a CSV; ``method``: the detector."""
        return anomaly_file(self.path, self._generator(), Path(data), out and Path(out), threshold, fpr,
                            maps and Path(maps), resize, method)

    def fit_encoder(self, steps: int = 2000, seed: int = 0,
                    progress: Optional[Callable[[int, float], None]] = None) -> Path:
        """An encoder image -> z fitted to G, saved as ``RUN/encoder.pt`` (:mod:`ganforge.apps.encoder`)."""
        return fit_encoder(self._generator(), steps, seed, progress)

    def project(self, src: PathLike, out: PathLike, steps: int = 300, starts: int = 4, seed: int = 0,
                label: Optional[int] = None, use_encoder: bool = True, watermark: bool = True, resize: bool = False) -> tuple[Any, list]:
        """Latents whose images reconstruct ``src``'s, in ``out`` (:func:`ganforge.apps.project.project_files`)."""
        return project_files(self._generator(), Path(src), Path(out), steps, starts, seed, label, use_encoder, watermark, resize)

    def interpolate_file(self, out: PathLike, rows: int = 4, steps: int = 10, seed: int = 0,
                         label: Optional[int] = None, truncation: Optional[float] = None,
                         from_image: Optional[PathLike] = None, to_image: Optional[PathLike] = None,
                         watermark: bool = True, resize: bool = False, say: Optional[Callable[[str], None]] = None) -> Path:
        """A PNG strip of latent paths, or of the path between two images (:func:`ganforge.apps.edit.interpolate_file`)."""
        return interpolate_file(self._generator(), Path(out), rows, steps, seed, label, truncation, from_image,
                                to_image, watermark, resize, say)

    def directions(self, k: int = 8) -> dict:
        """The latent directions, written to ``RUN/directions.pt`` (:func:`ganforge.apps.edit.find_directions`)."""
        return find_directions(self._generator(), self.path, k=k)

    def edit(self, out: PathLike, strengths: Sequence[float] = (-3, -1, 0, 1, 3), direction: Optional[str] = None,
             to_class: Optional[int] = None, latent: Optional[PathLike] = None, image: Optional[PathLike] = None,
             watermark: bool = True, resize: bool = False, say: Optional[Callable[[str], None]] = None) -> Path:
        """A strip of images moved along a direction, or to a class (:func:`ganforge.apps.edit.edit_file`)."""
        return edit_file(self._generator(), Path(out), strengths, direction, to_class, latent and Path(latent),
                         image and Path(image), watermark, resize, say)


# ----------------------------------------------------------------------------- entry points


def resolve_config(preset: Union[str, Config, None] = None, overrides: Overrides = (),
                   resume: Optional[PathLike] = None, extend: Optional[str] = None) -> Config:
    """The config a run would train with: a preset's name or YAML path (or a Config), or the
    config of the run ``resume`` (:func:`resume_config`), then ``overrides``; every name checked."""
    ov = _as_overrides(overrides)
    if extend is not None and resume is None:
        raise GanforgeError("--extend: only with --resume (it says how a resumed run's schedule goes on)")
    if resume is not None:
        if preset is not None:
            raise GanforgeError("--resume continues a run in place; it takes no --preset or --out")
        cfg, _ = resume_config(existing_run(str(resume)), ov, extend)
    elif isinstance(preset, Config):
        cfg = load_config(base=to_dict(preset), overrides=ov)
    else:
        cfg = load_config(preset, ov)
    check_names(cfg)
    return resolve_model(cfg, _model_named(preset, ov, resume), {o.split("=", 1)[0].strip() for o in ov})


def _model_named(preset, ov: list[str], resume) -> bool:
    """Whether ``model.name`` was named together with the data, or after it: by a resumed run
    (its model is fixed), in the overrides, or (with the data not overridden) by the preset or
    the Config given. A model named only for another data (the preset's, before
    ``data.name=...``) gives way to the data kind's own."""
    keys = {o.split("=", 1)[0].strip() for o in ov}
    if resume is not None or "model.name" in keys:
        return True
    if "data.name" in keys:
        return False
    return isinstance(preset, Config) or preset_sets(preset, "model.name")


def train(preset: Union[str, Config, None] = None, overrides: Overrides = (), out: Optional[PathLike] = None, *,
          resume: Optional[PathLike] = None, extend: Optional[str] = None, sinks: Sequence = (),
          callbacks: Sequence[Callback] = (), data: Optional[DataSource] = None, progress: bool = False) -> Run:
    """Train a GAN and return its :class:`Run`.

    ``preset``: a shipped preset's name, a YAML path or a :class:`Config` (default: ``digits_conditional``);
    ``overrides``: ``{"train.steps": 500}`` or ``["train.steps=500"]``; ``out``: the run
    directory (default a new ``runs/NNN-NAME``; an existing run is never written over).
    ``resume``: continue that run from its newest checkpoint instead (with ``overrides``, e.g. a
    higher ``train.steps``; ``extend``: how a decaying schedule goes on, see :func:`resume_config`).
    ``sinks`` receive every record; ``progress=True`` adds a progress bar on stderr (or, with
    ``train.progress=false``, the doctor's events one line each); by default the library prints
    nothing. ``callbacks`` join the doctor and evaluation.
    Under torchrun every process calls this; rank 0 writes the run directory."""
    if resume is not None and (out is not None or preset is not None):
        raise GanforgeError("--resume continues a run in place; it takes no --preset or --out")
    from_step = None
    if resume is not None:  # the newest complete checkpoint, config.yaml checked, --extend applied
        ov = _as_overrides(overrides)
        cfg, from_step = resume_config(existing_run(str(resume)), ov, extend)
        check_names(cfg)
        cfg = resolve_model(cfg, True)  # a resumed run keeps its model: one that does not build its data is refused
    else:
        cfg = resolve_config(preset, overrides, extend=extend)
    data = build_data(cfg) if data is None else data  # reads and checks the data before anything is written
    cfg = fit_to_data(cfg, data, preset is None and resume is None, _as_overrides(overrides))
    for finding in review_settings(cfg):  # settings far outside what works: warned once the input is known good
        warnings.warn(finding.line(), GanforgeWarning, stacklevel=2)
    if cfg.eval.inception and not cfg.eval.inception_weights:  # opt-in: fetch once, then name the file
        cfg = load_config(base=to_dict(cfg), overrides=[f"eval.inception_weights={fetch_inception_weights()}"])
    with distributed.session(cfg.train.device, cfg.train.dist_backend) as d:
        if resume is not None:
            run_dir = existing_run(str(resume))
        else:
            name = Path(preset).stem if isinstance(preset, str) else cfg.data.name
            run_dir = distributed.on_main(lambda: new_run_dir(None if out is None else str(out), name), d)
        if progress and d.main:  # a bar on stderr (train.progress), else the doctor's events one line each
            sinks = [*sinks, ProgressSink(cfg.train.steps, from_step or 0) if cfg.train.progress else EventPrinter()]
        result = _train_loop(cfg, run_dir, resume is not None, sinks, data, callbacks_for(cfg, callbacks), from_step)
    run = Run(run_dir, result=result, main=d.main)
    # the data's evaluator measures a run whose G maps noise to samples; image-to-image games measure themselves
    run.evaluator = data.evaluator if GAMES.get(model_spec(cfg).game).from_noise else None
    return run


def load(run_dir: PathLike, device: str = "cpu") -> Run:
    """Open a run directory (finished, stopped or still training)."""
    return Run(run_dir, device=device)


def load_generator(path: PathLike, device: str = "cpu") -> ExportedGenerator:
    """A generator exported with ``format="safetensors"``, without its run directory; its ``sample(n, seed, label)`` matches the run's sampling. The file's integrity is checked."""
    return read_export(Path(path), device)


def evaluate_samples(samples: PathLike, data: Optional[str] = None, data_path: Optional[str] = None,
                     seed: int = 0, n: Optional[int] = None) -> Evaluation:
    """Measure samples made by any program (an ``.npy``/``.npz`` array or a folder of PNGs)
    against a dataset (``data``: a ``data.name``; ``data_path``: its ``data.path``, alone it
    means a folder of images), with the same metrics and provenance as a run's."""
    from .apps.sample_files import read_samples, samples_config

    x, kind = read_samples(Path(samples), data)
    if n is not None:
        if n < 1 or n > len(x):
            raise GanforgeError(f"--n {n}: choose 1..{len(x)} (the samples file holds {len(x)})")
        x = x[:n]
    cfg = samples_config(x, kind, data, data_path)
    source = build_data(cfg)
    if tuple(source.shape) != tuple(x.shape[1:]):
        raise GanforgeError(f"{samples}: samples of shape {tuple(x.shape[1:])} do not match the data's "
                            f"{tuple(source.shape)}")
    metrics = sample_metrics(x, source, seed)
    return Evaluation(str(samples), None, cfg.data.name, seed, metrics, source.evaluator)


def verify(images: Sequence[PathLike], run: Optional[PathLike] = None,
           key: Optional[PathLike] = None) -> tuple[bytes, list[tuple[str, float, float]]]:
    """Is ganforge's invisible mark in these image files? With the key of ``run`` (its ``watermark.key``) or the key
    file ``key``: (the key, (name, z, p) per image); marked when z >= :data:`ganforge.watermark.THRESHOLD_Z`."""
    from .watermark import key_path, verify_images

    return verify_images([str(p) for p in images], key_path(run and existing_run(str(run)), key))


def build_dataset(src: PathLike, out: PathLike, resolution: int, labels: Optional[str] = None, channels: int = 0,
                  force: bool = False, progress: bool = True) -> BuildResult:
    """Pack ``src`` (a folder of PNG/JPEG, an .npz, IDX files or CIFAR-10 batches) once into a built dataset ``out`` (a
    DATA.gfd directory) that training reads without decoding: ``data.name=built data.path=out data.resolution=resolution``.
    ``labels``: ``from-folders`` (class sub-folders), ``none``, or None (array sources keep theirs). Returns a
    :class:`BuildResult`; see ``ganforge/data/built.py`` for the format."""
    from .data.pack import build_dataset as pack

    return pack(src, out, resolution, labels=labels, channels=channels, force=force, progress=progress)


def check_dataset(path: PathLike) -> dict:
    """Check a built dataset in full (every byte hashed against its manifest) and return its manifest; a truncated or
    edited one raises a one-line GanforgeError that says to rebuild."""
    from .data.built import open_built
    from .data.generated import is_generated, open_set

    return open_set(path).manifest if is_generated(path) else open_built(path, full_check=True).manifest


__all__ = ["Evaluation", "ExportResult", "ExportedGenerator", "Run", "build_dataset", "build_generated", "check_dataset",
           "evaluate_samples", "load", "load_generator", "resolve_config", "train", "verify"]
