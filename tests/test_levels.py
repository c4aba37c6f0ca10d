"""Game levels (issue 36): the legend, VGLC text and windows, the generators, the agents on
hand-made levels, the GAN on one-hot tiles (a few steps, exact resume), sampling, the evaluator
and the latent search."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from ganforge.train.loop import train
from ganforge.cli import main
from ganforge.config import load_config
from ganforge.data.kinds.level_io import cut_windows, legend_from_json, level_text, parse_level, stitch
from ganforge.data.level_agents import AIR_MOVES, JUMP_H, play
from ganforge.data.level_gen import DUNGEON_LEGEND, PLATFORMER_LEGEND, make_dungeon, make_platformer
from ganforge.errors import GanforgeError
from ganforge.train.checkpoint import list_checkpoints

P, D = PLATFORMER_LEGEND, DUNGEON_LEGEND


def lv(text: str, legend=P) -> np.ndarray:
    return parse_level(text.strip("\n") + "\n", legend, "test")


# ---------------------------------------------------------------------------- legend and text


def test_legend_needs_a_start_and_a_goal_and_knows_its_fields():
    ok = {"-": {"name": "air"}, "X": {"name": "ground", "solid": True}, "M": {"name": "s", "start": True},
          "F": {"name": "g", "goal": True}}
    legend = legend_from_json(ok)
    assert legend.chars == "-XMF" and legend.empty == 0 and legend.mask("solid").tolist() == [0, 1, 0, 0]
    assert legend_from_json(legend.to_json()).to_json() == legend.to_json()  # round trip, colours included
    for drop, word in (("M", "start"), ("F", "goal")):
        with pytest.raises(GanforgeError, match=f"no {word} tile"):
            legend_from_json({k: v for k, v in ok.items() if k != drop})
    with pytest.raises(GanforgeError, match="unknown field 'sold'"):
        legend_from_json({**ok, "Y": {"sold": True}})
    with pytest.raises(GanforgeError, match="not one visible character"):
        legend_from_json({**ok, "XY": {"name": "two"}})
    with pytest.raises(GanforgeError, match="agent 'racing'"):
        legend_from_json({**ok, "agent": "racing"})


def test_parse_names_the_first_unknown_character_and_ragged_rows():
    with pytest.raises(GanforgeError, match=r"character 'Z' \(row 2, column 3\)"):
        lv("---\n--Z\n-Q-")
    with pytest.raises(GanforgeError, match="ragged rows: row 1 has 3 tiles, row 2 has 2"):
        lv("---\n--\n---")
    text = "--M\nXXX\n"
    assert level_text(lv(text), P) == text


def test_windows_cut_and_stitch_round_trip():
    level = np.random.default_rng(0).integers(0, len(P), (14, 84))
    wins = cut_windows(level, 28, 28, P.empty)
    assert wins.shape == (3, 14, 28) and (stitch(wins) == level).all()
    assert cut_windows(level, 28, 7, P.empty).shape == (9, 14, 28)
    short = cut_windows(level[:, :20], 28, 28, P.empty)  # padded on the right with the empty tile
    assert short.shape == (1, 14, 28) and (short[0, :, 20:] == P.empty).all()


# ---------------------------------------------------------------------------- the agents

FLAT = """
----------
----------
----------
----------
M-------F-
XXXXXXXXXX
"""


def _gap(width: int) -> str:
    rows = ["-" * 14] * 5 + ["M" + "-" * 11 + "F-", "XXXX" + "-" * width + "X" * (10 - width)]
    return "\n".join(rows)


def _wall(height: int) -> str:
    rows = ["-" * 8 for _ in range(7 - height)] + ["----[]--" for _ in range(height - 1)]
    rows.insert(len(rows) - height + 1, "----<>--")
    rows = rows[-7:]
    rows[-1] = "M" + rows[-1][1:6] + "F-"
    return "\n".join(rows + ["XXXXXXXX"])


def test_platformer_agent_on_hand_made_levels():
    assert (JUMP_H, AIR_MOVES) == (4, 5)
    p = play(lv(FLAT), P)
    assert p.playable and p.path[0] == (0, 4) and p.path[-1] == (8, 4) and p.jumps == 0
    assert play(lv(_gap(4)), P).playable  # the widest gap the jump model clears
    assert not play(lv(_gap(5)), P).playable  # one column wider: just too wide
    assert play(lv(_wall(4)), P).playable and play(lv(_wall(4)), P).jumps >= 1  # a pipe 4 high
    assert not play(lv(_wall(5)), P).playable  # one tile higher: unsolvable
    enemy = FLAT.replace("M-------F-", "M---E---F-")
    assert play(lv(enemy), P).jumps == 1  # jumped over
    walled = lv(enemy.replace("----------\n" * 4, "----X-----\n" * 4).replace("M---E", "M---X"))
    assert not play(walled, P).playable  # one tile (an enemy -> a wall) makes it unsolvable
    assert not play(lv(FLAT.replace("M-------F-", "M---M---F-")), P).playable  # two starts: not a level


def test_platformer_window_mode_crosses_from_first_to_last_column():
    win = lv("--------\n" * 6 + "XXXXXXXX")
    assert play(win, P).playable
    win[6, 2:6] = P.chars.index("-")  # a 4-column gap: clearable
    assert play(win, P).playable
    win[6, 6] = P.chars.index("-")  # 5 columns: just too wide
    assert not play(win, P).playable


DUN = """
WWWWWWW
WS.K.DG
WWWWWWW
"""


def test_dungeon_agent_needs_a_key_for_a_door():
    assert play(lv(DUN, D), D).playable
    assert not play(lv(DUN.replace("K", "."), D), D).playable  # no key: the door stays shut
    assert not play(lv(DUN.replace(".D", "WD"), D), D).playable  # one wall tile cuts the way
    assert not play(lv(DUN.replace("K.", "KL"), D), D).playable  # lava
    assert play(lv(DUN.replace("K.", "KE"), D), D).playable  # an enemy is fought, not a wall


def _scores(ids: np.ndarray, legend=D) -> np.ndarray:
    """G's scores for a map it is sure of: model space, +1 for the drawn tile, -1 elsewhere (C, H, W)."""
    return 2 * np.eye(len(legend))[ids].transpose(2, 0, 1) - 1


def test_repair_opens_the_wall_g_is_least_sure_of_and_nothing_else():
    from ganforge.apps.level_repair import repair_level

    walled = lv("WWWWWWW\nWS.W.GW\nW..W..W\nWWWWWWW", D)  # the wall at x=3 shuts the exit off
    assert not play(walled, D).playable
    for y in (1, 2):  # G half believes in floor at (3, y): that is the cell opened
        s = _scores(walled)
        s[D.chars.index("."), y, 3] = 0.8
        r = repair_level(walled, s, D)
        assert r.playable and r.changes == [(3, y, D.chars.index("W"), D.chars.index("."))]
        assert (r.ids != walled).sum() == 1 and play(r.ids, D).playable
    ok = lv(DUN, D)
    r = repair_level(ok, _scores(ok), D)  # a playable level comes back as it was
    assert r.playable and r.changes == [] and (r.ids == ok).all()
    shut = lv("WWWWW\nWSDGW\nWWWWW", D)  # a locked door and no key: the door, one tile, not three walls
    r = repair_level(shut, _scores(shut), D)
    assert r.playable and [c[:3] for c in r.changes] == [(2, 1, D.chars.index("D"))]
    keyed = lv("WWWWWWW\nWS.D.GW\nW.WWWWW\nWKWWWWW\nWWWWWWW", D)
    assert play(keyed, D).playable  # the key is reachable: nothing to repair
    lava = lv("WWWWW\nWSLGW\nWWWWW", D)
    assert repair_level(lava, _scores(lava), D).changes[0][:3] == (2, 1, D.chars.index("L"))


def test_repair_refuses_what_it_cannot_repair():
    from ganforge.apps.level_repair import repair_level, summary

    two = lv("WWWWWW\nWSWSGW\nWWWWWW", D)
    r = repair_level(two, _scores(two), D)
    assert not r.playable and "2 start(s)" in r.reason and (r.ids == two).all()
    assert summary([r]) == {"levels": 1, "playable_as_drawn": 0, "repaired": 0, "not_repaired": 1,
                            "tiles_changed": 0, "tiles_per_repaired_level": 0.0}
    win = lv("--------\n" * 6 + "XXXXXXXX")
    with pytest.raises(GanforgeError, match="top-down levels"):
        repair_level(win, _scores(win, P), P)


# ---------------------------------------------------------------------------- the decoder


def test_structured_decoder_places_the_tiles_every_map_holds_once_at_their_best_cell():
    from ganforge.data.levels import LevelData, decode_tiles, once_tiles

    maps = np.zeros((3, 2, 3), np.int64)  # tile 1 once in every map, tile 2 twice in one of them
    maps[:, 0, 0], maps[0, 1, 1], maps[0, 1, 2], maps[1, 1, 0] = 1, 2, 2, 2
    assert once_tiles(maps, 4) == (1,)  # tile 3 never: not once; tile 2: not in every map once
    x = torch.full((2, 4, 2, 3), -1.0)
    x[:, 0] = 0.5  # tile 0 wins every cell by argmax
    x[0, 1, 1, 2], x[0, 1, 0, 1] = 0.2, 0.1  # tile 1 is nowhere the argmax; its best cell is (1, 2)
    plain, once = decode_tiles(x, ()), decode_tiles(x, (1,))
    assert (plain == 0).all()  # argmax alone never draws it
    assert once[0, 1, 2] == 1 and (once == 1).sum(axis=(1, 2)).tolist() == [1, 1] and (once[0] != 1).sum() == 5
    x[:, 3] = 0.9  # a tile only held as a once-tile elsewhere wins nothing else: plain argmax over the rest
    assert (decode_tiles(x, (1, 3)) == 3).sum(axis=(1, 2)).tolist() == [1, 1]

    arrays, rec = make_dungeon({"levels": 12}, 0)  # learnt from the counts: start, exit and key
    data = LevelData(arrays["windows"], np.zeros(12, bool), legend_from_json(rec["legend"]), 0, {})
    assert sorted(D.chars[t] for t in data.once) == ["G", "K", "S"]
    torch.manual_seed(0)
    ids = data.decode(torch.randn(5, len(D), 16, 16)).argmax(1)  # (5, 16, 16): one-hot back to ids
    for c in "SGK":
        assert ((ids == D.chars.index(c)).sum((1, 2)) == 1).all()

    from ganforge.apps.level_search import Searcher, parse_objective

    class Flat(torch.nn.Module):  # scores that never pick a start or an exit by argmax
        def forward(self, z, y=None):
            x = torch.full((len(z), len(D), 16, 16), -1.0)
            x[:, D.chars.index(".")] = 1.0
            return x + 0.01 * z[:, :1, None, None]

    s = Searcher(Flat(), D, parse_objective("playable"), 4, 3.0, once=data.once)  # search decodes the same way
    found = s.levels(np.zeros((2, 4), np.float32))
    assert all((found == D.chars.index(c)).sum() == 2 for c in "SGK")


# ---------------------------------------------------------------------------- generators


def test_generators_are_deterministic_and_playable():
    a, rec = make_platformer({"levels": 2}, 3)
    b, _ = make_platformer({"levels": 2}, 3)
    c, _ = make_platformer({"levels": 2}, 4)
    assert all((a[k] == b[k]).all() for k in a) and not (a["levels"] == c["levels"]).all()
    assert a["windows"].shape == (8, 14, 28) and rec["legend"]["M"]["start"]
    assert all(play(w.astype(np.int64), P).playable for w in a["windows"])
    d1, _ = make_dungeon({"levels": 5}, 1)
    d2, _ = make_dungeon({"levels": 5}, 1)
    assert (d1["levels"] == d2["levels"]).all() and d1["levels"].shape == (5, 16, 16)
    assert all(play(x.astype(np.int64), D).playable for x in d1["levels"])


def test_dataset_build_writes_a_set_the_dataset_reads(tmp_path):
    out = tmp_path / "d.gfd"
    assert main(["dataset", "build", "levels:dungeon", "--out", str(out), "--levels", "30", "--seed", "2"]) == 0
    cfg = load_config("ring8", ["data.name=dungeon", f"data.path={out}"])
    from ganforge.build import build_data

    data = build_data(cfg)
    assert data.shape == (8, 16, 16) and len(data.train_ids) + len(data.holdout_ids) == 30


# ---------------------------------------------------------------------------- the user's folder: bad input


def _folder(tmp_path, levels: dict, legend=None):
    d = tmp_path / "lv"
    d.mkdir(exist_ok=True)
    if legend is not False:
        (d / "legend.json").write_text(json.dumps(legend or P.to_json()))
    for name, text in levels.items():
        (d / name).write_text(text)
    return d


@pytest.mark.parametrize("case,message", [
    ("unknown", "character 'Z'"), ("ragged", "ragged rows"), ("empty", "no .txt levels"),
    ("nolegend", "no legend.json"), ("nostart", "no start tile"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, case, message):
    good = "-" * 30 + "\n" + "X" * 30 + "\n"
    levels = {"unknown": {"a.txt": good.replace("-", "Z", 1)}, "ragged": {"a.txt": good + "XX\n"},
              "empty": {}, "nolegend": {"a.txt": good}, "nostart": {"a.txt": good}}[case]
    legend = {"nolegend": False, "nostart": {k: v for k, v in P.to_json().items() if k != "M"}}.get(case)
    d = _folder(tmp_path, levels, legend)
    out = tmp_path / "run"
    assert main(["train", "data.name=levels", f"data.path={d}", "train.steps=2", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and not out.exists()


# ---------------------------------------------------------------------------- the GAN

TINY = ["model.g_width=8", "model.d_width=8", "model.z_dim=8", "train.batch_size=8", "train.threads=1",
        "train.log_every=2", "train.tensorboard=false", "train.ckpt_every=4", "train.keep_ckpts=5",
        "train.sample_every=0", "train.progress=false", "eval.every=0", "eval.n_samples=20",
        "optim.schedule=constant"]


def _run(tmp_path, name, *extra, resume=False, data=("data.name=levels",)):
    cfg = load_config("levels_platformer", [*data, *TINY, *extra])
    (tmp_path / name).mkdir(exist_ok=True)
    train(cfg, tmp_path / name, resume=resume, callbacks=[])
    return [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def user_levels(tmp_path_factory):
    """A folder of 12 small platformer levels (VGLC text) with its legend."""
    d = tmp_path_factory.mktemp("vglc")
    arrays, _ = make_platformer({"levels": 12, "width": 28}, 0)
    for i, x in enumerate(arrays["levels"]):
        (d / f"level{i}.txt").write_text(level_text(x.astype(np.int64), P))
    (d / "legend.json").write_text(json.dumps(P.to_json()))
    return d


def test_gan_trains_samples_valid_tiles_and_resumes_exactly(tmp_path, user_levels):
    data = ("data.name=levels", f"data.path={user_levels}")
    whole = _run(tmp_path, "whole", "train.steps=8", data=data)
    shutil.copytree(tmp_path / "whole", tmp_path / "half")
    for s, p in list_checkpoints(tmp_path / "half"):
        if s > 4:
            p.unlink()
    half = _run(tmp_path, "half", "train.steps=8", resume=True, data=data)
    a = torch.load(list_checkpoints(tmp_path / "whole")[-1][1], weights_only=True)
    b = torch.load(list_checkpoints(tmp_path / "half")[-1][1], weights_only=True)
    assert a["step"] == b["step"] == 8
    for key in ("G", "D", "opt_g", "opt_d", "rng"):
        assert json.dumps(str(a[key])) == json.dumps(str(b[key])), key
    for k in a["G"]:
        assert torch.equal(a["G"][k], b["G"][k]), k
    lines = lambda recs: [r for r in recs if "loss_d" in r]  # noqa: E731
    assert lines(whole) == lines(half) and lines(whole)
    run = tmp_path / "whole"
    assert main(["sample", str(run), "--n", "3", "--out", str(tmp_path / "s.txt")]) == 0
    text = (tmp_path / "s.txt").read_text()
    assert set(text) <= set(P.chars + "\n") and len(text.split("\n\n")) == 3
    assert (tmp_path / "s.provenance.json").is_file()
    assert main(["sample", str(run), "--n", "2", "--out", str(tmp_path / "dir") + "/"]) == 0
    assert sorted(p.name for p in (tmp_path / "dir").iterdir()) == [
        "000000.png", "000000.txt", "000001.png", "000001.txt", "manifest.json"]
    assert main(["sample", str(run), "--length", "60", "--out", str(tmp_path / "long.txt")]) == 0
    assert main(["sample", str(run), "--n", "2", "--out", str(tmp_path / "r.txt"), "--repair"]) == 2  # platformer
    assert main(["sample", str(run), "--length", "60", "--out", str(tmp_path / "r.txt"), "--repair"]) == 2
    assert not (tmp_path / "r.txt").exists()
    rows = (tmp_path / "long.txt").read_text().splitlines()
    assert len(rows) == 14 and {len(r) for r in rows} == {60}


def test_sample_repair_writes_playable_dungeons_and_says_what_it_changed(tmp_path, capsys):
    from ganforge.api import load

    cfg = load_config("levels_dungeon", [*TINY, "train.steps=2", "data.name=dungeon"])
    (tmp_path / "d").mkdir()
    train(cfg, tmp_path / "d", callbacks=[])
    assert main(["sample", str(tmp_path / "d"), "--n", "6", "--out", str(tmp_path / "rep") + "/", "--repair"]) == 0
    line = capsys.readouterr().out
    man = json.loads((tmp_path / "rep" / "manifest.json").read_text())
    counts = man["repair"]
    assert f"{counts['repaired']} repaired" in line and counts["levels"] == 6 and counts["not_repaired"] == 0
    assert counts["repaired"] >= 1  # a 2-step G walls rooms off: the checks below see real changes
    drawn = load(tmp_path / "d").generator.generate(6, 0).argmax(1).numpy()  # what `sample` draws unrepaired
    for i in range(6):
        ids = parse_level((tmp_path / "rep" / f"{i:06d}.txt").read_text(), D, "x")
        assert play(ids, D).playable
        changed = [tuple(c) for c in man["repair_changes"].get(str(i), [])]
        assert {(x, y) for x, y, _, _ in changed} == {(int(x), int(y)) for y, x in np.argwhere(ids != drawn[i])}
    assert sum(len(c) for c in man["repair_changes"].values()) == counts["tiles_changed"]


def test_evaluator_reports_playability_kl_and_copies(user_levels):
    from ganforge.build import build_data
    from ganforge.data.kinds.level import one_hot
    from ganforge.metrics.evaluators import EVALUATORS, headline

    data = build_data(load_config("levels_platformer", ["data.name=levels", f"data.path={user_levels}"]))
    copies = one_hot(data.train_ids[:4], data.shape[0])
    m = EVALUATORS.get("levels")(copies, data, seed=0)
    assert m["exact_copies"] == 4 and m["playable"] == 1.0 and m["playable_real"] == 1.0
    assert m["kl3"] >= 0 and m["kl3_real_split"] >= 0 and 0 <= m["playable_random"] < 1
    assert m["kl3_random"] > 3 * m["kl3_real_split"]  # random tiles: told apart by their 3 x 3 patterns
    assert "playable 100.0 %" in headline(m, "levels")


def test_search_improves_its_objective(tmp_path, user_levels):
    from ganforge.apps.level_search import Searcher, cma_search, map_elites, parse_objective, search
    from ganforge.trained import load_run

    class Linear(torch.nn.Module):  # a G whose maps vary with z (a 2-step run's barely do)
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Linear(8, len(P) * 14 * 28)

        def forward(self, z, y=None):
            return self.w(z).view(-1, len(P), 14, 28)

    torch.manual_seed(0)
    s = Searcher(Linear(), P, parse_objective("enemies>=60 and coins>=60"), 8, 3.0)
    r = cma_search(s, 80, 1, seed=0)
    gens = r.archive["generations"]
    assert r.evals <= 80 and gens[-1]["evals"] == r.evals
    assert min(g["best_violation"] for g in gens) < gens[0]["best_violation"]  # it improved
    s.evals = 0
    me = map_elites(s, 64, 1, 0, ("gaps", "gap_columns"), 32)
    assert me.archive["filled"] >= 2 and me.evals == 64

    _run(tmp_path, "r", "train.steps=2", data=("data.name=levels", f"data.path={user_levels}"))
    r = search(load_run(tmp_path / "r"), "playable and enemies>=1", 20, tmp_path / "best", n=2, seed=0)
    assert r.evals <= 20 and json.loads((tmp_path / "best" / "archive.json").read_text())["budget"] == 20
    assert (tmp_path / "best" / "level_000.png").is_file() and (tmp_path / "best" / "manifest.json").is_file()
    with pytest.raises(GanforgeError, match="unknown feature 'bogus'"):
        parse_objective("playable and bogus>=2")
