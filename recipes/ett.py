"""ETT (Electricity Transformer Temperature) with the standard long-horizon protocol.

    python -m recipes.ett --data-dir ../shared/data/ett                     # ETTh1, M, 336 -> 96
    python -m recipes.ett --data-dir ../shared/data/ett --horizon 720 --features S
    python -m recipes.ett --data-dir ../shared/data/ett --dataset ETTh2 --model lstm

Data (`--data-dir DIR`): `DIR/ETTh1.csv` (or `ETTh2`, `ETTm1`, `ETTm2`) as
published by Zhou et al. (Informer, 2021): a `date` column, six load columns
and the oil temperature `OT` (the target). Without `--data-dir` the file is
downloaded from the ETDataset GitHub repository with `keras.utils.get_file`.

Protocol (Informer / Autoformer / DLinear / PatchTST): train = the first 12
months, val = the next 4, test = the next 4 (ETTh: 8,640 / 2,880 / 2,880
hourly rows; ETTm: four times that), the val and test input windows reaching
back into the previous part; every variable z-normalised with TRAIN
statistics; `--lookback` 336, `--horizon` 96, 192, 336 or 720; `--features M`
(all 7 variables in and out) or `S` (`OT` only); MSE and MAE on the
normalised scale (`test_mse`, `test_mae`), next to the repeat-last-value
baseline on the same windows (`baseline_mse`, 1.295 for ETTh1-96 M).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from typing import Any

from recipes.data.series import SeriesTable, Split, read_csv, split_by_rows
from recipes.cli import main
from recipes.forecast import ForecastRecipe, SeriesConfig, fetch

URL = "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/main/ETT-small/{name}.csv"
ROWS_PER_DAY = {"ETTh1": 24, "ETTh2": 24, "ETTm1": 96, "ETTm2": 96}
# 12 / 4 / 4 months of 30 days
MONTHS = (12, 4, 4)


@dataclasses.dataclass
class EttConfig(SeriesConfig):
    """`recipes.ett`'s settings: the benchmark windows and which ETT file.

    Args:
        dataset: `ETTh1`, `ETTh2`, `ETTm1` or `ETTm2`, read as `data_dir/<dataset>.csv`.
        target: the forecast column.
    """

    features: str = "M"
    lookback: int = 336
    horizon: int = 96
    dataset: str = "ETTh1"
    target: str = "OT"


class EttRecipe(ForecastRecipe):
    """The ETT benchmark preset of `recipes.forecast`."""

    name = "ett"
    description = "ETT (ETTh1/ETTh2/ETTm1/ETTm2) long-horizon forecasting, standard 12/4/4-month protocol."
    config_class = EttConfig
    horizon_note = "; the benchmark reports 96, 192, 336 and 720"

    def add_source_arguments(self, group: argparse._ArgumentGroup) -> None:
        group.add_argument("--dataset", choices=tuple(ROWS_PER_DAY),
                           help="which ETT file, read as --data-dir/<dataset>.csv (default: %(default)s)")
        group.add_argument("--target", metavar="COL",
                           help="the forecast column (default: %(default)s, the oil temperature)")

    def check_args(self, args: EttConfig) -> None:
        pass

    def csv_path(self, args: EttConfig) -> str:
        if args.data_dir is not None:
            return os.path.join(args.data_dir, f"{args.dataset}.csv")
        return fetch(
            URL.format(name=args.dataset),
            f"{args.dataset}.csv",
            what=f"{args.dataset}.csv",
            hint=f"pass --data-dir DIR with a local {args.dataset}.csv",
        )

    def read_table(self, args: EttConfig) -> SeriesTable:
        return read_csv(self.csv_path(args), target=args.target, date_column="date")

    def split(self, args: EttConfig, n_rows: int) -> Split:
        train, val, test = (m * 30 * ROWS_PER_DAY[args.dataset] for m in MONTHS)
        return split_by_rows(n_rows, train, val, test, lookback=args.lookback)

    def source_info(self, args: EttConfig) -> dict[str, Any]:
        source = os.path.abspath(os.path.join(args.data_dir, f"{args.dataset}.csv")) if args.data_dir else URL.format(name=args.dataset)
        return {"dataset": args.dataset, "csv": source, "protocol": "12/4/4 months, train-statistics z-score"}


if __name__ == "__main__":
    sys.exit(main(EttRecipe()))
