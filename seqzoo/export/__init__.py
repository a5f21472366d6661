"""Export of trained seqzoo models to other runtimes.

`to_litert` writes a LiteRT (TensorFlow Lite) flatbuffer with builtin ops only;
`unrolled` is the fixed-length rebuild it uses for recurrent layers;
`predict_litert` runs such a file (LiteRT's interpreter, or TensorFlow's).
"""

from seqzoo.export.litert import LiteRTExportError, interpreter, predict_litert, to_litert, unrolled

__all__ = ["LiteRTExportError", "interpreter", "predict_litert", "to_litert", "unrolled"]
