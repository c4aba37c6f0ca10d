import dataclasses

import pytest

from ganforge.build import check_names
from ganforge.config import Config, load_config, preset_names, to_dict
from ganforge.errors import GanforgeError


def test_presets_ship_and_load():
    names = preset_names()
    for required in ("grid25", "grid25_vanilla", "ring8", "ring8_vanilla"):
        assert required in names
    for name in names:
        cfg = load_config(name)
        check_names(cfg)
        assert isinstance(cfg, Config)


def test_overrides_are_typed_and_frozen():
    cfg = load_config("ring8", ["train.steps=123", "optim.g_betas=[0.0,0.9]", "reg.r1.weight=2", "loss.name=hinge"])
    assert cfg.train.steps == 123 and cfg.optim.g_betas == (0.0, 0.9)
    assert cfg.reg["r1"].weight == 2.0 and cfg.reg["r1"].interval == 1
    assert cfg.data.name == "ring8" and cfg.loss.name == "hinge"
    with pytest.raises(dataclasses.FrozenInstanceError, match="steps"):
        cfg.train.steps = 5  # frozen


def test_round_trip_through_a_plain_dict():
    cfg = load_config("grid25", ["reg.r1.weight=1"])
    assert load_config(base=to_dict(cfg)) == cfg


@pytest.mark.parametrize(
    "override, words",
    [
        ("train.stepz=5", ["train.stepz", "steps"]),
        ("train.steps=many", ["train.steps", "many"]),
        ("train.steps=0", ["train.steps", ">= 1"]),
        ("optim.d_lr=nan", ["optim.d_lr", "finite"]),
        ("optim.g_lr=inf", ["optim.g_lr", "finite"]),
        ("optim.g_betas=[0.5,1.5]", ["optim.g_betas", "[0, 1)"]),
        ("data.target_share=1", ["data.target_share", "[0, 1)"]),
        ("reg.r1.wieght=1", ["reg.r1.wieght"]),
        ("train=3", ["train"]),
        ("nonsense", ["key=value"]),
    ],
)
def test_bad_values_give_one_line_naming_the_key(override, words):
    with pytest.raises(GanforgeError) as e:
        load_config("grid25", [override])
    msg = str(e.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg


@pytest.mark.parametrize(
    "override, valid",
    [("loss.name=wgan", "wgan_gp"), ("data.name=mnist", "grid25"), ("model.name=resnet", "mlp"), ("reg.r3.weight=1", "r1"),
     ("optim.name=rmsprop", "adam, sgd"), ("model.prior=cauchy", "normal, uniform"), ("optim.schedule=step", "cosine"),
     ("optim.impl=magic", "foreach"), ("train.precision=fp8", "bf16"), ("augment.policy=rotate", "translation"),
     ("reg.path_lenght.weight=1", "path_length")],
)
def test_unknown_registry_names_list_the_valid_ones(override, valid):
    cfg = load_config("grid25", [override])
    with pytest.raises(GanforgeError, match=valid):
        check_names(cfg)


def test_unknown_preset(tmp_path):
    with pytest.raises(GanforgeError, match="grid25"):
        load_config("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed")
    with pytest.raises(GanforgeError, match="YAML"):
        load_config(str(bad))
    user = tmp_path / "mine.yaml"
    user.write_text("train:\n  steps: 7\n")
    assert load_config(str(user)).train.steps == 7


def test_a_model_that_gives_way_to_the_datas_own_leaves_its_d_norm_behind():
    """The default job's D has spectral norm; training points from it gives the MLP the kind's
    own model with no normalisation, unless the overrides name one."""
    from ganforge.api import resolve_config

    assert resolve_config(None, []).model.d_norm == "spectral"
    cfg = resolve_config(None, ["data.name=points"])
    assert (cfg.model.name, cfg.model.d_norm) == ("mlp", "none")
    assert resolve_config(None, ["data.name=points", "model.d_norm=layer"]).model.d_norm == "layer"
    assert resolve_config("digits_conditional", ["model.d_norm=batch"]).model.d_norm == "batch"  # a model that stays
