"""Conditions (issue 30, item 4): class ids, table conditions, attributes and text behind one
protocol. Each kind: batch shapes, draws that repeat with the seed and follow the data's
frequencies, one-line validation errors; text: its mask and padding. Then the wiring: sources
name their spec, and the game draws G's conditions through it in the order it always did."""

from __future__ import annotations

import pytest
import torch

from ganforge.conditions import (Attributes, ClassIds, ConditionSpec, TableConditions, Text, TextBatch, check_condition,
                                 class_count, draw, n_classes, rows_of)
from ganforge.config import DataConfig, load_config
from ganforge.data.table import table as build_table
from ganforge.errors import GanforgeError


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def one_line(exc_info) -> str:
    msg = str(exc_info.value)
    assert msg and "\n" not in msg, f"not one line: {msg!r}"
    return msg


# ----------------------------------------------------------------------------- class ids


def test_class_ids_draw_uniformly_as_the_game_always_did():
    spec = ClassIds(10)
    y = spec.draw(7, gen(3))
    assert y.shape == (7,) and y.dtype == torch.int64
    assert torch.equal(y, torch.randint(10, (7,), generator=gen(3)))  # the same stream, number for number
    assert torch.equal(spec.draw(50, gen(1)), spec.draw(50, gen(1)))
    assert not torch.equal(spec.draw(50, gen(1)), spec.draw(50, gen(2)))
    freq = torch.bincount(spec.draw(40000, gen(0)), minlength=10).float() / 40000
    assert (freq - 0.1).abs().max() < 0.01


def test_class_ids_from_labels_follow_the_labels_frequencies():
    labels = torch.tensor([0] * 700 + [1] * 200 + [2] * 100)
    spec = ClassIds.from_labels(labels, 4)  # class 3 never occurs
    freq = torch.bincount(spec.draw(40000, gen(0)), minlength=4).float() / 40000
    assert torch.allclose(freq, torch.tensor([0.7, 0.2, 0.1, 0.0]), atol=0.01)
    assert torch.equal(spec.draw(9, gen(5)), spec.draw(9, gen(5)))


def test_class_ids_check_values_and_their_one_line_errors():
    spec = ClassIds(10, names=[f"c{i}" for i in range(10)])
    assert spec.check(3) == 3 and spec.check("4") == 4 and spec.check("c7") == 7
    assert torch.equal(spec.check(torch.tensor([1, 9])), torch.tensor([1, 9]))
    with pytest.raises(GanforgeError) as e:
        spec.check(12)
    assert one_line(e) == "--class 12: choose a class in 0..9"
    with pytest.raises(GanforgeError) as e:
        spec.check(-1, "--to-class")
    assert one_line(e).startswith("--to-class -1: choose a class in 0..9")
    with pytest.raises(GanforgeError) as e:
        spec.check(torch.tensor([2, 10]), "label")
    assert one_line(e) == "label=10: choose a class in 0..9"
    for bad in (2.5, True, "dog", torch.tensor([0.5])):
        with pytest.raises(GanforgeError) as e:
            spec.check(bad)
        one_line(e)
    assert torch.equal(spec.repeat(3, 4), torch.full((4,), 3))


def test_check_condition_is_the_one_check_and_refuses_unconditional_runs():
    with pytest.raises(GanforgeError) as e:
        check_condition(None, 3)
    assert one_line(e) == "--class 3: this run is not conditional (model.conditional=false)"
    assert check_condition(ClassIds(4), 3, "--label") == 3
    with pytest.raises(GanforgeError, match=r"^--label 4: choose a class in 0..3$"):
        check_condition(ClassIds(4), 4, "--label")
    assert draw(None, 5, gen()) is None and n_classes(None) == 0 and class_count(None) == 0


# ----------------------------------------------------------------------------- table conditions


@pytest.fixture(scope="module")
def penguins():
    return build_table(DataConfig(name="table", path="penguins", target="species"), 0)


def test_a_table_source_names_its_conditions(penguins):
    spec = penguins.condition_spec
    assert isinstance(spec, TableConditions) and isinstance(spec, ConditionSpec)
    assert spec.kind == "table" and spec.size == penguins.n_classes == len(penguins.cond) > 0
    assert n_classes(spec) == spec.size


def test_table_draws_a_column_then_a_category_by_log_frequency_or_by_frequency():
    # two columns: a (counts 90, 10) and b (counts 50, 30, 20); global ids 0, 1 | 2, 3, 4
    spec = TableConditions([([0, 1], [90, 10]), ([2, 3, 4], [50, 30, 20])])
    y = spec.draw(60000, gen(0))
    assert y.shape == (60000,) and y.dtype == torch.int64 and torch.equal(y, spec.draw(60000, gen(0)))
    freq = torch.bincount(y, minlength=5).double() / len(y)
    log_a, log_b = torch.log1p(torch.tensor([90.0, 10.0])), torch.log1p(torch.tensor([50.0, 30.0, 20.0]))
    want = torch.cat([log_a / log_a.sum(), log_b / log_b.sum()]).double() / 2  # each column half the time
    assert (freq - want).abs().max() < 0.01
    freq = torch.bincount(spec.draw(60000, gen(1), empirical=True), minlength=5).double() / 60000
    want = torch.tensor([0.9, 0.1, 0.5, 0.3, 0.2], dtype=torch.float64) / 2
    assert (freq - want).abs().max() < 0.01
    shared = TableConditions(spec.groups, col_p=[0.8, 0.2])  # data.target_share: column a 80 % of the time
    assert abs((shared.draw(40000, gen(2)) < 2).double().mean().item() - 0.8) < 0.01


def test_the_models_and_the_sources_table_draws_are_the_same_numbers(penguins):
    from ganforge.models.tabular import TabularGenerator

    G = TabularGenerator(8, 16, 1, penguins.layout)
    for empirical in (False, True):
        assert torch.equal(G.draw_labels(500, gen(4), empirical), penguins.condition_spec.draw(500, gen(4), empirical))


def test_a_table_row_holds_its_own_condition_an_image_does_not(penguins):
    spec = penguins.condition_spec
    x, y = penguins.sample(64)
    held = spec.held_by(x)  # (64,): each row's category in the first discrete column
    assert held.shape == (64,) and torch.equal(held, penguins.row_labels(x))
    start, width = spec.cond_spans[0]
    assert torch.equal(x[:, start : start + width].argmax(1) + spec.groups[0][0][0], held)
    assert ((held >= spec.groups[0][0][0]) & (held <= spec.groups[0][0][-1])).all()
    assert ClassIds(10).held_by(torch.zeros(3, 1, 8, 8)) is None
    assert Attributes(torch.zeros(2, 3)).held_by(torch.zeros(3, 1, 8, 8)) is None


def test_table_conditions_check_column_values_and_ids(penguins):
    spec = penguins.condition_spec
    k = spec.check("species=Adelie")
    assert k == penguins.condition("species", "Adelie") and 0 <= k < spec.size
    assert spec.check(0) == 0
    with pytest.raises(GanforgeError) as e:
        spec.check("species=Dodo")
    assert one_line(e).startswith("--condition species=Dodo: never seen in training; values: ")
    with pytest.raises(GanforgeError) as e:
        spec.check("bill_length_mm=3")
    assert "'bill_length_mm' is not a categorical column; those are: " in one_line(e)
    with pytest.raises(GanforgeError) as e:
        spec.check(spec.size)
    assert one_line(e).startswith(f"--condition {spec.size}: choose a category in 0..{spec.size - 1}")


# ----------------------------------------------------------------------------- attributes


def test_attributes_draw_the_datas_rows_at_their_frequencies():
    rows = torch.tensor([[1.0, 0.0, 1.0]] * 3 + [[0.0, 1.0, 0.0]])  # the first vector 3 times in 4
    spec = Attributes(rows, binary=True, names=["smiling", "young", "glasses"])
    assert spec.kind == "attributes" and spec.size == 3 and isinstance(spec, ConditionSpec)
    y = spec.draw(20000, gen(0))
    assert y.shape == (20000, 3) and y.dtype == torch.float32 and torch.equal(y, spec.draw(20000, gen(0)))
    assert abs(y[:, 0].mean().item() - 0.75) < 0.01
    assert ((y == rows[0]).all(1) | (y == rows[3]).all(1)).all()  # whole rows of the data, never mixed
    assert class_count(spec) == 0
    with pytest.raises(GanforgeError) as e:
        n_classes(spec)
    assert "conditions are attributes" in one_line(e)


def test_attributes_check_width_binary_values_and_finiteness():
    spec = Attributes(torch.zeros(2, 3), binary=True, names=["smiling", "young", "glasses"])
    assert torch.equal(spec.check([1, 0, 1]), torch.tensor([[1.0, 0.0, 1.0]]))
    assert spec.check(torch.ones(4, 3)).shape == (4, 3)
    assert torch.equal(spec.repeat(spec.check([0, 1, 1]), 2), torch.tensor([[0.0, 1.0, 1.0]] * 2))
    cases = {(1, 0): "expected 3 attribute values per row", (1, 0.5, 0): "young is 0.5; these attributes are 0 or 1",
             (1, float("nan"), 0): "finite", "x": "expected 3 numbers"}
    for value, says in cases.items():
        with pytest.raises(GanforgeError) as e:
            spec.check(list(value) if isinstance(value, tuple) else value, "--attributes")
        assert says in one_line(e)
    assert Attributes(torch.zeros(1, 2)).check([0.3, -2]).shape == (1, 2)  # not binary: any finite numbers


# ----------------------------------------------------------------------------- text


def corpus() -> Text:
    vocab = ["<pad>", "a", "red", "bird", "small", "blue", "flower"]
    return Text.from_ids([[1, 2, 3], [1, 4, 5, 6], [3]], len(vocab), max_len=5, vocab=vocab)


def test_text_batches_pad_after_each_text_and_mask_its_tokens():
    spec = corpus()
    b = spec.corpus
    assert b.tokens.shape == b.mask.shape == (3, 5) and len(b) == 3
    assert b.tokens[0].tolist() == [1, 2, 3, 0, 0] and b.mask[0].tolist() == [True, True, True, False, False]
    assert b.lengths.tolist() == [3, 4, 1]
    assert (b.tokens[~b.mask] == spec.pad_id).all()
    with pytest.raises(ValueError, match="prefix"):
        TextBatch(torch.ones(1, 3, dtype=torch.int64), torch.tensor([[True, False, True]]))
    with pytest.raises(ValueError, match="must both be"):
        TextBatch(torch.ones(2, 3, dtype=torch.int64), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="int64"):
        TextBatch(torch.ones(2, 3), torch.ones(2, 3, dtype=torch.bool))


def test_text_draws_the_datas_texts_with_their_masks():
    spec = corpus()
    assert spec.kind == "text" and spec.size == 7 and spec.max_len == 5 and isinstance(spec, ConditionSpec)
    assert spec.held_by(torch.zeros(2, 3, 8, 8)) is None  # an image does not carry its caption
    y = spec.draw(3000, gen(0))
    assert isinstance(y, TextBatch) and y.tokens.shape == y.mask.shape == (3000, 5)
    again = spec.draw(3000, gen(0))
    assert torch.equal(y.tokens, again.tokens) and torch.equal(y.mask, again.mask)
    counts = torch.bincount(y.lengths, minlength=5)[[1, 3, 4]].double() / 3000  # each text a third of the time
    assert (counts - 1 / 3).abs().max() < 0.03
    half = rows_of(y, lambda t: t[:10])  # a rank's rows of a global batch
    assert half.tokens.shape == (10, 5) and torch.equal(half.mask, y.mask[:10])
    assert torch.equal(y[2:4].tokens, y.tokens[2:4]) and y[0].tokens.shape == (1, 5)


def test_text_check_words_ids_and_its_one_line_errors():
    spec = corpus()
    t = spec.check("a blue flower")
    assert t.tokens.tolist() == [[1, 5, 6, 0, 0]] and t.mask.tolist() == [[True, True, True, False, False]]
    assert torch.equal(spec.check([1, 2, 3]).tokens, spec.corpus.tokens[:1])
    assert spec.check([[3], [1, 2]]).lengths.tolist() == [1, 2]
    assert torch.equal(spec.check(spec.corpus).tokens, spec.corpus.tokens)
    reps = spec.repeat(t, 4)
    assert reps.tokens.shape == (4, 5) and (reps.tokens == t.tokens).all()
    cases = {"a green bird": "'green' is not in this run's vocabulary", (1, 2, 3, 4, 5, 6): "at most 5",
             (1, 99): "token id 99", (1, 0, 2): "token id 0", (): "empty text"}
    for value, says in cases.items():
        with pytest.raises(GanforgeError) as e:
            spec.check(list(value) if isinstance(value, tuple) else value)
        assert says in one_line(e)
    ids_only = Text(spec.corpus, 7)
    with pytest.raises(GanforgeError, match="token ids"):
        ids_only.check("a bird")


# ----------------------------------------------------------------------------- wiring


def test_sources_name_their_conditions_and_n_classes_follows():
    from ganforge.build import build_data

    digits = build_data(load_config("digits", ["data.limit=200"]))
    assert isinstance(digits.condition_spec, ClassIds) and digits.n_classes == digits.condition_spec.size == 10
    grid = build_data(load_config("grid25"))
    assert grid.condition_spec is None and grid.n_classes == 0


def test_the_game_draws_gs_conditions_through_the_spec_in_the_old_order():
    from ganforge.build import build_data
    from ganforge.train.games import build_game

    cfg = load_config("digits", ["data.limit=200", "model.conditional=true", "model.g_width=8", "model.d_width=8"])
    data = build_data(cfg)
    game = build_game(cfg, data, torch.device("cpu"))
    assert game.policy.condition is data.condition_spec and game.policy.n_classes == 10
    old = torch.Generator().manual_seed(cfg.train.seed + 1)  # the game's noise generator, as seeded
    assert torch.equal(game.fake_labels(16), torch.randint(10, (16,), generator=old))
    plain = build_game(load_config("digits", ["data.limit=200", "model.g_width=8", "model.d_width=8"]), data,
                       torch.device("cpu"))
    assert plain.policy.condition is None and plain.fake_labels(4) is None


def test_a_conditional_run_needs_a_source_with_conditions():
    from ganforge.build import build_data, n_classes as run_classes

    cfg = load_config("grid25", ["model.conditional=true"])
    with pytest.raises(GanforgeError, match="needs a labelled dataset"):
        run_classes(cfg, build_data(cfg))



def test_generate_takes_a_text_spec_as_it_takes_class_ids():
    """A later text-conditioned G plugs into sampling unchanged: drawn texts, or one checked text."""
    from ganforge.conditions import Batch
    from ganforge.evaluation import generate
    from ganforge.priors import Prior

    class Captioned(torch.nn.Module):  # stands in for a text-to-image G: reads each text's length
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))

        def forward(self, z, y):
            assert isinstance(y, TextBatch) and y.tokens.shape == (len(z), 5)
            return z[:, :1] * 0 + self.w + y.lengths[:, None].float()  # (B, 1)

    spec, prior = corpus(), Prior("normal", 4)
    assert isinstance(spec.corpus, Batch) and not isinstance([1, 2], Batch)
    drawn = generate(Captioned(), prior, 30, 0, None, spec)[:, 0]
    assert torch.equal(drawn, generate(Captioned(), prior, 30, 0, None, spec)[:, 0])
    assert set(drawn.tolist()) <= {1.0, 3.0, 4.0} and len(set(drawn.tolist())) > 1  # the corpus' lengths
    one = generate(Captioned(), prior, 6, 0, None, spec, label=spec.check("a red bird"))[:, 0]
    assert one.tolist() == [3.0] * 6
    assert generate(Captioned(), prior, 6, 0, None, spec, label=spec.draw(6, gen(1)), batch_size=4).shape == (6, 1)
    attrs = Attributes(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), binary=True)

    class Attributed(Captioned):
        def forward(self, z, y):  # y (B, 2)
            return z[:, :1] * 0 + self.w + y[:, :1]

    assert generate(Attributed(), prior, 5, 0, None, attrs, label=attrs.check([1, 0]))[:, 0].tolist() == [1.0] * 5
    assert set(generate(Attributed(), prior, 40, 0, None, attrs)[:, 0].tolist()) == {0.0, 1.0}
