"""FLOPs counted from the shapes, the machine's measured FLOP rate, and their ratio.

Section c of the benchmark: the analytic FLOPs of one iteration (`iteration_flops`)
over the measured rate of a large float32 matrix product (`matmul_rate`) is the time
a perfect implementation would take on this machine.
"""

import tensorflow as tf

from keras_vcd.benchmark.timing import median, time_calls


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


def config_iteration_flops(config):
    """`iteration_flops` of a model configuration dict like `PAPER_CONFIG`.

    >>> from keras_vcd.benchmark.settings import PAPER_CONFIG
    >>> config_iteration_flops(PAPER_CONFIG) == iteration_flops()
    True
    """
    return iteration_flops(
        config["batch_size"], config["input_dim"], tuple(config["hidden_units"]),
        config["latent_dim"], config["num_steps"], config["num_leapfrog_steps"],
    )


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


def _median_seconds(call, repeats):
    """The median time of `repeats` calls of `call` after a warm-up (which compiles)."""
    return median(time_calls(call, repeats)[1])


def matmul_rate(size=2048, repeats=10):
    """FLOP/s of a `[size, size] x [size, size]` float32 product in `tf.function`.

    `2 size^3` FLOPs per product; the median time of `repeats` after a warm-up.

    Returns:
        A dict with `flops_per_second`, `seconds` (median), `size` and `repeats`.

    Example:

    >>> matmul_rate(size=64, repeats=2)["flops_per_second"] > 0
    True
    """
    a = tf.random.stateless_normal([size, size], seed=[0, 1])
    b = tf.random.stateless_normal([size, size], seed=[0, 2])

    @tf.function
    def product(a, b):
        # Reduced to a scalar so that reading the result back costs nothing.
        return tf.reduce_sum(tf.matmul(a, b))

    seconds = _median_seconds(lambda: float(product(a, b)), repeats)
    return {"flops_per_second": 2 * size**3 / seconds, "seconds": seconds, "size": size,
            "repeats": repeats}


def gradient_matmul_rate(config, repeats=5, gradients=200):
    """FLOP/s of the matrix products alone of one decoder gradient, at the paper's shapes.

    One HMC gradient evaluation is a forward and a backward pass of the decoder MLP at
    batch `batch_size`: 2 products per layer. These products, with nothing else (no
    bias, activation, sigmoid or sampling), are chained `gradients` times in one XLA
    while loop, the way the leapfrog steps run them. Their rate is what a perfect
    implementation on this machine could reach at these shapes: small products use the
    cores less well than the large square one of `matmul_rate`.

    Args:
        config: a dict like `PAPER_CONFIG` (the sizes and the batch size).
        repeats: timed loops after the warm-up.
        gradients: products chained per loop.

    Returns:
        A dict with `flops_per_second`, `seconds` (median per loop) and the settings.

    Example:

    >>> from keras_vcd.benchmark.settings import PAPER_CONFIG
    >>> tiny = dict(PAPER_CONFIG, input_dim=8, hidden_units=[4], batch_size=2)
    >>> gradient_matmul_rate(tiny, repeats=1, gradients=3)["gradients"]
    3
    """
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

    seconds = _median_seconds(lambda: float(tf.reduce_sum(chain(z0))), repeats)
    flops = gradients * 2 * mlp_flops(config["batch_size"], sizes)
    return {"flops_per_second": flops / seconds, "seconds": seconds, "gradients": gradients,
            "repeats": repeats, "batch_size": config["batch_size"]}


def measure_rates(config, settings, progress):
    """Section c's measurements: the rates that every other section is compared with.

    Args:
        config: the model configuration (`model_config`).
        settings: the benchmark settings (`matmul_size`, `matmul_repeats`).
        progress: a `Progress` for the log lines.

    Returns:
        `(matmul_rate record, gradient_matmul_rate record)`.
    """
    rate = matmul_rate(settings["matmul_size"], settings["matmul_repeats"])
    progress.log(f"matmul {rate['size']}^2: {rate['flops_per_second'] / 1e9:.1f} GFLOP/s")
    shape_rate = gradient_matmul_rate(config, settings["matmul_repeats"])
    progress.log("matmuls of a decoder gradient at batch "
                 f"{config['batch_size']}: {shape_rate['flops_per_second'] / 1e9:.1f} GFLOP/s")
    return rate, shape_rate


def limit_record(config, seconds_per_iteration, rate):
    """How a measured iteration time compares with the machine's limit.

    Args:
        config: the model configuration the time was measured with.
        seconds_per_iteration: the measured time.
        rate: a `matmul_rate` record.

    Returns:
        A dict: `flops_per_iteration`, `limit_seconds_per_iteration`,
        `ratio_to_limit` (measured / limit) and the achieved `gflops_per_second`.

    Example:

    >>> from keras_vcd.benchmark.settings import PAPER_CONFIG
    >>> record = limit_record(PAPER_CONFIG, 0.1, {"flops_per_second": 1e11})
    >>> record["flops_per_iteration"], round(record["ratio_to_limit"], 2)
    (3634560000, 2.75)
    """
    flops = config_iteration_flops(config)["total"]
    limit = flops / rate["flops_per_second"]
    return {
        "flops_per_iteration": flops,
        "limit_seconds_per_iteration": limit,
        "ratio_to_limit": seconds_per_iteration / limit,
        "gflops_per_second": flops / seconds_per_iteration / 1e9,
    }


def machine_limit(config, ours, rate, shape_rate, progress):
    """Section c: our training iteration against the FLOP limit of the machine.

    Args:
        config: the model configuration.
        ours: our seconds per iteration (section a, global control variate).
        rate, shape_rate: the records of `measure_rates`.
        progress: a `Progress` for the log line.

    Returns:
        The section's dict.
    """
    flops = config_iteration_flops(config)
    limit = flops["total"] / rate["flops_per_second"]
    progress.log(f"limit: {limit * 1e3:.2f} ms/iteration, ours is {ours / limit:.1f}x that")
    return {
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
