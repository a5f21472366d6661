"""Distribution strategies chosen by name, and the training entry point the recipes use.

| name | what it does |
|---|---|
| `auto` | `tpu` if a TPU is reachable, else `multi_worker` if `TF_CONFIG` names more than one worker, else `mirrored` with more than one GPU, else `default` |
| `default` | TensorFlow's default strategy: one device (the first GPU if any, else the CPU) |
| `one_device` | `tf.distribute.OneDeviceStrategy` on the first GPU, else the CPU |
| `mirrored` | `tf.distribute.MirroredStrategy`: one replica per local GPU, gradients all-reduced |
| `multi_worker` | `tf.distribute.MultiWorkerMirroredStrategy` over the machines in `TF_CONFIG` |
| `tpu` | `tf.distribute.TPUStrategy` on the Cloud TPU named by `TPU_NAME` (or the local TPU VM) |

**Batch size is global.** Datasets given to `fit` are batched with the global
batch size (all replicas on all workers together); each step every replica
gets `global_batch / num_replicas_in_sync` examples and the gradients are
averaged over the whole global batch. So a global batch of 256 trains the same
model whatever the strategy, and the number of steps per epoch does not change
when you add devices. Scale the batch size (and usually the learning rate)
yourself when you add replicas.

**Multi-worker training.** Keras 3's `model.fit` fails under
`MultiWorkerMirroredStrategy` (keras-team/keras#20585). `fit` therefore trains
multi-worker runs with its own loop (`seqzoo._multiworker`): the same
`model.train_step`/`test_step` run in `strategy.run`, exact global metrics,
Keras callbacks, validation each epoch, a Keras `History`, and backups in
`backup_dir` (written by the chief; on restart the chief's state is broadcast
to every worker). Every other strategy uses `model.fit`.

`model.evaluate` fails there too and `model.predict` is a collective every
worker must join: evaluate a trained model on the chief alone with `evaluate`
or a `local_copy` of the model.

**Multi-worker input.** Every worker reads the same input pipeline and keeps
its part of each global batch (auto-shard policy DATA, `shard_by_data`), so
in-memory and generated data shard correctly. A partial last batch is split
unevenly; as in `model.fit` under `MirroredStrategy`, that step's gradient then
weights the replicas' examples unevenly (use full batches for bit-comparable
runs).

Create the strategy first: `MultiWorkerMirroredStrategy` must exist before
TensorFlow runs any op, so call `get_strategy` (and `set_mixed_precision`)
before building models or datasets.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
from typing import Any, Callable

import keras
import tensorflow as tf

from seqzoo import _multiworker
from seqzoo._multiworker import WorkerLostError, shard_by_data  # noqa: F401  (public here)


STRATEGIES = ("auto", "default", "one_device", "mirrored", "multi_worker", "tpu")

_TF_CONFIG_EXAMPLE = (
    'TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
    '"task": {"type": "worker", "index": 0}}\' (index 1 on the second machine)'
)


class StrategyError(ValueError):
    """A strategy cannot be used here; the message says how to fix it."""


# --------------------------------------------------------------------------- TF_CONFIG


def _tf_config() -> dict | None:
    """The parsed `TF_CONFIG`, `None` when unset; `StrategyError` when unusable."""
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        return None
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as error:
        raise StrategyError(f"TF_CONFIG is not valid JSON ({error.msg}); set e.g. {_TF_CONFIG_EXAMPLE}") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not (cluster.get("worker") or cluster.get("chief")):
        raise StrategyError(f"TF_CONFIG has no cluster.worker list; set e.g. {_TF_CONFIG_EXAMPLE}")
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise StrategyError(f"TF_CONFIG has no task {{type, index}}; set e.g. {_TF_CONFIG_EXAMPLE}")
    members = cluster.get(task["type"]) or []
    if not isinstance(task["index"], int) or not 0 <= task["index"] < len(members):
        raise StrategyError(
            f"TF_CONFIG task {task['type']}:{task['index']} is not in cluster.{task['type']} "
            f"({len(members)} entries); give each machine its own index"
        )
    return config


def _num_workers(config: dict | None) -> int:
    if not config:
        return 0
    cluster = config["cluster"]
    return len(cluster.get("worker") or []) + len(cluster.get("chief") or [])


# --------------------------------------------------------------------------- TPU


def _tpu_address() -> str | None:
    """Where a TPU is, from cheap local signals only (no network, no retries).

    `TPU_NAME` (a Cloud TPU name or `grpc://host:8470`), `COLAB_TPU_ADDR`, or a
    TPU VM's local accelerator devices (`/dev/accel*`, `/dev/vfio/*` with
    `TPU_ACCELERATOR_TYPE` / `TPU_WORKER_ID` set) -> `"local"`.
    """
    if os.environ.get("TPU_NAME"):
        return os.environ["TPU_NAME"]
    if os.environ.get("COLAB_TPU_ADDR"):
        return "grpc://" + os.environ["COLAB_TPU_ADDR"]
    tpu_vm_env = os.environ.get("TPU_ACCELERATOR_TYPE") or os.environ.get("TPU_WORKER_ID")
    if glob.glob("/dev/accel[0-9]*") or (tpu_vm_env and glob.glob("/dev/vfio/[0-9]*")):
        return "local"
    return None


# --------------------------------------------------------------------------- strategies


def _gpus() -> list:
    # Physical, not logical: listing logical devices initialises the TF runtime,
    # after which MultiWorkerMirroredStrategy can no longer be created.
    return tf.config.list_physical_devices("GPU")


def _default() -> tf.distribute.Strategy:
    return tf.distribute.get_strategy()


def _one_device() -> tf.distribute.Strategy:
    return tf.distribute.OneDeviceStrategy("/gpu:0" if _gpus() else "/cpu:0")


def _mirrored() -> tf.distribute.Strategy:
    # All local GPUs; without GPUs, all logical CPUs when several were configured
    # (`tf.config.set_logical_device_configuration`, as the tests do).
    cpus = [] if _gpus() else [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(cpus if len(cpus) > 1 else None)


def _multi_worker() -> tf.distribute.Strategy:
    if _tf_config() is None:
        raise StrategyError(f"multi_worker needs TF_CONFIG on every machine; set e.g. {_TF_CONFIG_EXAMPLE}")
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as error:
        raise StrategyError(
            f"cannot start multi-worker training ({str(error).splitlines()[0]}); create the strategy "
            "with seqzoo.distribute.get_strategy before TensorFlow runs any op"
        ) from None


def _tpu() -> tf.distribute.Strategy:
    address = _tpu_address()
    if address is None:
        raise StrategyError(
            "no TPU found; run on a Cloud TPU VM, or set TPU_NAME to the TPU's name "
            "or grpc://host:8470, or use get_strategy('auto')"
        )
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=address)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise StrategyError(
            f"cannot reach the TPU {address!r} ({str(error).splitlines()[0]}); "
            "check TPU_NAME and that the TPU is running"
        ) from None
    return tf.distribute.TPUStrategy(resolver)


_BUILDERS: dict[str, Callable[[], tf.distribute.Strategy]] = {
    "default": _default,
    "one_device": _one_device,
    "mirrored": _mirrored,
    "multi_worker": _multi_worker,
    "tpu": _tpu,
}


def resolve(name: str = "auto") -> str:
    """The concrete strategy name `get_strategy(name)` would create (`auto` resolved).

    Example:

    >>> resolve("mirrored")
    'mirrored'
    """
    if name not in STRATEGIES:
        raise StrategyError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    if name != "auto":
        return name
    if _tpu_address() is not None:
        return "tpu"
    if _num_workers(_tf_config()) > 1:
        return "multi_worker"
    if len(_gpus()) > 1:
        return "mirrored"
    return "default"


def get_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """The `tf.distribute.Strategy` called `name` (one of `STRATEGIES`).

    Call it at program start, before building models or datasets: the
    multi-worker strategy must exist before TensorFlow runs any op.

    Args:
        name: `"auto"`, `"default"`, `"one_device"`, `"mirrored"`,
            `"multi_worker"` or `"tpu"` (see the module docstring).

    Raises:
        StrategyError: unknown name, `tpu` with no TPU, `multi_worker` without
            a usable `TF_CONFIG`; the one-line message says how to fix it.

    Example:

    >>> strategy = get_strategy("one_device")
    >>> strategy.num_replicas_in_sync
    1
    """
    return _BUILDERS[resolve(name)]()


# --------------------------------------------------------------------------- helpers


def is_multi_worker(strategy: tf.distribute.Strategy | None = None) -> bool:
    """Whether `strategy` (default: the current one) is `MultiWorkerMirroredStrategy`."""
    strategy = strategy or tf.distribute.get_strategy()
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def is_chief(strategy: tf.distribute.Strategy | None = None) -> bool:
    """Whether this process writes the run's files (always true outside multi-worker).

    Example:

    >>> is_chief(tf.distribute.get_strategy())
    True
    """
    return _multiworker.is_chief(strategy or tf.distribute.get_strategy())


def chief_value(value: int, strategy: tf.distribute.Strategy | None = None) -> int:
    """The chief's `value` on every worker (one all-reduce; `value` itself outside multi-worker).

    Every worker must call it at the same point, e.g. to agree on what the
    chief found in its run directory.

    Example:

    >>> chief_value(3, tf.distribute.get_strategy())
    3
    """
    strategy = strategy or tf.distribute.get_strategy()
    if not is_multi_worker(strategy):
        return int(value)
    return _multiworker.broadcast_from_chief(strategy, [], [int(value)])[0]


def barrier(strategy: tf.distribute.Strategy | None = None) -> None:
    """Wait until every worker gets here (nothing to wait for outside multi-worker).

    Call it at the end of a multi-worker program so that the workers exit
    together: one still running ~10 s after another has exited sees its
    heartbeats fail and logs coordination-service errors.

    Example:

    >>> barrier(tf.distribute.get_strategy())
    """
    chief_value(0, strategy)


def write_dir(path: str, strategy: tf.distribute.Strategy | None = None) -> str:
    """Where this process should write files meant for `path`.

    The chief (and every single-process run) writes to `path`; another
    multi-worker worker gets a fresh temporary directory, so workers never
    overwrite the chief's files. Delete it when done (`shutil.rmtree`).

    Example:

    >>> write_dir("runs/imdb-gru") == "runs/imdb-gru"   # single process
    True
    """
    strategy = strategy or tf.distribute.get_strategy()
    if is_chief(strategy):
        return path
    task_id = getattr(strategy.cluster_resolver, "task_id", "x")
    return tempfile.mkdtemp(prefix=f"seqzoo-worker{task_id}-")


def set_mixed_precision(enabled: bool, strategy: tf.distribute.Strategy | None = None) -> str:
    """Set the global Keras dtype policy; returns the policy name.

    Call it before building the model. `mixed_float16` on GPU (Keras `compile`
    then wraps the optimizer in `keras.optimizers.LossScaleOptimizer`, which
    both `model.fit` and the multi-worker loop use), `mixed_bfloat16` on TPU
    and CPU (no loss scaling needed); `enabled=False` restores `float32`.
    Variables stay float32 and seqzoo heads compute in float32, so model
    outputs are float32.

    Args:
        enabled: mixed precision on or off.
        strategy: the training strategy; a `TPUStrategy` selects bfloat16.

    Example:

    >>> set_mixed_precision(False)
    'float32'
    """
    if not enabled:
        policy = "float32"
    elif isinstance(strategy, tf.distribute.TPUStrategy):
        policy = "mixed_bfloat16"
    else:
        policy = "mixed_float16" if _gpus() else "mixed_bfloat16"
    keras.mixed_precision.set_global_policy(policy)
    return policy


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
    """Train `model` under `strategy`, resuming from `backup_dir`; the recipes' only way to train.

    Multi-worker runs use seqzoo's own loop (Keras 3's `fit` fails there);
    every other strategy uses `model.fit`. Both give the same `History`
    (`loss`, the compiled metrics, `val_*`), call the Keras callbacks, print
    progress and back up after each epoch.

    Args:
        model: built and compiled inside `strategy.scope()`.
        train: `tf.data.Dataset` of `(x, y)` batched with the **global** batch
            size (see the module docstring).
        validation_data: like `train`; evaluated after every epoch.
        epochs: total epochs, counting those already done before a resume.
        callbacks: Keras callbacks. In a multi-worker run every worker runs
            them (with identical logs): point the file-writing ones of workers
            other than the chief at `write_dir(path)`. Only the chief prints.
        backup_dir: back up the training state here after every epoch and
            resume from it when the same run is started again (deleted when
            training completes). Multi-worker: only the chief's is used (the
            other workers' is ignored): the chief restores it and sends the
            state to every worker.
        strategy: the strategy the model was built under (default: the
            model's).
        verbose: as `model.fit`: `"auto"`, 0, 1 or 2.

    Returns:
        The Keras `History`; `.history` maps each metric to one value per epoch.

    Raises:
        WorkerLostError: (multi-worker) another worker died or became
            unreachable; restart every worker with the same command to resume
            from `backup_dir`.

    Example:

    >>> import numpy as np, seqzoo
    >>> strategy = get_strategy("default")
    >>> with strategy.scope():
    ...     model = seqzoo.build("gru", inputs="series", seq_len=8, features=2,
    ...                          head="forecast", horizon=2, targets=1, units=4)
    ...     model.compile("adam", "mse", metrics=["mae"])
    >>> x = np.random.rand(32, 8, 2).astype("float32"); y = x[:, -2:, -1:]
    >>> data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    >>> sorted(fit(model, data, validation_data=data, verbose=0).history)
    ['loss', 'mae', 'val_loss', 'val_mae']
    """
    strategy = strategy or model.distribute_strategy
    if is_multi_worker(strategy):
        return _multiworker.fit(
            model, train, validation_data=validation_data, epochs=epochs, callbacks=callbacks,
            backup_dir=backup_dir, strategy=strategy, verbose=verbose,
        )
    callbacks = list(callbacks or [])
    if backup_dir:
        callbacks.insert(0, keras.callbacks.BackupAndRestore(backup_dir, double_checkpoint=True))
    # Datasets arrive batched and already shuffled: Keras must not (and warns if asked).
    return model.fit(
        train, validation_data=validation_data, epochs=epochs, callbacks=callbacks,
        verbose=verbose, shuffle=False,
    )


def local_copy(model: keras.Model) -> keras.Model:
    """A copy of `model` (same weights and compile settings) that belongs to no strategy.

    Its `predict` and `evaluate` run on this process alone: under
    `MultiWorkerMirroredStrategy` the original model's are collectives that
    every worker must join (and its `evaluate` fails, keras-team/keras#20585),
    so evaluate a trained multi-worker model on the chief with a local copy.
    Call it outside `strategy.scope()`.

    Example:

    >>> import numpy as np, keras
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> copy = local_copy(model)
    >>> bool(np.allclose(copy.predict(np.ones((1, 2)), verbose=0), model.predict(np.ones((1, 2)), verbose=0)))
    True
    """
    if tf.distribute.has_strategy():
        raise ValueError("seqzoo.distribute.local_copy: call it outside strategy.scope()")
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    config = model.get_compile_config() if model.compiled else None
    if config:
        copy.compile_from_config(config)
    return copy


def evaluate(
    model: keras.Model,
    data: tf.data.Dataset,
    *,
    strategy: tf.distribute.Strategy | None = None,
    verbose: Any = 0,
) -> dict[str, float]:
    """The compiled loss and metrics of `model` on `data`, as a dict.

    `model.evaluate(data, return_dict=True)`, except under
    `MultiWorkerMirroredStrategy` (where `model.evaluate` fails): there it
    evaluates a `local_copy` on this worker alone, so any worker (usually just
    the chief) may call it, without the others.

    Args:
        model: compiled, built under `strategy.scope()`.
        data: `(x, y)` batches.
        strategy: default: the model's.
        verbose: progress, as `model.evaluate`.

    Example:

    >>> import numpy as np, keras
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> data = tf.data.Dataset.from_tensor_slices((np.ones((4, 2)), np.zeros((4, 1)))).batch(2)
    >>> sorted(evaluate(model, data))
    ['loss']
    """
    strategy = strategy or model.distribute_strategy
    if is_multi_worker(strategy):
        model = local_copy(model)
    return model.evaluate(data, verbose=verbose, return_dict=True)
