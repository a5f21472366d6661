"""Every parallel-scan model (picked by the `parallel_scan` tag, bidirectional variants
excluded): streamed step by step, it gives the whole-sequence outputs.

Parametrised over the registry, so a newly registered revival model is covered
without editing this file.
"""

import numpy as np
import pytest

import seqzoo
from seqzoo.streaming import Streamer

MODELS = sorted(set(seqzoo.list_models(tags=["parallel_scan"])) - set(seqzoo.list_models(tags=["bidirectional"])))


def test_the_revival_models_are_registered():
    assert {"mingru", "minlstm", "lru", "s5"} <= set(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_streamed_tokens_equal_the_parallel_outputs_with_right_padding(name):
    model = seqzoo.build(name, vocab_size=40, embed_dim=8, num_classes=3)
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 40, size=(2, 9)).astype("int32")
    ids[1, 6:] = 0  # right padding inside the batch
    padded = np.concatenate([ids, np.zeros((2, 3), "int32")], axis=1)
    whole = np.asarray(model(ids))
    streamed = np.asarray(Streamer(model).run(padded))
    np.testing.assert_allclose(streamed[:, -1], whole, atol=1e-5)
    np.testing.assert_allclose(np.asarray(model(padded)), whole, atol=1e-5)  # padding changes nothing
    np.testing.assert_allclose(streamed[1, 5], np.asarray(model(ids[1:, :6]))[0], atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_streamed_frames_equal_the_parallel_forecast_at_every_prefix(name):
    model = seqzoo.build(name, inputs="frames", features=3, head="forecast", horizon=2)
    x = np.random.default_rng(1).normal(size=(2, 7, 3)).astype("float32")
    streamed = np.asarray(Streamer(model).run(x))
    np.testing.assert_allclose(streamed[:, -1], np.asarray(model(x)), atol=1e-5)
    np.testing.assert_allclose(streamed[:, 3], np.asarray(model(x[:, :4])), atol=1e-5)
