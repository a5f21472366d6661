from keras import layers, ops, saving

from seqzoo.layers._masking import zero_masked


@saving.register_keras_serializable(package="seqzoo")
class SegmentGRU(layers.Layer):
    """SegRNN's encoder (Lin et al. 2023): a GRU over segments of the sequence, not over steps.

    The time axis is cut into segments of `segment_len` steps; each segment is
    embedded by one linear layer + ReLU, and a GRU runs over the segments
    (T / segment_len iterations instead of T); `depth` GRUs are stacked (the
    paper: 1). The output is the last GRU's final state. With `channel_independent=True` (the paper's setting for
    multivariate series) every channel is its own series: the segments hold
    one channel each, all channels share the weights, and the output is the
    channels' final states side by side, `(batch, channels * units)`;
    otherwise a segment holds all channels, `(batch, units)`.

    A time length that is not a multiple of `segment_len` is zero-padded at
    the end (the paper requires a multiple). Masked (right-padded) steps are
    zeroed and a segment with no valid step is skipped (the GRU carries its
    state), so right padding does not change the output.

    Args:
        units: width of the segment embedding and the GRU state (d_model).
        depth: stacked GRU layers over the segments.
        segment_len: steps per segment (w).
        channel_independent: one series per channel (shared weights).

    Example:

    >>> import numpy as np
    >>> layer = SegmentGRU(units=8, segment_len=4, channel_independent=True)
    >>> tuple(layer(np.zeros((2, 12, 3), "float32")).shape)
    (2, 24)
    """

    def __init__(self, units=128, segment_len=24, channel_independent=False, depth=1, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.segment_len = int(segment_len)
        self.channel_independent = bool(channel_independent)
        self.depth = int(depth)
        self.supports_masking = True
        self.embedding = layers.Dense(self.units, activation="relu", name="segment_embedding")
        self.grus = [layers.GRU(self.units, return_sequences=i < self.depth - 1, name=f"gru_{i + 1}")
                     for i in range(self.depth)]

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.channels = channels
        per_segment = self.segment_len if self.channel_independent else self.segment_len * channels
        self.embedding.build((None, None, per_segment))
        for gru in self.grus:
            gru.build((None, None, self.units))

    def call(self, inputs, mask=None):
        x = zero_masked(inputs, mask)
        batch, time = ops.shape(x)[0], ops.shape(x)[1]
        w = self.segment_len
        pad = (w - time % w) % w
        x = ops.pad(x, [[0, 0], [0, pad], [0, 0]])
        if self.channel_independent:  # (batch, time, channels) -> (batch * channels, segments, w)
            x = ops.reshape(ops.transpose(x, (0, 2, 1)), (-1, (time + pad) // w, w))
        else:  # (batch, segments, w * channels)
            x = ops.reshape(x, (batch, -1, w * self.channels))
        segment_mask = None
        if mask is not None:
            valid = ops.pad(ops.cast(mask, "bool"), [[0, 0], [0, pad]], constant_values=False)
            segment_mask = ops.any(ops.reshape(valid, (batch, -1, w)), axis=-1)
            if self.channel_independent:
                segment_mask = ops.repeat(segment_mask, self.channels, axis=0)
        h = self.embedding(x)
        for gru in self.grus:
            h = gru(h, mask=segment_mask)
        if self.channel_independent:
            h = ops.reshape(h, (batch, self.channels * self.units))
        return h

    def compute_mask(self, inputs, mask=None):
        return None  # the output is a summary, no time axis

    def compute_output_shape(self, input_shape):
        width = self.units * (int(input_shape[-1]) if self.channel_independent else 1)
        return (input_shape[0], width)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "segment_len": self.segment_len,
            "channel_independent": self.channel_independent,
            "depth": self.depth,
        })
        return config

