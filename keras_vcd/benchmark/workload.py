"""What is timed: synthetic binary data and a `VCDModel` compiled with the defaults."""

import numpy as np

import keras_vcd as kv
from keras_vcd.models.vcd_model import DEFAULT_STEPS_PER_EXECUTION


def synthetic_data(num_examples, input_dim, density=0.13, seed=0):
    """Binary float32 data, each pixel 1 with probability `density`.

    In memory, so that no section waits on a download or a disk.

    Example:

    >>> x = synthetic_data(4, 3)
    >>> x.shape, x.dtype.name, set(x.ravel()) <= {0.0, 1.0}
    ((4, 3), 'float32', True)
    """
    rng = np.random.default_rng(seed)
    return (rng.random((num_examples, input_dim), dtype=np.float32) < density).astype("float32")


def make_model(config, control_variate="global", num_train_examples=None, seed=0):
    """A `VCDModel` of `config` (see `PAPER_CONFIG`), compiled with the defaults.

    Example:

    >>> from keras_vcd.benchmark.settings import PAPER_CONFIG
    >>> make_model(PAPER_CONFIG).objective
    'vcd'
    """
    model = kv.VCDModel(
        encoder=kv.GaussianEncoder(config["latent_dim"], tuple(config["hidden_units"])),
        decoder=kv.BernoulliDecoder(config["input_dim"], tuple(config["hidden_units"])),
        refiner=kv.HMCRefine(config["num_steps"], config["num_leapfrog_steps"]),
        objective="vcd", control_variate=control_variate,
        num_train_examples=num_train_examples,
        local_warmup_steps=config.get("local_warmup_steps", 3000), seed=seed,
    )
    model.compile()  # the defaults: XLA and steps_per_execution
    return model


def whole_executions(iterations):
    """`iterations` rounded down to whole calls of the compiled multi-step function.

    A partial call would run a differently shaped function, compiled on the clock.

    Example:

    >>> whole_executions(25), whole_executions(3)  # 10 steps per execution
    (20, 10)
    """
    spe = DEFAULT_STEPS_PER_EXECUTION
    return max(spe, iterations // spe * spe)
