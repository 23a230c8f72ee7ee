"""Step-size adaptation rules, pluggable into `run_chain`.

Each rule follows BlackJAX's adaptation shape: `init(step_size)` builds the rule's
state (a tuple of tensors, so it can ride in a `tf.while_loop`), `update(state, info)`
folds in the `HMCInfo` of one transition, `step_size(state)` is the step size of the
next transition and `final(state)` the one to keep once adaptation stops.

- `ReferenceAdaptation`: the VCD reference implementation's rule (`adapt_step_size`),
  used by `HMCRefine` in training; slow and local by design.
- `DualAveraging`: Nesterov dual averaging (Hoffman & Gelman 2014, as in Stan and
  TFP's `DualAveragingStepSizeAdaptation`), per chain: reaches the target acceptance
  from any start within tens of transitions. The estimators use it.
- `MultiplicativeAdaptation`: step size times or divided by a constant factor
  after each transition (the AIS codes of Wu et al. 2017); it follows a target that
  changes along the chain, as AIS's annealed targets do.
"""

import tensorflow as tf

from keras_vcd.validation import check_number


def adapt_step_size(step_size, mean_accept_rate, target_accept_rate=0.9,
                    adaptation_rate=0.01):
    """Moves one shared step size towards a target mean acceptance rate.

    `step_size <- step_size + rate * step_size * (mean_accept - target) / target`. The
    update is multiplicative and the relative error is at least -1, so the step size
    stays positive whenever `adaptation_rate < 1`.

    Args:
        step_size: scalar tensor, the current step size.
        mean_accept_rate: scalar tensor, the acceptance averaged over the batch.
        target_accept_rate: the acceptance the rule aims for.
        adaptation_rate: relative change per call.

    Returns:
        The new step size, a scalar tensor of the same dtype.

    Example:

    >>> import tensorflow as tf
    >>> from keras_vcd import mcmc
    >>> round(float(mcmc.adapt_step_size(tf.constant(0.1), 0.0, 0.9, 0.01)), 6)
    0.099
    """
    mean_accept_rate = tf.cast(mean_accept_rate, step_size.dtype)
    relative_error = (mean_accept_rate - target_accept_rate) / target_accept_rate
    return step_size + adaptation_rate * step_size * relative_error


class StepSizeAdaptation:
    """The interface of a step-size adaptation rule (subclass it for your own).

    The state is a tuple of tensors whose shapes do not change from one transition to
    the next. The step size is a scalar shared by all chains or a `(batch,)` vector,
    one per chain; a rule keeps the shape it was given.
    """

    def init(self, step_size):
        """The rule's state before the first transition, from the start step size."""
        raise NotImplementedError

    def update(self, state, info):
        """The state after a transition whose diagnostics are `info` (an `HMCInfo`)."""
        raise NotImplementedError

    def step_size(self, state):
        """The step size of the next transition."""
        raise NotImplementedError

    def final(self, state):
        """The step size to use once adaptation ends (default: the current one)."""
        return self.step_size(state)


class ReferenceAdaptation(StepSizeAdaptation):
    """The VCD reference rule, `adapt_step_size`, after every transition.

    A shared (scalar) step size follows the batch-mean of the accept decisions, as in
    VCD training; a `(batch,)` vector follows each chain's own decisions. The result
    is bit for bit the rule `HMCRefine` has always applied.

    Args:
        target_accept_rate: the acceptance the rule aims for.
        adaptation_rate: relative change per transition.

    Example:

    >>> import tensorflow as tf
    >>> from keras_vcd import mcmc
    >>> target = lambda z: -0.5 * tf.reduce_sum(z**2, axis=-1)
    >>> result = mcmc.run_chain(target, tf.zeros([8, 2]), 0.3, 10, 3, seed=[0, 1],
    ...                         adaptation=mcmc.ReferenceAdaptation(0.9, 0.01))
    >>> result.step_size.shape
    TensorShape([])
    """

    def __init__(self, target_accept_rate=0.9, adaptation_rate=0.01):
        self.target_accept_rate = _check_target(target_accept_rate)
        self.adaptation_rate = check_number(adaptation_rate, "adaptation_rate", 0, 1,
                                            exclusive_maximum=True)

    def init(self, step_size):
        return (step_size,)

    def update(self, state, info):
        (step_size,) = state
        return (adapt_step_size(step_size, _per_step_size(info.is_accepted, step_size),
                                self.target_accept_rate, self.adaptation_rate),)

    def step_size(self, state):
        return state[0]


class DualAveraging(StepSizeAdaptation):
    """Dual averaging of the log step size towards a target acceptance probability.

    With `H_m` the running mean of `target - accept_prob` (shrunk by `t0`),
    `log eps_m = mu - sqrt(m) / gamma * H_m` with `mu = log(10 * eps_0)`, and the
    returned (`final`) step size is the average
    `log eps_bar_m = m^-kappa log eps_m + (1 - m^-kappa) log eps_bar_{m-1}`
    (Hoffman & Gelman 2014, Algorithm 5; Stan's defaults). Each entry of a `(batch,)`
    step size follows its own chain's acceptance; a scalar follows the batch mean.

    Args:
        target_accept_rate: the mean acceptance probability aimed for.
        gamma, t0, kappa: the scheme's constants (0.05, 10, 0.75 in Stan and TFP).

    Example:

    >>> import tensorflow as tf
    >>> from keras_vcd import mcmc
    >>> target = lambda z: -0.5 * tf.reduce_sum(z**2, axis=-1)
    >>> result = mcmc.run_chain(target, tf.zeros([4, 2]), tf.fill([4], 1e-3), 100, 3,
    ...                         seed=[0, 1], adaptation=mcmc.DualAveraging(0.8))
    >>> bool(tf.reduce_all(result.step_size > 0.1))
    True
    """

    def __init__(self, target_accept_rate=0.8, gamma=0.05, t0=10.0, kappa=0.75):
        self.target_accept_rate = _check_target(target_accept_rate)
        self.gamma = check_number(gamma, "gamma", 0, exclusive_minimum=True)
        self.t0 = check_number(t0, "t0", 0)
        self.kappa = check_number(kappa, "kappa", 0, 1, exclusive_minimum=True)

    def init(self, step_size):
        log_step = tf.math.log(step_size)
        zeros = tf.zeros_like(step_size)
        # (iteration, mean error, log step, averaged log step, shrinkage point mu)
        return (zeros, zeros, log_step, log_step, log_step + tf.math.log(10.0))

    def update(self, state, info):
        count, error, _, log_averaged, mu = state
        accept = _per_step_size(info.accept_prob, count)
        count = count + 1.0
        weight = 1.0 / (count + self.t0)
        error = (1.0 - weight) * error + weight * (self.target_accept_rate - accept)
        log_step = mu - tf.sqrt(count) / self.gamma * error
        decay = count ** -self.kappa
        log_averaged = decay * log_step + (1.0 - decay) * log_averaged
        return (count, error, log_step, log_averaged, mu)

    def step_size(self, state):
        return tf.exp(state[2])

    def final(self, state):
        return tf.exp(state[3])


class MultiplicativeAdaptation(StepSizeAdaptation):
    """Multiplies the step size by `factor` after an acceptance probability above the
    target, divides it by `factor` otherwise (per chain, or on the batch mean).

    The rule has no memory, so it tracks a target that drifts, as along an AIS
    schedule; it spans `factor ** n` in `n` transitions.

    Args:
        target_accept_rate: the acceptance probability aimed for.
        factor: the change per transition (> 1).

    Example:

    >>> import tensorflow as tf
    >>> from keras_vcd import mcmc
    >>> rule = mcmc.MultiplicativeAdaptation(0.65, 1.02)
    >>> info = mcmc.HMCInfo(tf.constant([1.0, 0.0]), None, None)
    >>> [round(float(s), 4) for s in rule.update(rule.init(tf.fill([2], 0.5)), info)[0]]
    [0.51, 0.4902]
    """

    def __init__(self, target_accept_rate=0.65, factor=1.02):
        self.target_accept_rate = _check_target(target_accept_rate)
        self.factor = check_number(factor, "factor", 1, exclusive_minimum=True)

    def init(self, step_size):
        return (step_size,)

    def update(self, state, info):
        (step_size,) = state
        accept = _per_step_size(info.accept_prob, step_size)
        factor = tf.where(accept > self.target_accept_rate, self.factor, 1.0 / self.factor)
        return (step_size * tf.cast(factor, step_size.dtype),)

    def step_size(self, state):
        return state[0]


def _check_target(target_accept_rate):
    return check_number(target_accept_rate, "target_accept_rate", 0, 1,
                        exclusive_minimum=True, exclusive_maximum=True)


def _per_step_size(per_chain, step_size):
    """`per_chain` values in `step_size`'s dtype, averaged over the batch for a scalar."""
    values = tf.cast(per_chain, step_size.dtype)
    return tf.reduce_mean(values) if step_size.shape.rank == 0 else values
