"""Runs many HMC transitions in one `tf.while_loop`, optionally adapting the step size."""

import collections

import tensorflow as tf

from keras_vcd.mcmc.adaptation import adapt_step_size
from keras_vcd.mcmc.hmc import HMCState, hmc_transition, init_state
from keras_vcd.mcmc.randomness import fold_in

ChainResult = collections.namedtuple(
    "ChainResult", ["state", "step_size", "mean_accept_rate", "reduced"]
)
ChainResult.__doc__ = """What `run_chain` returns.

Attributes:
    state: the final `HMCState`.
    step_size: the step size after the last transition (adapted or not).
    mean_accept_rate: the fraction of accepted proposals over all transitions and chains.
    reduced: the reducer's final accumulator, or `None` without a reducer.
"""


class MomentsReducer:
    """Streams the per-chain mean and variance of the visited positions (Welford).

    Keeps O(batch * dim) memory however many states are visited. `finalize` returns
    `(mean, std)` with the population standard deviation.
    """

    def initial(self, position):
        zeros = tf.zeros_like(position)
        return (tf.zeros([], position.dtype), zeros, zeros)

    def update(self, accumulator, position):
        count, mean, m2 = accumulator
        count = count + 1.0
        delta = position - mean
        mean = mean + delta / count
        return (count, mean, m2 + delta * (position - mean))

    def finalize(self, accumulator):
        count, mean, m2 = accumulator
        return mean, tf.sqrt(m2 / count)


def run_chain(target_log_prob_fn, initial, step_size, num_steps, num_leapfrog_steps,
              seed, adapt=False, target_accept_rate=0.9, adaptation_rate=0.01,
              reducer=None):
    """Runs `num_steps` HMC transitions.

    Args:
        target_log_prob_fn: batched log density, `(batch, dim) -> (batch,)`.
        initial: an `HMCState`, or a `(batch, dim)` start position.
        step_size: a scalar shared by all chains (adapted on the batch-mean acceptance,
            as in VCD training; under a `tf.distribute` strategy the mean over this
            replica's chains, see `HMCRefine.update_step_size`) or a `(batch,)` vector,
            one per chain (each adapted on its own acceptance).
        num_steps: Python int or scalar tensor, the number of transitions (>= 0).
        num_leapfrog_steps: Python int >= 1.
        seed: shape-`[2]` integer seed; transition `t` uses `fold_in(seed, t)`.
        adapt: whether to apply `adapt_step_size` after every transition.
        target_accept_rate, adaptation_rate: see `adapt_step_size`.
        reducer: optional object with `initial(position)` and
            `update(accumulator, position)`, fed the state after every transition.

    Returns:
        A `ChainResult`.

    Example:

    >>> import tensorflow as tf
    >>> from keras_vcd import mcmc
    >>> target = lambda z: -0.5 * tf.reduce_sum(z**2, axis=-1)
    >>> result = mcmc.run_chain(target, tf.zeros([8, 2]), 0.3, num_steps=10,
    ...                         num_leapfrog_steps=5, seed=[0, 1], adapt=True)
    >>> result.state.position.shape
    TensorShape([8, 2])
    """
    state = initial if isinstance(initial, HMCState) else init_state(
        target_log_prob_fn, initial
    )
    dtype = state.position.dtype
    step_size = tf.convert_to_tensor(step_size, dtype)
    per_chain = step_size.shape.rank == 1
    accumulator = reducer.initial(state.position) if reducer else ()

    def body(t, state, step_size, accepted, accumulator):
        leapfrog_step = step_size[:, tf.newaxis] if per_chain else step_size
        state, info = hmc_transition(
            target_log_prob_fn, state, leapfrog_step, num_leapfrog_steps,
            fold_in(seed, t),
        )
        accept = tf.cast(info.is_accepted, dtype)
        if adapt:
            step_size = adapt_step_size(
                step_size, accept if per_chain else tf.reduce_mean(accept),
                target_accept_rate, adaptation_rate,
            )
        if reducer:
            accumulator = reducer.update(accumulator, state.position)
        return t + 1, state, step_size, accepted + tf.reduce_sum(accept), accumulator

    loop_state = (tf.constant(0), state, step_size, tf.zeros([], dtype), accumulator)
    loop_state = tf.while_loop(lambda t, *_: t < num_steps, body, loop_state)
    _, state, step_size, accepted, accumulator = loop_state
    num_proposals = tf.cast(num_steps, dtype) * tf.cast(tf.shape(state.position)[0], dtype)
    mean_accept_rate = accepted / tf.maximum(num_proposals, 1.0)
    return ChainResult(state, step_size, mean_accept_rate,
                       accumulator if reducer else None)
