"""Section a: `VCDModel.fit` per iteration, with global and with local control variates."""

from keras_vcd import datasets
from keras_vcd.benchmark.flops import limit_record
from keras_vcd.benchmark.timing import time_calls, timing_record
from keras_vcd.benchmark.workload import make_model, synthetic_data, whole_executions


def time_fit(config, control_variate, iterations, repeats, seed=0):
    """Times `VCDModel.fit` per iteration: a warm-up fit, then `repeats` timed fits.

    Each timed fit is one epoch over `iterations * batch_size` in-memory examples,
    under the model's default `compile()` (XLA, `steps_per_execution`); the warm-up
    fit is the one that compiles.

    Args:
        config: a dict like `PAPER_CONFIG`, with `data_density` (and optionally
            `local_warmup_steps`).
        control_variate: "global" or "local".
        iterations: per timed fit, rounded down to whole executions.
        repeats: timed fits.
        seed: of the data and the model.

    Returns:
        `(timing record with warmup_seconds, model)`.
    """
    batch = config["batch_size"]
    iterations = whole_executions(iterations)
    x = synthetic_data(iterations * batch, config["input_dim"], config["data_density"], seed)
    local = control_variate == "local"
    model = make_model(config, control_variate,
                       num_train_examples=len(x) if local else None, seed=seed)
    # The local control variate keys its table by example index.
    data = datasets.with_indices(x) if local else x
    warmup_examples = whole_executions(1) * batch
    if local:
        warmup = {key: value[:warmup_examples] for key, value in data.items()}
    else:
        warmup = x[:warmup_examples]
    warmup_seconds, seconds = time_calls(
        lambda: model.fit(data, batch_size=batch, epochs=1, verbose=0), repeats,
        warmup=lambda: model.fit(warmup, batch_size=batch, epochs=1, verbose=0))
    record = timing_record(seconds, iterations, batch)
    record["warmup_seconds"] = warmup_seconds
    return record, model


def measure_training(config, settings, rate, progress):
    """Section a: our training step with each control variate, against the limit.

    Args:
        config: the model configuration (`model_config`).
        settings: the benchmark settings (`iterations`, `repeats`, `seed`).
        rate: the `matmul_rate` record, for the limit.
        progress: a `Progress` for the log lines.

    Returns:
        `(section dict keyed by control variate, the trained global model)`; the
        model is the one section e evaluates.
    """
    training = {}
    models = {}
    for kind in ("global", "local"):
        record, models[kind] = time_fit(config, kind, settings["iterations"],
                                        settings["repeats"], settings["seed"])
        record.update(limit_record(config, record["seconds_per_iteration"], rate))
        training[kind] = record
        progress.log(f"VCDModel.fit, {kind} control variate: "
                     f"{record['seconds_per_iteration'] * 1e3:.2f} ms/iteration")
    return training, models["global"]
