"""Shared test setup: quiet TensorFlow logs, deterministic seeds, small CPU threading."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402

# TensorFlow has a public switch-on only (tf.config.experimental.enable_op_determinism, which
# the recipes' runner calls process-wide); reading and switching it off are private functions,
# the ones TF's own tests use.
from tensorflow.python.framework import config as _tf_config  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_and_policy():
    """Every test starts from seed 0, the float32 policy (mixed-precision tests change it) and
    op determinism off (recipe runs switch it on), whatever ran before it on this worker."""
    keras.utils.set_random_seed(0)
    keras.mixed_precision.set_global_policy("float32")
    yield
    keras.mixed_precision.set_global_policy("float32")
    if _tf_config.is_op_determinism_enabled():
        _tf_config.disable_op_determinism()
