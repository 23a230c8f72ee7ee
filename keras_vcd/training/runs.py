"""Training runs from a recipe (a preset's config.json): resumable, logged, exported."""

import math
import pathlib
import shutil
import tempfile

import keras

from keras_vcd import datasets, distribute, zoo
from keras_vcd.environment import machine_description
from keras_vcd.evaluation import (
    exact_log_likelihood, mean_and_stderr, measure_log_likelihood,
)
from keras_vcd.files import TEMPORARY_PREFIX, atomic_write, write_json
from keras_vcd.recipes import check_training, load_recipe_data, model_from_recipe, normalized
from keras_vcd.training.checkpointing import ResumableCheckpoint
from keras_vcd.datasets.data_order import shuffled_batches, steps_per_execution_within
from keras_vcd.training.run_lock import RunLock


# Under a run's output folder: `tensorboard --logdir RUN_DIR/tensorboard`.
TENSORBOARD_DIR = "tensorboard"


def check_output_dir(directory):
    """Fails early, before any training, if `directory` cannot hold checkpoints."""
    directory = pathlib.Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".write-probe"
        probe.write_bytes(b"\0" * 1024)
        probe.unlink()
    except OSError as error:
        raise OSError(f"Cannot write checkpoints to {directory}: {error}") from error
    return directory


def check_free_space(directory, model):
    """Fails before training if `directory` has no room for the next checkpoint.

    The size is measured, by saving `model` once: a new checkpoint is written beside
    the ones kept, and a snapshot may copy it, so twice that (and 1 MiB) must be free.
    A disk that fills up later is caught when the checkpoint is written.
    """
    probe = pathlib.Path(directory) / f"{TEMPORARY_PREFIX}size-probe.weights.h5"
    try:
        model.save_weights(str(probe))
        needed = 2 * probe.stat().st_size + 2**20
    finally:
        probe.unlink(missing_ok=True)
    free = shutil.disk_usage(directory).free
    if free < needed:
        raise OSError(
            f"Only {free / 2**20:.1f} MiB free under {directory}; this model's checkpoints "
            f"need {needed / 2**20:.1f} MiB. Free some space or choose another output folder."
        )


def _drop_log_rows_after(log_path, epoch):
    """Keeps `log.csv`'s header and rows of epochs before `epoch`.

    A run resumed from an earlier checkpoint repeats the later epochs; their rows
    from the lost attempt would otherwise appear twice.
    """
    if not log_path.exists():
        return
    def epoch_of(line):
        first = line.split(",", 1)[0]
        return int(first) if first.isdigit() else -1

    lines = log_path.read_text().splitlines(keepends=True)
    kept = lines[:1] + [line for line in lines[1:] if epoch_of(line) < epoch]
    if len(kept) < len(lines):
        atomic_write(log_path, lambda tmp: pathlib.Path(tmp).write_text("".join(kept)))


def train(recipe, output_dir, iterations=None, data=None, verbose=1, callbacks=(),
          init_from=None):
    """Trains the recipe's model, resuming from `output_dir` if it holds a checkpoint.

    Args:
        recipe: a short recipe or a full one (see `keras_vcd.recipes`), whose
            "training" holds {"dataset", "batch_size", "iterations",
            "validation_freq", "snapshot_every_epochs", "subset"}.
        output_dir: checkpoint, snapshots, the CSV log (`log.csv`), TensorBoard
            logs (`tensorboard/`, one step per epoch) and `summary.json` go here.
        iterations: total iterations to reach (default: the recipe's). Rounded up to
            whole epochs.
        data: optional `(splits, info)` as from `keras_vcd.datasets.load`, instead of
            loading the recipe's dataset.
        verbose: Keras verbosity (0 quiet, 1 progress bar, 2 a line per epoch).
        callbacks: extra Keras callbacks.
        init_from: a preset folder to continue from when `output_dir` has no
            checkpoint. A preset's weights file holds the whole training state
            (optimizers, step size, control variates, random stream), so a run
            shipped unfinished in the zoo goes on where it stopped.

    Returns:
        `(model, summary)` where summary records iterations, wall time and data.
    """
    if not distribute.is_chief():
        # Every worker runs the same saving code (it may use collectives), but only
        # the chief's files land in output_dir.
        output_dir = tempfile.mkdtemp(prefix="keras_vcd_worker_")
    recipe = normalized(recipe)
    check_training(recipe.get("training"), needs_dataset=data is None)
    output_dir = check_output_dir(output_dir)
    with RunLock(output_dir):
        splits, info = data if data is not None else load_recipe_data(recipe["training"])
        model, steps_per_epoch = _fit_resumably(
            recipe, splits, output_dir, iterations, verbose, callbacks, init_from)
        state = ResumableCheckpoint(output_dir).read_state() or {}
        done = int(model.decoder_optimizer.iterations.numpy())
        summary = {
            "iterations": done,
            "epochs": done // steps_per_epoch,
            "batch_size": recipe["training"]["batch_size"],
            "wall_time_s": round(state.get("wall_time_s", 0.0), 1),
            "machine": machine_description(),
            "dataset": info,
        }
        write_json(output_dir / "summary.json", summary)
    return model, summary


def _fit_resumably(recipe, splits, output_dir, iterations, verbose, callbacks, init_from):
    """Builds the recipe's model, restores the newest intact checkpoint, fits on.

    Returns `(model, steps_per_epoch)`.
    """
    training = recipe["training"]
    model = model_from_recipe(recipe)
    x_train = model.decoder.check_data(splits["train"], name="the training data")
    batch_size = training["batch_size"]
    steps_per_epoch = math.ceil(len(x_train) / batch_size)
    model.steps_per_execution = steps_per_execution_within(
        steps_per_epoch, model.steps_per_execution)
    epochs = math.ceil((iterations or training["iterations"]) / steps_per_epoch)
    checkpoint = ResumableCheckpoint(output_dir, training.get("snapshot_every_epochs", 0))
    fallback, fallback_time = None, 0.0
    if init_from is not None:
        fallback = zoo.verify(init_from)
        fallback_time = zoo.read_json(zoo.resolve(init_from), zoo.METADATA_FILE).get(
            "wall_time_s", 0.0)
    initial_epoch = checkpoint.restore(model, steps_per_epoch, fallback, fallback_time)
    check_free_space(output_dir, model)
    _drop_log_rows_after(output_dir / "log.csv", initial_epoch)
    if verbose and initial_epoch:
        print(f"Resuming from {output_dir} at epoch {initial_epoch} "
              f"({initial_epoch * steps_per_epoch} iterations).")
    if initial_epoch >= epochs:
        return model, steps_per_epoch
    if model.control_variate == "local":
        x_train = datasets.with_indices(x_train)
    model.fit(
        shuffled_batches(x_train, batch_size, model.seed, first_epoch=initial_epoch),
        steps_per_epoch=steps_per_epoch,
        shuffle=False,  # the batches come shuffled, in an order a resume repeats
        epochs=epochs,
        initial_epoch=initial_epoch,
        validation_data=splits["valid"],
        validation_freq=training.get("validation_freq", 1),
        verbose=verbose,
        callbacks=[
            checkpoint,
            keras.callbacks.CSVLogger(str(output_dir / "log.csv"), append=True),
            # The same epoch-level scalars as log.csv; the traced graph of a
            # custom train_step is large and tells a reader nothing.
            keras.callbacks.TensorBoard(str(output_dir / TENSORBOARD_DIR),
                                        write_graph=False, update_freq="epoch"),
            keras.callbacks.TerminateOnNaN(),
            *callbacks,
        ],
    )
    return model, steps_per_epoch


# The fixed subset measurement recorded in every preset's metadata ("check").
CHECK_EXAMPLES = 200
CHECK_SAMPLES = 100


def load_run(recipe, run_dir, weights=None):
    """The model and summary of a (possibly unfinished) training run in `run_dir`.

    Args:
        recipe: the run's recipe.
        run_dir: the run's output folder.
        weights: a weights file to load instead of the latest checkpoint (e.g. a
            snapshot, to compare runs at equal iteration counts).
    """
    run_dir = pathlib.Path(run_dir)
    recipe = normalized(recipe)
    model = model_from_recipe(recipe)
    latest = ResumableCheckpoint(run_dir).latest()
    if latest is None and weights is None:
        raise ValueError(f"{run_dir} holds no checkpoint; train there first "
                         "(keras_vcd.training.runs.train(recipe, run_dir)).")
    state = latest[1] if latest else {}
    zoo.load_weights_file(model, pathlib.Path(weights) if weights else latest[0])
    iterations = int(model.decoder_optimizer.iterations.numpy())
    splits_info = datasets.load(recipe["training"]["dataset"], verbose=0)[1]
    summary = {
        "iterations": iterations,
        "batch_size": recipe["training"]["batch_size"],
        # Wall time scales to the loaded weights when they are an earlier snapshot.
        "wall_time_s": round(state.get("wall_time_s", 0.0) * iterations
                             / max(state.get("iterations", iterations), 1), 1),
        "machine": machine_description(),
        "dataset": splits_info,
    }
    return model, summary


def export(model, summary, recipe, preset_dir, evaluations=(("hmc_is", 5000), ("iwae", 5000)),
           num_test_examples=None, description=None, note=None, verbose=1):
    """Measures the test log-likelihood and writes `model` as a zoo preset.

    Args:
        model: the trained model.
        summary: what `train` returned (iterations, wall time, data set info).
        recipe: the training recipe (stored in the preset's config.json).
        preset_dir: the folder to write.
        evaluations: `(method, num_samples)` pairs, each run on the test set.
        num_test_examples: evaluate on the first N test examples (default all).
        description, note: text for the metadata and the model card.

    Returns:
        The metadata written.
    """
    recipe = normalized(recipe)
    splits, info = datasets.load(recipe["training"]["dataset"], verbose=verbose)
    x_test = splits["test"][:num_test_examples] if num_test_examples else splits["test"]
    results = [measure_log_likelihood(model, x_test, method, s, verbose=verbose)
               for method, s in evaluations]
    try:  # a linear Gaussian model: the truth the estimators are measured against
        exact = exact_log_likelihood(model, x_test)
    except ValueError:
        exact = None
    if exact is not None:
        mean, stderr = mean_and_stderr(exact)
        results.append({"method": "exact", "num_examples": len(x_test), "mean": mean,
                        "stderr": stderr})
    # A cheap, fixed measurement that tests repeat to check the shipped weights.
    check = measure_log_likelihood(model, splits["test"][:CHECK_EXAMPLES], "iwae",
                                   CHECK_SAMPLES, seed=0, verbose=0)
    metadata = {
        "description": description or "",
        "dataset": {k: v for k, v in info.items() if k != "path"},
        "iterations": summary["iterations"],
        "target_iterations": recipe["training"]["iterations"],
        "batch_size": summary["batch_size"],
        "seed": model.seed,
        "wall_time_s": summary["wall_time_s"],
        "machine": summary["machine"],
        "test_log_likelihood": results,
        "check": check,
        "note": note or "",
    }
    # The preset's compile config holds the optimisation and its execution settings.
    training = {k: v for k, v in recipe["training"].items()
                if k not in ("compile", "steps_per_execution", "jit_compile")}
    return zoo.save_to_preset(model, preset_dir, metadata=metadata, training=training)
