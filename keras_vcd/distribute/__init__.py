"""Distributed training: strategies, replica reductions and the Keras workarounds.

- `strategies`: choosing a `tf.distribute` strategy, and helpers for multi-worker runs.
- `replicas`: reductions over the global batch that hold under any strategy.
- `keras_workarounds`: what `VCDModel` changes so that Keras runs it under a strategy.

Make the model and compile it inside the strategy's scope; `fit` then splits every
global batch over the replicas:

    strategy = kv.distribute.get_strategy("mirrored")
    with strategy.scope():
        model = kv.VCDModel(...)
        model.compile()
    model.fit(x, batch_size=100)   # 100 is the GLOBAL batch, split over the replicas

What holds under a strategy with several replicas (all verified by
tests/test_distribute.py with Keras 3 and TensorFlow 2.18 on CPUs: MirroredStrategy
over 2 logical CPU devices, MultiWorkerMirroredStrategy with 2 worker processes):

- The losses are sums over the batch, and Keras's TensorFlow optimizer SUMS the
  gradients over the replicas before its update, so one update equals the update of
  one device on the whole global batch. Keep the global batch size of a single-device
  run (e.g. the paper's 100); do not scale the batch size or learning rate.
- The HMC step size is adapted on the acceptance averaged over the global batch, so
  it is the same on every replica; the control variates likewise ("local" ones gather
  every replica's indices, so no example's update is lost).
- Each replica draws its own noise: the model folds the replica id into its seed.
- `VCDModel.compile` runs one step per execution without XLA (a Keras bug and an
  XLA limitation, see its docstring): expect lower throughput per device than a
  single-device run, which uses XLA and 10 steps per execution.

Not tested here: MirroredStrategy over real GPUs (NCCL all-reduce), multi-worker
training across machines, and IPUs. Graphcore's `IPUStrategy` comes only with
Graphcore's own TensorFlow (in the Poplar SDK), an implementation of TensorFlow 2.6
whose Keras integration is `tf.keras` (Keras 2); Keras 3, which keras_vcd needs, runs
on TensorFlow 2.16 or later. `get_strategy("ipu")` configures the IPU system and
returns the strategy as Graphcore documents, but it has never run here, and an IPU
user should expect keras_vcd not to install or train next to Graphcore's TensorFlow
until Graphcore ships a build for Keras 3; see docs/distribute.md.

Example:

>>> from keras_vcd import distribute
>>> distribute.get_strategy("default").num_replicas_in_sync
1
"""

from keras_vcd.distribute.strategies import (  # noqa: F401
    STRATEGIES,
    IPUUnavailableError,
    configure_logical_cpus,
    get_strategy,
    ipu_available,
    is_chief,
    loopback_cluster,
    read_tf_config,
    strategy_scope,
    write_path,
)

__all__ = [
    "STRATEGIES",
    "IPUUnavailableError",
    "configure_logical_cpus",
    "get_strategy",
    "ipu_available",
    "is_chief",
    "loopback_cluster",
    "read_tf_config",
    "strategy_scope",
    "write_path",
]
