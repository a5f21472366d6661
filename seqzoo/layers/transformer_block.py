from keras import layers, ops, saving


@saving.register_keras_serializable(package="seqzoo")
class TransformerBlock(layers.Layer):
    """One Transformer layer: multi-head self-attention and a feed-forward net.

    Each sub-layer is wrapped in a residual connection and layer normalisation,
    after it (`norm_first=False`, Vaswani et al. 2017, BERT) or before it
    (`norm_first=True`, GPT-2 and most modern models). Padded keys (from the
    input mask) are never attended to; `causal=True` also hides later steps.

    Args:
        num_heads: attention heads; must divide the input width.
        ff_dim: hidden width of the feed-forward net.
        dropout: dropout rate on attention weights and sub-layer outputs.
        activation: feed-forward activation (`"relu"` in the paper, `"gelu"` in BERT/GPT).
        norm_first: pre-norm (`True`) or post-norm (`False`).
        causal: whether step `t` may only attend to steps `<= t`.
        epsilon: layer-normalisation epsilon.

    Example:

    >>> import numpy as np
    >>> block = TransformerBlock(num_heads=2, ff_dim=32)
    >>> tuple(block(np.zeros((2, 7, 16), "float32")).shape)
    (2, 7, 16)
    """

    def __init__(
        self,
        num_heads,
        ff_dim,
        dropout=0.0,
        activation="relu",
        norm_first=False,
        causal=False,
        epsilon=1e-6,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.ff_dim = int(ff_dim)
        self.dropout = float(dropout)
        self.activation = activation
        self.norm_first = bool(norm_first)
        self.causal = bool(causal)
        self.epsilon = float(epsilon)
        self.supports_masking = True

    def build(self, input_shape):
        width = input_shape[-1]
        if width % self.num_heads:
            raise ValueError(f"num_heads={self.num_heads} must divide the width {width}")
        policy = self.dtype_policy
        self.attention = layers.MultiHeadAttention(
            self.num_heads, width // self.num_heads, dropout=self.dropout,
            dtype=policy, name="attention",
        )
        self.attention.build(input_shape, input_shape)
        self.attention_norm = layers.LayerNormalization(epsilon=self.epsilon, dtype=policy, name="attention_norm")
        self.attention_norm.build(input_shape)
        self.ff_in = layers.Dense(self.ff_dim, activation=self.activation, dtype=policy, name="ff_in")
        self.ff_in.build(input_shape)
        self.ff_out = layers.Dense(width, dtype=policy, name="ff_out")
        self.ff_out.build(tuple(input_shape[:-1]) + (self.ff_dim,))
        self.ff_norm = layers.LayerNormalization(epsilon=self.epsilon, dtype=policy, name="ff_norm")
        self.ff_norm.build(input_shape)
        self.drop = layers.Dropout(self.dropout, dtype=policy)

    def call(self, inputs, mask=None, training=None):
        attention_mask = None
        if mask is not None:
            attention_mask = ops.expand_dims(ops.cast(mask, "bool"), 1)  # (batch, 1, keys)
        x = inputs
        h = self.attention_norm(x) if self.norm_first else x
        h = self.attention(
            h, h, attention_mask=attention_mask, use_causal_mask=self.causal, training=training
        )
        x = x + self.drop(h, training=training)
        if not self.norm_first:
            x = self.attention_norm(x)
        h = self.ff_norm(x) if self.norm_first else x
        h = self.ff_out(self.ff_in(h))
        x = x + self.drop(h, training=training)
        if not self.norm_first:
            x = self.ff_norm(x)
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "ff_dim": self.ff_dim,
                "dropout": self.dropout,
                "activation": self.activation,
                "norm_first": self.norm_first,
                "causal": self.causal,
                "epsilon": self.epsilon,
            }
        )
        return config
