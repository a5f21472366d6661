"""SegRNN (Lin et al. 2023): a GRU over segments of the lookback window, and parallel multi-step forecasts.

The paper's method, as built here:

- encoder, segment-wise iterations (`seqzoo.layers.SegmentGRU`): the window is
  cut into segments of `segment_len` steps, each embedded by a linear layer +
  ReLU, and a GRU runs over the segments (T / w iterations instead of T;
  `depth` stacked GRUs, the paper's 1);
  `channel_independent=True` is the paper's setting (every variable its own
  series, shared weights);
- decoder for series forecasts (`decoder="pmf"`, `seqzoo.layers.SegmentPMFDecoder`):
  parallel multi-step forecasting, one GRU step per output segment from the
  encoder's final state with position (+ channel) embeddings as inputs, then
  a linear layer to the segment's values. It is this model's own forecast
  head (`register(heads=...)`), because it needs the horizon, which a
  backbone does not see.

Not the paper's: the decoder's GRU cell has its own weights (the paper reuses
the encoder's GRU); dropout acts on the encoder's final state (the paper's:
before the output layer); the series is normalised by seqzoo's instance
normalisation and a linear skip is added (`normalize`, `linear_skip`; the
paper subtracts the last value or uses RevIN: pass `linear_skip=False` for
the paper's decoder alone); `channel_independent=False` (the default, for
tokens and frames, whose channels are not separate series) and PMF without
channel embeddings on a joint state are extensions. A time length that is not
a multiple of `segment_len` is zero-padded at the end. Classification, and
forecasts from tokens or frames, read the final state(s) with seqzoo's
generic heads; `decoder="linear"` uses the generic forecast head on series
too (one linear layer from the final states to the whole horizon).

It has no per-step outputs (one state per segment), so it neither streams
step by step nor pre-trains by next-token prediction: not tagged "causal".
"""

import keras

from seqzoo.heads import finish_forecast
from seqzoo.heads import forecast as linear_forecast
from seqzoo.layers import SegmentGRU, SegmentPMFDecoder
from seqzoo.models._summary import returning_sequences
from seqzoo.params import Bool, Choice, Float, Int
from seqzoo.registry import register

_PARAMS = {
    "units": Int(128, low=1, high=4096, search=(64, 512), sampling="log",
                 help="segment embedding and GRU state width (d_model; the paper's 512)"),
    "depth": Int(1, low=1, high=8, search=(1, 3), help="stacked GRUs over the segments (the paper's 1)"),
    "segment_len": Int(24, low=1, high=4096, search=(8, 48), step=8,
                       help="steps per segment (w; the paper's 24-48); best a divisor of seq_len"),
    "channel_independent": Bool(False, help="every input channel its own series with shared weights "
                                "(the paper's setting for multivariate forecasting)"),
    "decoder": Choice("pmf", ("pmf", "linear"), help="series forecasts: 'pmf' the paper's parallel "
                      "multi-step decoder, 'linear' seqzoo's generic forecast head"),
    "dropout": Float(0.0, low=0.0, high=1.0, high_inclusive=False, search=(0.0, 0.5),
                     help="dropout on the final state (the paper's 0.5)"),
}


def _forecast(summary, stem, task, *, segment_len, channel_independent, decoder, **_):
    """Series: the PMF decoder (+ seqzoo's skip and denormalisation); otherwise the generic head."""
    if task.inputs != "series" or decoder != "pmf":
        return linear_forecast(summary, stem, task)
    y = SegmentPMFDecoder(task.horizon, segment_len, task.features, task.targets, channel_independent,
                          dtype="float32", name="pmf_decoder")(summary)
    return finish_forecast(y, stem, task)


@register(
    year=2023,
    authors="Lin, Lin, Wu, Wang, Hu & Zhao 2023",
    paper="SegRNN: Segment Recurrent Neural Network for Long-Term Time Series Forecasting",
    family="recurrent",
    solved="Recurrence over long lookback windows: a GRU that iterates over segments instead of "
           "steps needs T/w iterations, and decoding every output segment in parallel avoids "
           "the error accumulation of step-by-step forecasts.",
    params=_PARAMS,
    # gated: a GRU (update and reset gates) carries the state across segments.
    tags=("gated",),
    heads={"forecast": _forecast},
)
def segrnn(x, *, units, depth, segment_len, channel_independent, decoder, dropout):
    if returning_sequences():
        raise ValueError("segrnn has no per-step outputs (one GRU state per segment); "
                         "use a model tagged 'causal' for per-step outputs")
    h = SegmentGRU(units, segment_len, channel_independent, depth, name="segment_gru")(x)
    return keras.layers.Dropout(dropout, name="dropout")(h)
