"""Tables (issue 15): the transform, training-by-sampling, sampled CSVs, the table evaluation,
exact resume and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from ganforge.cli import main
from ganforge.config import DataConfig
from ganforge.data.table import table as build_table
from ganforge.data.table_transform import TableTransformer
from ganforge.metrics.table import quality, table_metrics
from ganforge.train.checkpoint import load_checkpoint

TINY = ["model.z_dim=8", "model.g_width=16", "model.d_width=16", "model.g_depth=1", "model.d_depth=1",
        "model.pac=2", "train.batch_size=20", "train.log_every=10", "train.ckpt_every=10", "train.progress=false",
        "eval.n_samples=60", "train.threads=1", "doctor.probe_n=20"]


def mixed(n=120, seed=0) -> pd.DataFrame:
    g = np.random.default_rng(seed)
    age = g.integers(18, 90, n)
    df = pd.DataFrame({
        "age": age,
        "income": np.round(age * 1000 + g.normal(0, 3000, n), 2),
        "city": g.choice(["Oslo", "Lima", "Pune"], n),
        "member": g.random(n) < 0.4,
        "rare": np.where(np.arange(n) < 6, "yes", "no"),
    })
    df.loc[[3, 40], "income"] = np.nan
    df.loc[[5, 7, 9], "city"] = np.nan
    return df


def write(df, tmp_path, name="t.csv"):
    p = tmp_path / name
    df.to_csv(p, index=False)
    return str(p)


def test_transform_round_trip_is_exact_for_categories_and_integers():
    df = mixed()
    types = {"age": "integer", "income": "continuous", "city": "categorical", "member": "boolean",
             "rare": "categorical"}
    tf = TableTransformer(types).fit(df)
    back = tf.inverse(tf.transform(df))
    assert list(back.columns) == list(df.columns)
    assert (back["age"].to_numpy() == df["age"].to_numpy()).all() and back["age"].dtype == np.int64
    assert back["city"].isna().tolist() == df["city"].isna().tolist()
    assert (back["city"].dropna() == df["city"].dropna()).all()
    assert (back["member"] == df["member"]).all() and back["member"].dtype == bool
    assert (back["rare"] == df["rare"]).all()
    assert back["income"].isna().tolist() == df["income"].isna().tolist()
    np.testing.assert_allclose(back["income"].dropna(), df["income"].dropna(), rtol=1e-6)


def test_decoding_draws_categories_at_the_generators_probabilities():
    """G's softmax (0.3, 0.7) over two cities means 30 % / 70 %, not 'always the second' (argmax),
    and the same seed decodes the same way."""
    df = mixed()
    types = {"age": "integer", "income": "continuous", "city": "categorical", "member": "boolean",
             "rare": "categorical"}
    tf = TableTransformer(types).fit(df)
    span = next(sp for sp in tf.spans if sp.column == "city")
    rows = np.repeat(tf.transform(df.iloc[:1]), 4000, axis=0)
    rows[:, span.start : span.start + span.width] = 0
    rows[:, span.start], rows[:, span.start + 1] = 0.3, 0.7
    first, second = tf.columns[[c.name for c in tf.columns].index("city")].categories[:2]
    city = tf.inverse(rows)["city"]
    assert (city == first).mean() == pytest.approx(0.3, abs=0.03)
    assert (city == second).mean() == pytest.approx(0.7, abs=0.03)
    assert (tf.inverse(rows)["city"] == city).all() and not (tf.inverse(rows, seed=5)["city"] == city).all()


def test_conditions_sample_rare_categories_at_the_log_frequency_rate(tmp_path):
    data = build_table(DataConfig(name="table", path=write(mixed(400), tmp_path), target="city"), 0)
    counts = dict(zip(data.train["rare"], [0] * 2))
    counts = data.train["rare"].value_counts().to_dict()
    k = data.condition("rare", "yes")
    n_cols = len(data.layout["groups"])  # city (with missing), member, rare
    want = np.log1p(counts["yes"]) / (np.log1p(counts["yes"]) + np.log1p(counts["no"])) / n_cols
    y = data.draw_conditions(40000, torch.Generator().manual_seed(1))
    assert abs((y == k).float().mean().item() - want) < 0.01
    assert counts["yes"] / len(data.train) < want / 2  # far above its rate in the table
    x, y = data.sample(200)  # the rows served hold the category they were drawn for
    rows = data.to_frame(x)
    assert (rows["rare"][(y == k).numpy()] == "yes").all()


def test_target_share_draws_the_target_column_at_its_rate_for_data_and_generator(tmp_path):
    path = write(mixed(400), tmp_path)
    data = build_table(DataConfig(name="table", path=path, target="city", target_share=0.6), 0)
    city = [k for k, (col, _) in enumerate(data.cond) if col.name == "city"]  # its categories and its missing state
    y = data.draw_conditions(40000, torch.Generator().manual_seed(1))
    assert abs(torch.isin(y, torch.tensor(city)).float().mean().item() - 0.6) < 0.02  # uniform would be ~1/3
    from ganforge.models.tabular import TabularGenerator

    G = TabularGenerator(8, 16, 1, data.layout)  # the generator's own conditions follow the same rate
    y = G.draw_labels(40000, torch.Generator().manual_seed(2))
    assert abs(torch.isin(y, torch.tensor(city)).float().mean().item() - 0.6) < 0.02
    numeric = build_table(DataConfig(name="table", path=path, target="income", target_share=0.6), 0)
    assert "col_p" not in numeric.layout  # a numeric target: every discrete column alike


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tab")
    csv = write(mixed(), root)
    assert main(["train", "--preset", "table_demo", "--out", str(root / "r"), f"data.path={csv}", "data.target=city",
                 *TINY, "train.steps=20"]) == 0
    return root


def test_sampled_csv_keeps_names_types_and_bounds(table_run, capsys):
    df = mixed()
    out = table_run / "s.csv"
    assert main(["sample", str(table_run / "r"), "--n", "300", "--out", str(out)]) == 0
    s = pd.read_csv(out)
    assert list(s.columns) == list(df.columns) and len(s) == 300
    assert s["age"].dtype == np.int64 and s["age"].between(df["age"].min(), df["age"].max()).all()
    inc = s["income"].dropna()
    assert inc.between(df["income"].min(), df["income"].max()).all()
    assert set(s["city"].dropna()) <= set(df["city"].dropna()) and set(s["member"]) <= {True, False}
    assert (out.parent / "s.csv.provenance.json").is_file() or list(out.parent.glob("s*.json"))
    out2 = table_run / "c.csv"
    assert main(["sample", str(table_run / "r"), "--n", "20", "--out", str(out2), "--condition", "city=Lima"]) == 0
    assert (pd.read_csv(out2)["city"] == "Lima").all()
    assert main(["sample", str(table_run / "r"), "--n", "5", "--out", str(table_run / "x.csv"),
                 "--condition", "city=Paris"]) == 2
    assert "Paris" in capsys.readouterr().err and not (table_run / "x.csv").exists()
    assert main(["evaluate", str(table_run / "r"), "--n", "100"]) == 0
    assert "quality" in capsys.readouterr().out


def test_scores_are_one_against_itself_and_low_for_shuffled_columns():
    df = mixed(300)
    types = {"age": "integer", "income": "continuous", "city": "categorical", "member": "boolean",
             "rare": "categorical"}
    q = quality(df, df, types)
    assert q["column_shapes"] == pytest.approx(1) and q["column_pair_trends"] == pytest.approx(1)
    g = np.random.default_rng(0)
    x = g.normal(size=500)  # every pair depends strongly on the other
    dep = pd.DataFrame({"x": x, "y": 2 * x + 0.1 * g.normal(size=500), "s": np.where(x > 0, "pos", "neg")})
    dtypes = {"x": "continuous", "y": "continuous", "s": "categorical"}
    shuffled = dep.apply(lambda c: c.sample(frac=1, random_state=int(g.integers(1 << 30))).to_numpy())
    low = quality(dep, shuffled, dtypes)
    assert low["column_shapes"] == pytest.approx(1) and low["column_pair_trends"] < 0.7
    m = table_metrics(df.iloc[:200], df.iloc[:200], df.iloc[200:], types, "city")
    assert m["exact_copies"] == 1.0 and m["memorising"] == 1.0  # a copy of the training rows is flagged


def test_exact_resume(table_run):
    csv = str(table_run / "t.csv")
    common = [f"data.path={csv}", "data.target=city", *TINY]
    assert main(["train", "--preset", "table_demo", "--out", str(table_run / "full"), *common, "train.steps=20"]) == 0
    assert main(["train", "--preset", "table_demo", "--out", str(table_run / "half"), *common, "train.steps=10"]) == 0
    assert main(["train", "--resume", str(table_run / "half"), "train.steps=20"]) == 0
    a, b = load_checkpoint(table_run / "full"), load_checkpoint(table_run / "half")
    for k in ("G", "D"):
        for name in a[k]:
            assert torch.equal(a[k][name], b[k][name]), (k, name)
    assert torch.equal(a["rng"]["data"]["gen"], b["rng"]["data"]["gen"])


BAD = {
    "no rows": ("a,b\n", "no rows"),
    "single row": ("a,b\n1,x\n", "single row"),
    "empty column": ("a,b\n1,\n2,\n3,\n", "'b': entirely empty"),
    "mixed types": ("a,b\n" + "".join(f"{i},x\n" for i in range(8)).replace("3,x", "oops,x"), "'a': mixed types"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_tables_exit_2_in_one_line_with_nothing_written(tmp_path, capsys, case):
    text, says = BAD[case]
    p = tmp_path / "bad.csv"
    p.write_text(text)
    out = tmp_path / "run"
    assert main(["train", "--preset", "table_demo", "--out", str(out), f"data.path={p}", *TINY]) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1 and not out.exists()


@pytest.mark.parametrize("extra,says", [
    (["data.columns.city=integer"], "data.columns.city=integer"),
    (["data.target=nope"], "data.target=nope"),
])
def test_contradicting_type_and_unknown_target(tmp_path, capsys, extra, says):
    out = tmp_path / "run"
    argv = ["train", "--preset", "table_demo", "--out", str(out), f"data.path={write(mixed(), tmp_path)}", *TINY]
    assert main(argv + extra) == 2
    assert says in capsys.readouterr().err and not out.exists()


def test_not_a_csv(tmp_path, capsys):
    p = tmp_path / "img.csv"
    p.write_bytes(bytes(range(256)) * 4)
    out = tmp_path / "run"
    assert main(["train", "--preset", "table_demo", "--out", str(out), f"data.path={p}", *TINY]) == 2
    assert "data.path" in capsys.readouterr().err and not out.exists()


def test_anomaly_and_judge_score_table_rows(tmp_path, capsys):
    """`anomaly fit/score` and `score` on a table run: rows with impossible values score above
    normal ones, a category never seen in training is flagged, a missing column is one line."""
    import csv

    train_csv = write(mixed(400), tmp_path)
    run = tmp_path / "r"
    assert main(["train", "--preset", "table_demo", "--out", str(run), f"data.path={train_csv}", "data.target=city",
                 *TINY, "train.steps=300", "doctor.enabled=false"]) == 0
    assert main(["anomaly", "fit", str(run), "--encoder-steps", "300"]) == 0
    normal = mixed(100, seed=5)
    odd = normal.copy()
    odd["income"], odd["age"] = -normal["income"], 200  # far outside anything seen
    unseen = normal.copy()
    unseen["city"] = "Paris"
    out = {}
    for name, df in (("normal", normal), ("odd", odd), ("unseen", unseen)):
        assert main(["anomaly", "score", str(run), "--data", write(df, tmp_path, f"{name}.csv"),
                     "--out", str(tmp_path / f"s_{name}.csv")]) == 0
        with open(tmp_path / f"s_{name}.csv") as f:
            out[name] = list(csv.DictReader(f))
    mean = {k: np.mean([float(r["score"]) for r in v]) for k, v in out.items()}
    assert mean["odd"] > 1.3 * mean["normal"], mean
    assert all(r["flag"] == "1" and r["unseen_category"] == "1" for r in out["unseen"])
    assert np.mean([r["flag"] == "1" for r in out["normal"]]) < 0.4
    assert main(["score", str(run), "--data", str(tmp_path / "normal.csv"), "--out", str(tmp_path / "j.csv")]) == 0
    with open(tmp_path / "j.csv") as f:
        judged = list(csv.DictReader(f))
    assert len(judged) == 100 and all(0 < float(r["p_real"]) < 1 for r in judged)
    capsys.readouterr()
    write(normal.drop(columns=["income"]), tmp_path, "short.csv")
    assert main(["anomaly", "score", str(run), "--data", str(tmp_path / "short.csv"),
                 "--out", str(tmp_path / "s.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing column(s) income" in err[0] and not (tmp_path / "s.csv").exists()
