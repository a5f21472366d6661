"""LiteRT (TensorFlow Lite) export with builtin ops only, recurrent layers included.

Keras 3 `LSTM`/`GRU`/`SimpleRNN` run their time loop as a `while` over a
tensor list, which the LiteRT converter cannot lower to builtin ops
(TensorListReserve needs a static element shape; tensorflow #73254). A model
with a fixed sequence length does not need the loop: `unrolled` rebuilds it
with `unroll=True` in every recurrent layer (nested models and `Bidirectional`
wrappers included) and copies the weights, so the graph is the same
computation written out step by step, and `to_litert` converts that.

Conversion is limited to `TFLITE_BUILTINS` (plus the int8 or 16x8 builtin
kernels for the quantised `SCHEMES`): an op without a builtin kernel fails the
conversion with `LiteRTExportError` instead of producing a file that needs the
Flex delegate.

Example:

>>> import numpy as np, os, tempfile, seqzoo
>>> from seqzoo.export import to_litert
>>> model = seqzoo.build("gru", inputs="frames", seq_len=8, features=4, num_classes=3, units=8)
>>> path = to_litert(model, os.path.join(tempfile.mkdtemp(), "gru.tflite"))
>>> x = np.random.default_rng(0).standard_normal((2, 8, 4)).astype("float32")
>>> bool(np.allclose(predict_litert(path, x), model.predict(x, verbose=0), atol=1e-5))
True
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import re
import tempfile
from typing import Any, Callable, Iterable, Sequence

import keras
import numpy as np


class LiteRTExportError(ValueError):
    """The model cannot be written with LiteRT builtin ops (the message says why)."""


def _unroll_config(config: Any) -> bool:
    """Set every `"unroll": False` in a (nested) layer config to True; True if any was."""
    changed = False
    if isinstance(config, dict):
        if config.get("unroll") is False:
            config["unroll"] = True
            changed = True
        for value in config.values():
            changed = _unroll_config(value) or changed
    elif isinstance(config, list):
        for value in config:
            changed = _unroll_config(value) or changed
    return changed


def _time_steps(model: keras.Model) -> None:
    for tensor in model.inputs:
        if len(tensor.shape) >= 3 and tensor.shape[1] is None:
            raise LiteRTExportError(
                f"{model.name} takes sequences of any length (input shape {tuple(tensor.shape)}); "
                "build it with a fixed seq_len to export it (recurrent layers are unrolled over the length)"
            )


def _has_unroll(model: keras.Model) -> bool:
    """Whether a layer of `model` (nested ones included) has `unroll` in its config."""
    for layer in model._flatten_layers(include_self=False):
        try:
            config = layer.get_config()
        except NotImplementedError:  # a layer without a config: not a recurrent layer of Keras or seqzoo
            continue
        if _unroll_config(copy.deepcopy(config)):
            return True
    return False


def unrolled(model: keras.Model) -> keras.Model:
    """A copy of a functional `model` whose recurrent layers run unrolled, same weights.

    Every layer whose config has `unroll` (Keras `LSTM`, `GRU`, `SimpleRNN`,
    `RNN`, also inside `Bidirectional` and nested functional models) is
    re-created with `unroll=True` and gets the weights of the original; the
    other layers are reused as they are. The outputs are the same to float
    rounding. A recurrent input of unknown length cannot be unrolled: it is
    refused.

    Args:
        model: a functional Keras model.

    Returns:
        The unrolled model, or `model` itself when it has no recurrent layer.
    """
    if not _has_unroll(model):
        return model  # nothing to unroll (and a layer without a config need not be cloned)
    pairs = []

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = copy.deepcopy(layer.get_config())
        if not _unroll_config(config):
            return layer  # not recurrent: the same layer (and weights) in the new graph
        new = layer.__class__.from_config(config)
        pairs.append((layer, new))
        return new

    try:
        copy_ = keras.models.clone_model(model, clone_function=clone, recursive=True)
    except (ValueError, TypeError) as error:
        raise LiteRTExportError(f"{model.name} cannot be rebuilt for export ({error})") from None
    if not pairs:
        return model
    _time_steps(model)
    for old, new in pairs:
        new.set_weights(old.get_weights())
    return copy_


def _convert(converter: Any, model: keras.Model) -> bytes:
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # Keras prints the SavedModel it writes on the way
            return converter.convert()
    except Exception as error:  # the converter raises ConverterError and others, with MLIR notes
        text = str(error)
        op = re.search(r"'tf\.\w+' op [^\n]*", text)  # the op without a builtin kernel, when named
        lines = [line for line in text.splitlines() if "error:" in line] or text.splitlines()[-1:]
        reason = op.group(0) if op else lines[0].split("error:", 1)[-1].strip() if lines else type(error).__name__
        raise LiteRTExportError(f"{model.name} does not convert to LiteRT builtin ops: {reason}") from None


def _float_tensors(flatbuffer: bytes, layers: Sequence[str]) -> list[str]:
    """The tensor names of `flatbuffer` that lie inside one of the named `layers` (or name
    scopes), or that are the model outputs of those names (an output's last op is named after
    the output, not after the layer that computes it)."""
    runner = interpreter(flatbuffer)
    details = runner.get_tensor_details()
    names = [detail["name"] for detail in details]
    by_index = {detail["index"]: detail["name"] for detail in details}
    signature = runner.get_signature_runner().get_output_details() if runner.get_signature_list() else {}
    outputs = {key: by_index[detail["index"]] for key, detail in signature.items()}
    found, keep = set(), []
    for name in names:
        parts = {re.sub(r"_\d+$", "", part) for fused in name.split(";") for part in fused.split("/")}
        hits = parts & set(layers)
        found |= hits
        if hits:
            keep.append(name)
    for key in set(layers) & set(outputs):
        found.add(key)
        keep.append(outputs[key])
    missing = [layer for layer in layers if layer not in found]
    if missing:
        raise LiteRTExportError(f"keep_float names {missing[0]!r}, which is no layer of the converted model")
    return keep


SCHEMES = ("float32", "int8", "int16x8", "weights_int8")
"""`to_litert`'s `scheme`s: float32; full-integer int8 (weights and activations); 16x8 (int16
activations, int8 weights); weight-only int8 (dynamic range: float activations)."""
CALIBRATED = ("int8", "int16x8")  # the schemes that measure activation ranges on representative data
KEEP_FLOAT = ("int8", "weights_int8")  # the schemes that can leave named layers float32 (`keep_float`)


def to_litert(
    model: keras.Model,
    path: str | os.PathLike,
    *,
    scheme: str = "float32",
    representative_data: Iterable[Any] | Callable[[], Iterable[Any]] | None = None,
    keep_float: Sequence[str] = (),
) -> str:
    """Write `model` as a LiteRT flatbuffer (`.tflite`) with builtin ops only.

    Args:
        model: a functional Keras model with fixed input shapes (recurrent
            layers are unrolled over the fixed length; see `unrolled`).
        path: the file to write (written atomically: a temporary file, then
            a rename).
        scheme: one of `SCHEMES`. `"float32"`; `"int8"`: weights and
            activations in int8 (`TFLITE_BUILTINS_INT8`); `"int16x8"`: int16
            activations and int8 weights
            (`EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8`;
            ops without such a kernel stay float32); `"weights_int8"`:
            int8 weights, float32 activations (dynamic-range quantisation:
            no representative data). The model's input and output stay
            float32 in every scheme. Which scheme keeps a model's decisions
            is a measurement (`seqzoo.export.select_quantization`): int8
            rounding carried in a recurrent state over many steps can
            change them.
        representative_data: for `"int8"` and `"int16x8"`: input batches
            (arrays, or for several inputs dicts `{input name: array}`; a
            few hundred examples in total) from which the activation ranges
            are measured, or a callable returning such an iterable. (Lists
            of arrays are fed in the converted graph's input order, which
            need not be the model's: name the inputs.)
        keep_float: for `"int8"` and `"weights_int8"`: names of layers (or
            nested models, or name scopes) whose ops stay float32: parts whose
            values span a range one int8 scale cannot hold (a power spectrum
            and its logarithm, say); a model output's name keeps the op that
            computes it float. Matched against the converted graph's tensor
            names and signature outputs; a name that matches nothing is
            refused. (`"int8"`: TensorFlow's selective quantisation;
            `"weights_int8"`: the named layers' weights are put back to
            float32 in the file, so their ops run float kernels.)

    Returns:
        `str(path)`.

    Raises:
        LiteRTExportError: an op has no builtin LiteRT kernel, the converted
            file does not run in the interpreter (checked: it runs once on zeros),
            the model has a free sequence length, an unknown `scheme`, a calibrated scheme
            without `representative_data`, or `keep_float` with `"int16x8"`.
    """
    import tensorflow as tf  # noqa: PLC0415  (the converter; not needed to build or train)

    if scheme not in SCHEMES:
        raise LiteRTExportError(f"unknown quantisation scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    if scheme in CALIBRATED and representative_data is None:
        raise LiteRTExportError(
            f"scheme={scheme!r} needs representative_data: input batches to calibrate the quantisation")
    if keep_float and scheme not in KEEP_FLOAT:
        raise LiteRTExportError(
            f"keep_float applies to scheme='int8' and 'weights_int8' only (scheme={scheme!r}: TensorFlow's "
            "16x8 quantiser has no per-layer choice)")
    export_model = unrolled(model)
    converter = tf.lite.TFLiteConverter.from_keras_model(export_model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    float_flatbuffer = _convert(converter, model) if keep_float else b""
    denylisted = _float_tensors(float_flatbuffer, keep_float) if keep_float else []
    if scheme != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if scheme in CALIBRATED:
        quantised_ops = {
            "int8": tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
            "int16x8": tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
        }[scheme]
        converter.target_spec.supported_ops = [quantised_ops, tf.lite.OpsSet.TFLITE_BUILTINS]

        def batches():
            data = representative_data() if callable(representative_data) else representative_data
            for batch in data:
                if isinstance(batch, dict):  # by input name: the converter matches the signature's names
                    named = {name: np.asarray(item, dtype="float32") for name, item in batch.items()}
                    for i in range(len(next(iter(named.values())))):
                        yield {name: item[i : i + 1] for name, item in named.items()}
                    continue
                items = batch if isinstance(batch, (list, tuple)) else [batch]
                items = [np.asarray(item, dtype="float32") for item in items]
                for i in range(len(items[0])):  # the converter calibrates one example at a time
                    yield [item[i : i + 1] for item in items]

        converter.representative_dataset = batches
    if denylisted and scheme == "weights_int8":  # the converter has no per-layer choice: restore the weights
        flatbuffer = _float_weights(_convert(converter, model), float_flatbuffer, keep_float)
    elif denylisted:  # selective quantisation: TensorFlow's (public, experimental) quantisation debugger
        options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=denylisted)
        with contextlib.redirect_stdout(io.StringIO()):  # it converts too: the same SavedModel printout
            debugger = tf.lite.experimental.QuantizationDebugger(
                converter=converter, debug_dataset=batches, debug_options=options
            )
            flatbuffer = debugger.get_nondebug_quantized_model()
    else:
        flatbuffer = _convert(converter, model)
    _check_runs(flatbuffer, model, scheme)
    path = str(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".tflite", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(flatbuffer)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def _float_weights(quantised: bytes, float32: bytes, layers: Sequence[str]) -> bytes:
    """`quantised` (a weight-only int8 flatbuffer) with the int8 weights inside the named `layers` put
    back to their float32 values from `float32` (the same graph unquantised): an op whose weights are
    float32 runs its float kernel, so those layers compute as in the float file. (The dynamic-range
    quantiser has no per-layer choice; its hybrid kernels quantise their input to int8 on the fly,
    which flattens a power spectrum, so the feature front end must not be one.)"""
    from tensorflow.lite.tools import flatbuffer_utils  # noqa: PLC0415  (TensorFlow's flatbuffer editor)

    keep = set(_float_tensors(quantised, layers))
    model, reference = (flatbuffer_utils.convert_bytearray_to_object(bytearray(b)) for b in (quantised, float32))
    originals = {}
    for graph in reference.subgraphs:
        for tensor in graph.tensors:
            data = reference.buffers[tensor.buffer].data if tensor.buffer < len(reference.buffers) else None
            if data is not None and len(data):
                originals[tensor.name] = (tensor.type, data)
    float_type = flatbuffer_utils.schema_fb.TensorType.FLOAT32
    int8_type = flatbuffer_utils.schema_fb.TensorType.INT8
    for graph in model.subgraphs:
        for tensor in graph.tensors:
            name = tensor.name.decode() if isinstance(tensor.name, bytes) else tensor.name
            if tensor.type != int8_type or name not in keep:
                continue
            kind, data = originals.get(tensor.name, (None, None))
            if kind != float_type:
                raise LiteRTExportError(f"keep_float: no float32 weights named {name!r} in the unquantised graph")
            tensor.type, tensor.quantization = float_type, None
            model.buffers[tensor.buffer].data = data
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _check_runs(flatbuffer: bytes, model: keras.Model, scheme: str) -> None:
    """Refuse a converted file that the interpreter cannot prepare or run once on zeros (TensorFlow
    2.21's 16x8 quantiser may pair an int16 tensor with a float constant in an op whose kernel needs
    one type, or give an op int16 inputs its kernel lacks: the file would not run)."""
    try:
        runner = interpreter(flatbuffer)
        runner.allocate_tensors()
        for detail in runner.get_input_details():
            runner.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
        runner.invoke()
    except (RuntimeError, ValueError, LiteRTExportError) as error:
        lines = str(error).strip().splitlines()
        reason = lines[0] if lines else type(error).__name__
        raise LiteRTExportError(
            f"the {scheme} file of {model.name} does not run in the LiteRT interpreter: {reason}") from None


def interpreter(path: str | os.PathLike | bytes) -> Any:
    """A LiteRT interpreter for `path` (or a flatbuffer's bytes): `ai_edge_litert`'s, or TensorFlow's."""
    try:
        from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415
    except ImportError:  # LiteRT not installed: TensorFlow still ships the same interpreter
        import tensorflow as tf  # noqa: PLC0415

        Interpreter = tf.lite.Interpreter
    try:
        if isinstance(path, bytes):
            return Interpreter(model_content=path)
        return Interpreter(model_path=str(path))
    except (ValueError, RuntimeError) as error:
        where = "the flatbuffer" if isinstance(path, bytes) else path
        raise LiteRTExportError(f"{where} is not a readable LiteRT model ({error})") from None


def predict_litert(path: str | os.PathLike, inputs: Any, *, batch_size: int = 32) -> np.ndarray:
    """Run a single-input, single-output `.tflite` model on `inputs` (float32, batch first).

    Args:
        path: the `.tflite` file (e.g. from `to_litert`).
        inputs: an array `(examples, ...)` in the model's input shape.
        batch_size: examples per interpreter call (the input is resized to it).

    Returns:
        The outputs, `(examples, ...)` float32.
    """
    runner = interpreter(path)
    input_details, output_details = runner.get_input_details(), runner.get_output_details()
    if len(input_details) != 1 or len(output_details) != 1:
        raise LiteRTExportError(
            f"{path} has {len(input_details)} inputs and {len(output_details)} outputs; predict_litert runs "
            "files of one input and one output (run others with interpreter(path).get_signature_runner())"
        )
    (input_detail,), (output_detail,) = input_details, output_details
    inputs = np.asarray(inputs, dtype="float32")
    outputs = []
    size = None
    for start in range(0, len(inputs), batch_size):
        batch = inputs[start : start + batch_size]
        if len(batch) != size:
            runner.resize_tensor_input(input_detail["index"], list(batch.shape))
            runner.allocate_tensors()
            size = len(batch)
        runner.set_tensor(input_detail["index"], batch)
        runner.invoke()
        outputs.append(np.array(runner.get_tensor(output_detail["index"])))
    return np.concatenate(outputs).astype("float32")
