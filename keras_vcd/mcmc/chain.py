"""Runs many HMC transitions in one `tf.while_loop`, with a pluggable step-size adaptation."""

import collections

import tensorflow as tf

from keras_vcd.mcmc.adaptation import StepSizeAdaptation
from keras_vcd.mcmc.hmc import HMCState, hmc_transition, init_state
from keras_vcd.mcmc.randomness import fold_in

ChainResult = collections.namedtuple(
    "ChainResult", ["state", "step_size", "mean_accept_rate", "reduced", "accept_rate"]
)
ChainResult.__doc__ = """What `run_chain` returns.

Attributes:
    state: the final `HMCState`.
    step_size: the step size to go on with: the adaptation's `final` step size, or
        the fixed one without adaptation.
    mean_accept_rate: the fraction of accepted proposals over all transitions and chains.
    reduced: the reducer's final accumulator, or `None` without a reducer.
    accept_rate: `(batch,)`, the fraction of each chain's proposals accepted.
"""


class Reducer:
    """Streams a statistic of the visited positions; subclass it for your own.

    `run_chain` feeds it the position after every transition, so a statistic of a long
    chain needs no memory of the chain itself (TFP's reducers, BlackJAX's loops).
    """

    def initial(self, position):
        """The accumulator before the first transition (a tuple of tensors)."""
        raise NotImplementedError

    def update(self, accumulator, position):
        """The accumulator after one more visited `(batch, dim)` position."""
        raise NotImplementedError

    def finalize(self, accumulator):
        """The statistic, from the final accumulator."""
        raise NotImplementedError


class MomentsReducer(Reducer):
    """Streams the per-chain mean and variance of the visited positions (Welford).

    Keeps O(batch * dim) memory however many states are visited. `finalize` returns
    `(mean, std)` with the population standard deviation.

    Example:

    >>> import tensorflow as tf
    >>> from keras_vcd import mcmc
    >>> reducer = mcmc.MomentsReducer()
    >>> accumulator = reducer.initial(tf.zeros([1, 1]))
    >>> for value in (1.0, 3.0):
    ...     accumulator = reducer.update(accumulator, tf.constant([[value]]))
    >>> [float(t[0, 0]) for t in reducer.finalize(accumulator)]
    [2.0, 1.0]
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
              seed, adaptation=None, reducer=None):
    """Runs `num_steps` HMC transitions.

    Args:
        target_log_prob_fn: batched log density, `(batch, dim) -> (batch,)`.
        initial: an `HMCState`, or a `(batch, dim)` start position.
        step_size: a scalar shared by all chains or a `(batch,)` vector, one per chain:
            the fixed step size, or the start of the adaptation.
        num_steps: Python int or scalar tensor, the number of transitions (>= 0).
        num_leapfrog_steps: Python int >= 1.
        seed: shape-`[2]` integer seed; transition `t` uses `fold_in(seed, t)`.
        adaptation: a `StepSizeAdaptation` updated after every transition (e.g.
            `ReferenceAdaptation`, as in VCD training, or `DualAveraging`), or None
            for a fixed step size.
        reducer: an optional `Reducer`, fed the state after every transition.

    Returns:
        A `ChainResult`.

    Example:

    >>> import tensorflow as tf
    >>> from keras_vcd import mcmc
    >>> target = lambda z: -0.5 * tf.reduce_sum(z**2, axis=-1)
    >>> result = mcmc.run_chain(target, tf.zeros([8, 2]), 0.3, num_steps=10,
    ...                         num_leapfrog_steps=5, seed=[0, 1],
    ...                         adaptation=mcmc.ReferenceAdaptation())
    >>> result.state.position.shape
    TensorShape([8, 2])
    """
    for value, kind, name in ((adaptation, StepSizeAdaptation, "adaptation"),
                              (reducer, Reducer, "reducer")):
        if value is not None and not isinstance(value, kind):
            raise TypeError(f"{name} must be a keras_vcd.mcmc.{kind.__name__} or None, "
                            f"received {value!r}; subclass {kind.__name__} for your own.")
    state = initial if isinstance(initial, HMCState) else init_state(
        target_log_prob_fn, initial
    )
    dtype = state.position.dtype
    step_size = tf.convert_to_tensor(step_size, dtype)
    per_chain = step_size.shape.rank == 1
    adaptation_state = adaptation.init(step_size) if adaptation else (step_size,)
    accumulator = reducer.initial(state.position) if reducer else ()

    def current_step_size(adaptation_state):
        return adaptation.step_size(adaptation_state) if adaptation else adaptation_state[0]

    def body(t, state, adaptation_state, accepted, accumulator):
        step = current_step_size(adaptation_state)
        state, info = hmc_transition(
            target_log_prob_fn, state, step[:, tf.newaxis] if per_chain else step,
            num_leapfrog_steps, fold_in(seed, t),
        )
        if adaptation:
            adaptation_state = adaptation.update(adaptation_state, info)
        if reducer:
            accumulator = reducer.update(accumulator, state.position)
        return (t + 1, state, adaptation_state,
                accepted + tf.cast(info.is_accepted, dtype), accumulator)

    accepted = tf.zeros(tf.shape(state.position)[:1], dtype)
    loop_state = (tf.constant(0), state, adaptation_state, accepted, accumulator)
    loop_state = tf.while_loop(lambda t, *_: t < num_steps, body, loop_state)
    _, state, adaptation_state, accepted, accumulator = loop_state
    # Accept counts are whole numbers, so the total is exact in any order of summation.
    steps = tf.maximum(tf.cast(num_steps, dtype), 1.0)
    num_proposals = tf.cast(num_steps, dtype) * tf.cast(tf.shape(state.position)[0], dtype)
    mean_accept_rate = tf.reduce_sum(accepted) / tf.maximum(num_proposals, 1.0)
    final = adaptation.final(adaptation_state) if adaptation else adaptation_state[0]
    return ChainResult(state, final, mean_accept_rate,
                       accumulator if reducer else None, accepted / steps)
