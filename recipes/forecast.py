"""Multi-step forecasting of any CSV time series with any seqzoo model.

    python -m recipes.forecast --csv data.csv --target load              # gru, MS, 96 -> 24
    python -m recipes.forecast --csv data.csv --target load --features M --lookback 168 --horizon 48
    python -m recipes.forecast --csv data.csv --target load --limit 256 --epochs 1   # smoke run

Data: a CSV with a date column (`--date-column`, default `date`) and numeric
variables, rows in time order. Every non-date column is a variable (or only
`--columns`); no missing values, no text. `--features`: `M` forecasts every
variable from every variable, `MS` (default) the target from every variable,
`S` the target from itself.

Protocol (no leakage): the rows are split by time into train/val/test
(`--split`, default 0.7,0.1,0.2); the val and test windows' inputs reach
`--lookback` rows back into the previous part. Every variable is z-normalised
with the mean and deviation of the TRAINING rows only. A window is `--lookback`
rows in and the next `--horizon` rows of the target variables out; the model
sees series inputs with per-window instance normalisation (RevIN) and a linear
skip (see `seqzoo.task`). Training uses early stopping on the validation MSE
(`--patience`, best weights restored) and a step learning-rate schedule
(`--lr-schedule`).

Results (metrics.json): `test_mse`, `test_mae` on the normalised scale and
`test_mse_original`, `test_mae_original` in the data's units, the same four
for the persistence baseline (`baseline_*`: repeat the last input value) on
the same test windows, and per-target errors; `forecast.png` shows the
forecast against the truth on a few test windows. `recipes.ett` and
`recipes.jena_climate` are presets of this recipe.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from typing import Any, Callable

import keras
import numpy as np

from recipes import artifacts, budget, flags, runner
from recipes.data import require_network
from recipes.data.series import (
    FEATURE_MODES,
    SPLITS,
    ForecastData,
    SeriesTable,
    Split,
    forecast_metrics,
    persistence,
    read_csv,
    split_by_fractions,
)
from recipes.cli import main
from recipes.config import RunConfig
from recipes.runner import DataError, Recipe, TaskData, UsageError

# Learning rate at epoch e (0-based) for base rate `lr`.
SCHEDULES: dict[str, Callable[[float, int], float]] = {
    # DLinear / Autoformer "type1": the rate for two epochs, then halved every epoch
    "halve": lambda lr, epoch: lr * 0.5 ** max(0, epoch - 1),
    "constant": lambda lr, epoch: lr,
}

PLOT_WINDOWS = 3


def _split_fractions(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not three numbers like 0.7,0.1,0.2") from None
    if len(parts) != 3 or min(parts) <= 0 or abs(sum(parts) - 1.0) > 1e-6:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give three positive fractions train,val,test that sum to 1, e.g. 0.7,0.1,0.2"
        )
    return parts  # type: ignore[return-value]


def keras_cache_dir() -> str:
    """Where `keras.utils.get_file` keeps downloads (`$KERAS_HOME`, default `~/.keras`)."""
    return os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")


def fetch(url: str, fname: str, *, what: str, hint: str, extract: bool = False) -> str:
    """`keras.utils.get_file(fname, url)`, failing within seconds when offline.

    A file already in the Keras cache is used without the network. Returns
    the downloaded file (or, with `extract`, the extraction folder).

    Raises:
        DataError: offline (the one-line message ends with `hint`) or the
            download failed.
    """
    from urllib.parse import urlsplit

    cached = os.path.join(keras_cache_dir(), "datasets", fname)
    if not os.path.exists(cached):
        require_network(what, hint, host=urlsplit(url).hostname)
    try:
        return keras.utils.get_file(fname=fname, origin=url, extract=extract, cache_dir=keras_cache_dir())
    except Exception as error:  # URL errors, bad archives
        first = (str(error).strip() or type(error).__name__).splitlines()[0]
        raise DataError(f"downloading {what} failed: {first}; {hint}") from None


@dataclasses.dataclass
class SeriesConfig(RunConfig):
    """The settings of every forecast recipe (`ForecastRecipe` and its presets).

    Args:
        features: `"M"`, `"MS"` or `"S"` (`recipes.data.series.FEATURE_MODES`).
        lookback: input rows per window.
        horizon: forecast rows per window.
        lr_schedule: a key of `SCHEDULES`.
        patience: early-stopping patience on validation MSE; 0 = train every epoch.
    """

    model: str = "gru"
    epochs: int = 6
    batch_size: int = 32
    learning_rate: float = 1e-3
    features: str = "MS"
    lookback: int = 96
    horizon: int = 24
    lr_schedule: str = "halve"
    patience: int = 0


@dataclasses.dataclass
class ForecastConfig(SeriesConfig):
    """`recipes.forecast`'s settings: the window settings and one CSV file.

    Args:
        csv: the CSV file (required on the command line).
        target: the column to forecast (required on the command line).
        date_column: the timestamp column.
        columns: `"A,B,..."`: use only these variable columns (None: all).
        split: train, val, test fractions of the rows, in time order.
    """

    csv: str | None = None
    target: str | None = None
    date_column: str = "date"
    columns: str | None = None
    split: tuple[float, float, float] = (0.7, 0.1, 0.2)


class ForecastRecipe(Recipe):
    """Forecast the next `--horizon` rows of a CSV series from the last `--lookback` rows.

    Presets subclass it with a `SeriesConfig` subclass of their own and override
    `add_source_arguments`, `read_table` and `split`.
    """

    name = "forecast"
    description = "Multi-step forecasting of a CSV time series (date column + numeric variables)."
    config_class: type[SeriesConfig] = ForecastConfig
    model_defaults = {
        "gru": {"units": 16},
        "lstm": {"units": 16},
        "rnn": {"units": 16},
        "transformer": {"width": 32, "depth": 1, "heads": 2, "ff_dim": 64},
        # The revival models (issue 15), sized on ETTh1 336 -> 96 (M) VALIDATION MSE, seed 42,
        # 6 epochs (benchmarks/revival-accuracy.json, RESULTS.md "Revival models: accuracy").
        # The library defaults (width 128, 2 blocks) overfit from the first epoch: validation
        # best / last segrnn 0.824 / 1.000, s5 0.781 / 0.861 (2 epochs), mingru 0.748 (1 epoch).
        # segrnn: the paper's channel-independent setting with dropout 0.5, 128 units (val
        # best / last 0.665 / 0.665; 64 units 0.680 / 0.684; 256 units 0.668 / 0.681; lookback
        # 720 with 48-step segments 0.731 / 0.927; constant rate + early stopping 0.687). Seeds 42, 1,
        # 2: test 0.3687 +- 0.0018.
        "segrnn": {"channel_independent": True, "dropout": 0.5},
        # One block, 16 wide (gru's size here): val 0.681-0.704 best (mamba 0.681, lru 0.683,
        # minlstm 0.685, mingru 0.690, xlstm 0.699, rwkv 0.700, s5 0.701, hawk 0.704); 32 wide
        # is worse (last val minlstm 0.722 against 0.686, mingru 0.694 against 0.691).
        "mingru": {"width": 16, "depth": 1},
        "minlstm": {"width": 16, "depth": 1},
        "lru": {"width": 16, "depth": 1},
        "s5": {"width": 16, "depth": 1},
        "mamba": {"width": 16, "depth": 1},
        "xlstm": {"units": 16, "depth": 1},
        "rwkv": {"units": 16, "depth": 1},
        "hawk": {"units": 16, "depth": 1},
        # griffin keeps its 3 blocks (the third is the local attention); 16 units: val 0.762
        # best, rising from epoch 2 (0.892 last): it still overfits.
        "griffin": {"units": 16},
    }
    # Defaults the data may change (recipes/budget.py): without --epochs, at least 1,000
    # optimizer steps (ETTh1's 6 epochs give 1,540) and, without --patience, early stopping
    # when the budget adds epochs.
    training_budget = budget.TrainingBudget(min_steps=1000, max_epochs=30, patience=3)
    artifacts = ("forecast.png",)

    horizon_note = ""

    # ------------------------------------------------------------------ flags

    def add_arguments(self, group: argparse._ArgumentGroup) -> None:
        self.add_source_arguments(group)
        group.add_argument("--features", choices=tuple(FEATURE_MODES),
                           help="M: all variables in and out; MS: all in, the target out; "
                           "S: the target only (default: %(default)s)")
        group.add_argument("--lookback", type=flags.positive_int, metavar="N",
                           help="input rows per window (default: %(default)s)")
        group.add_argument("--horizon", type=flags.positive_int, metavar="N",
                           help=f"forecast rows per window{self.horizon_note} (default: %(default)s)")
        group.add_argument("--lr-schedule", choices=tuple(SCHEDULES),
                           help="halve: keep --learning-rate for 2 epochs, then halve it every "
                           "epoch (DLinear); constant (default: %(default)s)")
        group.add_argument("--patience", type=flags.non_negative_int, metavar="N",
                           help="stop after this many epochs without a better validation MSE and "
                           "keep the best weights; 0 = train every epoch " + self.default_text("patience")
                           + "; without --epochs and --patience, small data gets more epochs and "
                           "early stopping")

    def add_source_arguments(self, group: argparse._ArgumentGroup) -> None:
        """Where the data comes from (the generic recipe: one CSV file)."""
        group.add_argument("--csv", required=True, metavar="PATH",
                           help="the CSV file: a date column and numeric variables, in time order")
        group.add_argument("--target", required=True, metavar="COL", help="the column to forecast")
        group.add_argument("--date-column", metavar="COL",
                           help="the timestamp column (default: %(default)s)")
        group.add_argument("--columns", metavar="A,B,...",
                           help="use only these variable columns (the target is always used)")
        group.add_argument("--split", type=_split_fractions, metavar="TR,VA,TE",
                           help="train,val,test fractions of the rows, in time order "
                           "(default: 0.7,0.1,0.2)")

    def check_args(self, args: SeriesConfig) -> None:
        if args.data_dir is not None:
            raise UsageError(f"recipes.{self.name} reads --csv PATH, not --data-dir")

    # ------------------------------------------------------------------ data

    def read_table(self, args: SeriesConfig) -> SeriesTable:
        """Read and check the data (raise `DataError`)."""
        columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
        return read_csv(args.csv, target=args.target, date_column=args.date_column, columns=columns)

    def split(self, args: SeriesConfig, n_rows: int) -> Split:
        """The train/val/test row ranges."""
        return split_by_fractions(n_rows, *args.split, lookback=args.lookback)

    def source_info(self, args: SeriesConfig) -> dict[str, Any]:
        """What config.json records about the data source."""
        return {"csv": os.path.abspath(args.csv)}

    def load(self, args: SeriesConfig) -> TaskData:
        table = self.read_table(args)
        series = ForecastData.from_table(
            table,
            target=args.target,
            features=args.features,
            split=self.split(args, len(table)),
            lookback=args.lookback,
            horizon=args.horizon,
        )
        limit = args.limit
        train = series.dataset("train", args.batch_size, shuffle=True, seed=args.seed, limit=limit)
        val = series.dataset("val", args.batch_size, limit=limit)
        test = series.dataset("test", args.batch_size, limit=limit)
        info = {
            **self.source_info(args),
            "target": args.target,
            "features": args.features,
            "table_rows": len(table),
            **series.describe(),
        }
        if table.duplicates_dropped:
            info["duplicate_rows_dropped"] = table.duplicates_dropped
            runner.warn(args, f"dropped {table.duplicates_dropped} rows that repeat an earlier row exactly "
                               f"(same date, same values); recorded in config.json as "
                               "data.duplicate_rows_dropped")
        return TaskData(
            train=train,
            val=val,
            test=test,
            model_kwargs={
                "inputs": "series",
                "seq_len": series.lookback,
                "features": series.features,
                "head": "forecast",
                "horizon": series.horizon,
                "targets": series.targets,
            },
            info=info,
            sizes={part: series.num_windows(part, limit) for part in SPLITS},
            extras={"series": series},
        )

    # ------------------------------------------------------------------ training

    def callbacks(self, args: SeriesConfig, data: TaskData) -> list[keras.callbacks.Callback]:
        schedule = SCHEDULES[args.lr_schedule]
        base = args.learning_rate
        # epochs chosen from the data: the schedule keeps the shape it has over the default epochs
        stretch = budget.epoch_stretch(args)
        callbacks: list[keras.callbacks.Callback] = [
            keras.callbacks.LearningRateScheduler(lambda epoch, lr=None: schedule(base, epoch / stretch))
        ]
        if args.patience:
            callbacks.append(
                keras.callbacks.EarlyStopping(monitor="val_loss", patience=args.patience, restore_best_weights=True)
            )
        return callbacks

    # ------------------------------------------------------------------ evaluation

    def evaluate(self, model: keras.Model, data: TaskData, args: SeriesConfig, run_dir: str) -> dict:
        """Test MSE/MAE of the model and of persistence on the same windows; writes forecast.png."""
        series: ForecastData = data.extras["series"]
        x, y = series.windows("test", args.limit)
        pred = np.asarray(model.predict(x, batch_size=args.batch_size, verbose=0), dtype=np.float64)
        naive = persistence(x, series.horizon, series.targets)
        std = series.scaler.std[-series.targets :]
        model_metrics = forecast_metrics(pred, y, std)
        base_metrics = forecast_metrics(naive, y, std)
        per_target = {
            name: forecast_metrics(pred[..., j], y[..., j])
            for j, name in enumerate(series.target_columns)
        }
        plot_forecast(series, x, y, pred, naive, os.path.join(run_dir, "forecast.png"),
                      title=f"{self.name} / {args.model}")
        result = {f"test_{k}": v for k, v in model_metrics.items()}
        result.update({f"baseline_{k}": v for k, v in base_metrics.items()})
        result["per_target"] = per_target
        return result


def plot_forecast(
    series: ForecastData,
    x: np.ndarray,
    y: np.ndarray,
    pred: np.ndarray,
    naive: np.ndarray,
    path: str,
    title: str = "",
    windows: int = PLOT_WINDOWS,
) -> None:
    """The last target variable, in original units, on `windows` evenly spaced test windows:
    input tail, truth, forecast and persistence."""
    import matplotlib.pyplot as plt

    picks = np.unique(np.linspace(0, len(x) - 1, min(windows, len(x))).round().astype(int))
    dates = series.window_dates("test")
    name = series.target_columns[-1]
    tail = min(series.lookback, 2 * series.horizon)
    steps = np.arange(-tail + 1, series.horizon + 1)
    fig, axes = plt.subplots(len(picks), 1, figsize=(9, 2.6 * len(picks)), squeeze=False, layout="constrained")
    for ax, i in zip(axes[:, 0], picks):
        history = series.scaler.inverse(x[i, -tail:, -1], slice(-1, None))
        future = np.arange(1, series.horizon + 1)
        ax.plot(steps[:tail], history, color="0.5", lw=1, label="input")
        ax.plot(future, series.denormalize(y[i])[:, -1], color="k", lw=1.2, label="truth")
        ax.plot(future, series.denormalize(pred[i])[:, -1], color="C0", lw=1.4, label="forecast")
        ax.plot(future, series.denormalize(naive[i])[:, -1], color="C3", lw=1, ls="--", label="persistence")
        ax.axvline(0.5, color="0.8", lw=0.8)
        ax.set_ylabel(name)
        ax.set_title(f"test window {i}: forecast from {dates[i]}", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="upper left", fontsize=8, ncol=4)
    axes[-1, 0].set_xlabel("steps after the last input row")
    if title:
        fig.suptitle(title)
    artifacts.save_figure_atomic(fig, path)


if __name__ == "__main__":
    sys.exit(main(ForecastRecipe()))
