"""Annealed importance sampling (Neal 2001) from the prior to the posterior, with HMC.

Targets pi_k(z) ∝ N(z; 0, I) p(x | z)^beta_k, 0 = beta_0 < ... < beta_K = 1. A chain
starts at z_0 ~ N(0, I) and, for k = 1..K, adds (beta_k - beta_{k-1}) log p(x | z_{k-1})
to its log-weight, then moves by one HMC transition (`mcmc.hmc_transition`) that leaves
pi_k invariant. With C chains per example, log p(x) ~= logsumexp(log w_c) - log C, a
stochastic lower bound whose bias goes to 0 as K grows.

Step sizes: a warm-up pass (one chain per example, not weighted) runs the same
schedule and adapts its step size after every transition with
`mcmc.MultiplicativeAdaptation` (the rule follows pi_k as it narrows); the step size
it used at each k becomes that example's fixed step size at k in the weighted pass, so
every weighted transition is an exact pi_k-invariant kernel.

Reverse chains (bidirectional Monte Carlo, Grosse et al. 2015): from an exact
posterior sample z* of simulated x, the same moves run from beta = 1 down to 0; the
log-weight sum_k (beta_{k-1} - beta_k) log p(x | z_k) estimates log 1 / p(x), so
minus its log-mean-exp is a stochastic upper bound of log p(x).
"""

import math

import numpy as np
import tensorflow as tf
import tqdm

from keras_vcd import mcmc
from keras_vcd.densities import gaussian_log_prob
from keras_vcd.evaluation.compiled import compiled_functions
from keras_vcd.validation import check_choice, check_int

#: Chains per example and annealing steps K of the recommended setting: the full
#: MNIST test set in under an hour on 2 cores (docs/benchmark.md, "Estimator speed").
DEFAULT_NUM_CHAINS = 8
DEFAULT_NUM_ANNEALING_STEPS = 500
SCHEDULES = ("sigmoid", "geometric")
# The warm-up's step-size rule: start where N(0, I) is sampled well, then x1.05 or
# /1.05 per transition towards a median acceptance of 0.65 (Wu et al. 2017's target).
_WARMUP_STEP_SIZE = 0.5
_WARMUP_RULE = mcmc.MultiplicativeAdaptation(target_accept_rate=0.65, factor=1.05)
# Decoder outputs held at once (chains x examples x D floats); the backward pass of a
# leapfrog step keeps a few such arrays, so this bounds memory at a few hundred MiB.
_OUTPUT_BUDGET = 2**24


def annealing_schedule(num_annealing_steps, schedule="sigmoid", sharpness=4.0):
    """The inverse temperatures beta_0 = 0 < beta_1 < ... < beta_K = 1.

    `"sigmoid"` (Grosse et al. 2015, Wu et al. 2017): beta_k ∝ sigmoid(sharpness *
    (2k/K - 1)), shifted and scaled to run from 0 to 1; dense at both ends.
    `"geometric"`: beta_k = 10^(-4 (K - k) / (K - 1)) for k >= 1, evenly spaced in log.

    Args:
        num_annealing_steps: K >= 1.
        schedule: `"sigmoid"` or `"geometric"`.
        sharpness: of the sigmoid.

    Returns:
        `(K + 1,)` float64 array.

    Example:

    >>> from keras_vcd.evaluation.ais import annealing_schedule
    >>> [round(float(b), 3) for b in annealing_schedule(4)]
    [0.0, 0.105, 0.5, 0.895, 1.0]
    >>> [float(b) for b in annealing_schedule(3, "geometric")]
    [0.0, 0.0001, 0.01, 1.0]
    """
    num_annealing_steps = check_int(num_annealing_steps, "num_annealing_steps")
    check_choice(schedule, "schedule", SCHEDULES)
    k = np.arange(num_annealing_steps + 1, dtype=np.float64)
    if schedule == "sigmoid":
        curve = 1.0 / (1.0 + np.exp(-sharpness * (2.0 * k / num_annealing_steps - 1.0)))
        return (curve - curve[0]) / (curve[-1] - curve[0])
    if num_annealing_steps == 1:
        return np.array([0.0, 1.0])
    return np.concatenate([[0.0], np.logspace(-4.0, 0.0, num_annealing_steps)])


def _anneal(model, x, z, betas, seed, step_sizes=None):
    """Moves the chains `z` (`(C * B, dim)`, chain-major) along `betas`.

    With `step_sizes` (`(K, B)`), transition k uses each example's fixed step size;
    without, the warm-up rule adapts each chain's and the table of the step sizes
    used is returned.

    Returns:
        `(log_weights (C * B,), accepted (C * B,) counts, step-size table (K, B))`.
    """
    num_examples = tf.shape(x)[0]
    latent_dim = z.shape[-1]
    num_transitions = betas.shape[0] - 1
    leapfrog_steps = model.refiner.num_leapfrog_steps

    def log_lik(z):
        per_chain = tf.reshape(z, [-1, num_examples, latent_dim])
        return tf.reshape(model.decoder.log_likelihood(x, per_chain), [-1])

    def body(k, z, log_w, accepted, rule_state, table):
        beta = betas[k + 1]
        value, grad = mcmc.value_and_gradient(log_lik, z)
        log_w = log_w + (beta - betas[k]) * value

        def target(z):
            return gaussian_log_prob(z, normalized=False) + beta * log_lik(z)

        state = mcmc.HMCState(z, gaussian_log_prob(z, normalized=False) + beta * value,
                              beta * grad - z)
        if step_sizes is None:
            step = _WARMUP_RULE.step_size(rule_state)
            table = tf.tensor_scatter_nd_update(table, [[k]], step[tf.newaxis])
        else:
            step = tf.tile(step_sizes[k], [tf.shape(z)[0] // num_examples])
        state, info = mcmc.hmc_transition(target, state, step[:, tf.newaxis], leapfrog_steps,
                                          mcmc.fold_in(seed, k))
        if step_sizes is None:
            rule_state = _WARMUP_RULE.update(rule_state, info)
        return (k + 1, state.position, log_w, accepted + tf.cast(info.is_accepted, z.dtype),
                rule_state, table)

    zeros = tf.zeros(tf.shape(z)[:1], z.dtype)
    rule_state = _WARMUP_RULE.init(tf.fill([num_examples], tf.constant(_WARMUP_STEP_SIZE,
                                                                       z.dtype)))
    table = (tf.zeros([num_transitions, num_examples], z.dtype) if step_sizes is None
             else step_sizes)
    _, _, log_w, accepted, _, table = tf.while_loop(
        lambda k, *_: k < num_transitions, body,
        (tf.constant(0), z, zeros, zeros, rule_state, table))
    return log_w, accepted, table


def _log_mean_exp(log_weights, num_chains):
    """`(C * B,)` chain-major log-weights -> per-example log-mean-exp and ESS."""
    log_w = tf.reshape(log_weights, [num_chains, -1])
    total = tf.reduce_logsumexp(log_w, axis=0)
    ess = tf.exp(2.0 * total - tf.reduce_logsumexp(2.0 * log_w, axis=0))
    return total - math.log(num_chains), ess


def _compile_annealing(model, num_chains, num_annealing_steps, schedule, reverse):
    betas_value = annealing_schedule(num_annealing_steps, schedule)

    @tf.function(jit_compile=True)
    def run(x, seed, posterior_samples):
        num_examples = tf.shape(x)[0]
        latent_dim = model.latent_dim
        betas = tf.constant(betas_value, tf.float32)
        warmup = mcmc.normal([num_examples, latent_dim], mcmc.fold_in(seed, 0))
        _, _, table = _anneal(model, x, warmup, betas, mcmc.fold_in(seed, 1))
        start = mcmc.normal([num_chains * num_examples, latent_dim], mcmc.fold_in(seed, 2))
        log_w, accepted, _ = _anneal(model, x, start, betas, mcmc.fold_in(seed, 3), table)
        estimate, ess = _log_mean_exp(log_w, num_chains)
        result = {
            "log_likelihood": estimate,
            "effective_sample_size": ess,
            "accept_rate": tf.reduce_mean(tf.reshape(accepted, [num_chains, -1]), 0)
            / num_annealing_steps,
            "step_size": table[-1],
        }
        if reverse:
            # The reverse transitions target pi_{K-1}, ..., pi_0; pi_0 (the prior) takes
            # pi_1's step size, the warm-up having never targeted it.
            reverse_table = tf.concat([table[-2::-1], table[:1]], axis=0)
            log_w, _, _ = _anneal(model, x, tf.tile(posterior_samples, [num_chains, 1]),
                                  betas[::-1], mcmc.fold_in(seed, 4), reverse_table)
            inverse, _ = _log_mean_exp(log_w, num_chains)
            result["upper_bound"] = -inverse
        return result

    return run


def run_annealing(model, x, num_chains=DEFAULT_NUM_CHAINS,
                  num_annealing_steps=DEFAULT_NUM_ANNEALING_STEPS, schedule="sigmoid",
                  batch_size=500, seed=0, verbose=1, posterior_samples=None):
    """Forward AIS on `x` and, given exact posterior samples, the reverse chains too.

    Args:
        model: a built `VCDModel` (any decoder); its refiner's `num_leapfrog_steps`.
        x: `(N, *event_shape)` data, already in the decoder's support.
        num_chains: C, annealed chains per example.
        num_annealing_steps: K, the number of intermediate targets (and transitions).
        schedule: `"sigmoid"` or `"geometric"`, see `annealing_schedule`.
        batch_size: examples per compiled call (fewer if C * batch * D would exceed
            the memory budget).
        seed: int.
        verbose: 1 shows a progress bar.
        posterior_samples: `(N, latent_dim)` exact samples of p(z | x) (the z that
            simulated x), for the reverse chains; None runs the forward chains only.

    Returns:
        A dict of `(N,)` float64 arrays: `log_likelihood` (the AIS lower bound),
        `effective_sample_size` of the C weights, `accept_rate` of the weighted pass,
        `step_size` at beta = 1, and with `posterior_samples` `upper_bound`.
    """
    num_chains = check_int(num_chains, "num_chains")
    num_annealing_steps = check_int(num_annealing_steps, "num_annealing_steps")
    check_choice(schedule, "schedule", SCHEDULES)
    reverse = posterior_samples is not None
    run = compiled_functions.get(
        model, ("ais", num_chains, num_annealing_steps, schedule, reverse),
        lambda model: _compile_annealing(model, num_chains, num_annealing_steps, schedule,
                                         reverse))
    num_examples = len(x)
    batch_size = max(1, min(batch_size, num_examples,
                            _OUTPUT_BUDGET // (num_chains * model.input_dim)))
    parts = []
    with tqdm.tqdm(total=num_examples, disable=not verbose, unit="example",
                   desc=f"log p(x) [ais, C={num_chains}, K={num_annealing_steps}"
                        f"{', reverse' if reverse else ''}]") as progress:
        for b, begin in enumerate(range(0, num_examples, batch_size)):
            x_batch = tf.constant(x[begin:begin + batch_size])
            z_batch = (tf.constant(posterior_samples[begin:begin + batch_size], tf.float32)
                       if reverse else tf.zeros([0, model.latent_dim]))
            result = run(x_batch, mcmc.fold_in([seed, 1], b), z_batch)
            parts.append({key: value.numpy().astype(np.float64)
                          for key, value in result.items()})
            progress.set_postfix(accept=f"{parts[-1]['accept_rate'].mean():.2f}")
            progress.update(len(x_batch))
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def ais_log_likelihood(model, x, num_chains=DEFAULT_NUM_CHAINS,
                       num_annealing_steps=DEFAULT_NUM_ANNEALING_STEPS, schedule="sigmoid",
                       batch_size=500, seed=0, verbose=1, return_info=False):
    """log p(x) per example by AIS: `log_likelihood(model, x, method="ais")`.

    Args:
        model, x, num_chains, num_annealing_steps, schedule, batch_size, seed, verbose:
            as in `run_annealing` (`x` checked by `log_likelihood`).
        return_info: also return the dict of per-example diagnostics
            (`effective_sample_size`, `accept_rate`, `step_size`).

    Returns:
        `(N,)` float64 estimates, or `(estimates, info)`.

    Example:

    >>> import numpy as np, keras_vcd as kv
    >>> model = kv.VCDModel(kv.GaussianEncoder(2, (8,)), kv.BernoulliDecoder(6, (8,)))
    >>> model.build()
    >>> x = np.eye(6, dtype="float32")
    >>> kv.evaluation.log_likelihood(model, x, "ais", num_samples=4,
    ...                              num_annealing_steps=20, verbose=0).shape
    (6,)
    """
    result = run_annealing(model, x, num_chains, num_annealing_steps, schedule, batch_size,
                           seed, verbose)
    estimates = result.pop("log_likelihood")
    return (estimates, result) if return_info else estimates
