"""seqzoo's own training loop for `MultiWorkerMirroredStrategy` (private).

Keras 3's `model.fit` cannot train under `tf.distribute.MultiWorkerMirroredStrategy`
(keras-team/keras#20585): its symbolic build and its per-replica log reduction
fail on the `PerReplica` values that strategy produces. The model's own
`train_step` and `test_step` work there, so this loop keeps them and replaces
only the driver around them:

- each step runs `strategy.run(model.train_step, ...)` inside a `tf.function`;
  the gradients are all-reduced across every replica of every worker by the
  Keras optimizer, exactly as in `model.fit` (the loss is scaled by
  `1 / num_replicas_in_sync`, and by the dynamic loss scale of a
  `LossScaleOptimizer` under `mixed_float16`);
- logs are the model's metrics read in cross-replica context, which sums the
  metric accumulators of all replicas: the same exact global values `model.fit`
  reports, identical on every worker (so callbacks decide the same everywhere);
- Keras callbacks get the usual calls (train/epoch/batch/test begin and end)
  on every worker; only the chief prints progress (give other workers their
  own file paths with `seqzoo.distribute.write_dir`);
- `backup_dir`: the chief backs up after each epoch (Keras `BackupAndRestore`);
  at start the chief restores its backup and broadcasts the restored weights,
  optimizer state and epoch to every worker (one all-reduce), so workers agree
  on where to resume and need no shared file system or backup of their own.

It works under any strategy (tests compare it with `model.fit`), but
`seqzoo.distribute.fit` only uses it for multi-worker runs. Keras internals it
relies on, through `seqzoo._compat` (canary tests in tests/test_compat.py):
`Model._symbolic_build` (what `fit` calls to create the metrics' and
optimizer's state) and `Model._initial_epoch` (set by `BackupAndRestore`).
"""

from __future__ import annotations

import contextlib
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from seqzoo import _compat

# Collective failures: a peer crashed, was killed or cannot be reached.
_LOST_WORKER = (
    tf.errors.UnavailableError,
    tf.errors.AbortedError,
    tf.errors.CancelledError,
    tf.errors.DeadlineExceededError,
)


class WorkerLostError(RuntimeError):
    """A multi-worker run stopped because a worker failed; restart every worker to resume."""


_SUM = tf.distribute.ReduceOp.SUM


def _wire_dtype(dtype: Any) -> tf.DType:
    """A dtype every collective implementation can all-reduce exactly."""
    dtype = tf.as_dtype(dtype)
    if dtype in (tf.float32, tf.float64):
        return dtype
    if dtype.is_floating:
        return tf.float32
    return tf.int64


def broadcast_from_chief(strategy: tf.distribute.Strategy, variables: list, extra: list[int]) -> list[int]:
    """Give every replica the values that replica 0 (on the chief) holds.

    One all-reduce: replica 0 contributes its values, every other replica
    zeros. `extra` are Python ints broadcast the same way; their chief
    values are returned.
    """
    if strategy.num_replicas_in_sync == 1:
        return list(extra)
    wire = [_wire_dtype(v.dtype) for v in variables]

    @tf.function
    def run():
        def replica_fn():
            context = tf.distribute.get_replica_context()
            first = tf.equal(context.replica_id_in_sync_group, 0)
            values = [tf.cast(tf.convert_to_tensor(v), d) for v, d in zip(variables, wire)]
            values.append(tf.constant(extra, tf.int64) if extra else tf.zeros([0], tf.int64))
            values = [tf.where(first, x, tf.zeros_like(x)) for x in values]
            # One all-reduce per dtype (a packed all-reduce needs one dtype).
            reduced = list(values)
            for dtype in {x.dtype for x in values}:
                where = [i for i, x in enumerate(values) if x.dtype == dtype]
                for i, x in zip(where, context.all_reduce(_SUM, [values[i] for i in where])):
                    reduced[i] = x
            return reduced

        return strategy.run(replica_fn)

    reduced = [strategy.experimental_local_results(x)[0] for x in run()]
    for variable, value in zip(variables, reduced):
        variable.assign(tf.cast(value, variable.dtype))
    return [int(x) for x in reduced[-1].numpy()]


def _stop_vote(strategy: tf.distribute.Strategy):
    """`vote(flag) -> bool`: whether `flag` is true on any worker (so all stop together)."""
    if strategy.num_replicas_in_sync == 1:
        return bool

    @tf.function
    def run(flag):
        def replica_fn():
            return tf.distribute.get_replica_context().all_reduce(_SUM, tf.identity(flag))

        return strategy.run(replica_fn)

    return lambda flag: int(strategy.experimental_local_results(run(tf.constant(int(flag), tf.int64)))[0]) > 0


def _logs(model: keras.Model) -> dict[str, Any]:
    # Cross-replica reads of the metrics' on-read variables sum them over all
    # replicas and workers (collective all-reduce under multi-worker).
    return model.get_metrics_result()


def _pythonify(logs: dict[str, Any]) -> dict[str, float]:
    return {k: float(np.asarray(v)) for k, v in logs.items()}


def _steps(dataset: tf.data.Dataset | None) -> int | None:
    if dataset is None:
        return None
    n = int(dataset.cardinality())
    return n if n >= 0 else None


def _step_functions(model: keras.Model, strategy: tf.distribute.Strategy, element_spec: Any):
    """`(train_function, test_function)`: one distributed step each, returning global logs."""
    with strategy.scope():
        # Create the compiled loss's and metrics' state and the optimizer's
        # variables up front, as `model.fit` does: created lazily inside the
        # distributed step they break it (e.g. Adam under MirroredStrategy).
        _compat.symbolic_build(model, element_spec)

    @tf.function(reduce_retracing=True)
    def train_function(batch):
        strategy.run(model.train_step, args=(batch,))
        return _logs(model)

    @tf.function(reduce_retracing=True)
    def test_function(batch):
        strategy.run(model.test_step, args=(batch,))
        return _logs(model)

    return train_function, test_function


def shard_by_data(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """`dataset` with auto-shard policy DATA unless a policy was chosen already.

    Multi-worker input is sharded per worker; FILE sharding cannot apply to
    in-memory or generated data (or to fewer files than workers), so seqzoo
    shards by element: every worker reads the input and keeps its slice of
    each global batch. Set `AutoShardPolicy.FILE` yourself on a dataset read
    from many files to shard by file instead.
    """
    policy = dataset.options().experimental_distribute.auto_shard_policy
    if policy != tf.data.experimental.AutoShardPolicy.AUTO:
        return dataset
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def _distribute(strategy: tf.distribute.Strategy, dataset: tf.data.Dataset | None):
    if dataset is None:
        return None
    return strategy.experimental_distribute_dataset(shard_by_data(dataset))


@contextlib.contextmanager
def _worker_failures(strategy: tf.distribute.Strategy, backup_dir: str | None = None):
    """Turn a collective aborted by a lost worker into a one-line `WorkerLostError`."""
    try:
        yield
    except _LOST_WORKER as error:
        if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            raise
        resume = f" to resume from {backup_dir}" if backup_dir else ""
        raise WorkerLostError(
            f"multi-worker training stopped, a worker failed or is unreachable "
            f"({type(error).__name__}: {str(error).strip().splitlines()[0][:200]}); "
            f"restart every worker with the same command{resume}"
        ) from None


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run's files (`seqzoo.distribute.is_chief`)."""
    return bool(strategy.extended.should_checkpoint)


def fit(
    model: keras.Model,
    train: tf.data.Dataset,
    *,
    validation_data: tf.data.Dataset | None = None,
    epochs: int = 1,
    callbacks: list[keras.callbacks.Callback] | None = None,
    backup_dir: str | None = None,
    strategy: tf.distribute.Strategy | None = None,
    verbose: Any = "auto",
) -> keras.callbacks.History:
    """Train like `model.fit` under any strategy; see the module docstring.

    Arguments as `seqzoo.distribute.fit`.
    """
    strategy = strategy or model.distribute_strategy
    chief = is_chief(strategy)
    callbacks = list(callbacks or [])
    if backup_dir and chief:
        callbacks.insert(0, keras.callbacks.BackupAndRestore(backup_dir, double_checkpoint=True))
    if verbose == "auto":
        verbose = 1
    if not chief:
        verbose = 0
    callbacks = keras.callbacks.CallbackList(
        callbacks, add_history=True, add_progbar=verbose != 0, model=model,
        verbose=verbose, epochs=epochs, steps=_steps(train),
    )
    train_function, test_function = _step_functions(model, strategy, train.element_spec)
    train_dist, val_dist = _distribute(strategy, train), _distribute(strategy, validation_data)
    with _worker_failures(strategy, backup_dir):
        return _loop(model, strategy, callbacks, train_function, test_function, train_dist, val_dist, epochs)


def _loop(model, strategy, callbacks, train_function, test_function, train_dist, val_dist, epochs):
    model.stop_training = False
    _compat.reset_initial_epoch(model)
    callbacks.on_train_begin()  # BackupAndRestore (chief) restores weights and epoch here
    state = model.variables + (model.optimizer.variables if model.optimizer is not None else [])
    state = list({id(v): v for v in state}.values())
    (initial_epoch,) = broadcast_from_chief(strategy, state, [_compat.initial_epoch(model) or 0])
    _compat.reset_initial_epoch(model)

    vote = _stop_vote(strategy)
    training_logs = None
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        callbacks.on_epoch_begin(epoch)
        logs: dict[str, Any] = {}
        for step, batch in enumerate(train_dist):
            callbacks.on_train_batch_begin(step)
            logs = train_function(batch)
            callbacks.on_train_batch_end(step, logs)
            if model.stop_training:
                break
        epoch_logs = _pythonify(logs)
        if val_dist is not None:
            val_logs = _evaluate(model, val_dist, test_function, callbacks)
            epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
        callbacks.on_epoch_end(epoch, epoch_logs)
        training_logs = epoch_logs
        model.stop_training = vote(bool(model.stop_training))
        if model.stop_training:
            break

    if isinstance(model.optimizer, keras.optimizers.Optimizer) and epochs > 0:
        model.optimizer.finalize_variable_values(model.trainable_weights)
    callbacks.on_train_end(logs=training_logs)
    return model.history


def _evaluate(model: keras.Model, dataset, test_function, callbacks) -> dict[str, float]:
    """One pass of `test_function` over the distributed `dataset`; exact global logs."""
    model.reset_metrics()
    callbacks.on_test_begin()
    logs: dict[str, Any] = {}
    for step, batch in enumerate(dataset):
        callbacks.on_test_batch_begin(step)
        logs = test_function(batch)
        callbacks.on_test_batch_end(step, logs)
    logs = _pythonify(logs)
    callbacks.on_test_end(logs)
    return logs

