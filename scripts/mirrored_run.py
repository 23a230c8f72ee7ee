#!/usr/bin/env python
"""Trains a preset's recipe under `MirroredStrategy` over logical CPUs, and measures it.

For checking what several replicas change on a machine without GPUs, e.g. the rule
by which the replicas share the HMC step size (docs/distribute.md):

    python scripts/mirrored_run.py vcd_mnist --replicas 2 --iterations 2000

The global batch is the recipe's, split over the replicas; training runs whole epochs
over the recipe's training set, as near `--iterations` as they come. Prints one JSON
line: the last epoch's training metrics (acceptance, step size, ...), the final step size, the
seconds per iteration, and the test log-likelihood (`iwae`, S = 100, the first 1,000
test examples, seed 0).
"""

import argparse
import json
import sys
import time

from keras_vcd import distribute


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset", help="a preset name or folder")
    parser.add_argument("--replicas", type=int, default=2, help="logical CPUs (replicas)")
    parser.add_argument("--iterations", type=int, default=2000,
                        help="training steps, rounded to whole epochs")
    parser.add_argument("--num-examples", type=int, default=1000, help="test examples")
    args = parser.parse_args(argv)
    devices = distribute.configure_logical_cpus(args.replicas)  # before TF initialises

    import numpy as np

    from keras_vcd import datasets, evaluation, recipes, zoo

    recipe = zoo.read_json(zoo.resolve(args.preset), zoo.CONFIG_FILE)
    training = recipe["training"]
    splits, _ = recipes.load_recipe_data(training)
    with distribute.get_strategy("mirrored", devices=devices).scope():
        model = recipes.model_from_recipe(recipe)
    batch_size = training["batch_size"]
    x = splits["train"]
    per_epoch = -(-len(x) // batch_size)
    epochs = max(1, round(args.iterations / per_epoch))  # whole epochs over the data
    data = datasets.with_indices(x) if model.control_variate == "local" else x
    start = time.perf_counter()
    history = model.fit(data, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0)
    seconds = time.perf_counter() - start
    iterations = int(model.decoder_optimizer.iterations.numpy())
    estimates = evaluation.log_likelihood(model, splits["test"][: args.num_examples],
                                          method="iwae", num_samples=100, seed=0, verbose=0)
    print(json.dumps({
        "preset": args.preset, "replicas": model.distribute_strategy.num_replicas_in_sync,
        "iterations": iterations,
        "seconds_per_iteration": seconds / iterations,
        "metrics": {name: float(values[-1]) for name, values in history.history.items()},
        "step_size": float(model.refiner.step_size.numpy()),
        "iwae_mean": float(np.mean(estimates)),
        "iwae_stderr": float(np.std(estimates) / np.sqrt(len(estimates))),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
