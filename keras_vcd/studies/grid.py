"""The cells of each study: one training run each, made from a recipe with values changed.

A cell's recipe is the study's base recipe (by default `zoo/recipes/vcd_mnist.json`,
the paper's configuration) with the user's overrides, the budget, and the cell's own
values (seed, control variate, batch size, learning rates) applied through
`keras_vcd.recipes.with_overrides`, the mechanism `keras-vcd train --set` uses.
"""

import dataclasses

from keras_vcd import recipes

# The paper's run: batch 100 for 400,000 iterations, 800 epochs of 50,000 examples.
PAPER_BATCH_SIZE = 100
# The paper's measured test log-likelihood (Ruiz & Titsias 2019, binarised MNIST).
PAPER_LOG_LIKELIHOOD = -95.86
CONTROL_VARIATES = {"local": "local", "global": "global", "none": None}
BATCH_SIZES = (16, 100, 128, 512, 1024)
# The rates Graphcore's study tuned per batch size for the decoder and the encoder
# mean (the encoder std at half); batch 100 is the paper's.
TUNED_LEARNING_RATES = {16: 5e-4, 100: 5e-4, 128: 9e-4, 512: 9e-4, 1024: 1.3e-3}
SWEEP_FACTORS = (0.5, 1.0, 2.0)


@dataclasses.dataclass(frozen=True)
class Cell:
    """One run of a study.

    Attributes:
        name: its folder's name, e.g. "global-seed2".
        arm: what the study compares ("global", "b128", ...).
        seed: the model seed (initial weights, data order, HMC noise).
        recipe: the completed short recipe it trains.
        split: "test" (measured on the test set) or "valid" (a sweep cell, scored on
            the validation split to choose a rate).
        pending: True while the cell waits for other cells (a batch size's seeds wait
            for its rate sweep); it is listed, estimated, and not run.
        kind: "train", or "timing" (the ms/iteration measurement of a study).
    """

    name: str
    arm: str
    seed: int
    recipe: dict
    split: str = "test"
    pending: bool = False
    kind: str = "train"


@dataclasses.dataclass(frozen=True)
class StudyOptions:
    """What a study's grid depends on; recorded in the study folder, so a resumed
    study runs the same grid.

    Attributes:
        budget: the fraction of the original's training run (1: 400,000 iterations
            at batch 100); the learning-rate decay is stretched with it.
        seeds: runs per arm.
        overrides: {dotted recipe key: value} for every cell (`--set`).
        batch_sizes, sweep_factors: the batch-size study's grid: rates tried are the
            tuned rate times each factor.
        scale_adaptation: the batch-size study scales the HMC step-size adaptation
            rate by batch / 100, as Graphcore's implementation does.
        steps_per_execution: the control-variate study's timing cell measures these.
    """

    budget: float = 1.0
    seeds: int = 3
    overrides: tuple = ()
    batch_sizes: tuple = BATCH_SIZES
    sweep_factors: tuple = SWEEP_FACTORS
    scale_adaptation: bool = False
    steps_per_execution: tuple = (1, 10, 100)

    def as_dict(self):
        record = dataclasses.asdict(self)
        record["overrides"] = dict(self.overrides)
        return record


def _base(recipe, options, budget=None):
    recipe = recipes.with_overrides(recipe, dict(options.overrides))
    return recipes.stretched(recipe, options.budget if budget is None else budget)


def _seeded(recipe, seed, changes=()):
    return recipes.with_overrides(recipe, {"model.seed": seed, **dict(changes)})


def spread(recipe, options, measured):
    """N seeds of the recipe as it is: the run-to-run spread."""
    base = _base(recipe, options)
    return [Cell(f"seed{seed}", "paper", seed, _seeded(base, seed))
            for seed in range(options.seeds)]


def control_variates(recipe, options, measured):
    """Local, global and no control variate, per seed, at equal iterations; plus a
    timing cell (ms/iteration at each steps_per_execution, one process)."""
    base = _base(recipe, options)
    cells = [Cell(f"{arm}-seed{seed}", arm, seed,
                  _seeded(base, seed, {"model.control_variate": value}))
             for arm, value in CONTROL_VARIATES.items() for seed in range(options.seeds)]
    cells.append(Cell("timing", "timing", 0, base, kind="timing"))
    return cells


def _at_batch_size(recipe, options, batch_size, rate):
    # Equal epochs at every batch size: the iterations, and the decay schedule with
    # them, scale by 100 / batch.
    changes = {"training.batch_size": batch_size,
               "optimization.decoder_learning_rate": rate,
               "optimization.encoder_mean_learning_rate": rate,
               "optimization.encoder_std_learning_rate": rate / 2}
    if options.scale_adaptation:
        rate_at_100 = recipe["model"]["refiner"]["adaptation_rate"]
        changes["model.refiner.adaptation_rate"] = rate_at_100 * batch_size / PAPER_BATCH_SIZE
    changed = recipes.with_overrides(recipe, changes)
    return recipes.stretched(changed, PAPER_BATCH_SIZE / batch_size)


def batch_size(recipe, options, measured):
    """Per batch size, a sweep of rates on the validation split (seed 0), then seeds
    at the best rate on the test set, at equal epochs.

    Args:
        measured: `measured(cell_name)` -> the cell's validation figure (mean log
            p(x)) once it has one, else None.
    """
    base = _base(recipe, options)
    cells = []
    for size in options.batch_sizes:
        tuned = TUNED_LEARNING_RATES.get(size, base["optimization"]["decoder_learning_rate"])
        sweep = [Cell(f"b{size}-lr{tuned * factor:.3g}-sweep", f"b{size}", 0,
                      _seeded(_at_batch_size(base, options, size, tuned * factor), 0),
                      split="valid")
                 for factor in options.sweep_factors]
        cells += sweep
        scores = {cell.recipe["optimization"]["decoder_learning_rate"]: measured(cell.name)
                  for cell in sweep}
        pending = any(score is None for score in scores.values())
        best = tuned if pending else max(scores, key=scores.get)
        cells += [Cell(f"b{size}-seed{seed}", f"b{size}", seed,
                       _seeded(_at_batch_size(base, options, size, best), seed),
                       pending=pending)
                  for seed in range(options.seeds)]
    return cells


STUDIES = {"spread": spread, "control-variates": control_variates,
           "batch-size": batch_size}
# Seeds per arm by default: the 8 for the spread, 3 elsewhere.
DEFAULT_SEEDS = {"spread": 8, "control-variates": 3, "batch-size": 3}
# The reduced budgets for this project's 2-core machine (docs/studies.md): spread and
# control variates 100 epochs (1/8 of the original), batch sizes 20 epochs (1/40).
REDUCED_BUDGETS = {"spread": 0.125, "control-variates": 0.125, "batch-size": 0.025}

