"""Built-in architectures; importing this package registers them all."""

from seqzoo.models import (  # noqa: F401
    attention_rnn,
    bert,
    bidirectional,
    cnn_lstm,
    deepspeech2,
    gpt,
    gru,
    hopfield,
    lstm,
    rnn,
    transformer,
    transformer_rnn,
)
