"""seqzoo.export: LiteRT files with builtin ops only, recurrent models unrolled, checked by the interpreter."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import seqzoo
from seqzoo.export import (
    CALIBRATED, FALLBACK, LiteRTExportError, predict_litert, select_quantization, to_litert, unrolled,
)

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
    int8 = to_litert(model, tmp_path / f"{name}_int8.tflite", representative_data=[inputs(32, seed=1)], scheme="int8")
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
        to_litert(tiny("gru"), tmp_path / "a.tflite", scheme="int8")
    free_length = seqzoo.build("gru", inputs="frames", seq_len=None, features=FEATURES, num_classes=3, units=4)
    with pytest.raises(LiteRTExportError, match="fixed seq_len"):
        to_litert(free_length, tmp_path / "b.tflite")
    (tmp_path / "junk.tflite").write_bytes(b"not a flatbuffer")
    with pytest.raises(LiteRTExportError, match="not a readable LiteRT model"):
        predict_litert(tmp_path / "junk.tflite", inputs(1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.tflite"]
    with pytest.raises(LiteRTExportError, match="keep_float applies to scheme='int8' and 'weights_int8' only"):
        to_litert(tiny("gru"), tmp_path / "c.tflite", keep_float=["gru"])


def test_keep_float_leaves_the_named_layers_unquantised(tmp_path):
    """A front end whose values span decades (as a power spectrum) stays float32 in the int8 file."""
    x = keras.Input((SEQ_LEN, FEATURES))
    front = keras.Sequential([keras.layers.Dense(FEATURES, name="spread")], name="front")
    model = keras.Model(x, tiny("gru")(front(x)))
    path = to_litert(model, tmp_path / "m.tflite", representative_data=[inputs(32)], scheme="int8", keep_float=["front"])
    details = seqzoo.export.interpreter(path).get_tensor_details()
    kinds = {(("front" in d["name"]), d["dtype"].__name__) for d in details if "MatMul" in d["name"] or "BiasAdd" in d["name"]}
    assert (True, "float32") in kinds and (True, "int8") not in kinds and (False, "int8") in kinds
    with pytest.raises(LiteRTExportError, match="'nowhere', which is no layer"):
        to_litert(model, tmp_path / "n.tflite", representative_data=[inputs(8)], scheme="int8", keep_float=["nowhere"])


def test_keep_float_in_a_weight_only_file_restores_the_named_layers_float32_weights(tmp_path):
    x = keras.Input((SEQ_LEN, 32))
    front = keras.Sequential([keras.layers.Dense(64, name="spread")], name="front")  # 2,048 weights: quantised
    model = keras.Model(x, tiny("gru", features=64)(front(x)))
    data = inputs(8, features=32)

    def weights(path):  # (the front's weights dtype, how many int8 tensors)
        details = seqzoo.export.interpreter(path).get_tensor_details()
        front_weights = [d["dtype"] for d in details if d["name"].endswith("front_1/spread_1/Tensordot/MatMul")]
        return front_weights, sum(d["dtype"] == np.int8 for d in details)

    whole = to_litert(model, tmp_path / "w.tflite", scheme="weights_int8")
    kept = to_litert(model, tmp_path / "k.tflite", scheme="weights_int8", keep_float=["front"])
    (front_whole, int8_whole), (front_kept, int8_kept) = weights(whole), weights(kept)
    assert front_whole == [np.int8] and front_kept == [np.float32] and int8_kept == int8_whole - 1 > 0
    assert builtin_only(kept) and os.path.getsize(kept) < os.path.getsize(to_litert(model, tmp_path / "f.tflite"))
    expected = model.predict(data, verbose=0)
    assert np.abs(predict_litert(kept, data) - expected).max() < np.abs(predict_litert(whole, data) - expected).max()


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


def builtin_only(path):
    ops = {op["op_name"] for op in seqzoo.export.interpreter(path)._get_ops_details()}
    return bool(ops) and not any(op.startswith("Flex") or op == "CUSTOM" for op in ops)


def test_each_quantisation_scheme_converts_to_builtins_and_a_smaller_file(tmp_path):
    model, x = tiny("gru"), inputs()
    expected = model.predict(x, verbose=0)
    float_size = os.path.getsize(to_litert(model, tmp_path / "float32.tflite"))
    dtypes = {}
    for scheme in ["int8", "int16x8", "weights_int8"]:
        data = [inputs(32, seed=1)] if scheme in CALIBRATED else None
        path = to_litert(model, tmp_path / f"{scheme}.tflite", scheme=scheme, representative_data=data)
        assert builtin_only(path) and os.path.getsize(path) < float_size, scheme
        assert np.abs(predict_litert(path, x) - expected).max() < 0.15, scheme
        dtypes[scheme] = {d["dtype"] for d in seqzoo.export.interpreter(path).get_tensor_details()}
    assert np.int16 in dtypes["int16x8"] and np.int16 not in dtypes["int8"]  # int16 activations
    assert np.int8 in dtypes["weights_int8"] and np.int16 not in dtypes["weights_int8"]  # int8 weights only


def test_bad_scheme_names_and_options_are_refused_in_one_line(tmp_path):
    with pytest.raises(LiteRTExportError, match=r"^unknown quantisation scheme 'int4'; choose one of float32, int8, "
                                                r"int16x8, weights_int8$"):
        to_litert(tiny("gru"), tmp_path / "a.tflite", scheme="int4")
    with pytest.raises(LiteRTExportError, match=r"^unknown quantisation scheme 'fp16'; choose one of float32, int8,"):
        select_quantization(lambda scheme, path: None, tmp_path / "b.tflite", lambda path: 1.0,
                            schemes=["int8", "fp16"])
    with pytest.raises(LiteRTExportError, match="scheme='int16x8' needs representative_data"):
        to_litert(tiny("gru"), tmp_path / "c.tflite", scheme="int16x8")
    with pytest.raises(LiteRTExportError, match=r"keep_float applies to .* only \(scheme='int16x8': TensorFlow's 16x8"):
        to_litert(tiny("gru"), tmp_path / "d.tflite", scheme="int16x8", representative_data=[inputs(4)],
                  keep_float=["gru"])
    assert not list(tmp_path.iterdir())


def fake_writer(log, fail=(), sizes=None):
    """A `write(scheme, path)` that records the scheme in the file (no conversion), padded to
    `sizes[scheme]` bytes where given."""

    def write(scheme, path):
        log.append(scheme)
        if scheme in fail:
            raise LiteRTExportError(f"m does not convert to LiteRT builtin ops: no {scheme} kernel")
        with open(path, "w") as f:
            f.write(scheme.ljust((sizes or {}).get(scheme, 0)))

    return write


def test_fallback_keeps_the_first_scheme_that_reaches_the_target(tmp_path):
    measured = {"int8": 0.66, "int16x8": 0.98, "weights_int8": 1.0}
    agreement = lambda path: measured[open(path).read()]  # noqa: E731
    tried = []
    choice = select_quantization(fake_writer(tried), tmp_path / "m.tflite", agreement, target=0.97)
    assert tried == ["int8", "int16x8"]  # weights_int8 is not tried once 16x8 reaches the target
    assert (choice.scheme, choice.met, choice.agreement) == ("int16x8", True, {"int8": 0.66, "int16x8": 0.98})
    assert (tmp_path / "m.tflite").read_text() == "int16x8" and [p.name for p in tmp_path.iterdir()] == ["m.tflite"]
    assert choice.metrics("litert_int8") == {
        "litert_int8_scheme": "int16x8", "litert_int8_scheme_met_target": True,
        "litert_int8_selection_agreement_int8": 0.66, "litert_int8_selection_agreement_int16x8": 0.98,
        "litert_int8_selection_bytes_int8": 4, "litert_int8_selection_bytes_int16x8": 7}  # the files' bytes
    # none reaches it: the best is kept (the earlier on a tie); a scheme that does not convert is skipped
    measured.update(weights_int8=0.98)
    choice = select_quantization(fake_writer(tried := [], fail=["int8"]), tmp_path / "m.tflite", agreement, target=0.99)
    assert tried == ["int8", "int16x8", "weights_int8"] and (choice.scheme, choice.met) == ("int16x8", False)
    assert choice.failed == {"int8": "m does not convert to LiteRT builtin ops: no int8 kernel"}
    assert choice.metrics("x")["x_scheme_failed_int8"].endswith("no int8 kernel")
    assert (tmp_path / "m.tflite").read_text() == "int16x8" and [p.name for p in tmp_path.iterdir()] == ["m.tflite"]
    with pytest.raises(LiteRTExportError, match=r"^no quantisation scheme converts \(int8: m does not .*; int16x8: "):
        select_quantization(fake_writer([], fail=FALLBACK), tmp_path / "n.tflite", agreement)
    assert [p.name for p in tmp_path.iterdir()] == ["m.tflite"]


def test_a_scheme_counts_only_with_a_file_smaller_than_the_limit(tmp_path):
    """deepspeech2's unrolled BiGRU: full-integer int8 agrees but is larger than the float file."""
    measured = {"int8": 1.0, "int16x8": 0.99, "weights_int8": 0.98}
    sizes = {"int8": 300, "int16x8": 250, "weights_int8": 50}
    agreement = lambda path: measured[open(path).read().strip()]  # noqa: E731
    choice = select_quantization(fake_writer(tried := [], sizes=sizes), tmp_path / "m.tflite", agreement,
                                 target=0.97, smaller_than=100)
    assert tried == list(FALLBACK) and (choice.scheme, choice.met) == ("weights_int8", True)
    assert (tmp_path / "m.tflite").stat().st_size == 50 and [p.name for p in tmp_path.iterdir()] == ["m.tflite"]
    assert choice.sizes == sizes and choice.metrics("q")["q_selection_bytes_int8"] == 300
    # without the limit the first that agrees is kept, as before
    choice = select_quantization(fake_writer(tried := [], sizes=sizes), tmp_path / "m.tflite", agreement, target=0.97)
    assert tried == ["int8"] and (choice.scheme, choice.met, choice.smaller_than) == ("int8", True, None)
    # none reaches the target: the best agreement among the small files, before any larger one
    measured.update(int16x8=0.5, weights_int8=0.9)
    sizes.update(int16x8=99)
    choice = select_quantization(fake_writer([], sizes=sizes), tmp_path / "m.tflite", agreement, smaller_than=100)
    assert (choice.scheme, choice.met) == ("weights_int8", False)
    # no file small enough: the best agreement of all (met is False: its file is too large)
    choice = select_quantization(fake_writer([], sizes=sizes), tmp_path / "m.tflite", agreement, smaller_than=10)
    assert (choice.scheme, choice.met) == ("int8", False) and (tmp_path / "m.tflite").stat().st_size == 300
    assert [p.name for p in tmp_path.iterdir()] == ["m.tflite"]


def test_fallback_on_a_real_model_records_every_scheme_below_an_unreachable_target(tmp_path):
    """Forced deterministically: no file agrees on 101 %, so all three are written, measured, the best kept."""
    import doctest

    from seqzoo.export import quantization

    failures, _ = doctest.testmod(quantization)
    assert failures == 0
