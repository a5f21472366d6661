"""Custom serializable layers (package `seqzoo`), one public class per file."""

from seqzoo.layers.attention_pooling import AttentionPooling
from seqzoo.layers.autoregressive_skip import AutoregressiveSkip
from seqzoo.layers.causal_depthwise_conv1d import CausalDepthwiseConv1D
from seqzoo.layers.class_token import ClassToken
from seqzoo.layers.diagonal_state_space import DiagonalStateSpace
from seqzoo.layers.drop_first_timestep import DropFirstTimestep
from seqzoo.layers.first_timestep import FirstTimestep
from seqzoo.layers.gather_positions import GatherPositions
from seqzoo.layers.hopfield_pooling import HopfieldPooling
from seqzoo.layers.hopfield_retrieval import HopfieldRetrieval
from seqzoo.layers.instance_denormalization import InstanceDenormalization
from seqzoo.layers.instance_normalization import InstanceNormalization
from seqzoo.layers.last_timestep import LastTimestep
from seqzoo.layers.linear_recurrent_unit import LinearRecurrentUnit
from seqzoo.layers.local_attention import LocalAttention
from seqzoo.layers.mamba_mixer import MambaMixer
from seqzoo.layers.masked_conv1d import MaskedConv1D
from seqzoo.layers.masked_max_pooling1d import MaskedMaxPooling1D
from seqzoo.layers.masked_rms_normalization import MaskedRMSNormalization
from seqzoo.layers.min_gru import MinGRU
from seqzoo.layers.min_lstm import MinLSTM
from seqzoo.layers.mlstm_mixer import MLSTMMixer
from seqzoo.layers.position_embedding import PositionEmbedding
from seqzoo.layers.reversible_embedding import ReversibleEmbedding
from seqzoo.layers.rg_lru import RGLRU
from seqzoo.layers.rwkv_channel_mix import RWKVChannelMix
from seqzoo.layers.rwkv_time_mix import RWKVTimeMix
from seqzoo.layers.segment_gru import SegmentGRU
from seqzoo.layers.segment_pmf_decoder import SegmentPMFDecoder
from seqzoo.layers.sinusoidal_position_encoding import SinusoidalPositionEncoding
from seqzoo.layers.slstm_mixer import SLSTMMixer
from seqzoo.layers.token_shift import TokenShift
from seqzoo.layers.transformer_block import TransformerBlock

__all__ = [
    "AttentionPooling",
    "AutoregressiveSkip",
    "CausalDepthwiseConv1D",
    "ClassToken",
    "DiagonalStateSpace",
    "DropFirstTimestep",
    "FirstTimestep",
    "GatherPositions",
    "HopfieldPooling",
    "HopfieldRetrieval",
    "InstanceDenormalization",
    "InstanceNormalization",
    "LastTimestep",
    "LinearRecurrentUnit",
    "LocalAttention",
    "MLSTMMixer",
    "MambaMixer",
    "MaskedConv1D",
    "MaskedMaxPooling1D",
    "MaskedRMSNormalization",
    "MinGRU",
    "MinLSTM",
    "PositionEmbedding",
    "RGLRU",
    "RWKVChannelMix",
    "RWKVTimeMix",
    "ReversibleEmbedding",
    "SLSTMMixer",
    "SegmentGRU",
    "SegmentPMFDecoder",
    "SinusoidalPositionEncoding",
    "TokenShift",
    "TransformerBlock",
]
