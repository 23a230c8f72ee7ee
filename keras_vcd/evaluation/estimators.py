"""Estimates of the test log-likelihood log p(x): importance sampling and AIS.

`log p(x) ~= log (1/S) sum_s p(x, z_s) / r(z_s)`, z_s ~ r, per example, in log space.

- `"iwae"`: r = q(z | x), the encoder.
- `"hmc_is"` (the VCD paper's estimator): HMC from z = mean(x), 300 transitions
  that adapt each chain's step size, then 300 more at that fixed step size whose
  states are kept; r = N(mean of kept states, diag (1.2 * std of kept states)^2), std
  floored at 1e-4. The burn-in adapts by dual averaging per chain (the default, whose
  result does not depend on the step size the model carries) or by the reference's
  rule from the model's step size (`adaptation="reference"`, the paper's procedure).
- `"ais"`: annealed importance sampling from the prior (`keras_vcd.evaluation.ais`).

All are stochastic lower bounds of log p(x) in expectation and tighten as S (and for
AIS the number of annealing steps) grows. Work is split into batches of examples and
chunks of samples whose log-weights are combined by a streaming log-sum-exp, so memory
is bounded whatever S is.
"""

import math

import numpy as np
import tensorflow as tf
import tqdm

from keras_vcd import mcmc
from keras_vcd.densities import gaussian_log_prob
from keras_vcd.evaluation import ais
from keras_vcd.evaluation.compiled import compiled_functions
from keras_vcd.validation import check_choice, check_int, check_number

METHODS = ("iwae", "hmc_is", "ais")
#: How `hmc_is`'s burn-in adapts each chain's step size.
ADAPTATIONS = ("dual_averaging", "reference")
#: Importance samples per example when `num_samples` is not given (AIS: chains).
DEFAULT_NUM_SAMPLES = {"iwae": 1000, "hmc_is": 1000, "ais": ais.DEFAULT_NUM_CHAINS}
# Decoder outputs held at once per chunk (samples x examples x D floats, 256 MiB):
# bounds the memory of any S, and is large enough to keep the matmuls efficient.
_CHUNK_BUDGET = 2**26


class StreamingLogSumExp:
    """Accumulates log(sum exp(values)) over chunks without holding them all.

    Keeps a running maximum `m` and `sum exp(values - m)`, rescaled when the maximum
    grows, so the result equals the one-shot `reduce_logsumexp` up to rounding.

    Example:

    >>> import numpy as np
    >>> acc = StreamingLogSumExp()
    >>> for chunk in np.split(np.arange(6.0).reshape(6, 1), 3):
    ...     acc.add(chunk)
    >>> round(float(acc.result()[0]), 4)
    5.4562
    """

    def __init__(self):
        self.max = None
        self.sum = None

    def add(self, values):
        """Adds a `(chunk, batch)` block of log-values (reduced over axis 0)."""
        values = tf.cast(values, tf.float64)
        chunk_max = tf.reduce_max(values, axis=0)
        if self.max is None:
            self.max = chunk_max
            self.sum = tf.reduce_sum(tf.exp(values - chunk_max), axis=0)
            return
        new_max = tf.maximum(self.max, chunk_max)
        self.sum = self.sum * tf.exp(self.max - new_max) + tf.reduce_sum(
            tf.exp(values - new_max), axis=0
        )
        self.max = new_max

    def result(self):
        return self.max + tf.math.log(self.sum)


def _compile_log_weights(model):
    """log p(x, z) - log r(z) for `num` samples z ~ r = N(loc, diag scale^2)."""

    @tf.function(jit_compile=True)
    def log_weights(x, loc, scale, seed, num):
        eps = mcmc.normal(tf.concat([[num], tf.shape(loc)], 0), seed, loc.dtype)
        z = tf.ensure_shape(loc + scale * eps, [num, None, loc.shape[-1]])
        return model.log_joint(x, z) - gaussian_log_prob(z, loc, scale)

    return log_weights


def _compile_proposal(model, method, num_burnin_steps, num_kept_steps, scale_factor,
                      min_std, adaptation):
    """`proposal(x, seed, step_size) -> (loc, scale, info)` of the importance distribution r.

    `info` holds per-example diagnostics: for `"hmc_is"` the step size the burn-in
    reached and the acceptance rate of the kept phase.
    """

    @tf.function(jit_compile=True)
    def encoder_proposal(x, seed, step_size):
        loc, scale = model.encoder(x)
        return loc, scale, {}

    @tf.function(jit_compile=True)
    def hmc_proposal(x, seed, step_size):
        mean, _ = model.encoder(x)
        refiner = model.refiner

        def target(z):
            return model.log_joint(x, z)

        # One step size per chain: each example's estimate then does not depend on
        # which examples share its batch.
        step_size = tf.fill(tf.shape(mean)[:1], tf.cast(step_size, mean.dtype))
        rule = (refiner.adaptation() if adaptation == "reference"
                else mcmc.DualAveraging(refiner.target_accept_rate))
        burnin = refiner.run_chain(
            mean, target, mcmc.fold_in(seed, 0), num_steps=num_burnin_steps,
            step_size=step_size, adaptation=rule,
        )
        moments = mcmc.MomentsReducer()
        kept = refiner.run_chain(
            burnin.state, target, mcmc.fold_in(seed, 1), num_steps=num_kept_steps,
            step_size=burnin.step_size, reducer=moments,
        )
        loc, std = moments.finalize(kept.reduced)
        return loc, scale_factor * tf.maximum(std, min_std), {
            "step_size": burnin.step_size, "accept_rate": kept.accept_rate}

    return encoder_proposal if method == "iwae" else hmc_proposal


def as_array(x, event_rank):
    """`x` as a numpy array; a `tf.data.Dataset` is read to the end and joined.

    A dataset's elements are batches, or single examples (rank `event_rank`).
    """
    if not isinstance(x, tf.data.Dataset):
        return np.asarray(x)
    parts = []
    for element in x.as_numpy_iterator():
        element = element["x"] if isinstance(element, dict) else element
        parts.append(element[0] if isinstance(element, tuple) else element)
    if not parts:
        raise ValueError("The dataset is empty; expected at least one example.")
    return np.stack(parts) if np.ndim(parts[0]) == event_rank else np.concatenate(parts)


def log_likelihood(model, x, method="iwae", num_samples=None, batch_size=500, seed=0,
                   verbose=1, num_burnin_steps=300, num_kept_steps=300, scale_factor=1.2,
                   min_std=1e-4, adaptation="dual_averaging", initial_step_size=None,
                   num_annealing_steps=ais.DEFAULT_NUM_ANNEALING_STEPS, schedule="sigmoid",
                   return_info=False):
    """Estimates log p(x) per example by importance sampling or AIS.

    For continuous data (e.g. `GaussianDecoder`) the result is a log density, which
    can be positive; for discrete data it is a log probability.

    Args:
        model: a built `VCDModel`, with any decoder.
        x: `(N, *event_shape)` data in the decoder's support (binary for Bernoulli),
            as an array or a `tf.data.Dataset` of batches (or single examples) of
            `x`, `(x, ...)` or `{"x": ...}`.
        method: `"iwae"` (proposal q(z | x)), `"hmc_is"` (the paper's estimator) or
            `"ais"` (annealed importance sampling, see `evaluation.ais`).
        num_samples: importance samples S per example (>= 1); for `"ais"` the
            number of annealed chains. None: 1000, or `ais.DEFAULT_NUM_CHAINS`.
        batch_size: examples processed together.
        seed: int; the same seed gives the same estimates.
        verbose: 1 shows a progress bar with an ETA, 0 is silent.
        num_burnin_steps, num_kept_steps, scale_factor, min_std: the `"hmc_is"`
            proposal (300, 300, 1.2, 1e-4 in the paper).
        adaptation: how `"hmc_is"`'s burn-in adapts each chain's step size:
            `"dual_averaging"` (default; the result does not depend on the start) or
            `"reference"` (the paper's rule, from the model's stored step size; the
            zoo's figures before this option existed).
        initial_step_size: where `"hmc_is"`'s adaptation starts; None: the model's
            `refiner.step_size`.
        num_annealing_steps, schedule: of `"ais"`, see `ais.ais_log_likelihood`.
        return_info: also return a dict of per-example diagnostics: for `"hmc_is"`
            `step_size` (reached by the burn-in) and `accept_rate` (kept phase); for
            `"ais"` those of `ais.ais_log_likelihood`.

    Returns:
        `(N,)` float64 array of log p(x) estimates (nats), or `(estimates, info)`.

    Example:

    >>> import numpy as np, keras_vcd as kv
    >>> model = kv.VCDModel(kv.GaussianEncoder(2, (8,)), kv.BernoulliDecoder(6, (8,)))
    >>> model.build()
    >>> x = np.eye(6, dtype="float32")
    >>> kv.evaluation.log_likelihood(model, x, num_samples=10, verbose=0).shape
    (6,)
    >>> values, info = kv.evaluation.log_likelihood(
    ...     model, x, "hmc_is", num_samples=10, verbose=0, num_burnin_steps=20,
    ...     num_kept_steps=20, return_info=True)
    >>> sorted(info)
    ['accept_rate', 'step_size']
    """
    method = check_choice(method, "method", METHODS)
    num_samples = check_int(DEFAULT_NUM_SAMPLES[method] if num_samples is None
                            else num_samples, "num_samples")
    batch_size = check_int(batch_size, "batch_size")
    adaptation = check_choice(adaptation, "adaptation", ADAPTATIONS)
    x = model.decoder.check_data(as_array(x, len(model.event_shape)), exact=True)
    if not model.built:
        model.build()
    if method == "ais":
        return ais.ais_log_likelihood(
            model, x, num_chains=num_samples, num_annealing_steps=num_annealing_steps,
            schedule=schedule, batch_size=batch_size, seed=seed, verbose=verbose,
            return_info=return_info)
    num_burnin_steps = check_int(num_burnin_steps, "num_burnin_steps", 0)
    num_kept_steps = check_int(num_kept_steps, "num_kept_steps")
    start = check_number(float(model.refiner.step_size.numpy()) if initial_step_size is None
                         else initial_step_size, "initial_step_size", 0,
                         exclusive_minimum=True)
    num_examples = len(x)
    batch_size = min(batch_size, num_examples)
    chunk = max(1, min(num_samples, _CHUNK_BUDGET // (batch_size * model.input_dim)))
    settings = (method, num_burnin_steps, num_kept_steps, scale_factor, min_std, adaptation)
    proposal = compiled_functions.get(
        model, settings, lambda model: _compile_proposal(model, *settings))
    log_weights = compiled_functions.get(model, "log_weights", _compile_log_weights)
    num_batches = math.ceil(num_examples / batch_size)
    estimates, infos = [], []
    with tqdm.tqdm(
        total=num_batches * math.ceil(num_samples / chunk), disable=not verbose,
        desc=f"log p(x) [{method}, S={num_samples}]", unit="chunk",
    ) as progress:
        for b in range(num_batches):
            x_batch = tf.constant(x[b * batch_size:(b + 1) * batch_size])
            batch_seed = mcmc.fold_in([seed, 0], b)
            loc, scale, info = proposal(x_batch, mcmc.fold_in(batch_seed, -1),
                                        tf.constant(start, tf.float32))
            infos.append({key: value.numpy() for key, value in info.items()})
            if info:
                progress.set_postfix(step_size=f"{np.median(infos[-1]['step_size']):.3g}",
                                     accept=f"{np.mean(infos[-1]['accept_rate']):.2f}")
            total = StreamingLogSumExp()
            for c, start_sample in enumerate(range(0, num_samples, chunk)):
                num = min(chunk, num_samples - start_sample)
                total.add(log_weights(x_batch, loc, scale, mcmc.fold_in(batch_seed, c), num))
                progress.update(1)
            estimates.append((total.result() - math.log(num_samples)).numpy())
    estimates = np.concatenate(estimates)
    if not return_info:
        return estimates
    return estimates, {key: np.concatenate([info[key] for info in infos])
                       for key in infos[0]}
