import math

from keras import initializers, layers, ops, saving


@saving.register_keras_serializable(package="seqzoo")
class SegmentPMFDecoder(layers.Layer):
    """SegRNN's parallel multi-step forecasting (PMF) decoder (Lin et al. 2023).

    From the encoder's final GRU state, every output segment is decoded in
    parallel by one GRU step: its input is a learned position embedding of the
    segment (plus, channel-independently, a learned embedding of the channel,
    half the width each), its state the encoder's final state; a linear layer
    maps each resulting state to the segment's `segment_len` values. No output
    feeds the next, so errors do not accumulate over the horizon.

    Input: the encoder's final states, `(batch, channels * units)` when
    `channel_independent` (one state per channel, as `SegmentGRU` gives them)
    or `(batch, units)`. Output: `(batch, horizon, targets)`, the last
    `targets` channels (channel-independent: only those are decoded).

    Args:
        horizon: forecast steps (the last segment is cut to fit).
        segment_len: steps per output segment.
        channels: channels of the series.
        targets: forecast the last `targets` channels.
        channel_independent: the input holds one state per channel.

    Example:

    >>> import numpy as np
    >>> decoder = SegmentPMFDecoder(horizon=10, segment_len=4, channels=3, targets=2,
    ...                             channel_independent=True)
    >>> tuple(decoder(np.zeros((5, 3 * 8), "float32")).shape)
    (5, 10, 2)
    """

    def __init__(self, horizon, segment_len, channels, targets, channel_independent=True, **kwargs):
        super().__init__(**kwargs)
        self.horizon, self.segment_len = int(horizon), int(segment_len)
        self.channels, self.targets = int(channels), int(targets)
        self.channel_independent = bool(channel_independent)
        self.segments = math.ceil(self.horizon / self.segment_len)
        if self.targets > self.channels:
            raise ValueError(f"SegmentPMFDecoder: targets={targets} exceeds channels={channels}")
        self.cell = self.readout = None  # built with the state width in build

    def build(self, input_shape):
        width = int(input_shape[-1])
        units = width // self.channels if self.channel_independent else width
        if self.channel_independent and units * self.channels != width:
            raise ValueError(f"SegmentPMFDecoder: input width {width} is not channels={self.channels} states")
        self.units = units
        normal = initializers.RandomNormal(stddev=1.0)  # the paper's torch.randn
        if self.channel_independent:
            half = units // 2
            self.position_embedding = self.add_weight(shape=(self.segments, half), initializer=normal,
                                                      name="position_embedding")
            self.channel_embedding = self.add_weight(shape=(self.channels, units - half), initializer=normal,
                                                     name="channel_embedding")
        else:
            self.position_embedding = self.add_weight(shape=(self.segments, units), initializer=normal,
                                                      name="position_embedding")
        self.cell = layers.GRUCell(units, name="gru_cell")
        self.cell.build((None, units))
        per_segment = self.segment_len * (1 if self.channel_independent else self.targets)
        self.readout = layers.Dense(per_segment, name="readout")
        self.readout.build((None, units))

    def call(self, inputs):
        batch, m, d = ops.shape(inputs)[0], self.segments, self.units
        position = ops.cast(self.position_embedding, inputs.dtype)
        if self.channel_independent:
            k = self.targets
            state = ops.reshape(inputs, (batch, self.channels, d))[:, self.channels - k:]  # (batch, k, d)
            channel = ops.cast(self.channel_embedding, inputs.dtype)[self.channels - k:]
            x = ops.concatenate([ops.broadcast_to(position[None], (k, m, position.shape[-1])),
                                 ops.broadcast_to(channel[:, None], (k, m, channel.shape[-1]))], axis=-1)
            x = ops.broadcast_to(x[None], (batch, k, m, d))
            state = ops.broadcast_to(state[:, :, None], (batch, k, m, d))
        else:
            x = ops.broadcast_to(position[None], (batch, m, d))
            state = ops.broadcast_to(inputs[:, None], (batch, m, d))
        h, _ = self.cell(ops.reshape(x, (-1, d)), [ops.reshape(state, (-1, d))])
        y = self.readout(h)
        if self.channel_independent:  # (batch * k * m, w) -> (batch, horizon, k)
            y = ops.transpose(ops.reshape(y, (batch, self.targets, m * self.segment_len)), (0, 2, 1))
        else:  # (batch * m, w * k) -> (batch, horizon, k)
            y = ops.reshape(y, (batch, m * self.segment_len, self.targets))
        return y[:, :self.horizon]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.horizon, self.targets)

    def get_config(self):
        config = super().get_config()
        config.update({
            "horizon": self.horizon,
            "segment_len": self.segment_len,
            "channels": self.channels,
            "targets": self.targets,
            "channel_independent": self.channel_independent,
        })
        return config
