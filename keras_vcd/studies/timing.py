"""ms per iteration by control variate and `steps_per_execution`, in one process.

The control-variate study's speed claim: a global control variate trains faster than
a local one when several iterations run per device call. Every setting is timed in
the same process, one after the other, on the same examples, so they share the
machine's state; `keras-vcd bench` measures throughput by batch size.
"""

from keras_vcd import datasets
from keras_vcd.benchmark.timing import time_calls, timing_record
from keras_vcd.recipes import model_from_recipe, with_overrides
from keras_vcd.studies.grid import CONTROL_VARIATES


def time_steps_per_execution(recipe, x_train, steps_per_execution=(1, 10, 100),
                             iterations=200, repeats=3):
    """Times `fit` per iteration for each control variate and `steps_per_execution`.

    Args:
        recipe: a short recipe (the study's base).
        x_train: training examples; the first `iterations * batch_size` are used.
        steps_per_execution: the values to time; `iterations` must be a multiple of
            each, so that every timed fit runs whole executions.
        iterations: per timed fit.
        repeats: timed fits per setting, after one warm-up fit (where XLA compiles).

    Returns:
        A list of records: control_variate, steps_per_execution and the median
        `seconds_per_iteration` (with what it was measured over).

    Example (minutes: it compiles nine models; tests/test_studies.py runs a tiny one)::

        from keras_vcd import datasets, studies
        from keras_vcd.studies.timing import time_steps_per_execution
        splits, _ = datasets.load("binarized_mnist")
        records = time_steps_per_execution(studies.default_recipe(), splits["train"])
    """
    batch = with_overrides(recipe, {})["training"]["batch_size"]
    for steps in steps_per_execution:
        if iterations % steps:
            raise ValueError(f"iterations ({iterations}) must be a multiple of every "
                             f"steps_per_execution; {steps} is not a divisor.")
    x = x_train[: iterations * batch]
    if len(x) < iterations * batch:
        raise ValueError(f"Timing {iterations} iterations of batch {batch} needs "
                         f"{iterations * batch} examples; received {len(x)}.")
    records = []
    for arm, control_variate in CONTROL_VARIATES.items():
        for steps in steps_per_execution:
            model = model_from_recipe(with_overrides(recipe, {
                "model.control_variate": control_variate,
                "model.num_train_examples": len(x),
                "training.steps_per_execution": steps}))
            data = datasets.with_indices(x) if control_variate == "local" else x

            def fit():
                model.fit(data, batch_size=batch, epochs=1, verbose=0)

            warmup_seconds, seconds = time_calls(fit, repeats)
            record = timing_record(seconds, iterations, batch)
            record.update(control_variate=arm, steps_per_execution=steps,
                          warmup_seconds=warmup_seconds)
            records.append(record)
    return records
