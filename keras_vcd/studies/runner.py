"""Running a study: each cell an ordinary training run, measured once it is trained.

Layout of a study folder::

    STUDY_DIR/study.json            the study's name and options (a resume must match)
    STUDY_DIR/CELL/cell.json        the cell's recipe and place in the grid
    STUDY_DIR/CELL/run/             a `keras_vcd.training.train` run folder
    STUDY_DIR/CELL/measurement.json its figures; present = the cell is finished

A cell is locked while a process works on it, so two processes running the same
command share the grid (each takes the next free cell): that is how two
single-threaded runs go side by side.
"""

import fnmatch
import json
import pathlib
import time

from keras_vcd import datasets, evaluation, training
from keras_vcd.benchmark.memory import max_rss_bytes
from keras_vcd.files import write_json
from keras_vcd.recipes import load_recipe_data, model_from_recipe, with_overrides
from keras_vcd.studies.grid import CONTROL_VARIATES, STUDIES
from keras_vcd.studies.timing import time_steps_per_execution
from keras_vcd.training.run_lock import RunFolderInUse, RunLock

STUDY_FILE = "study.json"
CELL_FILE = "cell.json"
MEASUREMENT_FILE = "measurement.json"
RUN_DIR = "run"
# The estimators every test-set cell is measured with, and a sweep cell's score.
TEST_ESTIMATORS = (("hmc_is", 1000), ("iwae", 1000))
SWEEP_ESTIMATOR = ("iwae", 100)


def read_measurement(study_dir, name):
    """A cell's measurement.json as a dict, or None while the cell is unfinished."""
    path = pathlib.Path(study_dir) / name / MEASUREMENT_FILE
    return json.loads(path.read_text()) if path.exists() else None


def plan(name, recipe, options, study_dir):
    """The study's cells now: a batch size's seeds follow its finished rate sweep."""
    if name not in STUDIES:
        raise ValueError(f"Unknown study {name!r}; expected one of {list(STUDIES)}.")

    def measured(cell_name):
        record = read_measurement(study_dir, cell_name)
        return None if record is None else record["estimates"][0]["mean"]

    return STUDIES[name](recipe, options, measured)


def select(cells, patterns):
    """The cells whose names match one of the shell patterns (all if `patterns` is empty)."""
    if not patterns:
        return list(cells)
    chosen = [cell for cell in cells if any(fnmatch.fnmatch(cell.name, p) for p in patterns)]
    if not chosen:
        raise ValueError(f"No cell matches {list(patterns)}; the cells are "
                         f"{[cell.name for cell in cells]}.")
    return chosen


def _check_study_file(study_dir, record):
    path = study_dir / STUDY_FILE
    record = json.loads(json.dumps(record))  # tuples read back as lists
    if path.exists():
        previous = json.loads(path.read_text())
        if previous != record:
            changed = {key: previous.get(key) for key in record if previous.get(key) != record[key]}
            raise ValueError(
                f"{study_dir} holds a study started with other settings: {changed}. Resume "
                "with the same settings or use another output folder.")
    else:
        write_json(path, record)


class Estimators:
    """How cells are measured: `test` (method, S) pairs, the `sweep` pair on the
    validation split, on the first `num_examples` examples (None: all)."""

    def __init__(self, test=TEST_ESTIMATORS, sweep=SWEEP_ESTIMATOR, num_examples=None):
        self.test = tuple(tuple(pair) for pair in test)
        self.sweep = tuple(sweep)
        self.num_examples = num_examples

    def as_dict(self):
        return {"test": [list(p) for p in self.test], "sweep": list(self.sweep),
                "num_examples": self.num_examples}


def run_study(name, study_dir, recipe, options, estimators=None, cells=(), data=None,
              verbose=1):
    """Trains and measures every unfinished cell (or those matching `cells`).

    Args:
        name: "spread", "control-variates" or "batch-size".
        study_dir: the study folder (created; an existing one is resumed).
        recipe: the base recipe (short).
        options: a `StudyOptions`.
        estimators: an `Estimators` (default: hmc_is and iwae, S = 1000, whole test
            set; sweeps by iwae, S = 100, on the validation split).
        cells: shell patterns of cell names to run (default: all).
        data: `(splits, info)` instead of loading the recipe's data set.
        verbose: 0 quiet, 1 a line per cell, 2 also Keras's line per epoch.

    Returns:
        {cell name: "trained" | "finished before" | "in use" | "pending"}.
    """
    study_dir = pathlib.Path(study_dir)
    study_dir.mkdir(parents=True, exist_ok=True)
    estimators = estimators or Estimators()
    _check_study_file(study_dir, {"study": name, "options": options.as_dict(),
                                  "estimators": estimators.as_dict(), "recipe": recipe})
    outcome, loaded = {}, {}
    while True:  # the grid grows as sweeps finish
        todo = [cell for cell in select(plan(name, recipe, options, study_dir), cells)
                if cell.name not in outcome]
        for cell in todo:
            if cell.pending:
                outcome[cell.name] = "pending"
            elif read_measurement(study_dir, cell.name) is not None:
                outcome[cell.name] = "finished before"
        todo = [cell for cell in todo if cell.name not in outcome]
        if not todo:
            break
        cell = todo[0]
        dataset = cell.recipe["training"]["dataset"]
        if dataset not in loaded:
            loaded[dataset] = data if data is not None else load_recipe_data(
                cell.recipe["training"])
        try:
            with RunLock(study_dir / cell.name):
                if read_measurement(study_dir, cell.name) is None:  # not while we waited
                    _run_cell(cell, study_dir / cell.name, loaded[dataset], options,
                              estimators, verbose)
            outcome[cell.name] = "trained"
        except RunFolderInUse:
            outcome[cell.name] = "in use"
        if verbose:
            print(f"{cell.name}: {outcome[cell.name]}", flush=True)
    # Cells that became pending-free only after this pass are run by the next call.
    return {key: outcome[key] for key in sorted(outcome)}


def _record_cell(cell, cell_dir):
    record = {"name": cell.name, "arm": cell.arm, "seed": cell.seed, "split": cell.split,
              "kind": cell.kind, "recipe": cell.recipe}
    path = cell_dir / CELL_FILE
    if path.exists() and json.loads(path.read_text()) != record:
        raise ValueError(f"{path} describes another cell than this study's {cell.name}; "
                         "the folder belongs to a different grid.")
    write_json(path, record)


def _run_cell(cell, cell_dir, data, options, estimators, verbose):
    _record_cell(cell, cell_dir)
    splits, info = data
    if cell.kind == "timing":
        write_json(cell_dir / MEASUREMENT_FILE, {
            "timing": time_steps_per_execution(cell.recipe, splits["train"],
                                               options.steps_per_execution),
            "process_peak_rss_bytes": max_rss_bytes()})
        return
    started = time.time()
    model, summary = training.train(cell.recipe, cell_dir / RUN_DIR, data=data,
                                    verbose=2 if verbose > 1 else 0)
    pairs = estimators.test if cell.split == "test" else (estimators.sweep,)
    x = splits[cell.split] if splits.get(cell.split) is not None else None
    if x is None:
        raise ValueError(f"Cell {cell.name} is measured on the {cell.split} split, which "
                         f"{info.get('source', 'the data set')} does not have.")
    x = x[: estimators.num_examples] if estimators.num_examples else x
    estimates = [evaluation.measure_log_likelihood(model, x, method, samples, seed=0,
                                                   verbose=0)
                 for method, samples in pairs]
    iterations = summary["iterations"]
    write_json(cell_dir / MEASUREMENT_FILE, {
        "split": cell.split,
        "estimates": estimates,
        "iterations": iterations,
        "epochs": summary["epochs"],
        "batch_size": summary["batch_size"],
        "wall_time_s": summary["wall_time_s"],
        "ms_per_iteration": round(1000 * summary["wall_time_s"] / max(iterations, 1), 3),
        # The process's peak so far: cells run one after another in one process
        # report at least the largest before them.
        "process_peak_rss_bytes": max_rss_bytes(),
        "seconds_this_session": round(time.time() - started, 1),
        "machine": summary["machine"],
    })


def estimate(name, recipe, options, study_dir, estimators=None, cells=(), data=None,
             probe_iterations=20):
    """The grid with an estimated time per cell, from a short measured probe.

    Each distinct training setting (batch size, objective, control variate) is timed
    over `probe_iterations` after a warm-up; each estimator over 10 examples.

    Returns:
        `(rows, total_seconds)`; a row per cell: name, arm, seed, split, batch size,
        iterations, decoder learning rate, status and estimated seconds.
    """
    estimators = estimators or Estimators()
    chosen = select(plan(name, recipe, options, study_dir), cells)
    splits, _ = data if data is not None else load_recipe_data(chosen[0].recipe["training"])
    ms_per_iteration, eval_seconds = {}, {}
    rows, total = [], 0.0
    for cell in chosen:
        training_setting = cell.recipe["training"]["batch_size"], cell.recipe["model"][
            "objective"], cell.recipe["model"]["control_variate"]
        if cell.kind == "timing":
            # Not probed (it would time the timing): about a minute per control variate
            # and steps_per_execution, XLA compilations included; an assumption.
            seconds = 60.0 * len(CONTROL_VARIATES) * len(options.steps_per_execution)
        else:
            if training_setting not in ms_per_iteration:
                ms_per_iteration[training_setting], model = _probe(cell.recipe, splits,
                                                                   probe_iterations)
                for method, samples in estimators.test + (estimators.sweep,):
                    eval_seconds.setdefault((method, samples), _probe_estimator(
                        model, splits["train"], method, samples))
            pairs = estimators.test if cell.split == "test" else (estimators.sweep,)
            examples = len(splits[cell.split]) if splits.get(cell.split) is not None else 0
            examples = min(examples, estimators.num_examples or examples)
            seconds = (cell.recipe["training"]["iterations"]
                       * ms_per_iteration[training_setting] / 1000
                       + sum(eval_seconds[pair] for pair in pairs) * examples)
        measured = read_measurement(study_dir, cell.name) is not None
        status = "finished" if measured else ("pending" if cell.pending else "to run")
        rows.append({"cell": cell.name, "arm": cell.arm, "seed": cell.seed,
                     "split": cell.split, "batch_size": cell.recipe["training"]["batch_size"],
                     "iterations": cell.recipe["training"]["iterations"],
                     "learning_rate": cell.recipe["optimization"]["decoder_learning_rate"],
                     "status": status, "estimated_s": round(seconds)})
        total += 0.0 if measured else seconds
    return rows, total


def _probe(recipe, splits, iterations):
    """ms per training iteration of the recipe's model, after one warm-up epoch."""
    steps = recipe["training"]["steps_per_execution"]
    batch = recipe["training"]["batch_size"]
    iterations = max(steps, iterations // steps * steps)
    x = splits["train"][: iterations * batch]
    iterations = len(x) // batch
    probe = with_overrides(recipe, {"model.num_train_examples": len(x)}) if recipe[
        "model"]["control_variate"] == "local" else recipe
    model = model_from_recipe(probe)
    data = datasets.with_indices(x) if probe["model"]["control_variate"] == "local" else x
    model.fit(data, batch_size=batch, epochs=1, verbose=0)  # traces and compiles
    start = time.perf_counter()
    model.fit(data, batch_size=batch, epochs=1, verbose=0)
    return 1000 * (time.perf_counter() - start) / max(iterations, 1), model


def _probe_estimator(model, x, method, samples, examples=10):
    """Seconds per example of an estimator, from `examples` examples after a warm-up."""
    evaluation.log_likelihood(model, x[:examples], method=method, num_samples=samples,
                              verbose=0)
    start = time.perf_counter()
    evaluation.log_likelihood(model, x[:examples], method=method, num_samples=samples,
                              verbose=0)
    return (time.perf_counter() - start) / examples
