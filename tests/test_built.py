"""Built datasets (``ganforge dataset build``, ``data.name=built``): the file round-trips, damage
is refused with one line, the DataLoader path resumes exactly and trains as the in-memory path
does, the distributed sampler splits one global batch, and the models' size limits."""

from __future__ import annotations

import collections
import gzip
import json
import os
import pickle
import struct
import warnings

import numpy as np
import pytest
import torch

from ganforge.build import build_data
from ganforge.cli import main
from ganforge.config import DataConfig, load_config
from ganforge.data import DATASETS
from ganforge.data.built import BuiltData, open_built
from ganforge.data.pack import build_dataset
from ganforge.data.sampling import EpochSampler, ShardedBatches
from ganforge.errors import GanforgeError, GanforgeWarning
from ganforge.models import MODELS
from ganforge.train.loop import train
from test_train import assert_same_state, final_state

torch.set_num_threads(1)


def _folder(root, n=5, bad=True):
    """Two class sub-folders of small RGB PNGs of uneven sizes, and one junk file."""
    from PIL import Image

    g = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(g.integers(0, 256, (11 + i, 9, 3), dtype=np.uint8)).save(root / cls / f"{i}.png")
    if bad:
        (root / "dogs" / "broken.png").write_bytes(b"not an image")
    return root


def _in_memory(name, path, resolution=8, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GanforgeWarning)
        return DATASETS.get(name)(DataConfig(name=name, path=str(path), resolution=resolution, **kw), 0)


def _built(path, resolution=8, workers=0, seed=0) -> BuiltData:
    return DATASETS.get("built")(DataConfig(name="built", path=str(path), resolution=resolution, workers=workers), seed)


@pytest.fixture
def folder_gfd(tmp_path):
    src = _folder(tmp_path / "src")
    with pytest.warns(GanforgeWarning, match="skipped 1 file"):
        build_dataset(src, tmp_path / "d.gfd", 8, labels="from-folders", progress=False)
    return tmp_path / "d.gfd"


# ----------------------------------------------------------------------------- round trips


def test_a_folder_round_trips_with_its_labels_and_the_skipped_file_listed(tmp_path, folder_gfd):
    ref = _in_memory("folder", tmp_path / "src")
    b = open_built(folder_gfd, full_check=True)
    images = np.load(folder_gfd / "images.npy", mmap_mode="r")  # a plain .npy: numpy maps it
    assert images.shape == (10, 3, 8, 8) and np.array_equal(images, ref.images.numpy())
    assert np.array_equal(b.labels, ref.labels.numpy()) and b.class_names == ["cats", "dogs"] == ref.class_names
    m = json.loads((folder_gfd / "manifest.json").read_text())
    assert m["skipped"] == {"count": 1, "files": [{"path": "dogs/broken.png", "reason": "unreadable"}]}
    assert (m["count"], m["resolution"], m["channels"], m["n_classes"], m["source"]["files"]) == (10, 8, 3, 2, 11)
    assert m["format"] == "ganforge-built" and m["version"] == 1 and len(m["source"]["sha256"]) == 64
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_a_file_over_the_pixel_limit_is_skipped_not_decoded(tmp_path, monkeypatch):
    from PIL import Image

    src = _folder(tmp_path / "src", bad=False)
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(src / "cats" / "huge.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 400)  # 40 x 40 > 2 x 400: Pillow's bomb error
    with pytest.warns(GanforgeWarning, match="skipped 1 file"):
        r = build_dataset(src, tmp_path / "d.gfd", 8, progress=False)
    assert r.count == 10 and r.skipped == [{"path": "cats/huge.png", "reason": "pixel limit"}] and r.n_classes == 0
    assert not (tmp_path / "d.gfd" / "labels.npy").exists()  # folders are unlabelled unless asked


def _idx_bytes(arr):
    return bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def _arrays(root, kind):
    g = np.random.default_rng(1)
    if kind == "npz":
        np.savez(root / "d.npz", images=g.random((13, 12, 12, 3)).astype(np.float32), labels=np.arange(13) % 4)
        return root / "d.npz"
    if kind == "idx":
        (root / "mnist").mkdir()
        (root / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(
            gzip.compress(_idx_bytes(g.integers(0, 256, (9, 28, 28), dtype=np.uint8))))
        (root / "mnist" / "train-labels-idx1-ubyte.gz").write_bytes(
            gzip.compress(_idx_bytes((np.arange(9) % 3).astype(np.uint8))))
        return root / "mnist"
    (root / "cifar").mkdir()
    for b in (1, 2):
        batch = {b"data": g.integers(0, 256, (4, 3072), dtype=np.uint8), b"labels": [b, 9, 0, 5]}
        (root / "cifar" / f"data_batch_{b}").write_bytes(pickle.dumps(batch))
    return root / "cifar"


@pytest.mark.parametrize("kind", ["npz", "idx", "cifar10"])
def test_arrays_round_trip_as_their_in_memory_dataset(tmp_path, kind, monkeypatch):
    src = _arrays(tmp_path, kind)
    monkeypatch.setattr("ganforge.data.pack._CHUNK_BYTES", 4 * 3 * 16 * 16 * 3)  # several chunks
    r = build_dataset(src, tmp_path / "d.gfd", 16, progress=False)
    ref = _in_memory(kind, src, resolution=16)
    b = _built(tmp_path / "d.gfd", 16)
    assert r.kind == kind and r.count == len(ref.images) and b.shape == ref.shape
    assert np.array_equal(np.load(tmp_path / "d.gfd" / "images.npy"), ref.images.numpy())
    assert torch.equal(b.rows.labels, ref.labels) and b.n_classes == ref.n_classes
    for n in (3, 7, 11):  # the same batches as the in-memory dataset: one sampler, one seed
        (xa, ya), (xb, yb) = ref.sample(n), b.sample(n)
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert torch.equal(ref.reference(5, seed=3), b.reference(5, seed=3))


def test_build_refuses_bad_input_with_one_line(tmp_path, folder_gfd, monkeypatch):
    src = tmp_path / "src"
    with pytest.raises(GanforgeError, match="already exists; pass --force"):
        build_dataset(src, folder_gfd, 8, progress=False)
    with pytest.raises(GanforgeError, match="--resolution 2048"):
        build_dataset(src, tmp_path / "x.gfd", 2048, progress=False)
    with pytest.raises(GanforgeError, match="holds its own labels"):
        build_dataset(_arrays(tmp_path, "npz"), tmp_path / "x.gfd", 8, labels="from-folders", progress=False)
    (tmp_path / "flat").mkdir()
    _folder(tmp_path / "flat" / "only", bad=False)  # one level down: classes exist; at the top there are none
    with pytest.raises(GanforgeError, match="no class sub-folders"):
        build_dataset(tmp_path / "flat" / "only" / "cats", tmp_path / "x.gfd", 8, labels="from-folders",
                      progress=False)
    # a dataset larger than the disk's free space is refused before any work; a large one is announced
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr("ganforge.data.pack.shutil.disk_usage", lambda p: usage(10**6, 10**6 - 1000, 1000))
    with pytest.raises(GanforgeError, match="needs about .* GB and only"):
        build_dataset(src, tmp_path / "x.gfd", 8, progress=False)
    monkeypatch.undo()
    with pytest.warns(GanforgeWarning, match="skipped 1"), pytest.warns(GanforgeWarning, match=r"about 0\.0 GB once"):
        build_dataset(src, tmp_path / "y.gfd", 8, progress=False, warn_bytes=0)
    assert not (tmp_path / "x.gfd").exists()


def test_a_build_that_fails_midway_leaves_nothing(tmp_path, monkeypatch):
    from ganforge.data import images

    src = _folder(tmp_path / "src", bad=False)
    calls = []

    def boom(*a):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("disk on fire")
        return np.zeros((8, 8, 3), np.uint8)

    monkeypatch.setattr(images, "read_image", boom)
    with pytest.raises(RuntimeError):
        build_dataset(src, tmp_path / "d.gfd", 8, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


# ----------------------------------------------------------------------------- refusals


def test_a_truncated_or_edited_file_is_refused_with_one_line(tmp_path, folder_gfd, capsys):
    images, m = folder_gfd / "images.npy", json.loads((folder_gfd / "manifest.json").read_text())
    good = images.read_bytes()
    images.write_bytes(good[:-100])
    with pytest.raises(GanforgeError, match="is truncated: .*rebuild it: ganforge dataset build .* --force"):
        _built(folder_gfd)
    edited = bytearray(good)
    edited[-5] ^= 0xFF
    images.write_bytes(bytes(edited))
    with pytest.raises(GanforgeError, match="was changed after it was built"):
        _built(folder_gfd)
    assert main(["dataset", "check", str(folder_gfd)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "changed after it was built" in err and "dataset build" in err
    images.write_bytes(good)
    assert main(["dataset", "check", str(folder_gfd)]) == 0 and "intact; 10 images" in capsys.readouterr().out

    (folder_gfd / "manifest.json").write_text(json.dumps({**m, "resolution": 16}))
    with pytest.raises(GanforgeError, match="do not match"):
        _built(folder_gfd, 16)
    (folder_gfd / "manifest.json").write_text(json.dumps({**m, "version": 99}))
    with pytest.raises(GanforgeError, match="format version 99"):
        _built(folder_gfd)
    (folder_gfd / "manifest.json").write_text(json.dumps(m))
    np.save(folder_gfd / "labels.npy", np.zeros(10, np.int64))
    with pytest.raises(GanforgeError, match="labels.npy was changed"):
        _built(folder_gfd)
    (folder_gfd / "manifest.json").unlink()
    with pytest.raises(GanforgeError, match="no manifest.json, so it is no built dataset"):
        _built(folder_gfd)


def test_large_files_are_rehashed_only_when_their_time_changed(folder_gfd, monkeypatch):
    """Hashing a 10 GB file at every start costs a minute: above FULL_CHECK_BYTES the size and
    header are always checked, the hash when the modification time differs from the manifest's."""
    monkeypatch.setattr("ganforge.data.built.FULL_CHECK_BYTES", 0)
    images = folder_gfd / "images.npy"
    st = images.stat()
    edited = bytearray(images.read_bytes())
    edited[-5] ^= 0xFF
    images.write_bytes(bytes(edited))
    os.utime(images, ns=(st.st_atime_ns, st.st_mtime_ns))
    open_built(folder_gfd)  # the time says untouched: trusted
    with pytest.raises(GanforgeError, match="changed after it was built"):
        open_built(folder_gfd, full_check=True)
    os.utime(images, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(GanforgeError, match="changed after it was built"):
        open_built(folder_gfd)


def test_config_must_agree_with_the_built_file(folder_gfd):
    with pytest.raises(GanforgeError, match=r"data.resolution=32: .* was built at 8 px; set data.resolution=8"):
        _built(folder_gfd, 32)
    with pytest.raises(GanforgeError, match="data.channels=1"):
        DATASETS.get("built")(DataConfig(name="built", path=str(folder_gfd), resolution=8, channels=1), 0)
    with pytest.raises(GanforgeError, match="no such built dataset"):
        _built(folder_gfd.parent / "missing.gfd")
    with pytest.raises(GanforgeError, match="data.workers"):
        load_config("digits", ["data.workers=-1"])
    with pytest.raises(GanforgeError, match="data.workers=2: data.name=digits is held in memory"):
        build_data(load_config("digits", ["data.workers=2", "data.resolution=8"]))
    a = _built(folder_gfd)
    state = a.state_dict()
    with pytest.raises(GanforgeError, match="not the built dataset this run was trained on"):
        a.load_state_dict({**state, "images_sha256": "0" * 64})


# ----------------------------------------------------------------------------- the loader


def test_workers_deliver_the_same_batches_as_the_training_process(folder_gfd):
    a, b = _built(folder_gfd, workers=0, seed=4), _built(folder_gfd, workers=2, seed=4)
    for _ in range(4):  # 24 images: across two epoch boundaries of 10
        (xa, ya), (xb, yb) = a.sample(6), b.sample(6)
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert_same_state(a.state_dict(), b.state_dict())  # consumed, not prefetched
    b.close()


def test_the_distributed_sampler_gives_each_rank_disjoint_rows_of_one_global_batch(folder_gfd):
    state = EpochSampler(10, 3).state_dict()
    single = EpochSampler(10, 3)
    ranks = [iter(ShardedBatches(10, state, 4, rank=r, world=2)) for r in (0, 1)]
    for _ in range(6):  # 24 rows: across epoch boundaries
        r0, r1 = next(ranks[0]), next(ranks[1])
        assert len(r0) == len(r1) == 2 and not set(r0.tolist()) & set(r1.tolist())
        assert torch.equal(torch.cat([r0, r1]), single.next(4))  # together: the single process's batch
    # through the dataset: each rank reads only its rows, those of the single process's batch
    one, ranks = _built(folder_gfd, seed=3), [_built(folder_gfd, seed=3) for _ in range(2)]
    for r, d in enumerate(ranks):
        d.stream(torch.device("cpu"), rank=r, world=2)
    for _ in range(3):
        x, y = one.sample(4)
        parts = [d.sample(4) for d in ranks]
        assert all(p[0].shape == (2, 3, 8, 8) for p in parts)
        assert torch.equal(torch.cat([p[0] for p in parts]), x) and torch.equal(torch.cat([p[1] for p in parts]), y)


# ----------------------------------------------------------------------------- training


def _train(tmp_path, name, gfd, images_no_eval, *overrides, resume=False):
    cfg = load_config("digits", images_no_eval + ["data.name=built", f"data.path={gfd}", "optim.schedule=constant",
                                                  "train.batch_size=4", *overrides])
    out = tmp_path / name
    out.mkdir(exist_ok=True)
    return train(cfg, out, resume=resume)


@pytest.fixture
def quiet(monkeypatch):
    from conftest import TINY_IMAGES

    monkeypatch.setattr("ganforge.train.callbacks.sample_metrics", lambda x, data, seed, **kw: {})
    return TINY_IMAGES + ["doctor.enabled=false"]


def test_resume_with_the_dataloader_is_exact(tmp_path, folder_gfd, quiet):
    """Stopped at 6 and resumed (with 2 workers) to 12 == an uninterrupted run, bit for bit; the
    checkpoint holds the position training consumed, not what the workers had prefetched."""
    extra = ["train.ckpt_every=6", "model.conditional=true"]
    _train(tmp_path, "whole", folder_gfd, quiet, "train.steps=12", *extra)
    _train(tmp_path, "half", folder_gfd, quiet, "train.steps=6", "data.workers=2", *extra)
    _train(tmp_path, "half", folder_gfd, quiet, "train.steps=12", "data.workers=2", *extra, resume=True)
    whole = final_state(tmp_path / "whole")
    assert whole["step"] == 12
    assert_same_state(whole, final_state(tmp_path / "half"))


def test_training_on_a_built_file_equals_training_in_memory(tmp_path, quiet):
    """An .npz at its own size, in memory and built: the same batches, so the same weights."""
    src = _arrays(tmp_path, "npz")
    build_dataset(src, tmp_path / "d.gfd", 8, progress=False)
    _train(tmp_path, "built", tmp_path / "d.gfd", quiet, "train.steps=5")
    _train(tmp_path, "mem", tmp_path / "d.gfd", quiet, "train.steps=5", "data.name=npz", f"data.path={src}")
    a, b = final_state(tmp_path / "built"), final_state(tmp_path / "mem")
    assert_same_state(a["G"], b["G"]) and assert_same_state(a["D"], b["D"])


# ----------------------------------------------------------------------------- sizes


def test_each_model_names_its_size_limit_in_one_line():
    cfg = load_config("digits")
    with pytest.raises(GanforgeError, match=r"dcgan builds sizes that are a power of two from 8 to 256; at 512 px "
                                            r"use model.name=stylegan2 \(up to 1024 px\)"):
        MODELS.get("dcgan").check(cfg, (3, 512, 512))
    with pytest.raises(GanforgeError, match=r"data.resolution=2048: model.name=stylegan2 .* from 8 to 1024$"):
        MODELS.get("stylegan2").check(load_config("stylegan2_digits"), (3, 2048, 2048))
    MODELS.get("dcgan").check(cfg, (3, 256, 256))
    MODELS.get("stylegan2").check(load_config("stylegan2_digits"), (3, 1024, 1024))


@pytest.mark.parametrize("name, res", [("dcgan", 256), ("stylegan2", 1024)])
def test_the_largest_sizes_build_and_run(name, res):
    from ganforge.build import build_models

    cfg = load_config("digits" if name == "dcgan" else "stylegan2_digits",
                      ["model.g_width=1", "model.d_width=1", "model.z_dim=4", "model.w_dim=4", "model.mapping_depth=1"])
    torch.manual_seed(0)
    G, D = build_models(cfg, (1, res, res), 0)
    with torch.no_grad():
        x = G(torch.randn(1, 4))
        assert x.shape == (1, 1, res, res) and torch.isfinite(D(x)).all()


def test_the_command_line_builds_and_trains(tmp_path, capsys):
    from conftest import TINY_IMAGES

    src = _folder(tmp_path / "src")
    assert main(["dataset", "build", str(src), "--out", str(tmp_path / "d.gfd"), "--resolution", "8", "--labels",
                 "from-folders", "--no-progress"]) == 0
    out = capsys.readouterr()
    assert "wrote" in out.out and "10 images at 3x8x8, 2 classes" in out.out and "data.name=built" in out.out
    assert "skipped 1 file" in out.err
    assert main(["dataset", "build", str(src), "--out", str(tmp_path / "d.gfd"), "--resolution", "8"]) == 2
    assert main(["train", "--out", str(tmp_path / "run"), *TINY_IMAGES, "doctor.enabled=false", "data.name=built", f"data.path={tmp_path / 'd.gfd'}",
                 "train.steps=3", "train.batch_size=4", "data.workers=1"]) == 0
    # the model card names the built file's count and pixel hash, not "drawn by the data source"
    assert main(["card", str(tmp_path / "run"), "--out", str(tmp_path / "card.md")]) == 0
    card = (tmp_path / "card.md").read_text()
    manifest = json.loads((tmp_path / "d.gfd" / "manifest.json").read_text())
    assert manifest["images"]["sha256"] in card and "drawn by the data source" not in card
