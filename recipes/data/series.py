"""Multivariate time series from a CSV: checked reading, time splits, train-only
normalisation, forecasting windows and the persistence baseline.

The pipeline every forecasting recipe shares:

1. `read_csv` reads a CSV with a date column and numeric variables, failing
   with a one-line `DataError` on a missing file or column, an empty table,
   NaNs or non-numeric values.
2. `select_features` picks the model's variables for a feature mode (`M`: all
   in, all out; `MS`: all in, the target out; `S`: the target only). The target
   is always the **last** variable, as `seqzoo.build(..., targets=k)` forecasts
   the last `k` variables of a series input.
3. `split_by_rows` / `split_by_fractions` cut the rows by time into
   train/val/test; the val and test windows' inputs reach `lookback` rows back
   into the previous part (the long-horizon benchmark protocol of Informer,
   Autoformer and DLinear), so every target row of a split belongs to it.
4. `ForecastData.from_table` z-normalises every variable with the mean and
   deviation of the **training rows only**, then serves windows as `tf.data`
   datasets or NumPy arrays: the input is `lookback` rows, the target the next
   `horizon` rows of the last `targets` variables.
5. `persistence` is the repeat-last-value forecast, and `forecast_metrics`
   scores a forecast on the normalised scale and in original units.

Example:

>>> import numpy as np, pandas as pd, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "ramp.csv")
>>> pd.DataFrame({"date": range(100), "x": np.arange(100.0)}).to_csv(path, index=False)
>>> table = read_csv(path, target="x")
>>> data = ForecastData.from_table(table, target="x", features="S",
...                                split=split_by_rows(100, 60, 20, 20, lookback=8),
...                                lookback=8, horizon=4)
>>> x, y = data.windows("test")
>>> x.shape, y.shape
((17, 8, 1), (17, 4, 1))
>>> bool(np.allclose(data.denormalize(y[0, :, 0]), [80, 81, 82, 83]))
True
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np

from recipes.data import DataError

FEATURE_MODES = {
    "M": "all variables in, all variables out",
    "MS": "all variables in, the target out",
    "S": "the target only, in and out",
}

SPLITS = ("train", "val", "test")


# --------------------------------------------------------------------------- reading


@dataclasses.dataclass(frozen=True)
class SeriesTable:
    """A time-ordered table: `values[t, j]` is variable `columns[j]` at `dates[t]`.

    Args:
        dates: `(rows,)` the date column as strings, in file order.
        values: `(rows, variables)` float64, no NaN.
        columns: the variable names, in file order.
        path: where it was read from (for messages).
        duplicates_dropped: rows dropped by `read_csv` because they repeat an
            earlier row exactly (same date, same values).
    """

    dates: np.ndarray
    values: np.ndarray
    columns: tuple[str, ...]
    path: str = ""
    duplicates_dropped: int = 0

    def __len__(self) -> int:
        return len(self.values)


# Values beyond this overflow float32 once squared (standardisation, MSE): refused.
MAX_ABS_VALUE = 1e15


def _check_time_order(path: str, column: str, dates: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The rows to keep: exact repeats of an earlier row (date and values) are dropped; a date
    repeated with other values, or ISO 8601 dates going back in time, are refused."""
    import pandas as pd

    dates = [str(d) for d in dates]
    seen: dict[str, int] = {}
    keep = np.ones(len(dates), dtype=bool)
    for row, date in enumerate(dates):
        if date in seen:
            first = seen[date]
            if not np.array_equal(values[row], values[first]):
                raise DataError(
                    f"{path}: line {row + 2} repeats the {column} {date!r} of line {first + 2} with other "
                    "values; keep one row per date"
                )
            keep[row] = False
        else:
            seen[date] = row
    # Only unambiguous (ISO 8601) dates are checked: "01.02.2009" may be day- or month-first.
    times = pd.to_datetime(pd.Series(dates)[keep], errors="coerce", format="ISO8601")
    if times.isna().any():
        return keep  # not ISO dates (e.g. step numbers): file order is time order
    back = np.flatnonzero(np.diff(times.to_numpy()) <= np.timedelta64(0))
    if back.size:
        rows = np.flatnonzero(keep)
        row, before = int(rows[back[0] + 1]), int(rows[back[0]])
        raise DataError(
            f"{path}: {column} {dates[row]!r} on line {row + 2} comes before {dates[before]!r} on "
            f"line {before + 2}; sort the file by {column}"
        )
    return keep


def read_csv(
    path: str,
    *,
    target: str,
    date_column: str = "date",
    columns: list[str] | None = None,
) -> SeriesTable:
    """Read a CSV with a date column and numeric variables, checking everything.

    Every column except `date_column` is a variable (or only `columns`, when
    given; the target is added if missing). Rows stay in file order, which
    must be time order: rows repeating an earlier row exactly are dropped
    (counted in `duplicates_dropped`; the recipes report it), a date repeated
    with other values and ISO 8601 dates going back in time are refused
    (nothing is sorted silently), as are values beyond +-`MAX_ABS_VALUE`.

    Args:
        path: the CSV file.
        target: the column to forecast; must exist.
        date_column: the timestamp column; must exist; kept as strings.
        columns: optional subset of variable columns to read.

    Raises:
        DataError: missing file, empty table, missing date/target/selected
            column, a non-numeric, missing (NaN) or too large value, a repeated
            or out-of-order date, with the column and the file's line number.

    Example:

    >>> import pandas as pd, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> pd.DataFrame({"date": ["d1", "d2"], "a": [1, 2], "b": [3.5, 4]}).to_csv(path, index=False)
    >>> table = read_csv(path, target="b")
    >>> table.columns, table.values.tolist()
    (('a', 'b'), [[1.0, 3.5], [2.0, 4.0]])
    """
    import pandas as pd

    if not os.path.isfile(path):
        raise DataError(f"no such CSV file: {path}; pass an existing file")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty; it needs a header row and data rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"{path} is not a readable CSV: {first}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame) == 0:
        raise DataError(f"{path} has a header but no data rows")
    if date_column not in frame.columns:
        raise DataError(
            f"{path} has no date column {date_column!r} (columns: {', '.join(frame.columns)}); "
            "pass --date-column NAME"
        )
    variables = [c for c in frame.columns if c != date_column]
    if columns:
        wanted = list(dict.fromkeys(list(columns) + ([target] if target not in columns else [])))
        missing = [c for c in wanted if c not in variables]
        if missing:
            raise DataError(
                f"{path} has no column {missing[0]!r} (variables: {', '.join(variables)})"
            )
        variables = [c for c in variables if c in wanted]
    if target not in variables:
        raise DataError(
            f"{path} has no target column {target!r} (variables: {', '.join(variables) or 'none'}); "
            "pass --target NAME"
        )
    values = np.empty((len(frame), len(variables)), dtype=np.float64)
    for j, name in enumerate(variables):
        text = frame[name].str.strip()
        blank = text.isin(["", "nan", "NaN", "NA", "N/A", "null", "None"])
        if blank.any():
            row = int(np.flatnonzero(blank.to_numpy())[0])
            raise DataError(
                f"{path}: column {name!r} has a missing value (NaN) on line {row + 2}; "
                "fill or drop such rows first"
            )
        numbers = pd.to_numeric(text, errors="coerce")
        bad = numbers.isna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{path}: column {name!r} is not numeric ({text.iloc[row]!r} on line {row + 2}); "
                "drop it or choose the variables with --columns"
            )
        values[:, j] = numbers.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        row, j = map(int, np.argwhere(~np.isfinite(values))[0])
        raise DataError(
            f"{path}: column {variables[j]!r} has an infinite value on line {row + 2}; fix or drop it"
        )
    too_big = np.abs(values) > MAX_ABS_VALUE
    if too_big.any():
        row, j = map(int, np.argwhere(too_big)[0])
        raise DataError(
            f"{path}: column {variables[j]!r} has the value {values[row, j]:g} on line {row + 2}, beyond "
            f"+-{MAX_ABS_VALUE:g} (the float32 model's safe range); rescale the column"
        )
    dates = frame[date_column].to_numpy(dtype=str)
    keep = _check_time_order(path, date_column, dates, values)
    return SeriesTable(dates=dates[keep], values=values[keep], columns=tuple(variables), path=str(path),
                       duplicates_dropped=int((~keep).sum()))


def select_features(table: SeriesTable, target: str, features: str = "M") -> tuple[np.ndarray, tuple[str, ...], int]:
    """The model's variables for a feature mode, target last.

    Args:
        table: from `read_csv`.
        target: the forecast column.
        features: `"M"` (all in, all out), `"MS"` (all in, target out) or
            `"S"` (target only).

    Returns:
        `(values, columns, targets)`: `(rows, k)` values with the target as the
        last column, their names, and how many trailing columns are forecast.

    Example:

    >>> t = SeriesTable(np.array(["a", "b"]), np.array([[1.0, 2, 3], [4, 5, 6]]), ("x", "y", "z"))
    >>> v, cols, k = select_features(t, "y", "MS")
    >>> cols, k, v[0].tolist()
    (('x', 'z', 'y'), 1, [1.0, 3.0, 2.0])
    """
    if features not in FEATURE_MODES:
        raise DataError(f"unknown --features {features!r}; choose {', '.join(FEATURE_MODES)}")
    j = table.columns.index(target)
    if features == "S":
        order = [j]
    else:
        order = [i for i in range(len(table.columns)) if i != j] + [j]
    targets = len(order) if features == "M" else 1
    return table.values[:, order], tuple(table.columns[i] for i in order), targets


# --------------------------------------------------------------------------- splits


@dataclasses.dataclass(frozen=True)
class Split:
    """Row ranges `[start, end)` of each part, inputs included.

    `train` starts at row 0; `val` and `test` start `lookback` rows before
    their own first row, so their first window's target is their first row.
    `own` holds each part's own rows (the rows its targets come from).
    """

    train: tuple[int, int]
    val: tuple[int, int]
    test: tuple[int, int]
    own: dict[str, tuple[int, int]]

    def rows(self, part: str) -> tuple[int, int]:
        return getattr(self, part)


def split_by_rows(n_rows: int, train: int, val: int, test: int, *, lookback: int) -> Split:
    """Split by row counts: train = first `train` rows, then `val`, then `test`.

    Rows after `train + val + test` are unused (ETT's 12/4/4-month protocol
    uses 14,400 of 17,420 rows).

    Example:

    >>> s = split_by_rows(100, 60, 20, 20, lookback=8)
    >>> s.train, s.val, s.test
    ((0, 60), (52, 80), (72, 100))
    """
    if train + val + test > n_rows:
        raise DataError(
            f"the split needs {train + val + test} rows (train {train} + val {val} + test {test}) "
            f"but the data has {n_rows}; use a longer series"
        )
    own = {"train": (0, train), "val": (train, train + val), "test": (train + val, train + val + test)}
    return Split(
        train=(0, train),
        val=(max(0, train - lookback), train + val),
        test=(max(0, train + val - lookback), train + val + test),
        own=own,
    )


def split_by_fractions(n_rows: int, train: float = 0.7, val: float = 0.1, test: float = 0.2, *, lookback: int) -> Split:
    """Split by fractions of the rows (Informer's protocol for custom data).

    `train` and `test` rows are `int(fraction * n_rows)`; `val` gets the rest,
    so no row is lost to rounding.

    Example:

    >>> s = split_by_fractions(100, 0.7, 0.1, 0.2, lookback=10)
    >>> s.train, s.val, s.test
    ((0, 70), (60, 80), (70, 100))
    """
    if min(train, val, test) <= 0 or abs(train + val + test - 1.0) > 1e-6:
        raise DataError(
            f"split fractions must be positive and sum to 1, got {train}, {val}, {test}"
        )
    n_train = int(n_rows * train)
    n_test = int(n_rows * test)
    return split_by_rows(n_rows, n_train, n_rows - n_train - n_test, n_test, lookback=lookback)


# --------------------------------------------------------------------------- windows


@dataclasses.dataclass(frozen=True)
class Standardizer:
    """Per-variable z-normalisation with statistics from training rows only.

    A constant training column gets deviation 1 (it stays finite).

    Example:

    >>> s = Standardizer.fit(np.array([[0.0, 5.0], [2.0, 5.0]]))
    >>> s.mean.tolist(), s.std.tolist()
    ([1.0, 5.0], [1.0, 1.0])
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, rows: np.ndarray) -> "Standardizer":
        mean = rows.mean(axis=0)
        std = rows.std(axis=0)
        std = np.where(std > 1e-12, std, 1.0)
        return cls(mean=mean, std=std)

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (values - self.mean) / self.std

    def inverse(self, values: np.ndarray, columns: slice | None = None) -> np.ndarray:
        columns = slice(None) if columns is None else columns
        return values * self.std[columns] + self.mean[columns]


@dataclasses.dataclass
class ForecastData:
    """Normalised series, its split and window geometry: what a forecasting recipe trains on.

    Args:
        values: `(rows, variables)` float32, normalised with `scaler`; target last.
        columns: variable names, same order.
        dates: `(rows,)` date strings.
        split: the row ranges of train/val/test.
        scaler: the train-only `Standardizer`.
        lookback: input rows per window.
        horizon: forecast rows per window.
        targets: how many trailing variables are forecast.
    """

    values: np.ndarray
    columns: tuple[str, ...]
    dates: np.ndarray
    split: Split
    scaler: Standardizer
    lookback: int
    horizon: int
    targets: int

    @classmethod
    def from_table(
        cls,
        table: SeriesTable,
        *,
        target: str,
        features: str,
        split: Split,
        lookback: int,
        horizon: int,
    ) -> "ForecastData":
        """Select variables, fit the scaler on the training rows and check every part has a window."""
        if lookback < 1 or horizon < 1:
            raise DataError(f"--lookback and --horizon must be >= 1, got {lookback} and {horizon}")
        values, columns, targets = select_features(table, target, features)
        for part in SPLITS:
            start, end = split.rows(part)
            if end - start < lookback + horizon:
                raise DataError(
                    f"lookback {lookback} + horizon {horizon} = {lookback + horizon} rows is longer "
                    f"than the {part} part ({end - start} rows of {len(table)}); "
                    "use a shorter --lookback/--horizon or a longer series"
                )
        train_start, train_end = split.train
        scaler = Standardizer.fit(values[train_start:train_end])
        return cls(
            values=scaler.transform(values).astype(np.float32),
            columns=columns,
            dates=table.dates,
            split=split,
            scaler=scaler,
            lookback=int(lookback),
            horizon=int(horizon),
            targets=int(targets),
        )

    @property
    def features(self) -> int:
        return self.values.shape[1]

    @property
    def target_columns(self) -> tuple[str, ...]:
        return self.columns[-self.targets :]

    def num_windows(self, part: str, limit: int | None = None) -> int:
        """Windows in one part (at most `limit`)."""
        start, end = self.split.rows(part)
        count = end - start - self.lookback - self.horizon + 1
        return min(count, limit) if limit else count

    def dataset(
        self,
        part: str,
        batch_size: int | None = None,
        *,
        shuffle: bool = False,
        seed: int | None = None,
        limit: int | None = None,
    ):
        """`tf.data` windows of one part: `(x (lookback, variables), y (horizon, targets))`.

        Built with `keras.utils.timeseries_dataset_from_array`, cut to the
        first `limit` windows, cached, then (optionally) reshuffled every
        epoch, batched and prefetched.
        """
        import keras
        import tensorflow as tf

        start, end = self.split.rows(part)
        lookback, targets = self.lookback, self.targets
        windows = keras.utils.timeseries_dataset_from_array(
            self.values[start:end], None, sequence_length=lookback + self.horizon, batch_size=None
        )
        if limit:
            windows = windows.take(limit)
        ds = windows.map(
            lambda w: (w[:lookback], w[lookback:, -targets:]), num_parallel_calls=tf.data.AUTOTUNE
        ).cache()
        if shuffle:
            ds = ds.shuffle(self.num_windows(part, limit), seed=seed, reshuffle_each_iteration=True)
        if batch_size:
            ds = ds.batch(batch_size)
        return ds.prefetch(tf.data.AUTOTUNE)

    def windows(self, part: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The first `limit` (default all) windows of one part as arrays:
        `x (n, lookback, variables)`, `y (n, horizon, targets)`, in time order."""
        start, end = self.split.rows(part)
        rows = self.values[start:end]
        view = np.lib.stride_tricks.sliding_window_view(rows, self.lookback + self.horizon, axis=0)
        view = np.moveaxis(view, -1, 1)[:limit]  # (n, lookback + horizon, variables)
        return view[:, : self.lookback].copy(), view[:, self.lookback :, -self.targets :].copy()

    def window_dates(self, part: str) -> np.ndarray:
        """The date of each window's first forecast row."""
        start, _ = self.split.rows(part)
        first = start + self.lookback
        return self.dates[first : first + self.num_windows(part)]

    def denormalize(self, y: np.ndarray) -> np.ndarray:
        """Forecast-shaped values (last axis = targets) back to original units."""
        return self.scaler.inverse(y, slice(self.features - self.targets, None))

    def describe(self) -> dict[str, Any]:
        """What config.json / metrics.json record about the data."""
        return {
            "columns": list(self.columns),
            "target_columns": list(self.target_columns),
            "lookback": self.lookback,
            "horizon": self.horizon,
            "rows": {part: list(self.split.rows(part)) for part in SPLITS},
            "own_rows": {part: list(rows) for part, rows in self.split.own.items()},
            "windows": {part: self.num_windows(part) for part in SPLITS},
            "train_mean": self.scaler.mean.tolist(),
            "train_std": self.scaler.std.tolist(),
        }


def persistence(x: np.ndarray, horizon: int, targets: int) -> np.ndarray:
    """The repeat-last-value forecast: the last input row of the target variables, `horizon` times.

    Example:

    >>> x = np.arange(12.0).reshape(1, 4, 3)   # 4 steps, 3 variables
    >>> persistence(x, horizon=2, targets=1).tolist()
    [[[11.0], [11.0]]]
    """
    last = x[:, -1:, -targets:]
    return np.repeat(last, horizon, axis=1)


def forecast_metrics(pred: np.ndarray, truth: np.ndarray, std: np.ndarray | None = None) -> dict[str, float]:
    """MSE and MAE of a forecast, averaged over windows, steps and targets.

    With `std` (the targets' training deviations), also in original units
    (`mse_original`, `mae_original`): errors scale by `std` per target.

    Example:

    >>> forecast_metrics(np.zeros((1, 2, 1)), np.array([[[1.0], [3.0]]]), std=np.array([2.0]))
    {'mse': 5.0, 'mae': 2.0, 'mse_original': 20.0, 'mae_original': 4.0}
    """
    error = np.asarray(pred, np.float64) - np.asarray(truth, np.float64)
    out = {"mse": float(np.mean(error**2)), "mae": float(np.mean(np.abs(error)))}
    if std is not None:
        scaled = error * np.asarray(std, np.float64)
        out["mse_original"] = float(np.mean(scaled**2))
        out["mae_original"] = float(np.mean(np.abs(scaled)))
    return out
