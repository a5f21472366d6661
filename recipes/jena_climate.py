"""Jena Climate weather forecasting (Max Planck Institute for Biogeochemistry, 2009-2016).

    python -m recipes.jena_climate                                 # download, T (degC), 120 h -> 24 h
    python -m recipes.jena_climate --csv jena_climate_2009_2016.csv --horizon 72
    python -m recipes.jena_climate --data-dir DIR --features S --model lstm

Data: the Keras/TensorFlow weather dataset, 14 variables every 10 minutes
(pressure, temperatures, humidity, wind, ...) with a `Date Time` column.
Default: downloaded once with `keras.utils.get_file`
(`jena_climate_2009_2016.csv.zip`, 13 MB); offline it fails at once and says
how to pass a local copy: `--csv PATH` (the CSV, or any CSV with the same
columns) or `--data-dir DIR` holding `jena_climate_2009_2016.csv`.

Preprocessing: every `--every`-th row (default 6: hourly, as in the Keras and
TensorFlow tutorials); the wind speeds' -9999 error code set to 0 (as in the
TensorFlow tutorial; a fixed rule, nothing fitted); split by time 70/20/10
(train/val/test); z-normalised with training statistics. Default: forecast
`T (degC)` for the next 24 hours from the last 120 hours (5 days) of all 14
variables (`--features MS`).
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import os
import sys
from typing import Any


from recipes import flags
from recipes.data.series import SeriesTable, read_csv
from recipes.cli import main
from recipes.forecast import ForecastRecipe, SeriesConfig, _split_fractions, fetch
from recipes.runner import DataError, UsageError

URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/jena_climate_2009_2016.csv.zip"
ARCHIVE = "jena_climate_2009_2016.csv.zip"
CSV_NAME = "jena_climate_2009_2016.csv"
OFFLINE_HINT = f"pass --csv PATH or --data-dir DIR with a local {CSV_NAME}"
WIND_COLUMNS = ("wv (m/s)", "max. wv (m/s)")
WIND_ERROR = -9999.0


@dataclasses.dataclass
class JenaClimateConfig(SeriesConfig):
    """`recipes.jena_climate`'s settings.

    Args:
        csv: a local jena_climate_2009_2016.csv (None: `data_dir`, else download).
        target: the forecast column.
        date_column: the timestamp column.
        every: keep every K-th row (6: hourly).
        split: train, val, test fractions in time order.
    """

    lookback: int = 120
    horizon: int = 24
    features: str = "MS"
    csv: str | None = None
    target: str = "T (degC)"
    date_column: str = "Date Time"
    every: int = 6
    split: tuple[float, float, float] = (0.7, 0.2, 0.1)


class JenaClimateRecipe(ForecastRecipe):
    """The Jena Climate preset of `recipes.forecast`."""

    name = "jena_climate"
    description = "Jena Climate (2009-2016) weather forecasting: temperature from the last days' weather."
    config_class = JenaClimateConfig

    def add_source_arguments(self, group: argparse._ArgumentGroup) -> None:
        group.add_argument("--csv", metavar="PATH",
                           help=f"a local {CSV_NAME} (default: --data-dir, else download)")
        group.add_argument("--target", metavar="COL",
                           help="the forecast column (default: %(default)s)")
        group.add_argument("--date-column", metavar="COL",
                           help="the timestamp column (default: %(default)s)")
        group.add_argument("--every", type=flags.positive_int, metavar="K",
                           help="keep every K-th row; 6 = hourly (default: %(default)s)")
        group.add_argument("--split", type=_split_fractions, metavar="TR,VA,TE",
                           help="train,val,test fractions in time order (default: 0.7,0.2,0.1)")

    def check_args(self, args: JenaClimateConfig) -> None:
        if args.csv is not None and args.data_dir is not None:
            raise UsageError("give --csv PATH or --data-dir DIR, not both")

    def csv_path(self, args: JenaClimateConfig) -> str:
        if args.csv is not None:
            return args.csv
        if args.data_dir is not None:
            return os.path.join(args.data_dir, CSV_NAME)
        folder = fetch(URL, ARCHIVE, what=f"the Jena Climate dataset ({ARCHIVE})", hint=OFFLINE_HINT, extract=True)
        found = sorted(glob.glob(os.path.join(folder, "**", CSV_NAME), recursive=True))
        if not found:
            raise DataError(f"the downloaded {ARCHIVE} holds no {CSV_NAME}; {OFFLINE_HINT}")
        return found[0]

    def read_table(self, args: JenaClimateConfig) -> SeriesTable:
        table = read_csv(self.csv_path(args), target=args.target, date_column=args.date_column)
        keep = slice(args.every - 1, None, args.every)
        values = table.values[keep].copy()
        for name in WIND_COLUMNS:
            if name in table.columns:
                column = values[:, table.columns.index(name)]
                column[column == WIND_ERROR] = 0.0
        return SeriesTable(dates=table.dates[keep], values=values, columns=table.columns, path=table.path,
                           duplicates_dropped=table.duplicates_dropped)

    def source_info(self, args: JenaClimateConfig) -> dict[str, Any]:
        source = args.csv or (os.path.join(args.data_dir, CSV_NAME) if args.data_dir else URL)
        return {"csv": os.path.abspath(source) if "://" not in source else source, "every": args.every}


if __name__ == "__main__":
    sys.exit(main(JenaClimateRecipe()))
