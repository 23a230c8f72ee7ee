"""One Hamiltonian Monte Carlo transition, batched over independent chains."""

import collections

import tensorflow as tf

from keras_vcd.mcmc.leapfrog import leapfrog, value_and_gradient
from keras_vcd.mcmc import randomness

HMCState = collections.namedtuple(
    "HMCState", ["position", "target_log_prob", "grad_target_log_prob"]
)
HMCState.__doc__ = """What the next transition needs, per chain.

Attributes:
    position: `(batch, dim)`, the current point of each chain.
    target_log_prob: `(batch,)`, the target log density at `position`.
    grad_target_log_prob: `(batch, dim)`, its gradient at `position`, carried so that a
        transition costs `num_leapfrog_steps` gradient evaluations, not one more.
"""
HMCState.position.__doc__ = "`(batch, dim)`, the current point of each chain."
HMCState.target_log_prob.__doc__ = "`(batch,)`, the target log density at `position`."
HMCState.grad_target_log_prob.__doc__ = "`(batch, dim)`, its gradient at `position`."

HMCInfo = collections.namedtuple(
    "HMCInfo", ["accept_prob", "is_accepted", "energy_change"]
)
HMCInfo.__doc__ = """Diagnostics of one transition, per chain (none of it is needed to go on).

Attributes:
    accept_prob: `(batch,)`, the Metropolis probability min(1, exp(-energy_change)).
    is_accepted: `(batch,)` bool, whether the proposal was kept.
    energy_change: `(batch,)`, the change of the Hamiltonian along the trajectory
        (+inf for a proposal whose log density or gradient is not finite).
"""
HMCInfo.accept_prob.__doc__ = "`(batch,)`, min(1, exp(-energy_change))."
HMCInfo.is_accepted.__doc__ = "`(batch,)` bool, whether the proposal was kept."
HMCInfo.energy_change.__doc__ = "`(batch,)`, the change of the Hamiltonian (+inf if not finite)."


def init_state(target_log_prob_fn, position):
    """Builds the `HMCState` at `position` (one log density and gradient evaluation).

    Raises:
        ValueError: the target does not return one log density per chain, shape
            `(batch,)` (e.g. a scalar summed over the batch, which would make every
            chain accept or reject together, or a `(batch, 1)` column).
    """
    log_prob, grad = value_and_gradient(target_log_prob_fn, position)
    expected = position.shape[:-1]
    if log_prob.shape.rank != expected.rank or not log_prob.shape.is_compatible_with(expected):
        raise ValueError(
            f"target_log_prob_fn returned shape {log_prob.shape} for positions of shape "
            f"{position.shape}; expected one log density per chain, shape {expected}. "
            "Sum over the event dimensions only, never over the batch."
        )
    return HMCState(position, log_prob, grad)


def hmc_transition(target_log_prob_fn, state, step_size, num_leapfrog_steps, seed):
    """Runs one HMC transition per chain with a Metropolis test per chain.

    The gradient at the current state is carried in `state`, so a transition costs
    `num_leapfrog_steps` gradient evaluations. A proposal whose log density or gradient
    is not finite is rejected, so no NaN or Inf ever enters the state.

    Args:
        target_log_prob_fn: batched log density, `(batch, dim) -> (batch,)`.
        state: the current `HMCState`.
        step_size: scalar step size shared by all chains, or `(batch, 1)`, one per chain.
        num_leapfrog_steps: Python int >= 1.
        seed: shape-`[2]` integer tensor for stateless random ops; the same seed
            gives the same transition, with or without XLA.

    Returns:
        `(new_state, info)`: an `HMCState` and an `HMCInfo` of per-chain tensors.

    Example:

    >>> import tensorflow as tf
    >>> from keras_vcd import mcmc
    >>> target = lambda z: -0.5 * tf.reduce_sum(z**2, axis=-1)
    >>> state = mcmc.init_state(target, tf.zeros([4, 2]))
    >>> state, info = mcmc.hmc_transition(target, state, 0.5, 5, seed=[1, 2])
    >>> state.position.shape
    TensorShape([4, 2])
    """
    position = state.position
    momentum = randomness.normal(
        tf.shape(position), randomness.fold_in(seed, 0), position.dtype
    )
    new_position, new_momentum, new_log_prob, new_grad = leapfrog(
        target_log_prob_fn, position, momentum, state.grad_target_log_prob,
        step_size, num_leapfrog_steps,
    )

    def kinetic(p):
        return 0.5 * tf.reduce_sum(tf.square(p), axis=-1)

    energy_change = (kinetic(new_momentum) - new_log_prob) - (
        kinetic(momentum) - state.target_log_prob
    )
    finite = tf.logical_and(
        tf.math.is_finite(energy_change),
        tf.reduce_all(tf.math.is_finite(new_grad), axis=-1),
    )
    energy_change = tf.where(finite, energy_change, tf.constant(float("inf"), energy_change.dtype))
    log_accept_prob = tf.minimum(tf.zeros_like(energy_change), -energy_change)
    uniform = randomness.uniform(
        tf.shape(energy_change), randomness.fold_in(seed, 1), energy_change.dtype
    )
    is_accepted = tf.math.log(uniform) < log_accept_prob

    def select(new, old):
        keep = tf.reshape(is_accepted, [-1] + [1] * (len(new.shape) - 1))
        return tf.where(keep, new, old)

    new_state = HMCState(
        select(new_position, position),
        select(new_log_prob, state.target_log_prob),
        select(new_grad, state.grad_target_log_prob),
    )
    return new_state, HMCInfo(tf.exp(log_accept_prob), is_accepted, energy_change)
