"""Custom serializable layers (package `seqzoo`), one public class per file."""

from seqzoo.layers.attention_pooling import AttentionPooling
from seqzoo.layers.autoregressive_skip import AutoregressiveSkip
from seqzoo.layers.class_token import ClassToken
from seqzoo.layers.first_timestep import FirstTimestep
from seqzoo.layers.hopfield_pooling import HopfieldPooling
from seqzoo.layers.hopfield_retrieval import HopfieldRetrieval
from seqzoo.layers.instance_denormalization import InstanceDenormalization
from seqzoo.layers.instance_normalization import InstanceNormalization
from seqzoo.layers.last_timestep import LastTimestep
from seqzoo.layers.masked_conv1d import MaskedConv1D
from seqzoo.layers.masked_max_pooling1d import MaskedMaxPooling1D
from seqzoo.layers.position_embedding import PositionEmbedding
from seqzoo.layers.sinusoidal_position_encoding import SinusoidalPositionEncoding
from seqzoo.layers.transformer_block import TransformerBlock

__all__ = [
    "AttentionPooling",
    "AutoregressiveSkip",
    "ClassToken",
    "FirstTimestep",
    "HopfieldPooling",
    "HopfieldRetrieval",
    "InstanceDenormalization",
    "InstanceNormalization",
    "LastTimestep",
    "MaskedConv1D",
    "MaskedMaxPooling1D",
    "PositionEmbedding",
    "SinusoidalPositionEncoding",
    "TransformerBlock",
]
