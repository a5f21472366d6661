"""Export of trained seqzoo models to other runtimes.

`to_litert` writes a LiteRT (TensorFlow Lite) flatbuffer with builtin ops only, float32 or
quantised (`SCHEMES`); `unrolled` is the fixed-length rebuild it uses for recurrent layers;
`predict_litert` runs such a file (LiteRT's interpreter, or TensorFlow's);
`select_quantization` keeps the first quantisation scheme whose measured agreement reaches a target.
"""

from seqzoo.export.litert import (
    CALIBRATED, KEEP_FLOAT, SCHEMES, LiteRTExportError, interpreter, predict_litert, to_litert, unrolled,
)
from seqzoo.export.quantization import FALLBACK, QuantizationChoice, select_quantization

__all__ = ["CALIBRATED", "FALLBACK", "KEEP_FLOAT", "SCHEMES", "LiteRTExportError", "QuantizationChoice", "interpreter",
           "predict_litert", "select_quantization", "to_litert", "unrolled"]
