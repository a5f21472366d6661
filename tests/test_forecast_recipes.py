"""recipes.forecast, recipes.ett, recipes.jena_climate end to end on tiny generated CSVs."""

import json
import os
import time

import keras
import numpy as np
import pandas as pd
import pytest

import recipes.data
from recipes import ett, forecast, jena_climate
from recipes.runner import main

TINY = ["--epochs", "1", "--batch-size", "16", "--set", "units=4", "--quiet"]
RUN_FILES = ("config.json", "metrics.json", "model.keras", "history.csv", "train_state.json",
             "curves.png", "forecast.png", "tb")
METRIC_KEYS = ("test_mse", "test_mae", "baseline_mse", "baseline_mae",
               "test_mse_original", "test_mae_original", "baseline_mse_original", "baseline_mae_original",
               "recipe", "model", "params", "epochs_run", "train_seconds", "examples_per_second")


def ramp_csv(path, rows=400, date_column="date", extra=None):
    """`load` = 10 + t (a ramp: persistence is off by 1..horizon), `noise` = random."""
    t = np.arange(rows, dtype=float)
    frame = pd.DataFrame({
        date_column: pd.date_range("2021-01-01", periods=rows, freq="h").astype(str),
        "noise": np.random.default_rng(0).normal(size=rows),
        "load": 10 + t,
    })
    for key, value in (extra or {}).items():
        frame[key] = value
    frame.to_csv(path, index=False)
    return str(path)


def ett_csv(folder, rows=14400, name="ETTh1"):
    """An ETT-shaped file: date, six load columns, OT; daily cycles plus noise."""
    rng = np.random.default_rng(1)
    t = np.arange(rows)
    columns = {"date": pd.date_range("2016-07-01", periods=rows, freq="h").astype(str)}
    for i, name_ in enumerate(["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]):
        columns[name_] = np.sin(2 * np.pi * t / 24 + i) * (i + 1) + 0.01 * t + rng.normal(0, 0.2, rows)
    os.makedirs(folder, exist_ok=True)
    pd.DataFrame(columns).to_csv(os.path.join(folder, f"{name}.csv"), index=False)
    return str(folder)


def read_metrics(out):
    with open(os.path.join(out, "metrics.json")) as handle:
        return json.load(handle)


def check_run_dir(out):
    for name in RUN_FILES:
        assert os.path.exists(os.path.join(out, name)), name
    metrics = read_metrics(out)
    for key in METRIC_KEYS:
        assert key in metrics, key
    for key in METRIC_KEYS[:8]:
        assert np.isfinite(metrics[key]) and metrics[key] >= 0, key
    return metrics


# ----------------------------------------------------------------- end to end


def test_forecast_csv_end_to_end(tmp_path):
    csv = ramp_csv(tmp_path / "ramp.csv")
    out = str(tmp_path / "run")
    code = main(forecast.ForecastRecipe(), ["--csv", csv, "--target", "load", "--lookback", "12",
                                            "--horizon", "4", "--out", out, *TINY])
    assert code == 0
    metrics = check_run_dir(out)
    # persistence on a ramp is wrong by 1, 2, 3, 4: a known answer, in original units
    assert metrics["baseline_mae_original"] == pytest.approx(2.5, rel=1e-4)
    assert metrics["baseline_mse_original"] == pytest.approx(7.5, rel=1e-4)
    # split 0.7/0.1/0.2 of 400 rows; windows: rows - lookback - horizon + 1 (val/test reach back)
    data = metrics["data"]
    assert data["own_rows"] == {"train": [0, 280], "val": [280, 320], "test": [320, 400]}
    assert metrics["sizes"] == {"train": 280 - 15, "val": 40 - 3, "test": 80 - 3}
    # no leakage: normalisation statistics are the training rows' own
    train = pd.read_csv(csv).iloc[:280]
    np.testing.assert_allclose(data["train_mean"], train[["noise", "load"]].mean().to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(data["train_std"], train[["noise", "load"]].std(ddof=0).to_numpy(), rtol=1e-6)
    assert data["columns"] == ["noise", "load"] and data["target_columns"] == ["load"]
    # the saved model reproduces the reported test MSE on the normalised scale
    model = keras.saving.load_model(os.path.join(out, "model.keras"))
    values = (pd.read_csv(csv)[["noise", "load"]].to_numpy() - data["train_mean"]) / data["train_std"]
    rows = values[320 - 12:]
    x = np.stack([rows[i:i + 12] for i in range(77)]).astype("float32")
    y = np.stack([rows[i + 12:i + 16, -1:] for i in range(77)])
    assert model.output_shape == (None, 4, 1)
    assert np.mean((model.predict(x, verbose=0) - y) ** 2) == pytest.approx(metrics["test_mse"], rel=1e-4)
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["task"] == {"inputs": "series", "seq_len": 12, "features": 2, "head": "forecast",
                              "horizon": 4, "targets": 1}


def test_ett_protocol_end_to_end(tmp_path):
    data_dir = ett_csv(tmp_path / "ett")
    out = str(tmp_path / "run")
    code = main(ett.EttRecipe(), ["--data-dir", data_dir, "--lookback", "24", "--horizon", "8",
                                  "--limit", "64", "--out", out, *TINY])
    assert code == 0
    metrics = check_run_dir(out)
    data = metrics["data"]
    # 12/4/4 months of hourly rows; val and test inputs reach back `lookback` rows
    assert data["own_rows"] == {"train": [0, 8640], "val": [8640, 11520], "test": [11520, 14400]}
    assert data["rows"] == {"train": [0, 8640], "val": [8640 - 24, 11520], "test": [11520 - 24, 14400]}
    assert data["target_columns"] == ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    assert metrics["sizes"] == {"train": 64, "val": 64, "test": 64}
    frame = pd.read_csv(os.path.join(data_dir, "ETTh1.csv"))
    np.testing.assert_allclose(data["train_mean"], frame.iloc[:8640, 1:].mean().to_numpy(), rtol=1e-6)
    # persistence on the first 64 test windows, computed here from the raw file
    values = ((frame.iloc[:, 1:].to_numpy() - data["train_mean"]) / data["train_std"])[11520 - 24:]
    last = np.stack([values[i + 23] for i in range(64)])[:, None, :]
    truth = np.stack([values[i + 24:i + 32] for i in range(64)])
    assert metrics["baseline_mse"] == pytest.approx(np.mean((last - truth) ** 2), rel=1e-4)
    assert metrics["baseline_mae"] == pytest.approx(np.mean(np.abs(last - truth)), rel=1e-4)
    assert set(metrics["per_target"]) == set(data["target_columns"])


def test_ett_features_s_forecasts_ot_only(tmp_path):
    data_dir = ett_csv(tmp_path / "ett", name="ETTh2")
    out = str(tmp_path / "run")
    code = main(ett.EttRecipe(), ["--data-dir", data_dir, "--dataset", "ETTh2", "--features", "S",
                                  "--lookback", "16", "--horizon", "4", "--limit", "32", "--patience", "2",
                                  "--lr-schedule", "constant", "--out", out, *TINY])
    assert code == 0
    metrics = read_metrics(out)
    assert metrics["data"]["columns"] == ["OT"] and metrics["data"]["dataset"] == "ETTh2"
    assert keras.saving.load_model(os.path.join(out, "model.keras")).output_shape == (None, 4, 1)


def test_jena_local_csv_subsamples_and_fixes_wind(tmp_path):
    rows = 1200
    wind = np.full(rows, 2.0)
    wind[5::7] = -9999.0
    csv = ramp_csv(tmp_path / "jena.csv", rows=rows, date_column="Date Time",
                   extra={"T (degC)": np.sin(np.arange(rows) / 30.0), "wv (m/s)": wind})
    out = str(tmp_path / "run")
    code = main(jena_climate.JenaClimateRecipe(), ["--csv", csv, "--lookback", "12", "--horizon", "3",
                                                   "--out", out, *TINY])
    assert code == 0
    metrics = check_run_dir(out)
    data = metrics["data"]
    assert metrics["data"]["table_rows"] == rows // 6
    assert data["target_columns"] == ["T (degC)"] and data["columns"][-1] == "T (degC)"
    # the -9999 error code became 0 before the (train-only) statistics were taken
    kept = wind[5::6][: data["own_rows"]["train"][1]]
    kept = np.where(kept == -9999.0, 0.0, kept)
    assert data["train_mean"][data["columns"].index("wv (m/s)")] == pytest.approx(kept.mean())


def test_halve_schedule_keeps_rate_two_epochs_then_halves():
    assert [forecast.SCHEDULES["halve"](1.0, epoch) for epoch in range(5)] == [1, 1, 0.5, 0.25, 0.125]
    assert forecast.SCHEDULES["constant"](0.1, 7) == 0.1
    callbacks = forecast.ForecastRecipe().callbacks(
        forecast.ForecastConfig(lr_schedule="halve", learning_rate=0.01, patience=2), None)
    assert callbacks[0].schedule(3, 0.5) == pytest.approx(0.0025)
    assert isinstance(callbacks[1], keras.callbacks.EarlyStopping) and callbacks[1].restore_best_weights


# ----------------------------------------------------------------- bad input


def _bad_cases(tmp_path):
    good = ramp_csv(tmp_path / "good.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    nan = tmp_path / "nan.csv"
    nan.write_text("date,load\n1,2\n2,\n3,4\n")
    text = tmp_path / "text.csv"
    text.write_text("date,city,load\n1,Berlin,2\n2,Jena,3\n")
    base = ["--target", "load", "--lookback", "12", "--horizon", "4"]
    return {
        "missing file": (["--csv", str(tmp_path / "nope.csv"), *base], "no such CSV file"),
        "empty csv": (["--csv", str(empty), *base], "is empty"),
        "missing target": (["--csv", good, "--target", "price", "--lookback", "12"], "no target column 'price'"),
        "missing date": (["--csv", good, "--date-column", "when", *base], "no date column 'when'"),
        "nan": (["--csv", str(nan), *base], "missing value (NaN) on line 3"),
        "non-numeric": (["--csv", str(text), *base], "column 'city' is not numeric"),
        "window too long": (["--csv", good, "--target", "load", "--lookback", "30", "--horizon", "50"],
                            "longer than the val part"),
        "data-dir": (["--csv", good, "--data-dir", str(tmp_path), *base], "reads --csv PATH"),
    }


@pytest.mark.parametrize("case", ["missing file", "empty csv", "missing target", "missing date", "nan",
                                  "non-numeric", "window too long", "data-dir"])
def test_forecast_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, case):
    argv, fragment = _bad_cases(tmp_path)[case]
    out = tmp_path / "run"
    assert main(forecast.ForecastRecipe(), [*argv, "--out", str(out), *TINY]) == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m recipes.forecast: error: ") and fragment in err
    assert err.count("\n") == 1
    assert not out.exists()


def test_forecast_requires_csv_and_target(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(forecast.ForecastRecipe(), ["--out", str(tmp_path / "run")])
    assert info.value.code == 2
    assert "--csv" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("rows, fragment", [(None, "no such CSV file"), (5000, "the split needs 14400 rows")])
def test_ett_bad_data_dir_exits_2(tmp_path, capsys, rows, fragment):
    data_dir = ett_csv(tmp_path / "ett", rows=rows) if rows else str(tmp_path / "empty")
    out = tmp_path / "run"
    assert main(ett.EttRecipe(), ["--data-dir", data_dir, "--out", str(out), *TINY]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize("recipe", [jena_climate.JenaClimateRecipe, ett.EttRecipe])
def test_download_offline_fails_fast(tmp_path, capsys, monkeypatch, recipe):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))  # nothing cached
    monkeypatch.setattr(recipes.data, "network_available", lambda *a, **k: False)

    def no_download(*args, **kwargs):
        raise AssertionError("get_file must not be called offline")

    monkeypatch.setattr(keras.utils, "get_file", no_download)
    out = tmp_path / "run"
    start = time.monotonic()
    assert main(recipe(), ["--out", str(out), *TINY]) == 2
    assert time.monotonic() - start < 10
    err = capsys.readouterr().err
    assert "no network" in err and ("--csv PATH" in err or "--data-dir DIR" in err)
    assert err.count("\n") == 1
    assert not out.exists()


def test_jena_cached_archive_is_used_offline(tmp_path, monkeypatch):
    """A real zip already in the Keras cache is extracted by the real get_file, without network."""
    import urllib.request
    import zipfile

    home = tmp_path / "keras_home"
    (home / "datasets").mkdir(parents=True)
    source = tmp_path / jena_climate.CSV_NAME
    ramp_csv(source, rows=10, date_column="Date Time")
    with zipfile.ZipFile(home / "datasets" / jena_climate.ARCHIVE, "w") as archive:
        archive.write(source, jena_climate.CSV_NAME)
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setattr(recipes.data, "network_available", lambda *a, **k: False)

    def no_download(*args, **kwargs):
        raise AssertionError("the network must not be used")

    monkeypatch.setattr(urllib.request, "urlretrieve", no_download)
    monkeypatch.setattr(urllib.request, "urlopen", no_download)
    args = type("Args", (), {"csv": None, "data_dir": None})()
    path = jena_climate.JenaClimateRecipe().csv_path(args)
    assert path.startswith(str(home)) and os.path.basename(path) == jena_climate.CSV_NAME
    with open(path, "rb") as extracted, open(source, "rb") as original:
        assert extracted.read() == original.read()



# ----------------------------------------------------------------- per-model defaults


def test_forecast_recipes_resolve_the_revival_models_to_their_forecast_sizes():
    from recipes.runner import UsageError, resolve_hyperparameters

    for recipe in (ett.EttRecipe(), forecast.ForecastRecipe(), jena_climate.JenaClimateRecipe()):
        segrnn = resolve_hyperparameters(recipe, "segrnn", {})
        assert (segrnn["channel_independent"], segrnn["dropout"], segrnn["units"]) == (True, 0.5, 128)
        assert (resolve_hyperparameters(recipe, "mingru", {})["width"],
                resolve_hyperparameters(recipe, "mingru", {})["depth"]) == (16, 1)
        assert resolve_hyperparameters(recipe, "griffin", {})["units"] == 16
        # --set still wins over the recipe's default
        assert resolve_hyperparameters(recipe, "mingru", {"width": 32})["width"] == 32
    # every entry names a registered model and only its keys (a typo raises), and takes effect
    for model, values in forecast.ForecastRecipe.model_defaults.items():
        resolved = resolve_hyperparameters(forecast.ForecastRecipe(), model, {})
        assert {k: resolved[k] for k in values} == values, model
    with pytest.raises(UsageError, match="width"):
        resolve_hyperparameters(forecast.ForecastRecipe(), "hawk", {"width": 16})
