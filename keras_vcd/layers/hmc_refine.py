"""Refines samples by HMC targeting any batched log density."""

import keras
import tensorflow as tf

from keras_vcd import mcmc
from keras_vcd.distribute.replicas import batch_sum_and_count, sum_over_replicas
from keras_vcd.validation import check_int, check_number


@keras.saving.register_keras_serializable(package="keras_vcd")
class HMCRefine(keras.layers.Layer):
    """Runs `num_steps` HMC transitions from `z0` towards a target density.

    One step size is shared by the batch. It is a non-trainable weight (saved with the
    model) that starts at `0.5 / latent_dim` unless `initial_step_size` is given, and
    is adapted after every transition towards `target_accept_rate`, only when
    `training=True`. Each transition costs `num_leapfrog_steps` gradient evaluations.
    `refine` runs the same chain without changing the layer, and `update_step_size`
    stores an adapted step size: `VCDModel` uses the pair so that the chain stays
    free of cross-replica communication under `tf.distribute` (and can be compiled
    by XLA on every replica).

    Args:
        num_steps: number of HMC transitions T (>= 0; 0 returns `z0`).
        num_leapfrog_steps: leapfrog steps L per transition (>= 1).
        target_accept_rate: mean acceptance the adaptation aims for, in (0, 1).
        adaptation_rate: relative step-size change per transition, in [0, 1).
        initial_step_size: starting step size; `None` means `0.5 / latent_dim`.
        seed: int seed of the layer's own random stream, used when `call` gets no seed.
        step_size_bounds: `(low, high)`; the adapted step size is clipped to it, so a
            run of rejections (e.g. from a diverging model) cannot drive it to 0 or
            a burst of acceptances to a useless size.

    Call arguments:
        z0: `(batch, latent_dim)` start positions (treated as constants).
        target_log_prob_fn: maps `(batch, latent_dim)` to `(batch,)` log densities,
            chains independent. Pass it by keyword (Keras only admits tensors as
            positional arguments).
        training: adapt the step size only if True.
        seed: optional shape-`[2]` integer seed for this call.
        return_info: also return a dict of diagnostics.

    Returns:
        The refined positions `z_T` (gradients stopped), or `(z_T, info)` with `info`
        holding `accept_rate` (mean over transitions and chains), `step_size` (after
        the call) and `target_log_prob` (at `z_T`, shape `(batch,)`).

    Example:

    >>> import tensorflow as tf, keras_vcd as kv
    >>> hmc = kv.HMCRefine(num_steps=8, num_leapfrog_steps=5)
    >>> target = lambda z: -0.5 * tf.reduce_sum((z - 3.0) ** 2, axis=-1)
    >>> z, info = hmc(tf.zeros([100, 2]), target_log_prob_fn=target, training=True,
    ...                return_info=True)
    >>> bool(tf.reduce_mean(z) > 1.0)
    True
    """

    def __init__(self, num_steps=8, num_leapfrog_steps=5, target_accept_rate=0.9,
                 adaptation_rate=0.01, initial_step_size=None, seed=None,
                 step_size_bounds=(1e-5, 10.0), **kwargs):
        super().__init__(**kwargs)
        self.num_steps = check_int(num_steps, "num_steps", minimum=0)
        self.num_leapfrog_steps = check_int(num_leapfrog_steps, "num_leapfrog_steps")
        self.target_accept_rate = check_number(
            target_accept_rate, "target_accept_rate", 0, 1, exclusive_minimum=True,
            exclusive_maximum=True)
        self.adaptation_rate = check_number(adaptation_rate, "adaptation_rate", 0, 1,
                                            exclusive_maximum=True)
        self.initial_step_size = None if initial_step_size is None else check_number(
            initial_step_size, "initial_step_size (or None)", 0, exclusive_minimum=True)
        low, high = step_size_bounds
        low = check_number(low, "step_size_bounds[0]", 0, exclusive_minimum=True)
        self.step_size_bounds = (
            low, check_number(high, "step_size_bounds[1]", low, exclusive_minimum=True))
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        latent_dim = input_shape[-1]
        initial = self.initial_step_size or 0.5 / latent_dim
        # Every replica computes the same update from an all-reduced acceptance, so
        # keeping the first replica's value loses nothing.
        self.step_size = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(initial), trainable=False,
            name="step_size", aggregation="only_first_replica",
        )

    def adaptation(self):
        """This layer's step-size rule: the reference rule at its target and rate.

        Example:

        >>> import keras_vcd as kv
        >>> kv.HMCRefine(adaptation_rate=0.05).adaptation().adaptation_rate
        0.05
        """
        return mcmc.ReferenceAdaptation(self.target_accept_rate, self.adaptation_rate)

    def run_chain(self, initial, target_log_prob_fn, seed, num_steps=None, step_size=None,
                  adaptation=None, reducer=None):
        """Runs this layer's HMC kernel without changing the layer's own step size.

        The kernel is this layer's: its leapfrog steps. Evaluation uses it to run
        longer chains than training does (the `"hmc_is"` estimator).

        Args:
            initial: `(batch, latent_dim)` start positions, or an `mcmc.HMCState`.
            target_log_prob_fn: `(batch, latent_dim) -> (batch,)` log densities.
            seed: shape-`[2]` integer seed.
            num_steps: HMC transitions; the layer's `num_steps` if None.
            step_size: a scalar shared by the batch or a `(batch,)` vector, one per
                chain; the layer's current step size if None.
            adaptation: an `mcmc.StepSizeAdaptation` applied along the chain (the
                returned `step_size`), e.g. `self.adaptation()`, or None.
            reducer: an `mcmc.Reducer`, fed every visited state, or None.

        Returns:
            An `mcmc.ChainResult`.

        Example:

        >>> import tensorflow as tf, keras_vcd as kv
        >>> hmc = kv.HMCRefine(num_steps=2, num_leapfrog_steps=3)
        >>> hmc.build((None, 2))
        >>> target = lambda z: -0.5 * tf.reduce_sum(z ** 2, axis=-1)
        >>> result = hmc.run_chain(tf.zeros([4, 2]), target, seed=[0, 1], num_steps=5)
        >>> tuple(result.state.position.shape)
        (4, 2)
        """
        return mcmc.run_chain(
            target_log_prob_fn, initial,
            self.step_size if step_size is None else step_size,
            self.num_steps if num_steps is None else num_steps,
            self.num_leapfrog_steps, seed, adaptation=adaptation, reducer=reducer,
        )

    def refine(self, z0, target_log_prob_fn, seed, adapt=False):
        """`call` without its side effect: returns `(z_T, info)`, the layer unchanged.

        With `adapt=True` the step size is adapted along the chain and returned as
        `info["step_size"]`; `update_step_size` stores it.

        Example:

        >>> import tensorflow as tf, keras_vcd as kv
        >>> hmc = kv.HMCRefine(num_steps=4, num_leapfrog_steps=3)
        >>> hmc.build((None, 2))
        >>> target = lambda z: -0.5 * tf.reduce_sum(z ** 2, axis=-1)
        >>> z, info = hmc.refine(tf.zeros([8, 2]), target, seed=[0, 1], adapt=True)
        >>> bool(info["step_size"] != hmc.step_size)
        True
        """
        result = self.run_chain(tf.stop_gradient(z0), target_log_prob_fn, seed,
                                adaptation=self.adaptation() if adapt else None)
        return tf.stop_gradient(result.state.position), {
            "accept_rate": result.mean_accept_rate,
            "step_size": result.step_size,
            "target_log_prob": tf.stop_gradient(result.state.target_log_prob),
        }

    def update_step_size(self, adapted, totals=None):
        """Stores an adapted step size, averaged over replicas, clipped to the bounds.

        Under a `tf.distribute` strategy each replica adapts along its chains on its
        own share of the batch; the mean over replicas keeps the copies equal. With
        one replica it stores `adapted` as is. `totals`: `batch_sum_and_count(adapted)`
        already summed over the replicas (a training step sums it with everything
        else in one all-reduce); computed here if None.
        """
        if totals is None:
            totals = sum_over_replicas(batch_sum_and_count(adapted))
        self.step_size.assign(
            tf.clip_by_value(totals["sum"] / totals["count"], *self.step_size_bounds)
        )

    def call(self, z0, target_log_prob_fn, training=False, seed=None, return_info=False):
        if seed is None:
            seed = self.seed_generator.next()
        z, info = self.refine(z0, target_log_prob_fn, seed, adapt=bool(training))
        if training:
            self.update_step_size(info["step_size"])
        return (z, info) if return_info else z

    def get_config(self):
        return {**super().get_config(), "num_steps": self.num_steps,
                "num_leapfrog_steps": self.num_leapfrog_steps,
                "target_accept_rate": self.target_accept_rate,
                "adaptation_rate": self.adaptation_rate,
                "initial_step_size": self.initial_step_size, "seed": self.seed,
                "step_size_bounds": list(self.step_size_bounds)}
