"""Section b: the same training step written with `tfp.mcmc`, for comparison.

The only module of keras_vcd that uses TensorFlow Probability, an optional extra
(`pip install 'keras-vcd[bench]'`). It imports TFP inside the functions that need
it, so that importing `keras_vcd` or `keras_vcd.benchmark` never loads TFP (nor the
tf-keras that TFP loads with TensorFlow).
"""

import itertools

import tensorflow as tf

import keras_vcd as kv
from keras_vcd import optimizers
from keras_vcd.benchmark.flops import limit_record
from keras_vcd.benchmark.timing import time_calls, timing_record
from keras_vcd.benchmark.workload import synthetic_data
from keras_vcd.extras import require
from keras_vcd.models import objectives


def require_tfp():
    """Imports TensorFlow Probability, or says which extra installs it.

    Returns:
        The `tensorflow_probability` module.

    Raises:
        ImportError: it is not installed, or does not import (TFP needs tf-keras
            beside TensorFlow; both come with the `bench` extra); the message says
            `pip install 'keras-vcd[bench]'`.

    Example:

    >>> require_tfp().mcmc.HamiltonianMonteCarlo  # doctest: +SKIP
    <class 'tensorflow_probability.python.mcmc.hmc.HamiltonianMonteCarlo'>
    """
    return require("tensorflow_probability", extra="bench")


class TFPBaseline:
    """The VCD training step as a user would write it from TFP's documentation.

    A deliberately separate implementation, for comparison: it shares keras_vcd's
    layers, losses (`keras_vcd.models.objectives`) and optimizers
    (`ReferenceRMSprop`), but its HMC is `tfp.mcmc.HamiltonianMonteCarlo` run by a
    loop of `one_step`, with the step size held in a `tf.Variable` and adapted after
    every transition by the paper's rule from the traced `is_accepted`. It uses a
    global control variate. `train_step` runs eagerly; `tf.function(train_step)` is
    the graph version (no XLA, as TFP's examples have it).

    Args:
        config: a dict like `PAPER_CONFIG`.

    Example:

    >>> from keras_vcd.benchmark.settings import PAPER_CONFIG
    >>> baseline = TFPBaseline(PAPER_CONFIG)  # doctest: +SKIP
    >>> loss = baseline.train_step(synthetic_data(100, 784), tf.constant([0, 0]))  # doctest: +SKIP
    """

    def __init__(self, config):
        self.config = config
        self.encoder = kv.GaussianEncoder(config["latent_dim"], tuple(config["hidden_units"]))
        self.decoder = kv.BernoulliDecoder(config["input_dim"], tuple(config["hidden_units"]))
        self.encoder.build((None, config["input_dim"]))
        self.decoder.build((None, config["latent_dim"]))
        self.step_size = tf.Variable(0.5 / config["latent_dim"], name="step_size")
        self.control_variate = tf.Variable(0.0, name="control_variate")
        self.groups = [
            (optimizers.paper_optimizer("decoder"), self.decoder.trainable_variables),
            (optimizers.paper_optimizer("encoder_mean"),
             self.encoder.mean_network.trainable_variables),
            (optimizers.paper_optimizer("encoder_std"),
             self.encoder.std_network.trainable_variables),
        ]
        for optimizer, variables in self.groups:
            optimizer.build(variables)

    def log_joint(self, x, z):
        return objectives.log_joint(self.decoder.log_likelihood(x, z), z)

    def refine(self, x, z0, seeds):
        """`num_steps` HMC transitions from z0 with tfp.mcmc, adapting the shared step size."""
        tfp = require_tfp()

        def kernel():  # with the step size as it is now
            return tfp.mcmc.HamiltonianMonteCarlo(
                target_log_prob_fn=lambda z: self.log_joint(x, z),
                step_size=tf.convert_to_tensor(self.step_size),
                num_leapfrog_steps=self.config["num_leapfrog_steps"],
            )

        z, results = z0, kernel().bootstrap_results(z0)
        for seed in seeds:
            z, results = kernel().one_step(z, results, seed=seed)
            accept_rate = tf.reduce_mean(tf.cast(results.is_accepted, tf.float32))
            self.step_size.assign_add(0.01 * self.step_size * (accept_rate - 0.9) / 0.9)
        return tf.stop_gradient(z)

    def train_step(self, x, seed):
        """One update of the encoder, decoder and control variate; returns the loss."""
        seeds = require_tfp().random.split_seed(seed, n=self.config["num_steps"] + 1)
        with tf.GradientTape(persistent=True) as tape:
            mean, std = self.encoder(x, training=True)
            eps = tf.random.stateless_normal(tf.shape(mean), seed=seeds[0])
            z0 = mean + std * eps
            log_joint_z0 = self.log_joint(x, z0)
            with tape.stop_recording():
                z_t = self.refine(x, tf.stop_gradient(z0), seeds[1:])
            terms = objectives.ForwardTerms(
                mean, std, eps, z0, log_joint_z0, z_t, self.log_joint(x, z_t)
            )
            control_variate = tf.fill(tf.shape(log_joint_z0), self.control_variate)
            losses = objectives.vcd_losses(terms, control_variate)
        decoder_variables = self.groups[0][1]
        encoder_variables = self.groups[1][1] + self.groups[2][1]
        gradients = tape.gradient(losses.decoder, decoder_variables) + tape.gradient(
            losses.encoder, encoder_variables
        )
        start = 0
        for optimizer, variables in self.groups:
            optimizer.apply(gradients[start:start + len(variables)], variables)
            start += len(variables)
        self.control_variate.assign(
            0.9 * self.control_variate
            + 0.1 * tf.reduce_mean(tf.stop_gradient(objectives.f_of_z_t(terms)))
        )
        return losses.total


def time_baseline(config, iterations, repeats, eager=False, seed=0):
    """Times `TFPBaseline.train_step` per iteration, in `tf.function` or eagerly.

    One warm-up step (it traces the function), then `repeats` passes over
    `iterations` batches of a `tf.data` pipeline over in-memory data.

    Args:
        config: a dict like `PAPER_CONFIG`, with `data_density`.
        iterations: batches per timed pass.
        repeats: timed passes.
        eager: run `train_step` eagerly instead of in `tf.function`.
        seed: of the data, its shuffling and the steps.

    Returns:
        A timing record (`timing_record`) with `warmup_seconds` and the
        `final_step_size` the adaptation reached.

    Raises:
        ImportError: TensorFlow Probability cannot be imported (see `require_tfp`).
    """
    require_tfp()
    batch = config["batch_size"]
    baseline = TFPBaseline(config)
    step = baseline.train_step if eager else tf.function(baseline.train_step)
    x = synthetic_data(iterations * batch, config["input_dim"], config["data_density"], seed)
    dataset = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=seed).batch(
        batch, drop_remainder=True
    )
    repeat_numbers = itertools.count()

    def one_pass():
        repeat = next(repeat_numbers)  # each pass draws its own noise
        for i, x_batch in enumerate(dataset):
            loss = step(x_batch, tf.constant([repeat, i]))
        float(loss)  # waits for the last step

    warmup_seconds, seconds = time_calls(
        one_pass, repeats, warmup=lambda: float(step(tf.constant(x[:batch]),
                                                     tf.constant([seed, -1]))))
    record = timing_record(seconds, iterations, batch)
    record["warmup_seconds"] = warmup_seconds
    record["final_step_size"] = float(baseline.step_size.numpy())
    return record


def measure_baseline(config, settings, rate, ours, progress):
    """Section b: the tfp.mcmc step in `tf.function` and eagerly, against ours.

    Args:
        config: the model configuration (`model_config`).
        settings: the benchmark settings (`baseline_*`, `eager_*`, `seed`).
        rate: the `matmul_rate` record, for the limit.
        ours: our seconds per iteration (section a, global control variate).
        progress: a `Progress` for the log lines.

    Returns:
        The section's dict: `tf_function` and `eager` records, each with the limit
        (`limit_record`) and `speedup_of_ours`.
    """
    seed = settings["seed"]
    baseline = {}
    baseline["tf_function"] = time_baseline(
        config, settings["baseline_iterations"], settings["baseline_repeats"], seed=seed)
    progress.log("tfp.mcmc in tf.function: "
                 f"{baseline['tf_function']['seconds_per_iteration'] * 1e3:.2f} ms/iteration")
    baseline["eager"] = time_baseline(
        config, settings["eager_iterations"], settings["eager_repeats"], eager=True, seed=seed)
    progress.log("tfp.mcmc eagerly: "
                 f"{baseline['eager']['seconds_per_iteration'] * 1e3:.2f} ms/iteration")
    for record in baseline.values():
        record.update(limit_record(config, record["seconds_per_iteration"], rate))
        record["speedup_of_ours"] = record["seconds_per_iteration"] / ours
    return baseline
