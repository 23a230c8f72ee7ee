"""Section e: importance samples per second of `keras_vcd.evaluation.log_likelihood`."""

from keras_vcd import evaluation
from keras_vcd.benchmark.flops import evaluation_flops
from keras_vcd.benchmark.timing import median, time_calls
from keras_vcd.benchmark.workload import synthetic_data


def time_log_likelihood(model, x, method, num_samples, repeats, num_burnin_steps=300,
                        num_kept_steps=300):
    """Times `keras_vcd.evaluation.log_likelihood` after a warm-up call (it compiles).

    Args:
        model: a built `VCDModel`.
        x: the examples to evaluate.
        method: "iwae" or "hmc_is".
        num_samples: importance samples per example (S).
        repeats: timed calls.
        num_burnin_steps, num_kept_steps: of the "hmc_is" proposal.

    Returns:
        A dict: the median `seconds` of a call, `samples_per_second` and what they
        were measured over.
    """
    def call():
        evaluation.log_likelihood(
            model, x, method=method, num_samples=num_samples, seed=0, verbose=0,
            num_burnin_steps=num_burnin_steps, num_kept_steps=num_kept_steps)

    warmup_seconds, seconds = time_calls(call, repeats)
    seconds_median = median(seconds)
    return {"seconds": seconds_median, "seconds_all": seconds,
            "warmup_seconds": warmup_seconds, "num_examples": len(x),
            "num_samples": num_samples,
            "samples_per_second": len(x) * num_samples / seconds_median}


def measure_evaluation(model, config, settings, rate, progress):
    """Section e: both estimators' throughput, and as a fraction of the FLOP rate.

    Args:
        model: the model of section a (global control variate).
        config: the model configuration (`model_config`).
        settings: the benchmark settings (`eval_*`, `seed`).
        rate: the `matmul_rate` record.
        progress: a `Progress` for the log lines.

    Returns:
        The section's dict, keyed by method; "hmc_is" also has
        `proposal_time_share`, the share of its time that the iwae call lacks.
    """
    section = {}
    x = synthetic_data(settings["eval_num_examples"], config["input_dim"],
                       settings["data_density"], settings["seed"] + 1)
    for method in ("iwae", "hmc_is"):
        record = time_log_likelihood(
            model, x, method, settings["eval_num_samples"], settings["eval_repeats"],
            settings["eval_num_burnin_steps"], settings["eval_num_kept_steps"])
        counted = evaluation_flops(
            config["input_dim"], tuple(config["hidden_units"]), config["latent_dim"], method,
            settings["eval_num_samples"], settings["eval_num_burnin_steps"],
            settings["eval_num_kept_steps"], config["num_leapfrog_steps"])
        flops_per_second = counted["total"] * record["num_examples"] / record["seconds"]
        record.update(
            flops_per_sample=counted["per_sample"],
            proposal_flops_per_example=counted["proposal"],
            proposal_flop_share=counted["proposal_share"],
            gflops_per_second=flops_per_second / 1e9,
            sample_fraction_of_matmul_rate=(record["samples_per_second"]
                                            * counted["per_sample"] / rate["flops_per_second"]),
            fraction_of_matmul_rate=flops_per_second / rate["flops_per_second"],
        )
        section[method] = record
        progress.log(f"log_likelihood {method}: {record['samples_per_second']:.3g} samples/s, "
                     f"{record['fraction_of_matmul_rate']:.1%} of the matmul rate")
    section["hmc_is"]["proposal_time_share"] = max(
        0.0, 1.0 - section["iwae"]["seconds"] / section["hmc_is"]["seconds"])
    return section
