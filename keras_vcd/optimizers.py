"""The RMSprop variant of the VCD reference implementation, and the paper's schedules."""

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="keras_vcd")
class ReferenceRMSprop(keras.optimizers.Optimizer):
    """RMSprop as the VCD reference code writes it.

    `G <- rho * G + (1 - rho) * g^2` (at the very first step `G <- g^2`) and
    `w <- w - lr * g / (1 + sqrt(G))`. Keras's `RMSprop` divides by
    `sqrt(G + epsilon)` instead, which behaves very differently for small `G`: the
    `1 +` here caps the step at `lr * |g|`. Written by hand for that reason.

    Args:
        learning_rate: float or `keras.optimizers.schedules.LearningRateSchedule`.
        rho: decay of the running mean of squared gradients, in [0, 1).
        initial_accumulator_value: the value `G` holds before the first step (the
            first step overwrites it with `g^2`).
        **kwargs: the base `keras.optimizers.Optimizer` arguments (name, clipnorm, ...).

    Example:

    >>> import keras, keras_vcd as kv
    >>> schedule = keras.optimizers.schedules.ExponentialDecay(
    ...     5e-4, decay_steps=15000, decay_rate=0.9, staircase=True)
    >>> optimizer = kv.optimizers.ReferenceRMSprop(learning_rate=schedule)
    """

    def __init__(self, learning_rate=5e-4, rho=0.9, initial_accumulator_value=0.01,
                 name="reference_rmsprop", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if not 0.0 <= rho < 1.0:
            raise ValueError(f"rho must be in [0, 1), received {rho!r}.")
        self.rho = rho
        self.initial_accumulator_value = initial_accumulator_value

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._accumulators = [
            self.add_variable_from_reference(
                v, name="accumulator",
                initializer=keras.initializers.Constant(self.initial_accumulator_value),
            )
            for v in var_list
        ]

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        accumulator = self._accumulators[self._get_variable_index(variable)]
        squared = ops.square(gradient)
        new_accumulator = ops.where(
            ops.equal(self.iterations, 0),
            squared,
            self.rho * accumulator + (1.0 - self.rho) * squared,
        )
        self.assign(accumulator, new_accumulator)
        self.assign_sub(
            variable, learning_rate * gradient / (1.0 + ops.sqrt(new_accumulator))
        )

    def get_config(self):
        config = super().get_config()
        config.update(rho=self.rho, initial_accumulator_value=self.initial_accumulator_value)
        return config


def paper_schedule(initial_learning_rate, decay_steps=15000, decay_rate=0.9):
    """The paper's staircase decay: the rate is multiplied by 0.9 every 15,000 steps."""
    return keras.optimizers.schedules.ExponentialDecay(
        initial_learning_rate, decay_steps=decay_steps, decay_rate=decay_rate, staircase=True
    )


# The paper's learning rates per parameter group.
PAPER_LEARNING_RATES = {"decoder": 5e-4, "encoder_mean": 5e-4, "encoder_std": 2.5e-4}


def paper_optimizer(group):
    """A fresh `ReferenceRMSprop` with the paper's schedule for a parameter group.

    Args:
        group: one of `"decoder"`, `"encoder_mean"`, `"encoder_std"`.
    """
    if group not in PAPER_LEARNING_RATES:
        raise ValueError(
            f"Unknown parameter group {group!r}; expected one of {sorted(PAPER_LEARNING_RATES)}."
        )
    return ReferenceRMSprop(
        learning_rate=paper_schedule(PAPER_LEARNING_RATES[group]), name=f"{group}_optimizer"
    )


GROUPS = tuple(PAPER_LEARNING_RATES)


def _for_group(optimizer, group, copy):
    """One group's optimizer from a name, an instance (copied if `copy`) or None (the paper's)."""
    if optimizer is None:
        return paper_optimizer(group)
    if isinstance(optimizer, str):
        try:
            return keras.optimizers.get(optimizer)
        except ValueError as error:
            raise ValueError(
                f"Unknown optimizer {optimizer!r} for {group}: {error}"
            ) from error
    if isinstance(optimizer, keras.optimizers.Optimizer):
        # Each group keeps its own slots and step count: one instance cannot serve two.
        return type(optimizer).from_config(optimizer.get_config()) if copy else optimizer
    raise ValueError(
        f"The {group} optimizer must be a Keras optimizer, its name or None (the paper's); "
        f"received {optimizer!r}."
    )


def group_optimizers(optimizer=None):
    """One fresh optimizer per parameter group: {"decoder", "encoder_mean", "encoder_std"}.

    Args:
        optimizer: None (the paper's `ReferenceRMSprop` and schedules), one optimizer
            for every group (a name such as `"adam"`, or an instance, copied per group
            from its config), or a dict keyed by group name (names or instances, used
            as given) whose missing groups get the paper's.

    Example:

    >>> from keras_vcd import optimizers
    >>> groups = optimizers.group_optimizers({"decoder": "adam"})
    >>> type(groups["decoder"]).__name__, type(groups["encoder_std"]).__name__
    ('Adam', 'ReferenceRMSprop')
    """
    if isinstance(optimizer, dict):
        unknown = sorted(set(optimizer) - set(GROUPS))
        if unknown:
            raise ValueError(
                f"Unknown parameter groups {unknown} in the optimizer dict; expected keys "
                f"among {list(GROUPS)}."
            )
        return {group: _for_group(optimizer.get(group), group, copy=False) for group in GROUPS}
    return {group: _for_group(optimizer, group, copy=True) for group in GROUPS}


def group_optimizers_of_compile(optimizer=None, **per_group):
    """`group_optimizers` from `VCDModel.compile`'s arguments.

    Args:
        optimizer: as `group_optimizers`' argument.
        **per_group: the per-group keywords (`decoder=...`, ...), None where not given;
            they exclude `optimizer`.
    """
    given = {group: value for group, value in per_group.items() if value is not None}
    if optimizer is not None and given:
        raise ValueError(
            "Give optimizer (one for all groups, or a dict keyed by group) or the "
            "per-group decoder_optimizer/encoder_mean_optimizer/encoder_std_optimizer, "
            "not both."
        )
    return group_optimizers(given if optimizer is None else optimizer)



# ---------------------------------------------------------------- compile config
# A saved model's compile config holds each group's optimizer under its keyword of
# `VCDModel.compile` ("decoder_optimizer", ...), beside the execution settings.


def compile_keywords(groups):
    """`VCDModel.compile`'s per-group keywords for `groups` ({group: optimizer}).

    Example:

    >>> from keras_vcd import optimizers
    >>> sorted(optimizers.compile_keywords(optimizers.group_optimizers("adam")))
    ['decoder_optimizer', 'encoder_mean_optimizer', 'encoder_std_optimizer']
    """
    return {f"{group}_optimizer": groups[group] for group in GROUPS}


def serialize_compile_config(config):
    """A compile config (optimizers as instances) as JSON-ready Keras objects.

    Example:

    >>> from keras_vcd import optimizers
    >>> config = {**optimizers.compile_keywords(optimizers.group_optimizers("adam")),
    ...           "jit_compile": True}
    >>> saved = optimizers.serialize_compile_config(config)
    >>> saved["decoder_optimizer"]["class_name"], saved["jit_compile"]
    ('Adam', True)
    >>> type(optimizers.deserialize_compile_config(saved)["encoder_std_optimizer"]).__name__
    'Adam'
    """
    return {key: keras.saving.serialize_keras_object(value) for key, value in config.items()}


def deserialize_compile_config(config):
    """`serialize_compile_config` undone: `VCDModel.compile`'s keyword arguments."""
    return {key: keras.saving.deserialize_keras_object(value) for key, value in config.items()}


# ---------------------------------------------------------------- parameter groups
# A model with parameter groups describes them as {group: (optimizer, variables)}, in
# GROUPS order (see `VCDModel.parameter_groups`); these helpers act on that mapping.


def build_group_optimizers(groups):
    """Creates every group's optimizer slots for its variables."""
    for optimizer, variables in groups.values():
        optimizer.build(variables)


def apply_group_gradients(groups, gradients):
    """Applies `gradients` (all groups' variables, in order) with each group's optimizer."""
    start = 0
    for optimizer, variables in groups.values():
        optimizer.apply(gradients[start:start + len(variables)], variables)
        start += len(variables)


def describe_group_optimizers(groups):
    """A line counting every group's optimizer variables (Keras's summary counts one).

    Example:

    >>> import keras
    >>> from keras_vcd import optimizers
    >>> weight = keras.Variable([1.0, 2.0])
    >>> groups = {"decoder": (optimizers.paper_optimizer("decoder"), [weight])}
    >>> optimizers.build_group_optimizers(groups)
    >>> optimizers.describe_group_optimizers(groups)  # the step count, 2 accumulators
    ' Optimizer params, all groups: 3 (decoder 3)'
    """
    counts = {group: sum(int(np.prod(v.shape)) for v in optimizer.variables)
              for group, (optimizer, _) in groups.items()}
    return (f" Optimizer params, all groups: {sum(counts.values()):,} ("
            + ", ".join(f"{group} {count:,}" for group, count in counts.items()) + ")")
