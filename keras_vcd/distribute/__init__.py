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

Under a strategy one update equals a single device's update on the whole global
batch (the losses are sums and the gradients are summed over the replicas), so keep
the single-device global batch size and learning rates. What is shared between
replicas (step size, control variates, random streams), what was verified on which
stack, and what has never run here (GPUs, several machines, IPUs) is in
docs/distribute.md.

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
