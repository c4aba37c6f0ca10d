"""Sequences: TimeGAN's sines, windowing, the user's files, the metrics, rcgan, timegan and conv1d."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from ganforge.config import DataConfig, load_config
from ganforge.data import DATASETS
from ganforge.data.kinds.sequence_io import load_series, long_frame, sine_sequences, unwindow, windows
from ganforge.errors import GanforgeError
from ganforge.metrics import series as M
from ganforge.train.checkpoint import list_checkpoints
from ganforge.train.loop import train


# ---------------------------------------------------------------------------- data


def test_sines_follow_timegans_protocol():
    data = DATASETS.get("sines")(DataConfig(name="sines"), 0)
    assert data.x.shape == (10_000, 24, 5) and data.shape == (24, 5) and data.n_classes == 0
    x = data.x.double()
    # x_t = (sin(f t + phi) + 1) / 2 with f, phi in U(0, 0.1): f t + phi stays in [0, 2.4], so
    # arcsin recovers it while it is below pi / 2; recover phi and f from the first two steps
    phi = torch.asin(2 * x[:, 0] - 1)  # (N, F)
    f = torch.asin(2 * x[:, 1] - 1) - phi
    assert phi.min() >= -1e-6 and phi.max() <= 0.1 + 1e-6 and f.min() >= -1e-5 and f.max() <= 0.1 + 1e-5
    assert abs(float(phi.mean()) - 0.05) < 0.002 and abs(float(f.mean()) - 0.05) < 0.002  # uniform: mean 0.05
    t = torch.arange(24, dtype=torch.float64).view(1, 24, 1)
    assert torch.allclose((torch.sin(f.unsqueeze(1) * t + phi.unsqueeze(1)) + 1) / 2, x, atol=2e-4)
    # one fixed set for every run seed; the stream differs
    assert torch.equal(DATASETS.get("sines")(DataConfig(name="sines"), 5).x, data.x)
    assert sine_sequences(3, 7, 2, seed=1).shape == (3, 7, 2)


def test_model_space_is_minmax_per_feature_and_inverts():
    data = DATASETS.get("sines")(DataConfig(name="sines"), 0)
    z = data.encode(data.x)
    assert torch.allclose(z.amin((0, 1)), torch.zeros(5)) and torch.allclose(z.amax((0, 1)), torch.ones(5))
    assert torch.allclose(data.decode(z), data.x, atol=1e-6)
    x, _ = data.sample(8)
    assert x.shape == (8, 24, 5)


@pytest.mark.parametrize("window,stride", [(5, 1), (5, 5), (4, 3), (20, 7)])
def test_windowing_round_trips(window, stride):
    s = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    w = windows(s, window, stride)
    assert w.shape == ((20 - window) // stride + 1, window, 3)
    covered = (len(w) - 1) * stride + window
    assert np.array_equal(unwindow(w, stride), s[:covered])
    assert np.array_equal(w[1], s[stride : stride + window]) if len(w) > 1 else True


def _long_csv(path, n=4, length=30, labels=True, extra=""):
    g = np.random.default_rng(1)
    head = "id,time,a,b" + (",kind" if labels else "") + extra
    rows = [f"{i},{t},{g.normal():.5f},{g.normal():.5f}" + (f",{'xy'[i % 2]}" if labels else "")
            for i in range(n) for t in reversed(range(length))]  # rows out of time order on purpose
    path.write_text(head + "\n" + "\n".join(rows) + "\n")
    return path


def test_long_csv_with_labels(tmp_path):
    p = _long_csv(tmp_path / "s.csv")
    x, y, info = load_series(str(p), window=10, stride=5, target="kind")
    assert x.shape == (4 * 5, 10, 2) and x.dtype == np.float32
    assert y[:5] == ["x"] * 5 and y[5:10] == ["y"] * 5
    assert info["format"] == "long" and info["features"] == ["a", "b"] and info["n_series"] == 4
    # the rows were sorted by time: window 0 of series 0 is its steps 0..9
    import pandas as pd

    df = pd.read_csv(p)
    first = df[df.id == 0].sort_values("time")[["a", "b"]].to_numpy()[:10]
    assert np.allclose(x[0], first, atol=1e-6)
    data = DATASETS.get("series")(DataConfig(name="series", path=str(p), window=10, stride=5, target="kind"), 0)
    assert data.n_classes == 2 and data.classes == ["x", "y"] and data.shape == (10, 2)


def test_whole_series_wide_csv_and_npy(tmp_path):
    x, y, _ = load_series(str(_long_csv(tmp_path / "s.csv", labels=False)))
    assert x.shape == (4, 30, 2) and y is None  # window 0: whole series of one length
    (tmp_path / "w.csv").write_text("time,u,v\n" + "".join(f"{t},{t * 0.5},{-t}\n" for t in range(50)))
    x, _, info = load_series(str(tmp_path / "w.csv"), window=24, stride=2)
    assert x.shape == (14, 24, 2) and info["format"] == "wide" and x[1, 0, 0] == 1.0
    np.save(tmp_path / "a.npy", np.random.default_rng(0).random((7, 12, 3)))
    assert load_series(str(tmp_path / "a.npy"))[0].shape == (7, 12, 3)
    assert load_series(str(tmp_path / "a.npy"), window=6, stride=6)[0].shape == (14, 6, 3)


def test_long_frame_round_trips_through_a_csv(tmp_path):
    x = np.random.default_rng(3).random((5, 7, 3)).astype(np.float32)
    long_frame(x, ["a", "b", "c"], labels=list("xyxyz"), target="k").to_csv(tmp_path / "l.csv", index=False)
    back, y, info = load_series(str(tmp_path / "l.csv"), target="k")
    assert np.allclose(back, x, atol=1e-6) and y == list("xyxyz") and info["features"] == ["a", "b", "c"]


def test_constant_feature_is_kept_and_scaled_to_zero(tmp_path):
    (tmp_path / "c.csv").write_text("u,k\n" + "".join(f"{np.sin(t)},3\n" for t in range(40)))
    x, _, info = load_series(str(tmp_path / "c.csv"), window=10, stride=5)
    assert info["constant"] == ["k"]
    data = DATASETS.get("series")(DataConfig(name="series", path=str(tmp_path / "c.csv"), window=10, stride=5), 0)
    z = data.encode(data.x)
    assert torch.all(z[..., 1] == 0) and torch.allclose(data.decode(z), data.x)


def _bad(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize("case,match", [
    ("missing", "missing or infinite"),
    ("unequal", "unequal length"),
    ("text", "not numeric"),
    ("too_long", "longer than the shortest series"),
    ("empty", "empty"),
    ("header_only", "no rows"),
    ("wide_target", "long format"),
    ("mixed_label", "more than one label"),
    ("wide_no_window", "data.window=W"),
    ("npy_nan", "missing or infinite"),
    ("npy_rank", "expected \\(N, T, F\\)"),
    ("no_file", "no such file"),
])
def test_bad_input_is_one_line(tmp_path, case, match):
    args = {"window": 0, "stride": 1, "target": None}
    if case == "missing":
        path = _bad(tmp_path, "m.csv", "id,time,a\n0,0,1\n0,1,\n0,2,3\n")
    elif case == "unequal":
        path = _bad(tmp_path, "u.csv", "id,a\n0,1\n0,2\n0,3\n1,1\n1,2\n")
    elif case == "text":
        path = _bad(tmp_path, "t.csv", "id,a\n0,1\n0,two\n1,3\n1,4\n")
    elif case == "too_long":
        path, args["window"] = _bad(tmp_path, "l.csv", "id,a\n0,1\n0,2\n0,3\n1,1\n1,2\n"), 3
    elif case == "empty":
        path = _bad(tmp_path, "e.csv", "")
    elif case == "header_only":
        path = _bad(tmp_path, "h.csv", "id,a\n")
    elif case == "wide_target":
        path, args["target"], args["window"] = _bad(tmp_path, "w.csv", "a,k\n1,x\n2,y\n3,x\n"), "k", 2
    elif case == "mixed_label":
        path, args["target"] = _bad(tmp_path, "x.csv", "id,a,k\n0,1,x\n0,2,y\n1,1,x\n1,2,x\n"), "k"
    elif case == "wide_no_window":
        path = _bad(tmp_path, "n.csv", "a,b\n1,2\n3,4\n5,6\n")
    elif case == "npy_nan":
        path = str(tmp_path / "n.npy")
        np.save(path, np.array([[[1.0], [np.nan]], [[1.0], [2.0]]]))
    elif case == "npy_rank":
        path = str(tmp_path / "r.npy")
        np.save(path, np.zeros(5))
    else:
        path = str(tmp_path / "absent.csv")
    with pytest.raises(GanforgeError, match=match) as e:
        load_series(path, **args)
    assert "\n" not in str(e.value)


def test_negative_window_or_stride_is_a_config_error():
    for key in ("data.window", "data.stride"):
        with pytest.raises(GanforgeError, match=f"{key}=-1 is not allowed"):
            load_config("ring8", ["data.name=sines", f"{key}=-1"])


def test_series_without_path_and_the_bundled_sets():
    with pytest.raises(GanforgeError, match="data.path"):
        DATASETS.get("series")(DataConfig(name="series"), 0)
    macro = DATASETS.get("macro")(DataConfig(name="macro"), 0)
    assert macro.shape == (24, 12) and len(macro.x) == 180 and macro.n_classes == 0


def test_basicmotions_is_labelled_and_multivariate():
    import importlib.util

    if importlib.util.find_spec("sktime") is None:
        pytest.skip("sktime is not installed (pip install 'ganforge[series]')")
    data = DATASETS.get("basicmotions")(DataConfig(name="basicmotions"), 0)
    assert data.shape == (24, 6) and len(data.x) == 800 and data.n_classes == 4
    assert torch.bincount(data.labels).tolist() == [200] * 4


# ---------------------------------------------------------------------------- metrics


@pytest.fixture(autouse=True)
def one_thread():
    """The metrics' small GRUs run fastest on one thread (and the machine is shared)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def sines_pair():
    return torch.from_numpy(sine_sequences(600, 24, 5, 1)), torch.from_numpy(sine_sequences(600, 24, 5, 2))


def test_discriminative_score_near_0_on_real_and_near_half_on_noise(sines_pair):
    a, b = sines_pair
    same = M.discriminative_score(a, b, seed=0, steps=300)
    noise = M.discriminative_score(a, torch.rand_like(b), seed=0, steps=600)
    assert same < 0.1, same
    assert noise > 0.45, noise
    assert M.discriminative_score(a, b, seed=0, steps=20) == M.discriminative_score(a, b, seed=0, steps=20)


def test_predictive_score_on_real_beats_a_constant_predictor(sines_pair):
    a, b = sines_pair
    trained = M.predictive_score(a, b, seed=0, steps=400)  # train on b, test on a: both real
    _, target = M._pred_io(a)
    constant = float((target - target.mean()).abs().mean())
    assert trained < 0.9 * constant, (trained, constant)


def test_repeated_scores_are_the_mean_of_fresh_trainings(sines_pair):
    """TimeGAN averages its post-hoc scores over 10 trainings; repeats=2 gives the mean of the
    scores at seeds s and s + 1000, and repeats=1 the single score."""
    a, b = sines_pair[0][:200], sines_pair[1][:200]
    steps = {"disc": 10, "pred": 10, "cls": 10}
    one = M.series_metrics(a, b, 3, steps=steps, repeats=1)
    two = M.series_metrics(a, b, 3, steps=steps, repeats=2)
    d = [M.discriminative_score(a, b, s, 10) for s in (3, 1003)]
    p = [M.predictive_score(a, b, s, 10) for s in (3, 1003)]
    assert one["discriminative"] == d[0] and one["predictive"] == p[0]
    assert two["discriminative"] == pytest.approx(sum(d) / 2) and two["predictive"] == pytest.approx(sum(p) / 2)
    assert p[0] != p[1]  # a fresh training, not the same one twice
    with pytest.raises(ValueError, match="repeats"):
        M.series_metrics(a, b, 3, steps=steps, repeats=0)


def test_acf_and_marginal_distances(sines_pair):
    a, b = sines_pair
    noise = torch.rand_like(a) * 0.5 + 0.5
    assert M.acf_distance(a, b) < 0.05 < M.acf_distance(a, noise)
    assert max(M.marginal_distances(a, b)) < 0.02 < min(M.marginal_distances(a, torch.rand_like(a)))


def test_tstr_on_separable_labels():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(200) % 2
    x = torch.rand(200, 10, 2, generator=g) * 0.3 + y.view(-1, 1, 1) * 0.6  # class 1 sits higher
    m = M.tstr_accuracy(x, y, x.flip(0), y.flip(0), 2, seed=0, steps=150)
    assert m["tstr"] > 0.9 and m["trtr"] > 0.9


# ---------------------------------------------------------------------------- models and games

TINY = ["model.g_width=8", "model.d_width=8", "model.g_depth=2", "model.d_depth=2", "train.batch_size=16",
        "train.threads=1", "train.log_every=2", "train.tensorboard=false", "train.ckpt_every=4",
        "train.keep_ckpts=5", "optim.schedule=constant"]


def _run(tmp_path, name, model, *extra, resume=False, data="data.name=sines", z_dim=120):
    cfg = load_config("ring8", [data, f"model.name={model}", f"model.z_dim={z_dim}", *TINY, *extra])
    (tmp_path / name).mkdir(exist_ok=True)
    train(cfg, tmp_path / name, resume=resume, callbacks=[])
    return [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("model", ["rcgan", "timegan", "conv1d"])
def test_models_train_a_few_steps_to_finite_values(tmp_path, model):
    recs = [r for r in _run(tmp_path, "r", model, "train.steps=6") if "loss_d" in r]
    assert recs and all(np.isfinite(v) for r in recs for v in r.values() if isinstance(v, (int, float)))
    if model == "timegan":  # phases 1, 2, 3 in turn (6 steps: 2 each)
        assert [r["phase"] for r in recs] == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("model", ["rcgan", "timegan", "conv1d"])
def test_conditional_on_a_labelled_series(tmp_path, model):
    p = _long_csv(tmp_path / "s.csv", n=6, length=40)
    data = "data.name=series"
    cfg_extra = [f"data.path={p}", "data.window=10", "data.stride=3", "data.target=kind", "model.conditional=true"]
    recs = [r for r in _run(tmp_path, "c", model, "train.steps=6", *cfg_extra, data=data, z_dim=20) if "loss_d" in r]
    assert recs and np.isfinite(recs[-1]["loss_d"])
    ckpt = torch.load(list_checkpoints(tmp_path / "c")[-1][1], weights_only=True)
    assert any("embed" in k for k in ckpt["G"])


def _same(a, b, path=""):
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        for i, (u, v) in enumerate(zip(a, b)):
            _same(u, v, f"{path}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), path
    else:
        assert a == b, path


@pytest.mark.parametrize("model", ["rcgan", "timegan", "conv1d"])
def test_exact_resume(tmp_path, model):
    """Resumed from the checkpoint at step 4 (timegan: where its supervised phase starts; the joint
    phase runs steps 8 to 11) == the uninterrupted run at step 12, bit for bit."""
    whole = _run(tmp_path, "whole", model, "train.steps=12")
    shutil.copytree(tmp_path / "whole", tmp_path / "half")
    for s, p in list_checkpoints(tmp_path / "half"):
        if s > 4:
            p.unlink()
    half = _run(tmp_path, "half", model, "train.steps=12", resume=True)
    a = torch.load(list_checkpoints(tmp_path / "whole")[-1][1], weights_only=True)
    b = torch.load(list_checkpoints(tmp_path / "half")[-1][1], weights_only=True)
    assert a["step"] == b["step"] == 12
    keys = ("G", "D", "opt_g", "opt_d", "rng", "d_updates", "g_updates") + (("timegan",) if model == "timegan" else ())
    for key in keys:
        _same(a[key], b[key], key)
    lines = lambda recs: [r for r in recs if "loss_d" in r]  # noqa: E731
    assert lines(whole) == lines(half)


def test_z_dim_must_be_per_step_noise(tmp_path):
    with pytest.raises(GanforgeError, match="multiple of the sequence length 24"):
        _run(tmp_path, "z", "timegan", "train.steps=2", z_dim=16)
    from ganforge.build import check_compatible

    with pytest.raises(GanforgeError, match="builds sequence data"):  # the spec's kind check (points here)
        check_compatible(load_config("ring8", ["model.name=rcgan", "model.z_dim=24"]), (2,))


# ---------------------------------------------------------------------------- figures


def test_trace_and_overlay_figures(tmp_path, sines_pair):
    from ganforge.report.sequences import overlay_coords, overlay_figure, trace_figure

    a, b = sines_pair
    r, f = overlay_coords(a, b, "pca")
    assert r.shape == f.shape == (600, 2) and np.allclose(r.mean(0), 0, atol=1e-9)  # PCA fitted on real
    r, f = overlay_coords(a[:60], b[:50], "tsne")
    assert r.shape == f.shape == (50, 2) and np.isfinite(r).all()
    for path in (trace_figure(a, b, tmp_path / "traces.png", n=3), overlay_figure(a, b, tmp_path / "pca.png")):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="pca or tsne"):
        overlay_coords(a, b, "umap")


def test_timegan_networks_shapes_and_state_round_trip():
    from ganforge.models import MODELS

    cfg = load_config("ring8", ["model.name=timegan", "model.z_dim=12", "model.g_width=6", "model.g_depth=3"])
    torch.manual_seed(0)
    G, D = MODELS.get("timegan").build(cfg.model, (4, 3), 2)
    z, y = torch.rand(5, 12), torch.tensor([0, 1, 0, 1, 1])
    x = G(z, y)
    assert x.shape == (5, 4, 3) and 0 <= float(x.detach().min()) and float(x.detach().max()) <= 1  # sigmoid outputs
    h = G.embedder(x)
    assert h.shape == (5, 4, 6) and D(h, y).shape == (5, 4) and G.recovery(h).shape == (5, 4, 3)
    assert G.supervisor.rnn.num_layers == 2  # one layer fewer than the others, as TimeGAN
    (D(G.supervisor(G.latent(z, y)), y).sum() + G.recovery(G.embedder(x.detach())).sum()).backward()
    for net in (G.embedder, G.recovery, G.generator, G.supervisor, D):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    torch.manual_seed(1)
    G2, _ = MODELS.get("timegan").build(cfg.model, (4, 3), 2)
    G2.load_state_dict(G.state_dict())
    with torch.no_grad():
        assert torch.equal(G2(z, y), G(z, y))


def test_rcgan_with_wgan_gp(tmp_path):
    """The gradient penalty differentiates D's GRU twice."""
    recs = [r for r in _run(tmp_path, "w", "rcgan", "train.steps=4", "loss.name=wgan_gp") if "loss_d" in r]
    assert recs and all(np.isfinite(r["loss_d"]) for r in recs)


def test_timegan_extended_run_keeps_its_phases(tmp_path):
    _run(tmp_path, "e", "timegan", "train.steps=6")
    recs = [r for r in _run(tmp_path, "e", "timegan", "train.steps=10", resume=True) if "loss_d" in r]
    assert [r["phase"] for r in recs] == [1.0, 2.0, 3.0, 3.0, 3.0]  # 2 + 2 steps, then joint to the end


# ---------------------------------------------------------------------------- the CLI on a sequence run


def test_the_commands_on_a_sequence_run(tmp_path, monkeypatch, capsys):
    """train --preset rcgan_sines (tiny), then sample (.npy, .csv, .png), evaluate, report, card,
    export (ONNX), synth and doctor, each from the CLI, each exit 0 with its file."""
    from ganforge.cli import main
    from ganforge.data.kinds import SEQUENCE

    monkeypatch.setattr(M, "STEPS", {"disc": 5, "pred": 5, "cls": 5})  # the evaluator's networks, shortened
    run, out = tmp_path / "run", tmp_path / "out"
    small = ["model.g_width=8", "model.d_width=8", "model.g_depth=1", "model.d_depth=1", "train.batch_size=16",
             "train.log_every=5", "train.ckpt_every=10", "train.threads=1", "train.progress=false",
             "eval.n_samples=64", "doctor.probe_n=16"]
    assert main(["train", "--preset", "rcgan_sines", "--out", str(run), "train.steps=10", *small]) == 0
    assert "discriminative" in capsys.readouterr().out  # the series evaluator's headline
    for name in ("x.npy", "x.csv", "plot.png"):
        assert main(["sample", str(run), "--n", "6", "--out", str(out / name)]) == 0, name
    x = np.load(out / "x.npy")
    assert x.shape == (6, 24, 5) and x.dtype == np.float32
    back, _ = SEQUENCE.read_inputs(DATASETS.get("sines")(DataConfig(name="sines"), 0), out / "x.csv")
    assert back.shape == (6, 24, 5)  # the long format reads back
    assert (out / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["sample", str(run), "--n", "6", "--out", f"{out / 'dir'}/"]) == 2  # a folder of PNGs: images only
    assert "sequence runs write" in capsys.readouterr().err
    assert main(["evaluate", str(run)]) == 0 and "predictive" in capsys.readouterr().out
    assert main(["report", str(run)]) == 0 and (run / "report.html").is_file()
    assert main(["card", str(run)]) == 0
    assert "sequences of 24 steps x 5 features" in (run / "MODEL_CARD.md").read_text()
    pytest.importorskip("onnxruntime")
    assert main(["export", str(run), "--format", "onnx", "--out", str(out / "g.onnx")]) == 0
    assert main(["synth", str(run), "--n", "10", "--out", str(out / "s.csv")]) == 0
    assert (out / "s.csv").read_text().startswith("id,time,sine0")
    assert main(["doctor", str(run)]) == 0


def test_the_default_job_on_unlabelled_sequences_trains_the_kinds_model(tmp_path):
    """`ganforge train data.name=sines`: the default job's conditional DCGAN gives way to the
    sequence kind's conv1d, unconditional (sines have no labels); asked for, conditioning is refused."""
    import ganforge

    small = ["data.name=sines", "train.steps=2", "train.batch_size=8", "model.g_width=4", "model.d_width=4",
             "train.progress=false", "train.tensorboard=false", "eval.every=0", "train.sample_every=0",
             "train.ckpt_every=2", "train.threads=1", "doctor.enabled=false"]
    run = ganforge.train(overrides=small, out=tmp_path / "r")
    cfg = load_config(str(tmp_path / "r" / "config.yaml"))
    assert (cfg.model.name, cfg.model.conditional, cfg.model.d_norm) == ("conv1d", False, "none")
    assert cfg.augment.policy == ""  # the default job rotates digits; sequences take no image augmentation
    assert run.sample(3, seed=0).shape == (3, 24, 5)
    with pytest.raises(GanforgeError, match="needs a labelled dataset"):
        ganforge.train(overrides=[*small, "model.conditional=true"], out=tmp_path / "c")
