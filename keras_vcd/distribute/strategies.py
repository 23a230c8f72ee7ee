"""Choosing a `tf.distribute` strategy for `VCDModel`, and helpers for multi-worker runs.

See the package docstring (`keras_vcd.distribute`) for what holds under a strategy.
"""

import contextlib
import importlib
import importlib.util
import json
import os
import shutil
import socket
import tempfile
import warnings

import tensorflow as tf

STRATEGIES = ("auto", "ipu", "mirrored", "multi_worker", "default")
# Keyword options each strategy accepts.
_OPTIONS = {
    "auto": (),
    "ipu": ("num_ipus",),
    "mirrored": ("devices", "cross_device_ops"),
    "multi_worker": ("communication",),
    "default": (),
}
_COMMUNICATION = {
    "auto": "AUTO",
    "ring": "RING",
    "nccl": "NCCL",
}


class IPUUnavailableError(RuntimeError):
    """Raised by `get_strategy("ipu")` when Graphcore's TensorFlow is not installed."""


def get_strategy(name="auto", **options):
    """Returns a `tf.distribute.Strategy` by name.

    Args:
        name: one of
            - `"auto"`: the IPU strategy if Graphcore's TensorFlow is installed,
              else `"mirrored"` if TensorFlow sees more than one GPU, else `"default"`.
            - `"ipu"`: Graphcore's `IPUStrategy`, after configuring the IPU system
              with `num_ipus` IPUs (option, default 1).
            - `"mirrored"`: `tf.distribute.MirroredStrategy` over all local GPUs (or
              the CPU if there is none), or over `devices` (option, a list of device
              names such as `["/gpu:0", "/gpu:1"]`); `cross_device_ops` is passed on.
            - `"multi_worker"`: `tf.distribute.MultiWorkerMirroredStrategy`, with the
              cluster read from the `TF_CONFIG` environment variable; option
              `communication` is `"auto"` (default), `"ring"` or `"nccl"`. Create it
              at the start of the program, before any other TensorFlow op.
            - `"default"`: `tf.distribute.get_strategy()`, the current strategy
              (one device when no scope is open).
        **options: the options named above for the chosen strategy.

    Returns:
        A `tf.distribute.Strategy`.

    Raises:
        ValueError: unknown name or option; `TF_CONFIG` missing or malformed.
        IPUUnavailableError: `"ipu"` without Graphcore's TensorFlow.

    Example:

    >>> from keras_vcd import distribute
    >>> distribute.get_strategy("tpu")
    Traceback (most recent call last):
    ...
    ValueError: Unknown strategy 'tpu'; expected one of ['auto', 'ipu', 'mirrored', ...].
    """
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}; expected one of {list(STRATEGIES)}.")
    unknown = sorted(set(options) - set(_OPTIONS[name]))
    if unknown:
        raise ValueError(
            f"Strategy {name!r} takes the options {list(_OPTIONS[name])}; received {unknown}."
        )
    if name == "auto":
        return _auto_strategy()
    if name == "ipu":
        return _ipu_strategy(**options)
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(
            devices=options.get("devices"), cross_device_ops=options.get("cross_device_ops")
        )
    if name == "multi_worker":
        return _multi_worker_strategy(**options)
    return tf.distribute.get_strategy()


@contextlib.contextmanager
def strategy_scope(name="auto", **options):
    """`get_strategy(name, **options)` with its scope entered; yields the strategy.

    Example:

    >>> from keras_vcd import distribute
    >>> with distribute.strategy_scope("default") as strategy:
    ...     strategy.num_replicas_in_sync
    1
    """
    strategy = get_strategy(name, **options)
    with strategy.scope():
        yield strategy


def ipu_available():
    """Whether Graphcore's TensorFlow (`tensorflow.python.ipu`) can be imported."""
    try:
        return importlib.util.find_spec("tensorflow.python.ipu") is not None
    except (ImportError, ValueError):
        return False


def _ipu_strategy(num_ipus=1):
    try:
        ipu = importlib.import_module("tensorflow.python.ipu")
    except ImportError as error:
        raise IPUUnavailableError(
            "Strategy 'ipu' needs Graphcore's build of TensorFlow from the Poplar SDK "
            f"(the module tensorflow.python.ipu; import failed: {error}). This "
            f"TensorFlow {tf.__version__} is not that build. Choose another strategy: "
            f"one of {list(STRATEGIES[2:])}, or 'auto'."
        ) from error
    config = ipu.config.IPUConfig()
    config.auto_select_ipus = num_ipus
    config.configure_ipu_system()
    return ipu.ipu_strategy.IPUStrategy()


def _auto_strategy():
    if ipu_available():
        try:
            return _ipu_strategy()
        except Exception as error:  # noqa: BLE001 - any failure to attach an IPU
            warnings.warn(
                f"Graphcore's TensorFlow is installed but no IPU could be configured "
                f"({type(error).__name__}: {error}); falling back.",
                stacklevel=3,
            )
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


# ---------------------------------------------------------------------- multi-worker


def read_tf_config(environ=None):
    """Parses and checks `TF_CONFIG`; returns it as a dict.

    It must be JSON with a `"cluster"` mapping job names to lists of "host:port"
    addresses (a `"worker"` job at least) and a `"task"` with a `"type"` among those
    jobs and an `"index"` into its list.

    Raises:
        ValueError: missing or malformed, with what was received.

    Example:

    >>> config = read_tf_config({"TF_CONFIG": '{"cluster": {"worker": ["a:1", "b:2"]}, '
    ...                                       '"task": {"type": "worker", "index": 1}}'})
    >>> config["task"]
    {'type': 'worker', 'index': 1}
    """
    environ = os.environ if environ is None else environ
    raw = environ.get("TF_CONFIG")
    if not raw:
        raise ValueError(
            "Strategy 'multi_worker' needs the TF_CONFIG environment variable (JSON with "
            '"cluster" and "task", e.g. {"cluster": {"worker": ["host1:12345", '
            '"host2:12345"]}, "task": {"type": "worker", "index": 0}}); received '
            f"{raw!r}."
        )
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error}); received {raw!r}.") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    problems = []
    if not isinstance(cluster, dict) or not cluster.get("worker") and not cluster.get("chief"):
        problems.append('"cluster" must map "worker" (and optionally "chief") to address lists')
    elif not all(isinstance(v, list) and v for v in cluster.values()):
        problems.append('every job in "cluster" must list at least one "host:port"')
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        problems.append('"task" must have "type" and "index"')
    elif isinstance(cluster, dict) and (
        task["type"] not in cluster
        or not isinstance(task["index"], int)
        or not 0 <= task["index"] < len(cluster.get(task["type"]) or [])
    ):
        problems.append(f'"task" {task} names no member of the cluster')
    if problems:
        raise ValueError(f"Malformed TF_CONFIG: {'; '.join(problems)}; received {raw!r}.")
    return config


def _multi_worker_strategy(communication="auto"):
    if communication not in _COMMUNICATION:
        raise ValueError(
            f"Unknown communication {communication!r}; expected one of {list(_COMMUNICATION)}."
        )
    read_tf_config()
    implementation = getattr(
        tf.distribute.experimental.CommunicationImplementation, _COMMUNICATION[communication]
    )
    return tf.distribute.MultiWorkerMirroredStrategy(
        communication_options=tf.distribute.experimental.CommunicationOptions(
            implementation=implementation
        )
    )


def _task(strategy):
    """`(task_type, task_id, cluster dict)` of this process, or Nones on one machine."""
    resolver = getattr(strategy, "cluster_resolver", None) if strategy is not None else None
    if resolver is not None and resolver.task_type is not None:
        return resolver.task_type, resolver.task_id, resolver.cluster_spec().as_dict()
    if not os.environ.get("TF_CONFIG"):
        return None, None, {}
    config = read_tf_config()
    return config["task"]["type"], config["task"]["index"], config["cluster"]


def is_chief(strategy=None):
    """Whether this process should write checkpoints and results.

    The chief is the `"chief"` task if the cluster has one, else worker 0 (the same
    rule as TensorFlow's). It is read from `strategy.cluster_resolver` when given a
    `MultiWorkerMirroredStrategy`, else from `TF_CONFIG`; a process with neither is
    alone, hence the chief.

    Example:

    >>> is_chief()  # no TF_CONFIG: a single process
    True
    """
    task_type, task_id, cluster = _task(strategy)
    if task_type is None:
        return True
    if "chief" in cluster:
        return task_type == "chief"
    return task_type == "worker" and task_id == 0


@contextlib.contextmanager
def write_path(path, strategy=None):
    """Yields where this process should write `path`; non-chiefs write to a temp dir.

    Under `MultiWorkerMirroredStrategy` every worker should run the same saving code
    (saving may read variables with collective ops, and all workers must take part),
    but only the chief's file must land at `path`. The chief gets `path` itself; any
    other worker gets a path of the same file name in a fresh temporary directory,
    removed when the block ends.

    Example:

    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "model.weights.h5")
    >>> with write_path(target) as path:  # the chief, on one machine
    ...     path == target
    True
    """
    if is_chief(strategy):
        yield path
        return
    directory = tempfile.mkdtemp(prefix="keras_vcd_worker_")
    try:
        yield os.path.join(directory, os.path.basename(os.fspath(path)))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def configure_logical_cpus(num_devices):
    """Splits the CPU into `num_devices` logical devices, to try strategies without GPUs.

    Must run before TensorFlow initialises its devices (before any op or strategy is
    created); calling it again with the same number is harmless.

    Args:
        num_devices: int >= 1.

    Returns:
        The logical CPU device names, e.g. `["/device:CPU:0", "/device:CPU:1"]`.

    Raises:
        ValueError: `num_devices` is not a positive int.
        RuntimeError: TensorFlow has already initialised its devices otherwise.
    """
    if not isinstance(num_devices, int) or num_devices < 1:
        raise ValueError(f"num_devices must be an int >= 1, received {num_devices!r}.")
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if len(current or [None]) != num_devices:
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)]
            )
        except RuntimeError as error:
            raise RuntimeError(
                f"configure_logical_cpus({num_devices}) must run before TensorFlow "
                f"initialises its devices (before any op, model or strategy is made): "
                f"{error}"
            ) from error
    return [f"/device:CPU:{i}" for i in range(num_devices)]


def loopback_cluster(num_workers):
    """A `TF_CONFIG` cluster of `num_workers` workers on 127.0.0.1, at free ports.

    For trying `MultiWorkerMirroredStrategy` on one machine: give worker i the
    environment `TF_CONFIG={"cluster": cluster, "task": {"type": "worker", "index": i}}`.
    The ports were free when asked for; another program could take one before the
    workers bind it.

    Example:

    >>> from keras_vcd import distribute
    >>> cluster = distribute.loopback_cluster(2)
    >>> [address.split(":")[0] for address in cluster["worker"]]
    ['127.0.0.1', '127.0.0.1']
    """
    sockets = [socket.socket() for _ in range(num_workers)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return {"worker": [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]}
    finally:
        for s in sockets:
            s.close()
