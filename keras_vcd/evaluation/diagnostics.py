"""Which control variate suits a model: the variance of the VCD encoder gradient.

The control variate c enters the VCD encoder gradient only through the score-function
term `-sum_i (f_i - c_i) grad log q(z0_i | x_i)`, whose expectation is zero whatever c
is (docs/algorithm.md). The choice between none, one global value and one value per training
example is therefore a question of variance alone, and this module measures it: the
total variance (trace of the covariance) of the minibatch encoder gradient at the
model's current weights, with the same minibatches and draws for every choice.

Each choice is measured at the value its running average settles to: "global" at the
mean of f over the examples, "local" at each example's own mean of f (the 0.9 running
average of `LocalControlVariate` weighs about 19 past draws; here `num_draws` fresh ones).
"""

import numpy as np
import tensorflow as tf
import tqdm

from keras_vcd import mcmc
from keras_vcd.models import objectives

CHOICES = ("none", "global", "local")


def _f_draw_fn(model):
    @tf.function(jit_compile=True)
    def f_draw(x, seed):
        terms, _ = model.forward(x, seed, training=False)
        return objectives.f_of_z_t(terms)

    return f_draw


def _gradients_fn(model):
    encoder_variables = model.encoder.trainable_variables

    @tf.function(jit_compile=True)
    def gradients(x, local_c, global_c, seed):
        """The flattened encoder gradient under each choice of CHOICES, `(3, P)`."""
        with tf.GradientTape(persistent=True) as tape:
            terms, _ = model.forward(x, seed, training=False, tape=tape)
            choices = (tf.zeros_like(local_c), tf.fill(tf.shape(local_c), global_c), local_c)
            losses = [objectives.vcd_losses(terms, c).encoder for c in choices]
        flat = [
            tf.concat([tf.reshape(g, [-1]) for g in tape.gradient(loss, encoder_variables)], 0)
            for loss in losses
        ]
        return tf.stack(flat)

    return gradients


def expected_f(model, x, num_draws=20, batch_size=100, seed=0, verbose=1):
    """Each example's mean of f(z_T) over `num_draws` independent refinements.

    Returns:
        `(mean, within_std)`, both shape `(N,)`: the per-example mean and standard
        deviation of f over the draws.
    """
    f_draw = _f_draw_fn(model)
    draws = []
    progress = tqdm.tqdm(total=num_draws, desc="f draws", disable=not verbose)
    for draw in range(num_draws):
        seed_d = mcmc.fold_in(tf.constant([seed, 1], tf.int64), draw)
        draws.append(np.concatenate([
            f_draw(tf.constant(x[start:start + batch_size]), mcmc.fold_in(seed_d, start))
            .numpy()
            for start in range(0, len(x), batch_size)
        ]))
        progress.update()
    progress.close()
    draws = np.stack(draws).astype(np.float64)
    return draws.mean(axis=0), draws.std(axis=0, ddof=1)


def encoder_gradient_variance(model, x, batch_size=100, num_batches=200, num_draws=20,
                              seed=0, verbose=1):
    """Total variance of the minibatch VCD encoder gradient under each control variate.

    Args:
        model: a built `VCDModel` trained with any objective but "elbo" (whose
            forward pass skips HMC); the VCD encoder gradient is what is measured.
        x: `(N, D)` binary training examples; minibatches are drawn from them without
            replacement within a batch. N of a few thousand is plenty.
        batch_size: examples per minibatch, as in training.
        num_batches: minibatches (each with fresh draws) the variance is taken over.
        num_draws: refinements per example that set the "local" values.
        seed: fixes the minibatches and every draw.
        verbose: 1 shows progress bars.

    Returns:
        A dict: `"total_variance"` maps "none", "global" and "local" to the trace of
        the gradient's covariance (summed over all encoder weights);
        `"f_between_examples_std"` is the standard deviation over examples of their mean
        f, and `"f_within_example_std"` the mean over examples of f's own standard
        deviation: a local control variate can remove the first, not the second.

    Example:

    >>> import numpy as np
    >>> import keras_vcd as kv
    >>> model = kv.VCDModel(encoder=kv.GaussianEncoder(latent_dim=2, hidden_units=(8,)),
    ...                     decoder=kv.BernoulliDecoder(output_dim=12, hidden_units=(8,)),
    ...                     refiner=kv.HMCRefine(num_steps=2, num_leapfrog_steps=2))
    >>> model.build((None, 12))
    >>> x = (np.random.default_rng(0).random((40, 12)) < 0.5).astype("float32")
    >>> result = kv.evaluation.diagnostics.encoder_gradient_variance(
    ...     model, x, batch_size=10, num_batches=5, num_draws=3, verbose=0)
    >>> sorted(result["total_variance"])
    ['global', 'local', 'none']
    """
    x = model.decoder.check_data(x)
    if model.objective == "elbo":
        raise ValueError("encoder_gradient_variance needs a model whose forward pass runs "
                         "HMC (objective 'vcd' or 'hoffman'); received objective='elbo'.")
    if not 1 <= batch_size <= len(x):
        raise ValueError(f"batch_size must be in [1, {len(x)}] (the number of examples), "
                         f"received {batch_size!r}.")
    if num_batches < 2 or num_draws < 2:
        raise ValueError("num_batches and num_draws must be at least 2 to estimate a "
                         f"variance, received {num_batches!r} and {num_draws!r}.")
    local, within_std = expected_f(model, x, num_draws, batch_size, seed, verbose)
    global_c = tf.constant(local.mean(), tf.float32)
    gradients = _gradients_fn(model)
    rng = np.random.default_rng(seed)
    total = total_squares = 0.0
    for batch in tqdm.trange(num_batches, desc="gradients", disable=not verbose):
        index = rng.choice(len(x), batch_size, replace=False)
        g = gradients(
            tf.constant(x[index]), tf.constant(local[index], tf.float32), global_c,
            mcmc.fold_in(tf.constant([seed, 2], tf.int64), batch),
        ).numpy().astype(np.float64)
        total = total + g
        total_squares = total_squares + g**2
    variance = (total_squares - total**2 / num_batches) / (num_batches - 1)
    return {
        "total_variance": {
            choice: float(v) for choice, v in zip(CHOICES, variance.sum(axis=1))
        },
        "f_between_examples_std": float(local.std(ddof=1)),
        "f_within_example_std": float(within_std.mean()),
    }
