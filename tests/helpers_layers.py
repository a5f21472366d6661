"""Checks shared by the layer tests of the parallel-scan families."""
import numpy as np
import tensorflow as tf


def assert_gradients_reach_every_weight(layer, x) -> None:
    """Every trainable weight of `layer` (built on `x`) gets a non-zero gradient of sum(layer(x)^2)."""
    x = tf.constant(x)
    layer(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(layer(x)))
    grads = tape.gradient(loss, layer.trainable_variables)
    assert len(grads) == len(layer.trainable_variables) > 0
    dead = [v.path for v, g in zip(layer.trainable_variables, grads) if g is None or not np.any(np.asarray(g))]
    assert not dead, dead
