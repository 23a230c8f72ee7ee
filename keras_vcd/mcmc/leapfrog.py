"""The leapfrog integrator of Hamiltonian dynamics with an identity mass matrix."""

import tensorflow as tf


def value_and_gradient(target_log_prob_fn, position):
    """Evaluates a batched log density and its gradient with respect to `position`.

    Args:
        target_log_prob_fn: maps positions of shape `(batch, dim)` to log densities of
            shape `(batch,)`. Chains must not interact: example `i`'s log density may
            depend only on row `i`, so the gradient of the sum is the per-chain gradient.
        position: tensor of shape `(batch, dim)`.

    Returns:
        `(log_prob, grad)` with shapes `(batch,)` and `(batch, dim)`.
    """
    with tf.GradientTape() as tape:
        tape.watch(position)
        log_prob = target_log_prob_fn(position)
    return log_prob, tape.gradient(log_prob, position)


def leapfrog(target_log_prob_fn, position, momentum, grad, step_size, num_leapfrog_steps):
    """Integrates Hamiltonian dynamics for `num_leapfrog_steps` leapfrog steps.

    Half a momentum step, then `num_leapfrog_steps - 1` full position and momentum steps, then a
    last position step and half a momentum step. Each step evaluates the gradient once,
    so the whole trajectory costs `num_leapfrog_steps` gradient evaluations given the gradient
    at the start (`grad`).

    Args:
        target_log_prob_fn: batched log density, see `value_and_gradient`.
        position: `(batch, dim)` start position.
        momentum: `(batch, dim)` start momentum.
        grad: `(batch, dim)` gradient of the log density at `position`.
        step_size: scalar (or broadcastable to `position`) step size.
        num_leapfrog_steps: Python int >= 1, the number of leapfrog steps.

    Returns:
        `(position, momentum, log_prob, grad)` at the end of the trajectory.
    """
    momentum = momentum + 0.5 * step_size * grad

    def full_step(position, momentum):
        position = position + step_size * momentum
        # Only the gradient is used here, so XLA drops the log density itself: for a
        # Bernoulli likelihood that skips a softplus per pixel, the costliest
        # element-wise op of the whole step.
        _, grad = value_and_gradient(target_log_prob_fn, position)
        return position, momentum + step_size * grad

    # All but the last step use a full momentum update; the last position update is
    # followed by only a half momentum step.
    position, momentum = _repeat(full_step, num_leapfrog_steps - 1, position, momentum)
    position = position + step_size * momentum
    log_prob, grad = value_and_gradient(target_log_prob_fn, position)
    momentum = momentum + 0.5 * step_size * grad
    return position, momentum, log_prob, grad


def _repeat(body, num_iterations, *loop_vars):
    """Applies `loop_vars = body(*loop_vars)` `num_iterations` times in a `tf.while_loop`."""
    if num_iterations == 0:
        return loop_vars
    _, *loop_vars = tf.while_loop(
        lambda i, *_: i < num_iterations,
        lambda i, *args: (i + 1, *body(*args)),
        (tf.constant(0), *loop_vars),
    )
    return loop_vars
