"""The settings of one history run: `HistorySettings` (the command line's) and the sizes and budgets
`Config`: `FULL` (the default), `QUICK` (`--quick`) and `TINY` (tests)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Config:
    """Sizes and budgets of one history run (`QUICK`, `FULL`, `TINY`).

    Args:
        units: recurrent units per layer (per direction).
        width: attention model width (`ff_dim = 2 * width`, `heads` heads).
        heads: attention heads.
        batch_size: training batch.
        learning_rate: Adam learning rate (gradient norm clipped at `clipnorm`).
        clipnorm: gradient clipping norm.
        lengths: sequence lengths of the claim 2 sweep.
        max_steps: training steps per run (fewer when the task is solved early).
        eval_every: steps between validation checks (early stop, learning curve).
        val_size: validation examples (early stop).
        test_size: test examples (the reported skill).
        probe_len: sequence length of the gradient probe (claim 1).
        probe_size: examples of the gradient probe.
        bi_len: sequence length of the bidirectional task (claim 4).
        bi_steps: training steps of claim 4.
        timing_lengths: sequence lengths of the step-time sweep (claim 5).
        timing_batch: batch size of the step-time sweep.
        timing_steps: timed steps per point and round.
        timing_rounds: interleaved rounds over all points; each point keeps its fastest step.
        timing_warmup: untimed first steps (tracing), in the first round.
        depth_len: sequence length of the depth task (claim 6).
        depth_units: units per layer of the depth test.
        depth_examples: random-label sequences to memorise in claim 6.
        depth_steps: training steps of claim 6.
        depths: depths compared in claim 6.
        scan_timing_lengths: sequence lengths of claim 7's step-time sweep (parallel scans vs gated cells).

    Example:

    >>> dataclasses.replace(QUICK, max_steps=100).max_steps
    100
    """

    units: int = 32
    width: int = 32
    heads: int = 2
    batch_size: int = 64
    learning_rate: float = 1e-2
    clipnorm: float = 1.0
    lengths: tuple[int, ...] = (10, 25, 50, 100, 200)
    max_steps: int = 2000
    eval_every: int = 100
    val_size: int = 512
    test_size: int = 1024
    probe_len: int = 100
    probe_size: int = 256
    bi_len: int = 200
    bi_steps: int = 1500
    timing_lengths: tuple[int, ...] = (64, 128, 256, 512, 1024)
    timing_batch: int = 16
    timing_steps: int = 3
    timing_rounds: int = 3
    timing_warmup: int = 2
    depth_len: int = 20
    depth_units: int = 8
    depth_examples: int = 1024
    depth_steps: int = 3000
    depths: tuple[int, ...] = (1, 2, 3)
    scan_timing_lengths: tuple[int, ...] = (256, 1024, 4096)


FULL = Config()
QUICK = Config(
    lengths=(10, 40), max_steps=600, eval_every=50, val_size=256, test_size=512,
    probe_len=40, probe_size=128, bi_len=60, bi_steps=400,
    timing_lengths=(64, 256, 1024), timing_batch=8, timing_steps=2, timing_rounds=2, timing_warmup=1,
    depth_len=10, depth_units=4, depth_examples=512, depth_steps=600,
    scan_timing_lengths=(256, 1024),
)
TINY = Config(
    units=8, width=8, batch_size=16, lengths=(8,), max_steps=4, eval_every=2, val_size=32,
    test_size=32, probe_len=8, probe_size=8, bi_len=6, bi_steps=4, timing_lengths=(8, 16),
    timing_batch=4, timing_steps=1, timing_rounds=1, timing_warmup=1, depth_len=6, depth_units=4,
    depth_examples=32, depth_steps=4,
    depths=(1, 2), scan_timing_lengths=(8, 16),
)


@dataclasses.dataclass(frozen=True)
class HistorySettings:
    """What `python -m recipes.history` was asked to do (argparse fills it: `recipes.history.cli`).

    Not a `recipes.config.RunConfig`: the history trains dozens of small models on
    generated tasks, with no `--model`, `--epochs` or data of its own; it shares the
    recipes' parser (`recipes.flags.Parser`) and one-line errors.

    Args:
        models: registered model names.
        claims: claim numbers.
        out: the output folder (new or empty).
        seed: seed of the data and the weights.
        quick: `QUICK` sizes instead of `FULL`.
        quiet: no progress lines.

    Example:

    >>> HistorySettings(models=("rnn",), claims=(1,), out="runs/h", quick=True).sizes.max_steps
    600
    """

    models: tuple[str, ...]
    claims: tuple[int, ...]
    out: str
    seed: int = 0
    quick: bool = False
    quiet: bool = False

    @property
    def sizes(self) -> Config:
        """`QUICK` or `FULL`."""
        return QUICK if self.quick else FULL
