"""recipes.data.series: reading, splits, train-only normalisation, windows, persistence."""

import numpy as np
import pandas as pd
import pytest

from recipes.data import series
from recipes.data.series import (
    DataError,
    ForecastData,
    Standardizer,
    forecast_metrics,
    persistence,
    read_csv,
    select_features,
    split_by_fractions,
    split_by_rows,
)


def write_csv(path, frame):
    frame.to_csv(path, index=False)
    return str(path)


def ramp_table(tmp_path, rows=100):
    """Column `a` = 1000 + t, target `y` = t: a value tells its own row."""
    t = np.arange(rows, dtype=float)
    frame = pd.DataFrame({"date": [f"2020-01-01 {i:05d}" for i in range(rows)], "a": 1000 + t, "y": t})
    return read_csv(write_csv(tmp_path / "ramp.csv", frame), target="y")


# ----------------------------------------------------------------- read_csv


def test_read_csv_values_columns_dates(tmp_path):
    frame = pd.DataFrame({"x": [1, 2, 3], "date": ["d0", "d1", "d2"], "OT": [0.5, 1.5, 2.5]})
    table = read_csv(write_csv(tmp_path / "t.csv", frame), target="OT")
    assert table.columns == ("x", "OT")
    assert table.values.tolist() == [[1, 0.5], [2, 1.5], [3, 2.5]]
    assert table.dates.tolist() == ["d0", "d1", "d2"]


def test_read_csv_columns_subset_keeps_target(tmp_path):
    frame = pd.DataFrame({"date": [1, 2], "a": [1, 2], "b": ["u", "v"], "y": [3, 4]})
    table = read_csv(write_csv(tmp_path / "t.csv", frame), target="y", columns=["a"])
    assert table.columns == ("a", "y")


@pytest.mark.parametrize(
    "content, kwargs, fragment",
    [
        (None, {}, "no such CSV file"),
        ("", {}, "is empty"),
        ("date,y\n", {}, "no data rows"),
        ("when,y\n1,2\n", {}, "no date column 'date'"),
        ("date,a\n1,2\n", {}, "no target column 'y'"),
        ("date,a,y\n1,2,3\n", {"columns": ["zz"]}, "no column 'zz'"),
        ("date,a,y\n1,2,3\n2,,4\n", {}, "column 'a' has a missing value (NaN) on line 3"),
        ("date,a,y\n1,2,3\n2,NaN,4\n", {}, "missing value"),
        ("date,a,y\n1,2,3\n2,hello,4\n", {}, "column 'a' is not numeric ('hello' on line 3)"),
        ("date,a,y\n1,2,inf\n", {}, "infinite value on line 2"),
        ("date,y\n1,1e300\n", {}, "column 'y' has the value 1e+300 on line 2, beyond +-1e+15"),
        ("date,y\n2020-01-02,1\n2020-01-01,2\n", {},
         "date '2020-01-01' on line 3 comes before '2020-01-02' on line 2; sort the file by date"),
        ("date,y\n2020-01-01 00:00,1\n2020-01-01 00:00,2\n", {},
         "line 3 repeats the date '2020-01-01 00:00' of line 2 with other values; keep one row per date"),
    ],
)
def test_read_csv_bad_input_is_one_line(tmp_path, content, kwargs, fragment):
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(DataError) as info:
        read_csv(str(path), target="y", **kwargs)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_select_features_puts_target_last(tmp_path):
    table = ramp_table(tmp_path)
    values, cols, k = select_features(table, "y", "M")
    assert cols == ("a", "y") and k == 2
    values, cols, k = select_features(table, "a", "MS")
    assert cols == ("y", "a") and k == 1 and values[5].tolist() == [5, 1005]
    values, cols, k = select_features(table, "y", "S")
    assert cols == ("y",) and k == 1 and values.shape == (100, 1)
    with pytest.raises(DataError, match="unknown --features 'X'"):
        select_features(table, "y", "X")


# ----------------------------------------------------------------- splits


def test_split_by_rows_borders_reach_back_lookback():
    split = split_by_rows(17420, 8640, 2880, 2880, lookback=336)
    assert split.train == (0, 8640)
    assert split.val == (8640 - 336, 8640 + 2880)
    assert split.test == (8640 + 2880 - 336, 8640 + 2 * 2880)
    assert split.own == {"train": (0, 8640), "val": (8640, 11520), "test": (11520, 14400)}


def test_split_by_fractions_keeps_every_row():
    split = split_by_fractions(1001, 0.7, 0.1, 0.2, lookback=5)
    assert split.own == {"train": (0, 700), "val": (700, 801), "test": (801, 1001)}
    with pytest.raises(DataError, match="sum to 1"):
        split_by_fractions(100, 0.5, 0.1, 0.1, lookback=5)


def test_split_needs_enough_rows():
    with pytest.raises(DataError, match="needs 300 rows"):
        split_by_rows(200, 100, 100, 100, lookback=5)


# ----------------------------------------------------------------- normalisation and windows


def test_normalisation_uses_train_rows_only(tmp_path):
    table = ramp_table(tmp_path)
    split = split_by_rows(100, 60, 20, 20, lookback=8)
    data = ForecastData.from_table(table, target="y", features="M", split=split, lookback=8, horizon=4)
    train = table.values[:60]
    np.testing.assert_allclose(data.scaler.mean, train.mean(axis=0))
    np.testing.assert_allclose(data.scaler.std, train.std(axis=0))
    # not the statistics of all rows (the ramp keeps rising after train)
    assert not np.allclose(data.scaler.mean, table.values.mean(axis=0))
    np.testing.assert_allclose(data.values[:60].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(data.values[:60].std(axis=0), 1, atol=1e-5)


def test_constant_train_column_stays_finite():
    scaler = Standardizer.fit(np.array([[3.0, 1.0], [3.0, 2.0]]))
    assert scaler.std.tolist() == [1.0, 0.5]
    assert np.isfinite(scaler.transform(np.array([[4.0, 0.0]]))).all()


def test_windows_align_target_right_after_input(tmp_path):
    table = ramp_table(tmp_path)
    split = split_by_rows(100, 60, 20, 20, lookback=8)
    data = ForecastData.from_table(table, target="y", features="M", split=split, lookback=8, horizon=4)
    for part, (own_start, own_end) in split.own.items():
        x, y = data.windows(part)
        x_rows = data.scaler.inverse(x)[..., -1]  # the ramp value = the row index
        y_rows = data.denormalize(y)[..., -1]
        assert x.shape == (data.num_windows(part), 8, 2) and y.shape == (data.num_windows(part), 4, 2)
        np.testing.assert_allclose(x_rows[0], np.arange(own_start - 8, own_start) if part != "train" else np.arange(8), atol=1e-3)
        np.testing.assert_allclose(y_rows[:, 0], x_rows[:, -1] + 1, atol=1e-3)
        np.testing.assert_allclose(y_rows[0], x_rows[0, -1] + np.arange(1, 5), atol=1e-3)
        # every target row of a part lies in the part's own rows, and all are used
        first_target = y_rows[0, 0] if part != "train" else 8
        assert round(float(first_target)) == (own_start if part != "train" else 8)
        assert round(float(y_rows[-1, -1])) == own_end - 1
    assert data.window_dates("test")[0] == table.dates[80]


def test_dataset_matches_windows_and_shuffles_reproducibly(tmp_path):
    table = ramp_table(tmp_path)
    split = split_by_rows(100, 60, 20, 20, lookback=8)
    data = ForecastData.from_table(table, target="y", features="MS", split=split, lookback=8, horizon=4)
    x, y = data.windows("val")
    batches = list(data.dataset("val", 5))
    np.testing.assert_allclose(np.concatenate([b[0] for b in batches]), x)
    np.testing.assert_allclose(np.concatenate([b[1] for b in batches]), y)
    assert y.shape[-1] == 1
    first = [b[1][:, 0, 0].numpy().tolist() for b in data.dataset("train", 100, shuffle=True, seed=3)]
    again = [b[1][:, 0, 0].numpy().tolist() for b in data.dataset("train", 100, shuffle=True, seed=3)]
    assert first == again and first[0] != sorted(first[0])


@pytest.mark.parametrize("lookback, horizon, part", [(50, 15, "train"), (8, 25, "val")])
def test_window_longer_than_a_part_is_an_error(tmp_path, lookback, horizon, part):
    table = ramp_table(tmp_path)
    split = split_by_rows(100, 60, 20, 20, lookback=lookback)
    with pytest.raises(DataError, match=f"longer than the {part} part"):
        ForecastData.from_table(table, target="y", features="S", split=split, lookback=lookback, horizon=horizon)


# ----------------------------------------------------------------- baseline and metrics


def test_persistence_repeats_last_target_value():
    x = np.array([[[0.0, 1.0], [2.0, 3.0]], [[4.0, 5.0], [6.0, 7.0]]])
    assert persistence(x, 3, 1).tolist() == [[[3.0]] * 3, [[7.0]] * 3]
    assert persistence(x, 2, 2).tolist() == [[[2.0, 3.0]] * 2, [[6.0, 7.0]] * 2]


def test_persistence_metrics_on_ramp_known_answer(tmp_path):
    """On y = t, repeating the last value is wrong by 1, 2, ..., horizon: MSE = mean(k^2)."""
    table = ramp_table(tmp_path)
    split = split_by_rows(100, 60, 20, 20, lookback=8)
    data = ForecastData.from_table(table, target="y", features="S", split=split, lookback=8, horizon=4)
    x, y = data.windows("test")
    metrics = forecast_metrics(persistence(x, 4, 1), y, data.scaler.std[-1:])
    assert metrics["mae_original"] == pytest.approx(2.5, rel=1e-4)  # mean(1, 2, 3, 4)
    assert metrics["mse_original"] == pytest.approx(7.5, rel=1e-4)  # mean(1, 4, 9, 16)
    std = table.values[:60, 1].std()
    assert metrics["mse"] == pytest.approx(7.5 / std**2, rel=1e-4)


def test_forecast_metrics_without_std():
    assert forecast_metrics(np.ones((2, 1, 1)), np.zeros((2, 1, 1))) == {"mse": 1.0, "mae": 1.0}


def test_module_docstring_example_runs():
    import doctest

    failures, _ = doctest.testmod(series)
    assert failures == 0


def test_exact_duplicate_rows_are_dropped_and_counted(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("date,y\n2020-01-01,1\n2020-01-02,2\n2020-01-02,2\n2020-01-03,3\n")
    table = read_csv(str(path), target="y")
    assert table.values[:, 0].tolist() == [1.0, 2.0, 3.0] and table.duplicates_dropped == 1
    assert list(table.dates) == ["2020-01-01", "2020-01-02", "2020-01-03"]
    # day-first dates are not reordered or refused on a guess: file order stands
    path.write_text("date,y\n31.01.2020,1\n01.02.2020,2\n")
    assert read_csv(str(path), target="y").duplicates_dropped == 0
