"""Importance-sampled estimates of the test log-likelihood log p(x).

`log p(x) ~= log (1/S) sum_s p(x, z_s) / r(z_s)`, z_s ~ r, per example, in log space.

- `"iwae"`: r = q(z | x), the encoder.
- `"hmc_is"` (the VCD paper's estimator): HMC from z = mean(x), 300 transitions with
  step-size adaptation, then 300 more whose states are kept;
  r = N(mean of kept states, diag (1.2 * std of kept states)^2), std floored at 1e-4.

Both are stochastic lower bounds of log p(x) in expectation and tighten as S grows.
Work is split into batches of examples and chunks of samples whose log-weights are
combined by a streaming log-sum-exp, so memory is bounded whatever S is.
"""

import math
import weakref

import numpy as np
import tensorflow as tf
import tqdm

from keras_vcd import mcmc
from keras_vcd.densities import gaussian_log_prob

METHODS = ("iwae", "hmc_is")
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


# Compiled functions per model and settings: repeated evaluations (a callback at every
# epoch, several seeds) then trace and compile once.
_COMPILED = weakref.WeakKeyDictionary()


def _compiled(model, key, make):
    cache = _COMPILED.setdefault(model, {})
    if key not in cache:
        cache[key] = make()
    return cache[key]


def _compile_log_weights(model):
    """log p(x, z) - log r(z) for `num` samples z ~ r = N(loc, diag scale^2)."""

    @tf.function(jit_compile=True)
    def log_weights(x, loc, scale, seed, num):
        eps = mcmc.normal(tf.concat([[num], tf.shape(loc)], 0), seed, loc.dtype)
        z = tf.ensure_shape(loc + scale * eps, [num, None, loc.shape[-1]])
        return model.log_joint(x, z) - gaussian_log_prob(z, loc, scale)

    return log_weights


def _compile_proposal(model, method, num_burnin_steps, num_kept_steps, scale_factor,
                      min_std):
    """Returns `proposal(x, seed) -> (loc, scale)` of the importance distribution r."""

    @tf.function(jit_compile=True)
    def encoder_proposal(x, seed):
        return model.encoder(x)

    @tf.function(jit_compile=True)
    def hmc_proposal(x, seed):
        mean, _ = model.encoder(x)
        refiner = model.refiner

        def target(z):
            return model.log_joint(x, z)

        # One step size per chain, starting from the trained one: each example's
        # estimate then does not depend on which examples share its batch.
        step_size = tf.fill(tf.shape(mean)[:1], tf.convert_to_tensor(refiner.step_size))
        burnin = refiner.run_chain(
            mean, target, mcmc.fold_in(seed, 0), num_steps=num_burnin_steps,
            step_size=step_size, adapt=True,
        )
        moments = mcmc.MomentsReducer()
        kept = refiner.run_chain(
            burnin.state, target, mcmc.fold_in(seed, 1), num_steps=num_kept_steps,
            step_size=burnin.step_size, reducer=moments,
        )
        loc, std = moments.finalize(kept.reduced)
        return loc, scale_factor * tf.maximum(std, min_std)

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


def log_likelihood(model, x, method="iwae", num_samples=1000, batch_size=500, seed=0,
                   verbose=1, num_burnin_steps=300, num_kept_steps=300, scale_factor=1.2,
                   min_std=1e-4):
    """Estimates log p(x) per example by importance sampling.

    For continuous data (e.g. `GaussianDecoder`) the result is a log density, which
    can be positive; for discrete data it is a log probability.

    Args:
        model: a built `VCDModel`, with any decoder.
        x: `(N, *event_shape)` data in the decoder's support (binary for Bernoulli),
            as an array or a `tf.data.Dataset` of batches (or single examples) of
            `x`, `(x, ...)` or `{"x": ...}`.
        method: `"iwae"` (proposal q(z | x)) or `"hmc_is"` (the paper's estimator).
        num_samples: importance samples S per example (>= 1).
        batch_size: examples processed together.
        seed: int; the same seed gives the same estimates.
        verbose: 1 shows a progress bar with an ETA, 0 is silent.
        num_burnin_steps, num_kept_steps, scale_factor, min_std: the `"hmc_is"`
            proposal (300, 300, 1.2, 1e-4 in the paper).

    Returns:
        `(N,)` float64 array of log p(x) estimates (nats).

    Example:

    >>> import numpy as np, keras_vcd as kv
    >>> model = kv.VCDModel(kv.GaussianEncoder(2, (8,)), kv.BernoulliDecoder(6, (8,)))
    >>> model.build()
    >>> x = np.eye(6, dtype="float32")
    >>> kv.evaluation.log_likelihood(model, x, num_samples=10, verbose=0).shape
    (6,)
    """
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; expected one of {list(METHODS)}.")
    if not isinstance(num_samples, (int, np.integer)) or num_samples < 1:
        raise ValueError(f"num_samples must be an int >= 1, received {num_samples!r}.")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, received {batch_size!r}.")
    x = model.decoder.check_data(as_array(x, len(model.event_shape)), exact=True)
    if not model.built:
        model.build()
    num_examples = len(x)
    batch_size = min(batch_size, num_examples)
    chunk = max(1, min(num_samples, _CHUNK_BUDGET // (batch_size * model.input_dim)))
    proposal = _compiled(
        model, (method, num_burnin_steps, num_kept_steps, scale_factor, min_std),
        lambda: _compile_proposal(
            model, method, num_burnin_steps, num_kept_steps, scale_factor, min_std
        ),
    )
    log_weights = _compiled(model, "log_weights", lambda: _compile_log_weights(model))
    num_batches = math.ceil(num_examples / batch_size)
    estimates = []
    with tqdm.tqdm(
        total=num_batches * math.ceil(num_samples / chunk), disable=not verbose,
        desc=f"log p(x) [{method}, S={num_samples}]", unit="chunk",
    ) as progress:
        for b in range(num_batches):
            x_batch = tf.constant(x[b * batch_size:(b + 1) * batch_size])
            batch_seed = mcmc.fold_in([seed, 0], b)
            loc, scale = proposal(x_batch, mcmc.fold_in(batch_seed, -1))
            total = StreamingLogSumExp()
            for c, start in enumerate(range(0, num_samples, chunk)):
                num = min(chunk, num_samples - start)
                total.add(log_weights(x_batch, loc, scale, mcmc.fold_in(batch_seed, c), num))
                progress.update(1)
            estimates.append((total.result() - math.log(num_samples)).numpy())
    return np.concatenate(estimates)
