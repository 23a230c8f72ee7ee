"""What the benchmark measures with: the paper's configuration, sizes and repeats."""

# The paper's model and training configuration.
PAPER_CONFIG = {
    "input_dim": 784,
    "hidden_units": [200, 200],
    "latent_dim": 10,
    "batch_size": 100,
    "num_steps": 8,
    "num_leapfrog_steps": 5,
}


def _train_probe(control_variate, num_train_examples, steps):
    return {"kind": "train", "control_variate": control_variate,
            "num_train_examples": num_train_examples, "steps": steps}


def _evaluate_probe(num_examples, num_samples, method="iwae"):
    return {"kind": "evaluate", "method": method, "num_examples": num_examples,
            "num_samples": num_samples}


def default_settings(quick=False):
    """Everything `run` measures with, as a JSON-able dict.

    Args:
        quick: fewer iterations, repeats and sizes (minutes instead of a quarter hour).

    Returns:
        A dict; `run(config=...)` overrides any of its keys.

    Example:

    >>> default_settings()["batch_size"], default_settings(quick=True)["iterations"]
    (100, 30)
    """
    def full_or_quick(full, quick_value):
        # Both values side by side, so that the quick run's cuts are seen at a glance.
        return quick_value if quick else full

    return dict(
        PAPER_CONFIG,
        data_density=0.13,          # P(pixel = 1) of the synthetic data
        seed=0,
        # a. our training step
        # per timed repeat (a multiple of steps_per_execution)
        iterations=full_or_quick(100, 30),
        repeats=full_or_quick(5, 3),
        local_warmup_steps=0,       # time the local rule itself, not its global warm-up
        # b. the tfp.mcmc baseline
        baseline_iterations=full_or_quick(50, 5),
        baseline_repeats=full_or_quick(3, 2),
        eager_iterations=full_or_quick(5, 1),
        eager_repeats=2,
        # c. the matrix-product rate
        matmul_size=2048,
        matmul_repeats=full_or_quick(10, 5),
        # d. scaling, one parameter varied at a time from the paper's configuration
        scaling_batch_sizes=full_or_quick([16, 100, 128, 512, 1024], [16, 100]),
        scaling_num_steps=full_or_quick([0, 1, 8, 16], [0, 8]),
        scaling_latent_dims=[10, 50],
        # fewer iterations per repeat for large batches
        scaling_max_examples=full_or_quick(51200, 5000),
        # e. evaluation throughput
        # log_likelihood's default batch_size: the HMC proposal runs on this many chains
        eval_num_examples=full_or_quick(500, 20),
        eval_num_samples=full_or_quick(5000, 1000),
        eval_repeats=full_or_quick(3, 2),
        eval_num_burnin_steps=300,
        eval_num_kept_steps=300,
        # f. peak memory, each in a fresh process
        memory_probes=full_or_quick(
            [_train_probe("global", 50000, steps=20),
             _train_probe("local", 50000, steps=20),
             _train_probe("local", 1000000, steps=20),
             _evaluate_probe(200, 20000),
             _evaluate_probe(400, 20000)],
            [_train_probe("local", 50000, steps=10),
             _train_probe("local", 1000000, steps=10),
             _evaluate_probe(20, 20000)],
        ),
        memory_probe_workers=full_or_quick(1, 2),
        # Start the memory probes at the beginning, beside the timings: faster, but the
        # timings are then disturbed. For tests only.
        overlap_memory_probes=False,
    )


def resolve_settings(quick=False, config=None, iterations=None, repeats=None):
    """`default_settings(quick)` with `run`'s overrides applied.

    Args:
        quick: as for `default_settings`.
        config: dict overriding any of the settings.
        iterations, repeats: shortcuts for those two settings; None keeps them.

    Returns:
        The settings dict.

    Raises:
        ValueError: `config` has a key that is not a setting (a typo would otherwise
            be measured with the default, silently).

    Example:

    >>> resolve_settings(True, {"batch_size": 10}, iterations=20)["iterations"]
    20
    >>> resolve_settings(config={"batch_sise": 10})
    Traceback (most recent call last):
    ...
    ValueError: Unknown benchmark settings ['batch_sise']; expected some of [...].
    """
    settings = default_settings(quick)
    config = dict(config or {})
    unknown = sorted(set(config) - set(settings))
    if unknown:
        raise ValueError(f"Unknown benchmark settings {unknown}; expected some of "
                         f"{sorted(settings)}.")
    settings.update(config)
    if iterations is not None:
        settings["iterations"] = iterations
    if repeats is not None:
        settings["repeats"] = repeats
    return settings


def model_config(settings):
    """The model and data that every section measures, taken from `settings`.

    Returns:
        `PAPER_CONFIG`'s keys as `settings` has them, plus `data_density` and
        `local_warmup_steps`.

    Example:

    >>> model_config(default_settings())["hidden_units"]
    [200, 200]
    """
    config = {key: settings[key] for key in PAPER_CONFIG}
    config.update(data_density=settings["data_density"],
                  local_warmup_steps=settings["local_warmup_steps"])
    return config
