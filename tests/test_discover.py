"""``ganforge keys``, ``ganforge presets`` and ``ganforge card``: read from the source of truth."""

import re
from dataclasses import fields, is_dataclass
from importlib import resources

import pytest
import yaml

import ganforge
from conftest import TINY_IMAGES
from ganforge.cli import main
from ganforge.config import Config
from ganforge.discover import config_keys, presets


def _leaves(tp, prefix=""):
    from typing import get_type_hints

    out = []
    for f in fields(tp):
        t = get_type_hints(tp)[f.name]
        if is_dataclass(t):
            out += _leaves(t, f"{prefix}{f.name}.")
        elif f.name == "reg":
            out += [f"reg.NAME.{n}" for n in ("weight", "interval")]
        elif f.name == "columns":  # data.columns: a dict of plain values, one key per column
            out.append(f"{prefix}{f.name}.NAME")
        else:
            out.append(f"{prefix}{f.name}")
    return out


def test_every_config_key_is_listed_with_type_default_and_meaning():
    keys = {k.key: k for k in config_keys()}
    assert list(keys) == _leaves(Config)
    missing = [k for k, info in keys.items() if not info.meaning]
    assert not missing, f"config keys without a comment in config.py: {missing}"
    steps = keys["train.steps"]
    assert (steps.type, steps.default) == ("int", Config().train.steps) and "generator updates" in steps.meaning
    assert keys["data.path"].type == "str or null" and keys["optim.g_betas"].default == [0.5, 0.99]
    assert "Inception" in keys["eval.inception_weights"].meaning  # a comment above the field


def test_keys_command_and_a_section(capsys):
    assert main(["keys", "train"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^train\.steps\s+int\s+= 5000\s+generator updates", out, re.M)
    assert "model.z_dim" not in out
    assert main(["keys", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "data, model" in err


def test_presets_describe_themselves_from_their_own_files(capsys):
    infos = {p.name: p for p in presets()}
    assert sorted(infos) == sorted(ganforge.config.preset_names())
    for name, p in infos.items():
        text = resources.files("ganforge").joinpath("presets", f"{name}.yaml").read_text()
        first_comment = text.splitlines()[0].lstrip("# ")
        assert first_comment.startswith(f"{name}:") and p.description.split()[0] in first_comment
        assert p.description.endswith(".") and "\n" not in p.description
        assert " on " in p.trains and "steps" in p.trains
    assert infos["digits"].trains.startswith("dcgan on digits at 16x16")
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "grid25\n    the best recipe we found for the 25-Gaussian grid" in out


def test_train_help_points_to_presets_and_keys(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "ganforge presets" in out and "ganforge keys" in out


def test_model_card_has_front_matter_and_every_section(tmp_path, capsys):
    run = ganforge.train("digits", TINY_IMAGES + ["train.steps=10", "train.ema_beta=0.9"], tmp_path / "r")
    assert main(["card", str(run.path), "--out", str(tmp_path / "MODEL_CARD.md")]) == 0
    text = (tmp_path / "MODEL_CARD.md").read_text()
    assert text.startswith("---\n")
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["library_name"] == "ganforge" and front["datasets"] == ["digits"]
    metrics = {m["type"]: m for m in front["model-index"][0]["results"][0]["metrics"]}
    assert "fid" in metrics and "digit classifier" in metrics["fid"]["name"]
    for heading in ("## Model", "## Training data", "## Training", "## Evaluation", "## Training diagnosis (ganforge doctor)",
                    "## Intended use", "## Limits", "## Responsible use"):
        assert f"\n{heading}\n" in text, heading
    assert "| train items | 1437 |" in text and re.search(r"\| sha256 \| [0-9a-f]{64} \|", text)
    assert "| hardware | device cpu" in text and "EMA of G" in text
    assert f"Verdict: **{run.doctor().verdict}**" in text
    assert "synthetic" in text and "watermark" in text and "not** Inception" in text
