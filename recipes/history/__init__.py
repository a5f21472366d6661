"""`python -m recipes.history`: the history of sequence models, measured.

Generates the classic diagnostic tasks (no data, no download) and measures, on
the registered architectures, six claims the history makes:

1. A simple RNN trained with BPTT loses the gradient over long lags; LSTM and GRU keep it.
2. Gated RNNs learn long-range dependencies a simple RNN cannot (adding problem,
   delayed recall, over a sweep of sequence lengths).
3. GRU matches LSTM at lower cost (parameters, step time, accuracy).
4. Bidirectional models use future context (read from the other end of the sequence).
5. Self-attention trains in parallel over time; recurrence is sequential.
6. Deep (stacked) RNNs gain capacity.

Each claim gets a verdict (confirmed / mixed / not confirmed) computed from
this run's numbers against the thresholds in `THRESHOLDS`; `report.md` states
them next to the numbers. Which model plays which part comes from the
registry's metadata (`tags`, `variant_of`, `family`, `year`; see
`recipes.history.roles`), never from names. Output (`--out`, default
`runs/history-<timestamp>`): `report.md`, `results.json`, `gradient_flow.png`,
`success_vs_length.png`, `step_time.png`, `depth.png`.

The package:

| module | what |
|---|---|
| `config` | `Config`: sizes and budgets; `FULL`, `QUICK`, `TINY`; `HistorySettings`: the command line's |
| `tasks`, `probes` | the synthetic tasks; gradient and step-time measurements |
| `roles` | which models each claim uses, from registry metadata |
| `training` | build, train and score one model on one task |
| `experiments` | the experiments (`EXPERIMENTS`), each returning raw records |
| `verdicts` | `THRESHOLDS` and one verdict function per claim |
| `report`, `plots` | `report.md` sections; the figures |
| `claims` | `CLAIMS` (claim -> experiment, verdict, section) and `run` |
| `cli` | the command line (`main`) |

Usage:

    python -m recipes.history --quick                # about 3 minutes on 2 CPU cores
    python -m recipes.history                        # the full run
    python -m recipes.history --models rnn,lstm,gru --claims 1,2 --seed 1

Programmatic use (what the tests do):

>>> from recipes import history
>>> results = history.run(history.TINY, out="/tmp/history-tiny",
...                       models=["rnn", "lstm"], claims=[1, 2])  # doctest: +SKIP
>>> results["claims"]["2"]["verdict"] in history.VERDICTS        # doctest: +SKIP
True
"""

from recipes.history.claims import ALL_CLAIMS, CLAIM_TITLES, CLAIMS, DEFAULT_MODELS, Claim, run
from recipes.history.cli import build_parser, check_args, main
from recipes.history.config import FULL, QUICK, TINY, Config, HistorySettings
from recipes.history.experiments import EXPERIMENTS, Context, Experiment
from recipes.history.training import build, model_kwargs, predictor, train_and_score
from recipes.history.verdicts import (
    CONFIRMED,
    MIXED,
    NOT_CONFIRMED,
    NOT_MEASURED,
    THRESHOLDS,
    VERDICTS,
    gradient_summary,
    long_end,
    longest_solved,
    scaling_exponent,
    verdict_bidirectional,
    verdict_depth,
    verdict_gated_cost,
    verdict_gradient,
    verdict_long_range,
    verdict_parallel,
)

__all__ = [
    "ALL_CLAIMS", "CLAIMS", "CLAIM_TITLES", "CONFIRMED", "Claim", "Config", "Context", "DEFAULT_MODELS",
    "EXPERIMENTS", "Experiment", "FULL", "HistorySettings", "MIXED", "NOT_CONFIRMED", "NOT_MEASURED", "QUICK", "THRESHOLDS", "TINY",
    "VERDICTS", "build", "build_parser", "check_args", "gradient_summary", "long_end", "longest_solved", "main",
    "model_kwargs", "predictor", "run", "scaling_exponent", "train_and_score", "verdict_bidirectional",
    "verdict_depth", "verdict_gated_cost", "verdict_gradient", "verdict_long_range", "verdict_parallel",
]
