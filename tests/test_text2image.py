"""Text to image: the captioned digit scenes, the caption vocabulary, DF-GAN's game with
mismatched negatives, exact resume, --prompt through the CLI and the API, the user's captioned
folders, and the bad inputs (one line, exit 2, nothing written)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from ganforge import api
from ganforge.cli import main
from ganforge.conditions import Captions, Vocabulary
from ganforge.config import load_config
from ganforge.data import scene_grammar as sg
from ganforge.data.generated import build, open_set
from ganforge.data.scenes import make
from ganforge.errors import GanforgeError
from ganforge.metrics import scenes as scene_metrics
from ganforge.train.checkpoint import list_checkpoints
from ganforge.train.loop import train as loop_train

TINY = ["model.g_width=4", "model.d_width=4", "model.z_dim=8", "train.batch_size=8", "train.threads=1",
        "train.log_every=1", "train.ckpt_every=3", "train.keep_ckpts=5", "train.sample_every=0",
        "train.progress=false", "eval.every=0", "eval.n_samples=16"]


@pytest.fixture(scope="module")
def scenes_set(tmp_path_factory):
    """A small built set (300 training scenes, 240 test captions): quicker than the 10,000 on-the-fly ones."""
    path = tmp_path_factory.mktemp("scenes") / "s.gfd"
    build("text:digit-scenes", path, seed=0, progress=False, n=300, test=120, side=32, captions=2)
    return path


@pytest.fixture(autouse=True)
def _small_metrics(monkeypatch):
    """The evaluator's classifier and matcher, trained for a few steps only (the cache is the session's)."""
    monkeypatch.setattr(scene_metrics, "CLASSIFIER_STEPS", 5)
    monkeypatch.setattr(scene_metrics, "MATCHER_STEPS", 5)


def test_caption_grammar_is_deterministic_and_names_every_attribute():
    rows = np.stack([sg.random_scene(np.random.default_rng(i)) for i in range(40)])
    a, b = sg.captions(rows, 3, seed=5), sg.captions(rows, 3, seed=5)
    assert (a == b).all() and not (a == sg.captions(rows, 3, seed=6)).all()
    for row, caps in zip(rows, a):
        for c in caps:
            words = c.split()
            assert sg.COLOURS[row[2]] in words
            assert str(row[1]) in words or sg.WORDS[row[1]] in words


def test_held_out_combinations_never_appear_in_training_and_are_half_the_test_split():
    arrays, record = make({"n": 400, "test": 40, "side": 32, "captions": 2}, seed=3)
    assert not any(sg.held_out(r) for r in arrays["attributes"])
    assert arrays["test_held_out"].sum() == 20 and record["held_out"] == sg.held_out_words()
    seen = {(r[1], r[2]) for r in arrays["attributes"]} | {(r[4], r[5]) for r in arrays["attributes"] if r[4] >= 0}
    assert (7, sg.COLOURS.index("red")) not in seen  # no red seven anywhere in training
    assert arrays["images"].shape == (400, 3, 32, 32) and arrays["images"].dtype == np.uint8


def test_the_recipe_builds_the_same_bytes_and_trains_from_the_set(tmp_path):
    opts = {"n": 60, "test": 8, "side": 32, "captions": 2}
    s1 = build("text:digit-scenes", tmp_path / "a.gfd", seed=1, progress=False, **opts)
    s2 = build("text:digit-scenes", tmp_path / "b.gfd", seed=1, progress=False, **opts)
    assert s1.manifest["arrays"] == s2.manifest["arrays"]
    assert open_set(tmp_path / "a.gfd", expect="text:digit-scenes").record["n_test_held_out"] == 4


def test_tokenizer_round_trips_and_names_the_closest_known_words():
    v = Vocabulary.from_captions(["a big red seven on the left", "a small blue 4 on the right"])
    ids = v.encode("A big, red seven on the LEFT!")
    assert v.decode(ids) == "a big red seven on the left"
    with pytest.raises(GanforgeError, match="'rde' is not in this run's vocabulary; closest known: red"):
        v.encode("a big rde seven")
    with pytest.raises(GanforgeError, match="empty prompt"):
        v.encode("  ,. ")
    with pytest.raises(GanforgeError, match="none of its words"):
        v.encode("zebra crossing")
    spec = Captions.from_texts(["a red 7", "a blue 4 on top"])
    assert spec.texts(spec.check(["a red 7", "a blue 4"])) == ["a red 7", "a blue 4"]


def test_the_matcher_ranks_the_true_caption_first_well_above_chance(monkeypatch, scenes_set):
    monkeypatch.setattr(scene_metrics, "MATCHER_STEPS", 80)
    data = api.build_data(load_config("dfgan_scenes", [f"data.path={scenes_set}"]))
    m = scene_metrics.scene_matcher(data)
    real = scene_metrics._test_images(data)[:100]
    caps = [str(data.test["captions"][i, 0]) for i in range(100)]
    assert scene_metrics.r_precision(m, real, caps, data, seed=0) > 0.1  # chance: 0.01


def _train(tmp_path, name, path, *extra, resume=False):
    cfg = load_config("dfgan_scenes", [*TINY, f"data.path={path}", *extra])
    (tmp_path / name).mkdir(exist_ok=True)
    loop_train(cfg, tmp_path / name, resume=resume, callbacks=api.callbacks_for(cfg))
    return [json.loads(x) for x in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]


def test_the_gan_trains_with_mismatched_negatives_and_resumes_exactly(tmp_path, scenes_set):
    whole = _train(tmp_path, "whole", scenes_set, "train.steps=6")  # step 1: DAMSM (20 %), steps 2-6: DF-GAN
    recs = [r for r in whole if "loss_d" in r]
    assert [r["phase"] for r in recs] == [1.0] + [2.0] * 5
    assert all(np.isfinite(r["d_mismatch"]) and np.isfinite(r["ma_gp"]) for r in recs[1:])
    assert any("attr_acc" in r and "r_precision" in r for r in whole)
    shutil.copytree(tmp_path / "whole", tmp_path / "half")
    for s, p in list_checkpoints(tmp_path / "half"):
        if s > 3:
            p.unlink()
    _train(tmp_path, "half", scenes_set, "train.steps=6", resume=True)
    a = torch.load(list_checkpoints(tmp_path / "whole")[-1][1], weights_only=True)
    b = torch.load(list_checkpoints(tmp_path / "half")[-1][1], weights_only=True)
    for key in ("G", "D", "opt_g", "opt_d", "text2image"):
        assert str(a[key]) == str(b[key]), key
    # --prompt through the CLI and the API
    run = tmp_path / "whole"
    assert main(["sample", str(run), "--prompt", "a small blue 4 on the right", "--n", "4",
                 "--out", str(tmp_path / "grid.png")]) == 0
    assert (tmp_path / "grid.png").is_file()
    (tmp_path / "p.txt").write_text("a big red seven on the left\n\na green 3 above a blue five\n")
    assert main(["sample", str(run), "--prompts", str(tmp_path / "p.txt"), "--n", "2",
                 "--out", str(tmp_path / "many.npy")]) == 0
    assert np.load(tmp_path / "many.npy").shape == (4, 3, 32, 32)
    x = api.load(run).sample(3, seed=1, prompt="a small blue 4 on the right")
    assert x.shape == (3, 3, 32, 32) and torch.equal(x, api.load(run).sample(3, seed=1, prompt="a small blue 4 on the right"))
    # bad prompts: one line, exit 2, nothing written
    for prompt, words in (("", "empty prompt"), ("zebra crossing", "none of its words"),
                          ("a small blu 4", "'blu' is not in this run's vocabulary")):
        out = tmp_path / "bad.png"
        assert main(["sample", str(run), "--prompt", prompt, "--n", "2", "--out", str(out)]) == 2
        assert not out.exists()
    with pytest.raises(GanforgeError, match="'blu'"):
        api.load(run).sample(2, prompt="a small blu 4")
    assert api.load(run).doctor().verdict  # the doctor reads a text run
    _the_boards_sampler_answers_prompts(run)
    assert main(["export", str(run), "--format", "safetensors", "--out", str(tmp_path / "g.safetensors")]) == 2
    assert not (tmp_path / "g.safetensors").exists()


def _the_boards_sampler_answers_prompts(run):
    """The board's sampler (report/tryout.py) offers a prompt field on a text run and draws one
    row per typed prompt, the same images as ``sample --prompt``; a word it never saw is one line."""
    import io

    from PIL import Image

    from ganforge.report import board_pages, tryout

    r = tryout.Runs().get(run)
    opts = tryout.options(r)
    assert opts["prompt"] and opts["classes"] is None
    bare = tryout.check(r, tryout.parse_request(tryout.default_query(opts)))  # a bare page: the run's own prompts
    assert bare.prompts and len(bare.prompts) <= 4
    query = {"prompt": ["a small blue 4 on the right; a big red seven on the left"], "n": ["3"], "seed": ["1"]}
    req = tryout.check(r, tryout.parse_request(query))
    assert req.prompts == ("a small blue 4 on the right", "a big red seven on the left")
    png = Image.open(io.BytesIO(tryout.sample_png(r, req)))
    assert png.text["prompts"] == "a small blue 4 on the right\na big red seven on the left"
    page = board_pages.sampler("whole", r.step, opts, query, req, None)
    assert 'name="prompt"' in page and "one row per prompt" in page
    want = api.load(run).sample(3, seed=1, prompt=list(req.prompts))
    assert torch.equal(want, r.generate(3, 1, prompt=list(req.prompts)))
    with pytest.raises(GanforgeError, match="'blu'"):
        tryout.check(r, tryout.parse_request({"prompt": ["a small blu 4"]}))
    with pytest.raises(GanforgeError, match="at most"):
        tryout.parse_request({"prompt": [";".join(["a 4"] * 9)]})


def test_the_oracle_is_the_same_g_conditioned_on_attributes(tmp_path, scenes_set):
    recs = _train(tmp_path, "oracle", scenes_set, "data.name=digit_scenes_attributes", "train.steps=2")
    assert [r["phase"] for r in recs if "loss_d" in r] == [2.0, 2.0]  # no text encoder to pre-train
    ckpt = torch.load(list_checkpoints(tmp_path / "oracle")[-1][1], weights_only=True)
    assert not any(k.startswith("text.") for k in ckpt["G"])


def test_the_fusion_blocks_batch_norm_and_the_projection_head_are_options(tmp_path, scenes_set):
    from ganforge.models.dfgan import DFGenerator, dfgan

    def models(*over):
        cfg = load_config("dfgan_scenes", [*TINY, f"data.path={scenes_set}", "data.name=digit_scenes_attributes", *over])
        spec = type("Spec", (), {"kind": "attributes", "size": 41})()
        return dfgan(cfg.model, (3, 32, 32), 0, spec)

    G, D = models()  # the preset: batch norm in G's fusion blocks, DF-GAN's concatenating head
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in G.modules()) and D.project is None
    G, D = models("model.g_norm=none", "model.d_cond=projection")
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in G.modules()) and D.project is not None
    assert isinstance(G.synth, DFGenerator)
    with torch.no_grad():  # the projection adds <W c, sum_xy leaky(h)> to the concatenating head's logit
        D.project.weight.normal_()
        x, c = torch.randn(2, 3, 32, 32), torch.eye(41)[:2]
        with_term, h, project = D(x, c), D.features(x), D.project
        D.project = None
        term = (project(c) * torch.nn.functional.leaky_relu(h, 0.2).sum((2, 3))).sum(1)
        assert term.abs().min() > 1e-3 and torch.allclose(with_term, D(x, c) + term, atol=1e-5)
        D.project = project
    recs = _train(tmp_path, "proj", scenes_set, "data.name=digit_scenes_attributes", "train.steps=2",
                  "model.d_cond=projection")
    assert all(np.isfinite(r["loss_d"]) for r in recs if "loss_d" in r)
    with pytest.raises(GanforgeError, match="model.g_norm=instance: model.name=dfgan offers default, none, batch"):
        api.train(preset="dfgan_scenes", overrides={"data.path": str(scenes_set), "model.g_norm": "instance",
                                                     "train.steps": 1}, out=tmp_path / "bad")


def _folder(tmp_path, rows, images=("a.png", "b.png")):
    from PIL import Image

    d = tmp_path / "caps"
    d.mkdir()
    for name in images:
        Image.fromarray(np.full((20, 20, 3), 200, dtype=np.uint8)).save(d / name)
    (d / "captions.csv").write_text("file,caption\n" + "".join(f"{f},{c}\n" for f, c in rows))
    return d


def test_a_captioned_folder_skips_and_counts_bad_rows(tmp_path):
    d = _folder(tmp_path, [("a.png", "a grey square"), ("b.png", ""), ("gone.png", "a missing one"),
                           ("b.png", "another grey square")])
    with pytest.warns(Warning, match="skipped 2 caption row.*1 empty caption, 1 missing image"):
        data = api.build_data(load_config("dfgan_scenes", ["data.name=captioned", f"data.path={d}"]))
    assert data.info["skipped"] == {"empty caption": 1, "missing image": 1} and len(data.images) == 2


def test_a_caption_file_with_only_missing_images_is_one_line_and_writes_nothing(tmp_path, capsys):
    d = _folder(tmp_path, [("x.png", "a red 7"), ("y.png", "a blue 4")], images=())
    out = tmp_path / "run"
    assert main(["train", "--preset", "dfgan_scenes", "--out", str(out), "data.name=captioned",
                 f"data.path={d}", "train.progress=false"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no usable captioned image (2 missing image)" in err and not out.exists()
