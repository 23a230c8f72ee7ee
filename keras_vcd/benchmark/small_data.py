"""`keras-vcd bench --small-data`: does a small data set train as fast per iteration?

The same tiny model (a linear Gaussian decoder of 13 features, latent 2, VCD with the
paper's HMC) is fit on 150 and on 15,000 synthetic examples with a plain
`model.fit(x, batch_size=50, epochs=...)`: 3 steps per epoch against 300. Keras's
per-epoch work (a new input pipeline, the metrics' reset and read-out) is paid every
3 steps on the small set, so its time per iteration measures that overhead. Each
size is also timed through Keras's own input pipeline (`keras.Model.fit` on the
arrays, as before `UnlabelledModel.fit` fed them as endless batches).

Example:

>>> from keras_vcd.benchmark.small_data import format_small_data, run_small_data
>>> results = run_small_data(verbose=0)  # doctest: +SKIP
>>> print(format_small_data(results))  # doctest: +SKIP
"""

import keras
import numpy as np

from keras_vcd.benchmark.machine import describe_machine, load_average
from keras_vcd.benchmark.timing import Progress, median, time_calls
from keras_vcd.layers import GaussianDecoder, GaussianEncoder
from keras_vcd.models import VCDModel

BATCH_SIZE = 50
NUM_FEATURES = 13
# The ratio small / large that "close to a large data set" means (issue 34).
TARGET_RATIO = 1.5


def _tiny_model(seed):
    model = VCDModel(GaussianEncoder(latent_dim=2, hidden_units=(16,)),
                     GaussianDecoder(output_dim=NUM_FEATURES, hidden_units=(), scale="learned"),
                     seed=seed)
    model.compile()
    model.build()  # keras.Model.fit alone would not build the refiner
    return model


def _ms_per_iteration(num_examples, iterations, repeats, keras_pipeline, seed):
    x = np.random.default_rng(seed).normal(size=(num_examples, NUM_FEATURES)).astype("float32")
    model = _tiny_model(seed)
    fit = keras.Model.fit if keras_pipeline else type(model).fit
    steps_per_epoch = -(-num_examples // BATCH_SIZE)
    epochs = max(1, iterations // steps_per_epoch)
    _, seconds = time_calls(
        lambda: fit(model, x, batch_size=BATCH_SIZE, epochs=epochs, verbose=0), repeats,
        warmup=lambda: fit(model, x, batch_size=BATCH_SIZE, epochs=2, verbose=0))
    return 1e3 * median(seconds) / (epochs * steps_per_epoch)


def run_small_data(sizes=(150, 15000), iterations=3000, repeats=3, verbose=1, seed=0):
    """Times fit per iteration on a small and a large data set, both input paths.

    Args:
        sizes: `(small, large)` numbers of examples.
        iterations: iterations per timed fit (whole epochs, at least one).
        repeats: timed fits per measurement (the median is reported).
        verbose: 1 prints a line per measurement.
        seed: of the data and the models.

    Returns:
        A dict: `ms_per_iteration[path][size]`, `ratio[path]` (small / large), the
        `target_ratio` and the machine record.
    """
    progress = Progress(verbose)
    results = {"load_average_before": load_average(), "sizes": list(sizes), "batch_size": BATCH_SIZE, "iterations": iterations,
               "repeats": repeats, "target_ratio": TARGET_RATIO,
               "ms_per_iteration": {}, "ratio": {}}
    for path in ("keras_pipeline", "endless_batches"):
        times = {}
        for size in sizes:
            times[str(size)] = _ms_per_iteration(size, iterations, repeats,
                                                 path == "keras_pipeline", seed)
            progress.log(f"{path}, {size} examples: {times[str(size)]:.2f} ms/iteration")
        results["ms_per_iteration"][path] = times
        results["ratio"][path] = times[str(sizes[0])] / times[str(sizes[-1])]
    results["machine"] = describe_machine(None)
    results["load_average_after"] = load_average()
    return results


def format_small_data(results):
    """The results as a Markdown table."""
    small, large = (str(size) for size in results["sizes"])
    lines = [f"| input path | {small} examples, ms/iteration | {large} examples | ratio |",
             "| --- | --- | --- | --- |"]
    for path, times in results["ms_per_iteration"].items():
        lines.append(f"| {path.replace('_', ' ')} | {times[small]:.2f} | {times[large]:.2f} | "
                     f"{results['ratio'][path]:.2f} |")
    lines.append(f"\nTarget: ratio <= {results['target_ratio']} (batch "
                 f"{results['batch_size']}, median of {results['repeats']} fits of "
                 f"{results['iterations']} iterations).")
    return "\n".join(lines)
