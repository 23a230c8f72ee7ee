"""Estimator speed (`keras-vcd bench --estimators`): ms per example of each log p(x)
estimator at the settings the docs recommend, on a zoo preset.

Each estimator is timed on `num_examples` examples processed as one batch (the same
shape as every batch of a full evaluation at `batch_size` = `num_examples`), after a
warm-up call that compiles; bdmc is timed without estimators inside, so its figure is
the sandwich alone (forward and reverse AIS on simulated data). The projection to the
10,000 examples of the MNIST test set is `ms per example * 10,000`.

Example:

>>> from keras_vcd.benchmark import estimators
>>> results = estimators.run_estimator_speed(num_examples=100)  # doctest: +SKIP
>>> print(estimators.format_estimator_speed(results))  # doctest: +SKIP
"""

from keras_vcd import evaluation
from keras_vcd.evaluation import ais
from keras_vcd.benchmark.machine import load_average, now
from keras_vcd.benchmark.report import write_json
from keras_vcd.benchmark.timing import Progress, median, time_calls
from keras_vcd.benchmark.workload import synthetic_data

#: The recommended settings of each estimator, as `log_likelihood` (or `bdmc`) arguments.
RECOMMENDED = {
    "iwae": {"num_samples": 5000},
    "hmc_is": {"num_samples": 5000},
    "ais": {"num_samples": ais.DEFAULT_NUM_CHAINS,
            "num_annealing_steps": ais.DEFAULT_NUM_ANNEALING_STEPS},
    "bdmc": {"num_chains": ais.DEFAULT_NUM_CHAINS,
             "num_annealing_steps": ais.DEFAULT_NUM_ANNEALING_STEPS},
}
TEST_SET_SIZE = 10_000


def time_estimator(model, x, method, settings, repeats):
    """Times one estimator on `x` (one batch) after a warm-up call.

    Returns:
        A dict: `ms_per_example` (median over repeats), `test_set_minutes` (the
        projection to `TEST_SET_SIZE` examples), the settings and raw seconds.
    """
    num_examples = len(x)

    def call():
        if method == "bdmc":
            evaluation.bdmc(model, num_examples, estimators={}, batch_size=num_examples,
                            verbose=0, **settings)
        else:
            evaluation.log_likelihood(model, x, method, batch_size=num_examples, verbose=0,
                                      **settings)

    warmup_seconds, seconds = time_calls(call, repeats)
    ms_per_example = 1000.0 * median(seconds) / num_examples
    return {"method": method, "settings": settings, "num_examples": num_examples,
            "ms_per_example": ms_per_example,
            "test_set_minutes": ms_per_example * TEST_SET_SIZE / 60_000.0,
            "seconds_all": seconds, "warmup_seconds": warmup_seconds}


def run_estimator_speed(preset="vcd_mnist", num_examples=100, repeats=2,
                        methods=tuple(RECOMMENDED), output=None, verbose=1):
    """Times every estimator at its recommended settings on `preset`.

    Args:
        preset: a zoo preset (its weights; the data are synthetic, Bernoulli(0.13)).
        num_examples: examples per timed call (one batch).
        repeats: timed calls per estimator.
        methods: which of `RECOMMENDED` to time.
        output: a JSON file to write the results to, or None.
        verbose: 1 prints a line per estimator.

    Returns:
        A dict: `preset`, `started`, `load_average` before and after, and `rows`, one
        `time_estimator` dict per method.
    """
    from keras_vcd import zoo

    progress = Progress(verbose)
    model = zoo.load(preset)
    x = synthetic_data(num_examples, model.input_dim)
    results = {"preset": preset, "started": now(), "load_average_before": load_average(),
               "rows": []}
    for method in methods:
        row = time_estimator(model, x, method, RECOMMENDED[method], repeats)
        results["rows"].append(row)
        progress.log(f"{method}: {row['ms_per_example']:.1f} ms per example, "
                     f"{row['test_set_minutes']:.1f} min for {TEST_SET_SIZE:,} examples")
    results["load_average_after"] = load_average()
    if output:
        write_json(results, output)
    return results


def format_estimator_speed(results):
    """The results as the Markdown table of docs/benchmark.md's "Estimator speed".

    Example:

    >>> row = {"method": "iwae", "settings": {"num_samples": 5000}, "num_examples": 100,
    ...        "ms_per_example": 12.0, "test_set_minutes": 2.0}
    >>> print(format_estimator_speed({"preset": "vcd_mnist", "rows": [row]}))
    | estimator | settings | ms / example | 10,000 examples (min) |
    |---|---|---|---|
    | iwae | num_samples=5000 | 12.0 | 2.0 |
    """
    lines = ["| estimator | settings | ms / example | 10,000 examples (min) |",
             "|---|---|---|---|"]
    for row in results["rows"]:
        settings = ", ".join(f"{k}={v}" for k, v in row["settings"].items())
        lines.append(f"| {row['method']} | {settings} | {row['ms_per_example']:.1f} | "
                     f"{row['test_set_minutes']:.1f} |")
    return "\n".join(lines)
