"""Speed benchmark: keras_vcd training and evaluation against tfp.mcmc and the machine.

One `run()` measures, side by side on the machine it runs on:

a. `VCDModel.fit` time per iteration in the paper's configuration (batch 100, latent
   10, 200-200 MLPs, 8 HMC transitions of 5 leapfrog steps, objective "vcd"), with
   global and with local control variates, under the model's default `compile()`
   (XLA, `steps_per_execution`): the median over repeats, after a warm-up fit that
   compiles.
b. The same training step written the straightforward way from TensorFlow
   Probability's documentation (`TFPBaseline`): `tfp.mcmc.HamiltonianMonteCarlo` in a
   loop of `one_step`, `tf.GradientTape`, keras_vcd's layers, losses and optimizers,
   inside `tf.function` (no XLA) and eagerly.
c. The machine's limit: the analytic FLOPs of one iteration (`iteration_flops`) over
   the measured rate of a large float32 matrix product (`matmul_rate`).
d. Scaling with the batch size, the number of HMC transitions and the latent
   dimension, one varied at a time from the paper's configuration.
e. Throughput of `keras_vcd.evaluation.log_likelihood` ("iwae" and "hmc_is") in
   importance samples per second, and as a fraction of the matrix-product rate.
f. Peak memory (max RSS of a fresh process per measurement) of training with local
   control variates over many examples, and of an evaluation with S = 20,000.

All data are synthetic (Bernoulli(0.13) pixels, about MNIST's mean), held in memory,
so nothing is downloaded. Timings depend on everything else the machine is doing:
the results record the load average before and after, and are comparable only with
results taken on the same, otherwise idle, machine. Speed targets belong to this
benchmark, never to unit tests.

Example (the command line runs the same thing: `keras-vcd bench --quick`):

>>> from keras_vcd import benchmark
>>> results = benchmark.run(quick=True, output="benchmark.json")  # doctest: +SKIP
>>> print(benchmark.format_table(results))  # doctest: +SKIP
"""

import argparse
import concurrent.futures
import copy
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

# Short names of the six sections, the keys of the results dict, in report order.
SECTIONS = ("training", "tfp_baseline", "machine_limit", "scaling", "evaluation", "memory")
SECTION_TITLES = {
    "training": "a. Training step: VCDModel.fit",
    "tfp_baseline": "b. The same step with tfp.mcmc.HamiltonianMonteCarlo",
    "machine_limit": "c. Machine limit",
    "scaling": "d. Scaling",
    "evaluation": "e. Evaluation throughput",
    "memory": "f. Peak memory",
}

# The paper's model and training configuration.
PAPER_CONFIG = {
    "input_dim": 784,
    "hidden_units": [200, 200],
    "latent_dim": 10,
    "batch_size": 100,
    "num_steps": 8,
    "num_leapfrog_steps": 5,
}


def default_settings(quick=False):
    """Everything `run` measures with, as a JSON-able dict.

    Args:
        quick: fewer iterations, repeats and sizes (minutes instead of a quarter hour).

    Returns:
        A dict; `run(config=...)` overrides any of its keys.
    """
    settings = dict(
        PAPER_CONFIG,
        data_density=0.13,          # P(pixel = 1) of the synthetic data
        seed=0,
        # a. our training step
        iterations=100,             # per timed repeat (a multiple of steps_per_execution)
        repeats=5,
        local_warmup_steps=0,       # time the local rule itself, not its global warm-up
        # b. the tfp.mcmc baseline
        baseline_iterations=50,
        baseline_repeats=3,
        eager_iterations=5,
        eager_repeats=2,
        # c. the matrix-product rate
        matmul_size=2048,
        matmul_repeats=10,
        # d. scaling, one parameter varied at a time from the paper's configuration
        scaling_batch_sizes=[16, 100, 128, 512, 1024],
        scaling_num_steps=[0, 1, 8, 16],
        scaling_latent_dims=[10, 50],
        scaling_max_examples=51200,  # fewer iterations per repeat for large batches
        # e. evaluation throughput
        # log_likelihood's default batch_size: the HMC proposal runs on this many chains
        eval_num_examples=500,
        eval_num_samples=5000,
        eval_repeats=3,
        eval_num_burnin_steps=300,
        eval_num_kept_steps=300,
        # f. peak memory, each in a fresh process
        memory_probes=[
            {"kind": "train", "control_variate": "global", "num_train_examples": 50000,
             "steps": 20},
            {"kind": "train", "control_variate": "local", "num_train_examples": 50000,
             "steps": 20},
            {"kind": "train", "control_variate": "local", "num_train_examples": 1000000,
             "steps": 20},
            {"kind": "evaluate", "method": "iwae", "num_examples": 200,
             "num_samples": 20000},
            {"kind": "evaluate", "method": "iwae", "num_examples": 400,
             "num_samples": 20000},
        ],
        memory_probe_workers=1,
        # Start the memory probes at the beginning, beside the timings: faster, but the
        # timings are then disturbed. For tests only.
        overlap_memory_probes=False,
    )
    if quick:
        settings.update(
            iterations=30,
            repeats=3,
            baseline_iterations=5,
            baseline_repeats=2,
            eager_iterations=1,
            eager_repeats=2,
            matmul_repeats=5,
            scaling_batch_sizes=[16, 100],
            scaling_num_steps=[0, 8],
            scaling_latent_dims=[10, 50],
            scaling_max_examples=5000,
            eval_num_examples=20,
            eval_num_samples=1000,
            eval_repeats=2,
            memory_probes=[
                {"kind": "train", "control_variate": "local", "num_train_examples": 50000,
                 "steps": 10},
                {"kind": "train", "control_variate": "local", "num_train_examples": 1000000,
                 "steps": 10},
                {"kind": "evaluate", "method": "iwae", "num_examples": 20,
                 "num_samples": 20000},
            ],
            memory_probe_workers=2,
        )
    return settings


# ---------------------------------------------------------------------- FLOP counts


def mlp_flops(batch_size, sizes):
    """FLOPs of one forward pass of an MLP with layer widths `sizes` on a batch.

    A dense layer `[m, k] x [k, n]` costs `2 m k n` (a multiply and an add per term);
    biases and activations (O(m n)) are not counted.

    >>> mlp_flops(2, [3, 4, 1])   # 2*2*(3*4 + 4*1)
    64
    """
    return sum(2 * batch_size * k * n for k, n in zip(sizes[:-1], sizes[1:]))


def iteration_flops(batch_size=100, input_dim=784, hidden_units=(200, 200), latent_dim=10,
                    num_steps=8, num_leapfrog_steps=5):
    """The matrix-product FLOPs of one VCD training iteration, counted from the shapes.

    With `m` the batch size, `F(sizes) = sum_layers 2 m k n` for the layer widths of an
    MLP (a `[m, k] x [k, n]` product costs `2 m k n`; biases and elementwise work are
    not counted). A backward pass costs a product of the same size per layer for each
    gradient it forms: the input gradient `dY W^T` and the weight gradient `X^T dY`.

    - decoder forward `D = F([latent, *hidden, input_dim])`; an input-gradient backward
      through it costs `D` again.
    - HMC: `(1 + T L) x 2 D`: one log density and gradient at z0, then `L` per
      transition (the gradient at the accepted state is carried over); 0 if `T = 0`.
    - encoder (two MLPs, mean and std): forward `E = 2 F([input_dim, *hidden, latent])`;
      backward `E` for the weight gradients plus the input gradients of every layer
      but the first (the data needs none).
    - decoder at z0 (the reparameterised term of the encoder loss): forward plus
      input-gradient backward, `2 D`.
    - decoder at z_T (the decoder loss): forward, weight gradients (`D`) and the input
      gradients of every layer but the first.

    Returns:
        A dict of the parts (`hmc`, `encoder`, `decoder_z0`, `decoder_zt`) and `total`.

    Example (the hand computation is in tests/test_benchmark.py):

    >>> iteration_flops(2, 3, (4,), 1, num_steps=1, num_leapfrog_steps=2)["total"]
    976
    """
    m = batch_size
    decoder_sizes = [latent_dim, *hidden_units, input_dim]
    encoder_sizes = [input_dim, *hidden_units, latent_dim]
    decoder = mlp_flops(m, decoder_sizes)
    encoder_net = mlp_flops(m, encoder_sizes)
    encoder_first = 2 * m * encoder_sizes[0] * encoder_sizes[1]
    decoder_first = 2 * m * decoder_sizes[0] * decoder_sizes[1]
    gradient_evaluations = (1 + num_steps * num_leapfrog_steps) if num_steps > 0 else 0
    parts = {
        "hmc": gradient_evaluations * 2 * decoder,
        "encoder": 2 * (encoder_net + encoder_net + (encoder_net - encoder_first)),
        "decoder_z0": 2 * decoder,
        "decoder_zt": decoder + decoder + (decoder - decoder_first),
    }
    parts["total"] = sum(parts.values())
    return parts


def evaluation_flops(input_dim=784, hidden_units=(200, 200), latent_dim=10, method="iwae",
                     num_samples=1000, num_burnin_steps=300, num_kept_steps=300,
                     num_leapfrog_steps=5):
    """Matrix-product FLOPs of `log_likelihood` per example, counted as in `iteration_flops`.

    Each importance sample costs one decoder forward pass on one example. The
    proposal costs an encoder forward pass (both MLPs), and for "hmc_is" also
    `1 + (burn-in + kept) L` log-density gradients (forward plus input-gradient
    backward through the decoder).

    Returns:
        A dict: `per_sample`, `proposal`, `total` (per example) and `proposal_share`.

    >>> evaluation_flops(3, (4,), 1, "iwae", num_samples=10)["per_sample"]
    32
    """
    per_sample = mlp_flops(1, [latent_dim, *hidden_units, input_dim])
    proposal = 2 * mlp_flops(1, [input_dim, *hidden_units, latent_dim])
    if method == "hmc_is":
        proposal += (1 + (num_burnin_steps + num_kept_steps) * num_leapfrog_steps) * 2 * per_sample
    total = proposal + num_samples * per_sample
    return {"per_sample": per_sample, "proposal": proposal, "total": total,
            "proposal_share": proposal / total}


# ---------------------------------------------------------------------- helpers


_START = [time.perf_counter()]


def _log(verbose, message):
    if verbose:
        print(f"[bench {time.perf_counter() - _START[0]:6.1f}s] {message}", flush=True)


def _median(values):
    return float(np.median(values))


def _timing(seconds, iterations, batch_size):
    """A timing record from per-repeat wall times of `iterations` iterations."""
    per_iteration = [s / iterations for s in seconds]
    median = _median(per_iteration)
    return {
        "seconds_per_iteration": median,
        "seconds_per_example": median / batch_size,
        "iterations_per_repeat": iterations,
        "repeats": len(seconds),
        "seconds_per_iteration_all": per_iteration,
        "batch_size": batch_size,
    }


def synthetic_data(num_examples, input_dim, density=0.13, seed=0):
    """Binary float32 data, each pixel 1 with probability `density`."""
    rng = np.random.default_rng(seed)
    return (rng.random((num_examples, input_dim), dtype=np.float32) < density).astype("float32")


def make_model(config, control_variate="global", num_train_examples=None, seed=0):
    """A `VCDModel` of `config` (see `PAPER_CONFIG`), compiled with the defaults."""
    import keras_vcd as kv

    model = kv.VCDModel(
        encoder=kv.GaussianEncoder(config["latent_dim"], tuple(config["hidden_units"])),
        decoder=kv.BernoulliDecoder(config["input_dim"], tuple(config["hidden_units"])),
        refiner=kv.HMCRefine(config["num_steps"], config["num_leapfrog_steps"]),
        objective="vcd", control_variate=control_variate,
        num_train_examples=num_train_examples,
        local_warmup_steps=config.get("local_warmup_steps", 3000), seed=seed,
    )
    model.compile()  # the defaults: XLA and steps_per_execution
    return model


def _whole_executions(iterations):
    """`iterations` rounded down to whole calls of the compiled multi-step function."""
    from keras_vcd.models.vcd_model import DEFAULT_STEPS_PER_EXECUTION as spe

    return max(spe, iterations // spe * spe)


def time_fit(config, control_variate, iterations, repeats, seed=0):
    """Times `VCDModel.fit` per iteration: a warm-up fit, then `repeats` timed fits.

    Each timed fit is one epoch over `iterations * batch_size` in-memory examples.

    Returns:
        `(timing record, model)`.
    """
    batch = config["batch_size"]
    iterations = _whole_executions(iterations)
    x = synthetic_data(iterations * batch, config["input_dim"], config["data_density"], seed)
    model = make_model(
        config, control_variate,
        num_train_examples=len(x) if control_variate == "local" else None, seed=seed,
    )
    if control_variate == "local":
        from keras_vcd import datasets

        data = datasets.with_indices(x)
        warmup = {k: v[: _whole_executions(1) * batch] for k, v in data.items()}
    else:
        data = x
        warmup = x[: _whole_executions(1) * batch]
    start = time.perf_counter()
    model.fit(warmup, batch_size=batch, epochs=1, verbose=0)
    compile_seconds = time.perf_counter() - start
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(data, batch_size=batch, epochs=1, verbose=0)
        seconds.append(time.perf_counter() - start)
    record = _timing(seconds, iterations, batch)
    record["warmup_seconds"] = compile_seconds
    return record, model


# ---------------------------------------------------------------------- b. baseline


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
    """

    def __init__(self, config):
        import tensorflow as tf

        import keras_vcd as kv
        from keras_vcd import optimizers

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
        from keras_vcd.models import objectives

        return objectives.log_joint(self.decoder.log_likelihood(x, z), z)

    def refine(self, x, z0, seeds):
        """8 HMC transitions from z0 with tfp.mcmc, adapting the shared step size."""
        import tensorflow as tf
        import tensorflow_probability as tfp

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
        import tensorflow as tf
        import tensorflow_probability as tfp

        from keras_vcd.models import objectives

        seeds = tfp.random.split_seed(seed, n=self.config["num_steps"] + 1)
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
    """
    import tensorflow as tf

    batch = config["batch_size"]
    baseline = TFPBaseline(config)
    step = baseline.train_step if eager else tf.function(baseline.train_step)
    x = synthetic_data(iterations * batch, config["input_dim"], config["data_density"], seed)
    dataset = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=seed).batch(
        batch, drop_remainder=True
    )
    start = time.perf_counter()
    float(step(tf.constant(x[:batch]), tf.constant([seed, -1])))
    warmup_seconds = time.perf_counter() - start
    seconds = []
    for repeat in range(repeats):
        start = time.perf_counter()
        for i, x_batch in enumerate(dataset):
            loss = step(x_batch, tf.constant([repeat, i]))
        float(loss)  # waits for the last step
        seconds.append(time.perf_counter() - start)
    record = _timing(seconds, iterations, batch)
    record["warmup_seconds"] = warmup_seconds
    record["final_step_size"] = float(baseline.step_size.numpy())
    return record


# ---------------------------------------------------------------------- c. the limit


def matmul_rate(size=2048, repeats=10):
    """FLOP/s of a `[size, size] x [size, size]` float32 product in `tf.function`.

    `2 size^3` FLOPs per product; the median time of `repeats` after a warm-up.

    Returns:
        A dict with `flops_per_second`, `seconds` (median), `size` and `repeats`.
    """
    import tensorflow as tf

    a = tf.random.stateless_normal([size, size], seed=[0, 1])
    b = tf.random.stateless_normal([size, size], seed=[0, 2])

    @tf.function
    def product(a, b):
        # Reduced to a scalar so that reading the result back costs nothing.
        return tf.reduce_sum(tf.matmul(a, b))

    float(product(a, b))
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        float(product(a, b))
        seconds.append(time.perf_counter() - start)
    median = _median(seconds)
    return {"flops_per_second": 2 * size**3 / median, "seconds": median, "size": size,
            "repeats": repeats}


def gradient_matmul_rate(config, repeats=5, gradients=200):
    """FLOP/s of the matrix products alone of one decoder gradient, at the paper's shapes.

    One HMC gradient evaluation is a forward and a backward pass of the decoder MLP at
    batch `batch_size`: 2 products per layer. These products, with nothing else (no
    bias, activation, sigmoid or sampling), are chained `gradients` times in one XLA
    while loop, the way the leapfrog steps run them. Their rate is what a perfect
    implementation on this machine could reach at these shapes: small products use the
    cores less well than the large square one of `matmul_rate`.

    Returns:
        A dict with `flops_per_second`, `seconds` (median per loop) and the settings.
    """
    import tensorflow as tf

    sizes = [config["latent_dim"], *config["hidden_units"], config["input_dim"]]
    weights = [tf.random.stateless_normal([m, n], seed=[1, i], stddev=1e-2)
               for i, (m, n) in enumerate(zip(sizes[:-1], sizes[1:]))]
    z0 = tf.random.stateless_normal([config["batch_size"], sizes[0]], seed=[2, 0])

    @tf.function(jit_compile=True)
    def chain(z):
        def one_gradient(i, z):
            h = z
            for w in weights:
                h = tf.matmul(h, w)
            for w in reversed(weights):
                h = tf.matmul(h, w, transpose_b=True)
            return i + 1, h  # the next gradient depends on this one, as in leapfrog

        return tf.while_loop(lambda i, _: i < gradients, one_gradient, (0, z))[1]

    float(tf.reduce_sum(chain(z0)))
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        float(tf.reduce_sum(chain(z0)))
        seconds.append(time.perf_counter() - start)
    median = _median(seconds)
    flops = gradients * 2 * mlp_flops(config["batch_size"], sizes)
    return {"flops_per_second": flops / median, "seconds": median, "gradients": gradients,
            "repeats": repeats, "batch_size": config["batch_size"]}


def _limit_record(config, seconds_per_iteration, rate):
    flops = iteration_flops(
        config["batch_size"], config["input_dim"], tuple(config["hidden_units"]),
        config["latent_dim"], config["num_steps"], config["num_leapfrog_steps"],
    )
    limit = flops["total"] / rate
    return {
        "flops_per_iteration": flops["total"],
        "limit_seconds_per_iteration": limit,
        "ratio_to_limit": seconds_per_iteration / limit,
        "gflops_per_second": flops["total"] / seconds_per_iteration / 1e9,
    }


# ---------------------------------------------------------------------- e. evaluation


def time_log_likelihood(model, x, method, num_samples, repeats, num_burnin_steps=300,
                        num_kept_steps=300):
    """Times `keras_vcd.evaluation.log_likelihood` after a warm-up call (it compiles)."""
    from keras_vcd import evaluation

    kwargs = dict(method=method, num_samples=num_samples, seed=0, verbose=0,
                  num_burnin_steps=num_burnin_steps, num_kept_steps=num_kept_steps)
    start = time.perf_counter()
    evaluation.log_likelihood(model, x, **kwargs)
    warmup_seconds = time.perf_counter() - start
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        evaluation.log_likelihood(model, x, **kwargs)
        seconds.append(time.perf_counter() - start)
    median = _median(seconds)
    return {"seconds": median, "seconds_all": seconds, "warmup_seconds": warmup_seconds,
            "num_examples": len(x), "num_samples": num_samples,
            "samples_per_second": len(x) * num_samples / median}


# ---------------------------------------------------------------------- f. memory


def max_rss_bytes():
    """The peak resident set size of this process image so far, in bytes.

    On Linux this is `VmHWM` of /proc/self/status: `getrusage`'s `ru_maxrss` survives
    `exec`, so in a probe started by a large parent it reports the parent's size at
    the fork instead of the probe's own peak. Elsewhere, `resource.getrusage`.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


def memory_probe(spec):
    """Runs one memory measurement in THIS process; returns its record.

    Meant for a fresh process (`python -m keras_vcd.benchmark --memory-probe SPEC`),
    so that the peak RSS belongs to this measurement alone.

    Args:
        spec: dict with `kind` ("train" or "evaluate") and the model config keys.
            "train": `control_variate`, `num_train_examples`, `steps`: fits `steps`
            iterations on batches whose indices are drawn from `num_train_examples`
            (only the touched examples are held in memory: the data of 1,000,000
            examples would dwarf what is measured, the model's own state).
            "evaluate": `method`, `num_examples`, `num_samples`: one
            `log_likelihood` call.
    """
    import keras_vcd  # noqa: F401  (TensorFlow and Keras: the baseline of the peak)

    rss_start = max_rss_bytes()
    start = time.perf_counter()
    config = dict(spec)
    batch = config["batch_size"]
    if config["kind"] == "train":
        num_train = config["num_train_examples"]
        steps = _whole_executions(config["steps"])
        x = synthetic_data(steps * batch, config["input_dim"], config["data_density"])
        local = config["control_variate"] == "local"
        model = make_model(config, config["control_variate"],
                           num_train_examples=num_train if local else None)
        data = x
        if local:
            rng = np.random.default_rng(0)
            index = (rng.choice(num_train, len(x), replace=False) if num_train >= len(x)
                     else rng.integers(0, num_train, len(x)))
            data = {"x": x, "index": index.astype("int64")}
        model.fit(data, batch_size=batch, epochs=1, verbose=0)
    elif config["kind"] == "evaluate":
        from keras_vcd import evaluation

        model = make_model(config)
        model.build()
        x = synthetic_data(config["num_examples"], config["input_dim"], config["data_density"])
        evaluation.log_likelihood(model, x, method=config["method"],
                                  num_samples=config["num_samples"], verbose=0)
    else:
        raise ValueError(f"Unknown memory probe kind {config['kind']!r}; "
                         "expected 'train' or 'evaluate'.")
    peak = max_rss_bytes()
    return {"max_rss_bytes": peak, "rss_after_import_bytes": rss_start,
            "max_rss_above_import_bytes": peak - rss_start,
            "seconds": time.perf_counter() - start}


def run_memory_probe(spec, timeout=1800):
    """Runs `memory_probe(spec)` in a fresh Python process and returns its record."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    command = [sys.executable, "-m", "keras_vcd.benchmark", "--memory-probe", json.dumps(spec)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(
            f"memory probe {spec} failed (exit {done.returncode}):\n{done.stderr[-3000:]}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------- the run


def _machine():
    import keras
    import tensorflow as tf
    import tensorflow_probability as tfp

    import keras_vcd

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "tensorflow_probability": tfp.__version__,
        "numpy": np.__version__,
        "keras_vcd": keras_vcd.__version__,
        "gpus": len(tf.config.list_physical_devices("GPU")),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_times():
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields), idle


def other_load(seconds=2.0):
    """Fraction of all CPUs busy during `seconds` of sleep (None off Linux).

    Measured directly rather than read from the load average, which lags by minutes:
    a benchmark started right after stopping other work reads a high load average on a
    quiet machine, and one started beside work that began a minute ago reads a low one.
    """
    try:
        total0, idle0 = _cpu_times()
        time.sleep(seconds)
        total1, idle1 = _cpu_times()
    except (OSError, ValueError, IndexError):
        return None
    elapsed = total1 - total0
    return 1.0 - (idle1 - idle0) / elapsed if elapsed > 0 else None


# Above this fraction of the CPUs busy with other work, the table carries a warning.
QUIET_THRESHOLD = 0.1


def _load_average():
    try:
        return list(os.getloadavg())
    except (AttributeError, OSError):
        return None


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _check_settings(settings, config):
    unknown = sorted(set(config) - set(settings))
    if unknown:
        raise ValueError(f"Unknown benchmark settings {unknown}; expected some of "
                         f"{sorted(settings)}.")


def run(quick=False, output="benchmark.json", verbose=1, config=None, iterations=None,
        repeats=None):
    """Runs the whole benchmark (sections a to f) and writes the results as JSON.

    Args:
        quick: fewer iterations, repeats and sizes (see `default_settings`).
        output: path of the JSON file to write; None writes nothing.
        verbose: 1 prints a line per measurement, 0 is silent.
        config: dict overriding any of `default_settings(quick)` (e.g. tiny model
            sizes for a test).
        iterations, repeats: shortcuts for those two settings.

    Returns:
        The results dict: `machine`, `settings`, timestamps, the six sections
        (`SECTIONS`) and `ratios`.
    """
    settings = default_settings(quick)
    config = dict(config or {})
    _check_settings(settings, config)
    settings.update(config)
    if iterations is not None:
        settings["iterations"] = iterations
    if repeats is not None:
        settings["repeats"] = repeats
    paper = {key: settings[key] for key in PAPER_CONFIG}
    paper.update(data_density=settings["data_density"],
                 local_warmup_steps=settings["local_warmup_steps"])
    seed = settings["seed"]

    results = {
        "benchmark": "keras_vcd",
        "quick": bool(quick),
        "started_at": _now(),
        "load_average_start": _load_average(),
        "other_load_start": other_load(),
        "machine": _machine(),
        "settings": copy.deepcopy(settings),
    }
    wall_start = _START[0] = time.perf_counter()
    _log(verbose, f"machine: {results['machine']['cpu_count']} CPUs, "
                  f"TF {results['machine']['tensorflow']}, other load {_percent(results['other_load_start'])}")

    probes = [dict(paper, **probe) for probe in settings["memory_probes"]]
    pool = concurrent.futures.ThreadPoolExecutor(settings["memory_probe_workers"])
    if settings["overlap_memory_probes"]:
        pending = [pool.submit(run_memory_probe, probe) for probe in probes]

    # c (first: the rate every other section is compared with).
    rate = matmul_rate(settings["matmul_size"], settings["matmul_repeats"])
    _log(verbose, f"matmul {rate['size']}^2: {rate['flops_per_second'] / 1e9:.1f} GFLOP/s")

    shape_rate = gradient_matmul_rate(settings, settings["matmul_repeats"])
    _log(verbose, "matmuls of a decoder gradient at batch "
                  f"{settings['batch_size']}: {shape_rate['flops_per_second'] / 1e9:.1f} GFLOP/s")

    # a.
    training = {}
    models = {}
    for kind in ("global", "local"):
        record, models[kind] = time_fit(paper, kind, settings["iterations"],
                                        settings["repeats"], seed)
        record.update(_limit_record(paper, record["seconds_per_iteration"],
                                    rate["flops_per_second"]))
        training[kind] = record
        _log(verbose, f"VCDModel.fit, {kind} control variate: "
                      f"{record['seconds_per_iteration'] * 1e3:.2f} ms/iteration")
    results["training"] = training
    ours = training["global"]["seconds_per_iteration"]

    # b.
    baseline = {}
    baseline["tf_function"] = time_baseline(
        paper, settings["baseline_iterations"], settings["baseline_repeats"], seed=seed)
    _log(verbose, "tfp.mcmc in tf.function: "
                  f"{baseline['tf_function']['seconds_per_iteration'] * 1e3:.2f} ms/iteration")
    baseline["eager"] = time_baseline(
        paper, settings["eager_iterations"], settings["eager_repeats"], eager=True, seed=seed)
    _log(verbose, "tfp.mcmc eagerly: "
                  f"{baseline['eager']['seconds_per_iteration'] * 1e3:.2f} ms/iteration")
    for record in baseline.values():
        record.update(_limit_record(paper, record["seconds_per_iteration"],
                                    rate["flops_per_second"]))
        record["speedup_of_ours"] = record["seconds_per_iteration"] / ours
    results["tfp_baseline"] = baseline

    # c, derived.
    flops = iteration_flops(
        paper["batch_size"], paper["input_dim"], tuple(paper["hidden_units"]),
        paper["latent_dim"], paper["num_steps"], paper["num_leapfrog_steps"])
    limit = flops["total"] / rate["flops_per_second"]
    results["machine_limit"] = {
        "matmul": rate,
        "flops_per_iteration": flops,
        "limit_seconds_per_iteration": limit,
        "our_seconds_per_iteration": ours,
        "ratio_to_limit": ours / limit,
        "our_gflops_per_second": flops["total"] / ours / 1e9,
        "matmul_gflops_per_second": rate["flops_per_second"] / 1e9,
        "gradient_matmuls": shape_rate,
        "shape_limit_seconds_per_iteration": flops["total"] / shape_rate["flops_per_second"],
        "ratio_to_shape_limit": ours * shape_rate["flops_per_second"] / flops["total"],
    }
    _log(verbose, f"limit: {limit * 1e3:.2f} ms/iteration, ours is {ours / limit:.1f}x that")

    # d.
    scaling = {}
    for key, values in (("batch_size", settings["scaling_batch_sizes"]),
                        ("num_steps", settings["scaling_num_steps"]),
                        ("latent_dim", settings["scaling_latent_dims"])):
        rows = []
        for value in values:
            point = dict(paper, **{key: value})
            if value == paper[key]:
                record = dict(training["global"], same_as="training.global")
            else:
                count = min(settings["iterations"],
                            settings["scaling_max_examples"] // point["batch_size"])
                record, _ = time_fit(point, "global", count, settings["repeats"], seed)
            record = dict(record, value=value)
            record.update(_limit_record(point, record["seconds_per_iteration"],
                                        rate["flops_per_second"]))
            rows.append(record)
            _log(verbose, f"scaling {key}={value}: "
                          f"{record['seconds_per_iteration'] * 1e3:.2f} ms/iteration, "
                          f"{record['seconds_per_example'] * 1e6:.1f} us/example")
        scaling[key] = rows
    results["scaling"] = scaling

    # e.
    evaluation = {}
    x_eval = synthetic_data(settings["eval_num_examples"], paper["input_dim"],
                            settings["data_density"], seed + 1)
    for method in ("iwae", "hmc_is"):
        record = time_log_likelihood(
            models["global"], x_eval, method, settings["eval_num_samples"],
            settings["eval_repeats"], settings["eval_num_burnin_steps"],
            settings["eval_num_kept_steps"])
        counted = evaluation_flops(
            paper["input_dim"], tuple(paper["hidden_units"]), paper["latent_dim"], method,
            settings["eval_num_samples"], settings["eval_num_burnin_steps"],
            settings["eval_num_kept_steps"], paper["num_leapfrog_steps"])
        total_flops = counted["total"] * record["num_examples"]
        record.update(
            flops_per_sample=counted["per_sample"],
            proposal_flops_per_example=counted["proposal"],
            proposal_flop_share=counted["proposal_share"],
            gflops_per_second=total_flops / record["seconds"] / 1e9,
            sample_fraction_of_matmul_rate=(record["samples_per_second"]
                                            * counted["per_sample"] / rate["flops_per_second"]),
            fraction_of_matmul_rate=total_flops / record["seconds"] / rate["flops_per_second"],
        )
        evaluation[method] = record
        _log(verbose, f"log_likelihood {method}: {record['samples_per_second']:.3g} samples/s, "
                      f"{record['fraction_of_matmul_rate']:.1%} of the matmul rate")
    evaluation["hmc_is"]["proposal_time_share"] = max(
        0.0, 1.0 - evaluation["iwae"]["seconds"] / evaluation["hmc_is"]["seconds"])
    results["evaluation"] = evaluation

    # f. Fresh processes, run last so that they never overlap a timing (unless asked).
    if not settings["overlap_memory_probes"]:
        pending = [pool.submit(run_memory_probe, probe) for probe in probes]
    with pool:
        measured = [future.result() for future in pending]
    memory = []
    for probe, record in zip(probes, measured):
        record = dict(probe, **record)
        if probe["kind"] == "train" and probe["control_variate"] == "local":
            record["control_variate_bytes"] = 4 * probe["num_train_examples"]
        memory.append(record)
        _log(verbose, f"memory {_probe_label(probe)}: {record['max_rss_bytes'] / 2**20:.0f} MiB "
                      f"({record['max_rss_above_import_bytes'] / 2**20:.0f} MiB above the "
                      "imports)")
    results["memory"] = memory

    results["ratios"] = {
        "speedup_vs_tfp_tf_function": baseline["tf_function"]["seconds_per_iteration"] / ours,
        "speedup_vs_tfp_eager": baseline["eager"]["seconds_per_iteration"] / ours,
        "ratio_to_limit": ours / limit,
        "local_over_global": training["local"]["seconds_per_iteration"] / ours,
    }
    results["finished_at"] = _now()
    results["load_average_end"] = _load_average()
    results["other_load_end"] = other_load()
    results["wall_seconds"] = time.perf_counter() - wall_start
    if output:
        with open(output, "w", encoding="utf-8") as file:
            json.dump(results, file, indent=2)
        _log(verbose, f"wrote {output}")
    return results


# ---------------------------------------------------------------------- the report


def _probe_label(probe):
    if probe["kind"] == "train":
        return (f"train, {probe['control_variate']} control variate, "
                f"N = {probe['num_train_examples']:,}")
    return (f"evaluate {probe['method']}, S = {probe['num_samples']:,}, "
            f"{probe['num_examples']} examples")


def _loads(values):
    return "n/a" if values is None else ", ".join(f"{v:.2f}" for v in values)


def _g(flops):
    """FLOPs or FLOP/s in units of 10^9, 3 significant digits."""
    return f"{flops / 1e9:.3g}"


def _percent(fraction):
    return "unknown" if fraction is None else f"{fraction:.0%}"


def _ms(seconds):
    return f"{seconds * 1e3:.2f}"


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def format_table(results):
    """The results of `run` as Markdown: a header, then one table per section a-f."""
    machine = results["machine"]
    settings = results["settings"]
    ratios = results["ratios"]
    out = [
        "# keras_vcd speed benchmark" + (" (quick)" if results["quick"] else ""),
        "",
        f"{machine['cpu_count']} CPUs ({machine.get('cpu_model', machine['processor'])}), "
        f"{machine['platform']}; "
        f"TensorFlow {machine['tensorflow']}, Keras {machine['keras']}, "
        f"TFP {machine['tensorflow_probability']}. {results['started_at']} to "
        f"{results['finished_at']}; load average (1, 5, 15 min) "
        f"{_loads(results['load_average_start'])} at the start, "
        f"{_loads(results['load_average_end'])} at the end; CPUs busy with other work "
        f"{_percent(results.get('other_load_start'))} at the start, "
        f"{_percent(results.get('other_load_end'))} at the end (2 s samples).",
        "",
    ]
    if any(load is not None and load > QUIET_THRESHOLD
           for load in (results.get("other_load_start"), results.get("other_load_end"))):
        out += [
            f"**Warning: other work used more than {QUIET_THRESHOLD:.0%} of the CPUs; "
            "the timings below are disturbed.**",
            "",
        ]
    out += [
        f"Paper configuration: batch {settings['batch_size']}, latent {settings['latent_dim']}, "
        f"MLPs {settings['hidden_units']}, {settings['num_steps']} HMC transitions x "
        f"{settings['num_leapfrog_steps']} leapfrog steps, objective vcd, synthetic "
        f"Bernoulli({settings['data_density']}) data of dimension {settings['input_dim']}.",
        "",
        f"## {SECTION_TITLES['training']}",
        "",
        "Default `compile()` (XLA, steps_per_execution); median of repeats after a warm-up fit.",
        "",
    ]
    rows = []
    for kind, record in results["training"].items():
        rows.append([kind, _ms(record["seconds_per_iteration"]),
                     f"{record['seconds_per_example'] * 1e6:.1f}",
                     f"{record['iterations_per_repeat']} x {record['repeats']}",
                     f"{record['gflops_per_second']:.3g}"])
    out += [_table(["control variate", "ms / iteration", "us / example",
                    "iterations x repeats", "GFLOP/s"], rows), ""]

    ours = results["training"]["global"]["seconds_per_iteration"]
    out += [f"## {SECTION_TITLES['tfp_baseline']}", "",
            "Global control variate; same layers, losses and optimizers.", ""]
    rows = [["keras_vcd `VCDModel.fit`", _ms(ours), "1.0x"]]
    names = {"tf_function": "tfp.mcmc in `tf.function`", "eager": "tfp.mcmc, eager"}
    for key, record in results["tfp_baseline"].items():
        rows.append([names.get(key, key), _ms(record["seconds_per_iteration"]),
                     f"{record['speedup_of_ours']:.1f}x"])
    out += [_table(["implementation", "ms / iteration", "keras_vcd is faster by"], rows), ""]

    limit = results["machine_limit"]
    flops = limit["flops_per_iteration"]
    out += [f"## {SECTION_TITLES['machine_limit']}", "",
            f"FLOPs per iteration {_g(flops['total'])} G (HMC {_g(flops['hmc'])}, encoder "
            f"{_g(flops['encoder'])}, decoder at z0 {_g(flops['decoder_z0'])}, decoder at "
            f"z_T {_g(flops['decoder_zt'])}); matrix product "
            f"{limit['matmul']['size']}^2 in tf.function.", ""]
    out += [_table(
        ["matmul GFLOP/s", "limit ms / iteration", "our ms / iteration", "ours / limit",
         "our GFLOP/s"],
        [[f"{limit['matmul_gflops_per_second']:.1f}", _ms(limit["limit_seconds_per_iteration"]),
          _ms(limit["our_seconds_per_iteration"]), f"{limit['ratio_to_limit']:.1f}",
          f"{limit['our_gflops_per_second']:.3g}"]]), ""]
    if "gradient_matmuls" in limit:
        shape = limit["gradient_matmuls"]
        out += [
            "The same FLOPs at the rate of the matrix products alone of a decoder gradient "
            f"at batch {shape['batch_size']} (forward and backward products chained in an "
            "XLA loop, nothing else), the limit at the shapes this model has:", "",
            _table(["products GFLOP/s", "limit ms / iteration", "ours / that limit"],
                   [[f"{shape['flops_per_second'] / 1e9:.1f}",
                     _ms(limit["shape_limit_seconds_per_iteration"]),
                     f"{limit['ratio_to_shape_limit']:.2f}"]]), ""]

    out += [f"## {SECTION_TITLES['scaling']}", "",
            "One parameter varied from the paper's configuration; global control variate.", ""]
    for key, rows_in in results["scaling"].items():
        rows = [[row["value"], _ms(row["seconds_per_iteration"]),
                 f"{row['seconds_per_example'] * 1e6:.1f}", f"{row['ratio_to_limit']:.1f}",
                 f"{row['gflops_per_second']:.3g}"] for row in rows_in]
        out += [f"### {key}", "", _table(
            [key, "ms / iteration", "us / example", "ours / limit", "GFLOP/s"], rows), ""]

    out += [f"## {SECTION_TITLES['evaluation']}", "",
            "`keras_vcd.evaluation.log_likelihood`, after a warm-up call; one importance "
            "sample costs one decoder forward pass.", ""]
    rows = []
    for method, record in results["evaluation"].items():
        share = (f"{record['proposal_flop_share']:.0%} / "
                 f"{record.get('proposal_time_share', 0.0):.0%}" if method == "hmc_is" else "-")
        rows.append([method, record["num_examples"], f"{record['num_samples']:,}",
                     f"{record['seconds']:.2f}", f"{record['samples_per_second']:.3g}",
                     f"{record['gflops_per_second']:.3g}",
                     f"{record['fraction_of_matmul_rate']:.1%}", share])
    out += [_table(["method", "examples", "S", "seconds", "samples / s", "GFLOP/s",
                    "of matmul rate", "HMC proposal share (FLOPs / time)"], rows), ""]

    out += [f"## {SECTION_TITLES['memory']}", "",
            "Max RSS of a fresh process per row (TensorFlow itself included). Evaluation "
            "memory is bounded per chunk of samples, independent of the number of examples.",
            ""]
    rows = []
    for record in results["memory"]:
        table_bytes = record.get("control_variate_bytes")
        rows.append([_probe_label(record), f"{record['max_rss_bytes'] / 2**20:.0f}",
                     f"{record['max_rss_above_import_bytes'] / 2**20:.0f}",
                     f"{table_bytes / 2**20:.1f}" if table_bytes else "-"])
    out += [_table(["measurement", "max RSS (MiB)", "above TF import (MiB)",
                    "control variate table (MiB)"], rows), ""]

    out += ["## Ratios", "", _table(
        ["vs tfp.mcmc in tf.function", "vs tfp.mcmc eager", "ours / limit",
         "local / global"],
        [[f"{ratios['speedup_vs_tfp_tf_function']:.1f}x",
          f"{ratios['speedup_vs_tfp_eager']:.1f}x", f"{ratios['ratio_to_limit']:.1f}",
          f"{ratios['local_over_global']:.2f}"]]), ""]
    return "\n".join(out)


# ---------------------------------------------------------------------- command line


def main(argv=None):
    """`python -m keras_vcd.benchmark [--quick] [--output FILE]`; also runs memory probes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and sizes")
    parser.add_argument("--output", default="benchmark.json", help="JSON results file")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--memory-probe", metavar="SPEC",
                        help="internal: run one memory measurement (JSON spec), print JSON")
    args = parser.parse_args(argv)
    if args.memory_probe:
        print(json.dumps(memory_probe(json.loads(args.memory_probe))), flush=True)
        return 0
    results = run(quick=args.quick, output=args.output, verbose=0 if args.quiet else 1)
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
