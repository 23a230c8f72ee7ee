"""Section d: training time as the batch size, HMC transitions or latent size grow."""

from keras_vcd.benchmark.flops import limit_record
from keras_vcd.benchmark.training import time_fit

# Settings of each varied parameter: the key of the model configuration, then that
# of the list of values it takes.
VARIED = (("batch_size", "scaling_batch_sizes"),
          ("num_steps", "scaling_num_steps"),
          ("latent_dim", "scaling_latent_dims"))


def measure_scaling(config, settings, training_global, rate, progress):
    """Section d: one parameter varied at a time from `config`, global control variate.

    A point equal to `config` is not timed again: it is section a's record, marked
    `same_as`. Large batches run fewer iterations per repeat (at most
    `scaling_max_examples` examples), so that they take about as long as small ones.

    Args:
        config: the model configuration (`model_config`).
        settings: the benchmark settings (`scaling_*`, `iterations`, `repeats`, `seed`).
        training_global: section a's record of the global control variate.
        rate: the `matmul_rate` record, for the limit.
        progress: a `Progress` for the log lines.

    Returns:
        The section's dict: for each varied parameter, a list of records with its
        `value`.
    """
    scaling = {}
    for key, values_key in VARIED:
        rows = []
        for value in settings[values_key]:
            point = dict(config, **{key: value})
            if value == config[key]:
                record = dict(training_global, same_as="training.global")
            else:
                count = min(settings["iterations"],
                            settings["scaling_max_examples"] // point["batch_size"])
                record, _ = time_fit(point, "global", count, settings["repeats"],
                                     settings["seed"])
            record = dict(record, value=value)
            record.update(limit_record(point, record["seconds_per_iteration"], rate))
            rows.append(record)
            progress.log(f"scaling {key}={value}: "
                         f"{record['seconds_per_iteration'] * 1e3:.2f} ms/iteration, "
                         f"{record['seconds_per_example'] * 1e6:.1f} us/example")
        scaling[key] = rows
    return scaling
