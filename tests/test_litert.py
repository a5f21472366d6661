"""seqzoo.export: LiteRT files with builtin ops only, recurrent models unrolled, checked by the interpreter."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import seqzoo
from seqzoo.export import LiteRTExportError, predict_litert, to_litert, unrolled

# one tiny model of each exportable family: gated recurrent, LSTM (bidirectional), conv + LSTM, attention
# Few steps, wide layers: weights dominate the file, so int8 must be the smaller one. (An
# unrolled step carries its own int32 bias and per-channel scales in int8: with many steps
# and few weights the int8 file is the larger; see the README's LiteRT section.)
FAMILIES = {
    "gru": {"units": 64},
    "bilstm": {"units": 48},
    "cnn_lstm": {"filters": 64, "units": 48},
    "transformer": {"width": 64, "heads": 2, "ff_dim": 128, "depth": 1},
    # the speech recipe's default (conv + bidirectional GRU) and two parallel-scan recurrences
    "deepspeech2": {"conv_layers": 1, "filters": 64, "kernel_size": 3, "stride": 1, "units": 48},
    "mingru": {"width": 64},
    "lru": {"width": 64},
}
SEQ_LEN, FEATURES = 4, 16


def tiny(name, seq_len=SEQ_LEN, features=FEATURES, classes=3):
    keras.utils.set_random_seed(1)
    return seqzoo.build(name, inputs="frames", seq_len=seq_len, features=features, num_classes=classes, **FAMILIES[name])


def inputs(n=16, seq_len=SEQ_LEN, features=FEATURES, seed=0):
    return np.random.default_rng(seed).standard_normal((n, seq_len, features)).astype("float32")


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_float_and_int8_files_agree_with_the_keras_model(tmp_path, name):
    model = tiny(name)
    x = inputs()
    expected = model.predict(x, verbose=0)
    path = to_litert(model, tmp_path / f"{name}.tflite")
    got = predict_litert(path, x, batch_size=5)  # uneven batches: the input is resized
    np.testing.assert_allclose(got, expected, atol=1e-4)
    int8 = to_litert(model, tmp_path / f"{name}_int8.tflite", representative_data=[inputs(32, seed=1)], int8=True)
    assert os.path.getsize(int8) < os.path.getsize(path)
    quantised = predict_litert(int8, x)
    assert quantised.shape == expected.shape and np.abs(quantised - expected).max() < 0.15
    assert not list(tmp_path.glob(".tmp-*"))


def test_recurrent_layers_are_unrolled_with_the_same_weights():
    model = tiny("bilstm")
    copy = unrolled(model)
    assert copy is not model
    recurrent = [layer for layer in copy._flatten_layers() if isinstance(layer, keras.layers.RNN)]
    assert recurrent and all(layer.unroll for layer in recurrent)
    assert not any(layer.unroll for layer in model._flatten_layers() if isinstance(layer, keras.layers.RNN))
    x = inputs()
    np.testing.assert_allclose(copy.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    attention = tiny("transformer")
    assert unrolled(attention) is attention  # nothing recurrent: nothing rebuilt


def test_without_unrolling_keras_recurrent_layers_do_not_convert_to_builtins():
    """The reason for `unrolled` (tensorflow #73254): keep it honest if a TensorFlow release fixes it."""
    converter = tf.lite.TFLiteConverter.from_keras_model(tiny("gru"))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    with pytest.raises(Exception, match="tensor list"):
        converter.convert()


def test_ops_without_a_builtin_kernel_fail_loudly(tmp_path):
    x = keras.Input((4,))
    model = keras.Model(x, keras.layers.Lambda(tf.math.bessel_i0e)(x))
    with pytest.raises(LiteRTExportError, match="BesselI0e") as error:
        to_litert(model, tmp_path / "flex.tflite")
    assert "\n" not in str(error.value)
    assert not list(tmp_path.iterdir())


def test_bad_requests_are_refused(tmp_path):
    with pytest.raises(LiteRTExportError, match="representative_data"):
        to_litert(tiny("gru"), tmp_path / "a.tflite", int8=True)
    free_length = seqzoo.build("gru", inputs="frames", seq_len=None, features=FEATURES, num_classes=3, units=4)
    with pytest.raises(LiteRTExportError, match="fixed seq_len"):
        to_litert(free_length, tmp_path / "b.tflite")
    (tmp_path / "junk.tflite").write_bytes(b"not a flatbuffer")
    with pytest.raises(LiteRTExportError, match="not a readable LiteRT model"):
        predict_litert(tmp_path / "junk.tflite", inputs(1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.tflite"]
    with pytest.raises(LiteRTExportError, match="keep_float applies to int8"):
        to_litert(tiny("gru"), tmp_path / "c.tflite", keep_float=["gru"])


def test_keep_float_leaves_the_named_layers_unquantised(tmp_path):
    """A front end whose values span decades (as a power spectrum) stays float32 in the int8 file."""
    x = keras.Input((SEQ_LEN, FEATURES))
    front = keras.Sequential([keras.layers.Dense(FEATURES, name="spread")], name="front")
    model = keras.Model(x, tiny("gru")(front(x)))
    path = to_litert(model, tmp_path / "m.tflite", representative_data=[inputs(32)], int8=True, keep_float=["front"])
    details = seqzoo.export.interpreter(path).get_tensor_details()
    kinds = {(("front" in d["name"]), d["dtype"].__name__) for d in details if "MatMul" in d["name"] or "BiasAdd" in d["name"]}
    assert (True, "float32") in kinds and (True, "int8") not in kinds and (False, "int8") in kinds
    with pytest.raises(LiteRTExportError, match="'nowhere', which is no layer"):
        to_litert(model, tmp_path / "n.tflite", representative_data=[inputs(8)], int8=True, keep_float=["nowhere"])


def test_an_all_mlstm_xlstm_exports_with_its_chunkwise_form(tmp_path):
    # export sets the mLSTM's unroll: its scan over chunks would not convert
    keras.utils.set_random_seed(1)
    model = seqzoo.build("xlstm", inputs="frames", seq_len=5, features=FEATURES, num_classes=3, units=16,
                         heads=2, depth=1, mlstm_per_slstm=1, chunk_size=2)
    x = inputs(seq_len=5)
    got = predict_litert(to_litert(model, tmp_path / "xlstm.tflite"), x)
    np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=1e-4)


# The models the README lists as not exportable, with the op that stops each: a user gets the
# one-line LiteRTExportError, never a file with Flex ops. (When one starts to export, move it
# to FAMILIES and its README row to the first table.)
NOT_EXPORTABLE = {
    "griffin": {"units": 16},
    "rwkv": {"units": 16},
    "xlstm": {"units": 16},
    "segrnn": {"units": 16},
}


@pytest.mark.parametrize("name", sorted(NOT_EXPORTABLE))
def test_models_documented_as_not_exportable_fail_loudly(tmp_path, name):
    keras.utils.set_random_seed(1)
    model = seqzoo.build(name, inputs="frames", seq_len=SEQ_LEN, features=FEATURES, num_classes=3,
                         **NOT_EXPORTABLE[name])
    with pytest.raises(LiteRTExportError) as error:
        to_litert(model, tmp_path / f"{name}.tflite")
    assert "\n" not in str(error.value)
    assert not list(tmp_path.iterdir())  # nothing half-written
