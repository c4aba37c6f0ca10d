"""Evaluators: how generated samples are measured against a dataset, chosen by the dataset.

Each data source names its evaluator (``data.evaluator``, see ``ganforge.data.base``); the
evaluator is the function of that name in :data:`EVALUATORS`, with the signature of
:class:`Evaluator`. A dataset that needs a new metric registers one function here (or in any
module imported with it) and names it; ``tests/test_data_contract.py`` runs every registered
evaluator.

- ``modes``: the exact mode metrics of a known mixture (PacGAN protocol, ``toy2d.py``);
- ``digits``: the digit classifier's image metrics (``image.py``);
- ``own_labels``: the image metrics of a classifier trained on the dataset's own labels;
- ``series``: TimeGAN's scores of generated sequences (``series.py``);
- ``molecules``: the MOSES metrics of generated molecules (``molecules.py``);
- ``audio``: WaveGAN's Inception Score, FID and class accuracy in a spectrogram classifier's space (``audio.py``);
- ``energy``: the energy distance to real data in raw coordinates (pixels for images), with
  Inception FID/KID added for images when the user gives a local weights file.

Every evaluator returns a dict of finite numbers (the same inputs and seed, the same numbers)
and, except ``modes`` (its records predate provenance and stay bit-identical), a
``provenance`` dict: the feature space in words, ``n_real``, ``n_fake`` and ``seed``.
"""

from __future__ import annotations

from typing import Callable, Optional, Protocol

from torch import Tensor

from ..data.base import DataSource, ImageSet, KnownModes
from ..registry import Registry
from .distances import energy_distance
from .features import Classifier, data_classifier, digit_classifier
from .image import image_metrics
from .inception import inception_fid_kid
from .toy2d import mode_metrics


class Evaluator(Protocol):
    def __call__(self, x: Tensor, data: DataSource, seed: int, labels: Optional[Tensor] = None,
                 inception_weights: Optional[str] = None) -> dict:
        """Metrics of generated samples ``x`` (n, *data.shape) in data space against ``data``;
        the reference sample is ``data.reference(n, seed)``. ``labels`` (n,): the classes a
        conditional G was asked for; ``inception_weights``: a local Inception-v3 weights file
        (images: FID/KID in its pool3 space)."""
        ...


EVALUATORS: Registry[Evaluator] = Registry("data evaluator")


def _need(data: DataSource, capability: type, name: str) -> None:
    """A source that names an evaluator must have what it measures with: a programming error."""
    if not isinstance(data, capability):
        raise TypeError(f"evaluator '{name}' needs a {capability.__name__} data source, got {type(data).__name__}")


def class_reader(data: DataSource) -> Optional[Classifier]:
    """The classifier that reads a generated sample's class for this data: the digit classifier
    (per channel) for digit images, one trained on the data's own labels for other labelled
    images; None where no classifier applies."""
    if data.evaluator == "digits":
        return digit_classifier()
    if data.evaluator == "own_labels" and isinstance(data, ImageSet):
        return data_classifier(data.images, data.labels, data.n_classes)
    return None


@EVALUATORS.register
def modes(x: Tensor, data: DataSource, seed: int, labels: Optional[Tensor] = None,
          inception_weights: Optional[str] = None) -> dict:
    """Modes captured, high-quality fraction and reverse KL over the known modes (no reference
    sample needed: the density is known)."""
    _need(data, KnownModes, "modes")
    m = mode_metrics(x.flatten(1), data.centers, data.std)
    m.pop("counts")
    return m


@EVALUATORS.register
def digits(x: Tensor, data: DataSource, seed: int, labels: Optional[Tensor] = None,
           inception_weights: Optional[str] = None) -> dict:
    """Digit images (N, C, H, W) in [0, 1], each channel one digit: the digit classifier's metrics."""
    return image_metrics(x, data.reference(len(x), seed), digit_classifier(), seed, labels=labels,
                         inception_weights=inception_weights)


@EVALUATORS.register
def own_labels(x: Tensor, data: DataSource, seed: int, labels: Optional[Tensor] = None,
               inception_weights: Optional[str] = None) -> dict:
    """Labelled images (two classes or more): the metrics of a classifier trained on them."""
    _need(data, ImageSet, "own_labels")
    clf = data_classifier(data.images, data.labels, data.n_classes)
    return image_metrics(x, data.reference(len(x), seed), clf, seed, labels=labels,
                         inception_weights=inception_weights)


@EVALUATORS.register
def energy(x: Tensor, data: DataSource, seed: int, labels: Optional[Tensor] = None,
           inception_weights: Optional[str] = None) -> dict:
    """The energy distance to real data in raw coordinates; for images given Inception weights,
    also FID/KID in Inception's pool3 space."""
    real = data.reference(len(x), seed)
    pixels = data.kind.pixels
    if pixels and inception_weights:  # unlabelled images: Inception FID/KID and the pixel energy
        m = inception_fid_kid(real, x, inception_weights, seed=seed)
        space = m.pop("fid_feature_space")
        return {**m, "energy": energy_distance(x.flatten(1), real.flatten(1)), "n": len(x),
                "provenance": {"feature_space": "raw pixels (energy)", "fid_feature_space": space,
                               "n_real": len(real), "n_fake": len(x), "seed": seed}}
    space = "raw pixels" if pixels else "raw coordinates"
    return {"energy": energy_distance(x.flatten(1), real.flatten(1)), "n": len(x),
            "provenance": {"feature_space": space, "n_real": len(real), "n_fake": len(x), "seed": seed}}


@EVALUATORS.register
def table(x: Tensor, data: DataSource, seed: int, labels: Optional[Tensor] = None,
          inception_weights: Optional[str] = None) -> dict:
    """Rows of a table's layout: quality (SDMetrics' definitions) against the held-out split,
    TSTR / TRTR and privacy (``metrics/table.py``)."""
    from .table import table_metrics

    synth = data.to_frame(x)
    m = table_metrics(synth, data.train, data.holdout, data.types, data.target, seed)
    return {**m, "n": len(x), "provenance": {"feature_space": "table columns", "n_real": len(data.holdout),
                                              "n_fake": len(x), "seed": seed}}


@EVALUATORS.register
def series(x: Tensor, data: DataSource, seed: int, labels: Optional[Tensor] = None,
           inception_weights: Optional[str] = None) -> dict:
    """Sequences (n, T, F) in data space against as many real ones: TimeGAN's discriminative and
    predictive scores, autocorrelation and marginal distances, TSTR for labelled sets
    (``metrics/series.py``). Scored in ``data.metric_space``: ``data`` (sines, as TimeGAN scores
    them) or ``scaled`` (per feature in [0, 1], as TimeGAN scales its real sets)."""
    from .series import series_metrics

    real, y_real = data.labelled(len(x), seed)
    fake = x.detach().float().cpu()[: len(real)]
    y_fake = labels[: len(real)].cpu() if labels is not None else None
    space = data.metric_space
    if space == "scaled":
        real, fake = data.encode(real), data.encode(fake)
    m = series_metrics(real, fake, seed, y_real, y_fake, data.n_classes)
    return {**m, "n": len(fake), "provenance": {"feature_space": f"sequences, {space} values", "n_real": len(real),
                                                 "n_fake": len(fake), "seed": seed}}


@EVALUATORS.register
def levels(x: Tensor, data: DataSource, seed: int, labels: Optional[Tensor] = None,
           inception_weights: Optional[str] = None) -> dict:
    """Tile maps (n, C, H, W) one-hot: playability (the agent), tile-pattern KL, novelty and
    expressive range against the held-out real maps (``metrics/levels.py``)."""
    from .levels import level_metrics

    fake = x.detach().float().cpu().argmax(1).numpy()  # (n, H, W) tile ids
    m = level_metrics(fake, data, seed)
    return {**m, "n": len(fake), "provenance": {"feature_space": "tile ids and the level agent", "n_real": m["n_real"],
                                                 "n_fake": len(fake), "seed": seed}}


@EVALUATORS.register
def molecules(x: Tensor, data: DataSource, seed: int, labels: Optional[Tensor] = None,
              inception_weights: Optional[str] = None) -> dict:
    """Molecules (n, L) as token ids: the MOSES metrics (validity, uniqueness, novelty, FCD, SNN,
    Frag, Scaf, IntDiv, filters, property distances; ``metrics/molecules.py``) against the test set."""
    from .molecules import molecule_metrics

    gen = data.strings(x)
    m = molecule_metrics(gen, data.smiles, data.test, data.test_sf, data.stats, data.moses_train())
    space = "MOSES test statistics" if data.stats else "the held-out molecules"
    return {**m, "provenance": {"feature_space": f"molecules: RDKit and ChemNet (fcd_torch), against {space}",
                                "n_real": len(data.test), "n_fake": len(gen), "seed": seed}}


@EVALUATORS.register
def audio(x: Tensor, data: DataSource, seed: int, labels: Optional[Tensor] = None,
          inception_weights: Optional[str] = None) -> dict:
    """Clips (n, L, 1) in [-1, 1]: WaveGAN's Inception Score and FID in a spectrogram classifier's
    space trained on the real training clips, a conditional run's class accuracy, the memorisation
    check and the spectral statistics distance (``metrics/audio.py``)."""
    from .audio import audio_metrics

    return audio_metrics(x.detach().float().cpu(), data, seed, labels.cpu() if labels is not None else None)


@EVALUATORS.register
def video(x: Tensor, data: DataSource, seed: int, labels: Optional[Tensor] = None,
          inception_weights: Optional[str] = None) -> dict:
    """Clips (n, C, T, H, W) in [0, 1] against as many held-out real clips: FVD in ganforge's own
    clip-classifier space (not I3D's), content consistency, frame FID and motion (``video.py``)."""
    from .video import video_metrics

    real = data.reference(len(x), seed)
    m = video_metrics(real, x.detach().float().cpu().clamp(0, 1), seed)
    space, frame_space = m.pop("_space"), m.pop("_frame_space")
    return {**m, "n": len(x), "provenance": {"feature_space": space, "frame_feature_space": frame_space,
                                              "n_real": len(real), "n_fake": len(x), "seed": seed}}


# ----------------------------------------------------------------------------- headlines
# What each evaluator's result says first, as one or a few lines of text (``ganforge train``
# and ``evaluate`` print it): its headline keys, declared next to the evaluator, so a new
# evaluator registers its headline with :func:`headline_for` and nothing guesses from the keys.

@EVALUATORS.register
def scenes(x: Tensor, data: DataSource, seed: int, labels=None, inception_weights: Optional[str] = None) -> dict:
    """Captioned digit scenes (text to image): attribute accuracy (seen and held-out prompts),
    R-precision, FID in the attribute classifier's space, diversity within a prompt
    (``metrics/scenes.py``). ``x`` answers ``data.eval_set(n)`` in order."""
    from .scenes import scene_metrics

    return scene_metrics(x, data, seed)


HEADLINES: dict[str, Callable[[dict], str]] = {}  # evaluator name -> its headline
IMAGE_KEYS = ("fid", "kid", "precision", "recall", "density", "coverage", "classes", "class_kl", "modes", "mode_kl",
              "classifier_score", "class_accuracy")
TABLE_KEYS = ("quality", "column_shapes", "column_pair_trends", "tstr", "trtr", "dcr_holdout", "dcr_train",
              "exact_copies")
MOLECULE_KEYS = ("validity", "unique@1k", "unique@10k", "novelty", "fcd", "fcd_sf", "snn", "frag", "scaf", "intdiv1",
                 "intdiv2", "filters", "logp", "sa", "qed", "weight")
AUDIO_KEYS = ("inception_score", "inception_score_real", "is_ratio", "fid", "class_accuracy", "classifier_accuracy",
              "nn_ratio", "spectral_distance")
SERIES_KEYS = ("discriminative", "predictive", "predictive_real", "acf_distance", "marginal_w1", "tstr", "trtr")


def headline_for(*evaluators: str):
    """Decorator: ``fn(metrics) -> text`` is the headline of the named evaluators' results."""

    def wrap(fn):
        for name in evaluators:
            HEADLINES[name] = fn
        return fn

    return wrap


def _keys(m: dict, keys: tuple) -> str:
    return "  ".join(f"{k} {m[k]:.4g}" for k in keys if k in m)


@headline_for("modes")
def modes_line(m: dict) -> str:
    return f"modes {m['modes']}/{m['n_modes']}  hq {100 * m['hq']:.1f} %  rev_kl {m['rev_kl']:.4f}  (n={m['n']})"


@headline_for("digits", "own_labels")
def image_line(m: dict) -> str:
    """The image metrics, and the feature space(s) they were measured in."""
    prov = m["provenance"]
    fid_space = prov.get("fid_feature_space", prov["feature_space"])
    if fid_space == prov["feature_space"]:
        return f"{_keys(m, IMAGE_KEYS)}\nfeature space: {fid_space}"
    return (f"{_keys(m, IMAGE_KEYS)}\nfeature space of fid/kid: {fid_space}\n"
            f"feature space of the rest: {prov['feature_space']}")


@headline_for("energy")
def energy_line(m: dict) -> str:
    if "fid" in m:  # images measured with Inception weights: FID/KID lead
        return image_line(m)
    return f"energy distance {m['energy']:.4f} in {m['provenance']['feature_space']}  (n={m['n']})"


@headline_for("table")
def table_line(m: dict) -> str:
    flag = "\nWARNING: the synthetic rows copy training rows (memorising)" if m.get("memorising") else ""
    return f"{_keys(m, TABLE_KEYS)}  (n={m['n']}, against the held-out split){flag}"


@headline_for("series")
def series_line(m: dict) -> str:
    """TimeGAN's scores (``metrics/series.py``), lower is better, and the space they were measured in."""
    return f"{_keys(m, SERIES_KEYS)}  (n={m['n']}, {m['provenance']['feature_space']})"


@headline_for("levels")
def levels_line(m: dict) -> str:
    """Playable shares, pattern KL against the real-split floor, copies and novelty."""
    return (f"playable {100 * m['playable']:.1f} % (real {100 * m['playable_real']:.1f} %, random tiles "
            f"{100 * m['playable_random']:.1f} %)  kl3 {m['kl3']:.3f} (real split {m['kl3_real_split']:.3f}, random tiles {m['kl3_random']:.2f})  "
            f"kl2 {m['kl2']:.3f} (real split {m['kl2_real_split']:.3f})\nexact copies {m['exact_copies']}  unique "
            f"{100 * m['unique']:.1f} %  novel 3x3 patterns {100 * m['novel_patterns3']:.1f} %  nearest training map "
            f"{100 * m['nearest_train_distance']:.1f} % tiles away  expressive overlap {m['expressive_overlap']:.2f}  "
            f"(n={m['n']})")


@headline_for("molecules")
def molecules_line(m: dict) -> str:
    """The MOSES metrics: validity, uniqueness, novelty (higher is better), FCD (lower), ..."""
    return f"{_keys(m, MOLECULE_KEYS)}  (n={m['n']}, against {m['provenance']['feature_space'].split('against ')[-1]})"


@headline_for("audio")
def audio_line(m: dict) -> str:
    """WaveGAN's Inception Score (and the real clips' own), FID, memorisation and spectral distance."""
    return f"{_keys(m, AUDIO_KEYS)}  (n={m['n']})\nfeature space: {m['provenance']['feature_space']}"


VIDEO_KEYS = ("fvd", "consistency", "consistency_real", "frame_fid", "speed_w1", "speed", "speed_real", "bounces",
              "bounces_real")


@headline_for("video")
def video_line(m: dict) -> str:
    """Video metrics (``metrics/video.py``); FVD in ganforge's clip-classifier space, not I3D's."""
    return f"{_keys(m, VIDEO_KEYS)}  (n={m['n']})\nfeature space of fvd: {m['provenance']['feature_space']}"


SCENE_KEYS = ("attr_acc", "attr_acc_seen", "attr_acc_held_out", "attr_acc_real", "r_precision", "r_precision_real",
              "fid", "diversity")


@headline_for("scenes")
def scenes_line(m: dict) -> str:
    """Text to image: attribute accuracy (all, seen, held out, real), R-precision, FID, diversity."""
    return f"{_keys(m, SCENE_KEYS)}  (n={m['n']}, {m['provenance']['feature_space']})"


def held_out_line(m: dict) -> str:
    """Every number, as a game's own held-out scores are (image-to-image: l1_test, psnr_test)."""
    return "  ".join(f"{k} {v:.4g}" for k, v in m.items() if k != "step" and isinstance(v, (int, float)))


def headline(m: dict, evaluator: Optional[str]) -> str:
    """``m`` (what ``evaluator`` returned) as text; ``evaluator=None``: a game's own scores."""
    return HEADLINES[evaluator](m) if evaluator is not None else held_out_line(m)


__all__ = ["EVALUATORS", "Evaluator", "audio", "digits", "energy", "headline", "levels", "modes", "molecules", "own_labels",
           "series", "table", "video"]
