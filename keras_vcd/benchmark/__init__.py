"""Speed benchmark: keras_vcd training and evaluation against tfp.mcmc and the machine.

One `run()` measures, side by side on the machine it runs on:

a. `VCDModel.fit` time per iteration in the paper's configuration (batch 100, latent
   10, 200-200 MLPs, 8 HMC transitions of 5 leapfrog steps, objective "vcd"), with
   global and with local control variates, under the model's default `compile()`
   (XLA, `steps_per_execution`): the median over repeats, after a warm-up fit that
   compiles. (`training`)
b. The same training step written the straightforward way from TensorFlow
   Probability's documentation (`TFPBaseline`): `tfp.mcmc.HamiltonianMonteCarlo` in a
   loop of `one_step`, `tf.GradientTape`, keras_vcd's layers, losses and optimizers,
   inside `tf.function` (no XLA) and eagerly. (`tfp_baseline`, the only module that
   uses TFP: `pip install 'keras-vcd[bench]'`; without it `run` stops at once with
   an ImportError that says so, before measuring anything.)
c. The machine's limit: the analytic FLOPs of one iteration (`iteration_flops`) over
   the measured rate of a large float32 matrix product (`matmul_rate`). (`flops`)
d. Scaling with the batch size, the number of HMC transitions and the latent
   dimension, one varied at a time from the paper's configuration. (`scaling`)
e. Throughput of `keras_vcd.evaluation.log_likelihood` ("iwae" and "hmc_is") in
   importance samples per second, and as a fraction of the matrix-product rate.
   (`throughput`)
f. Peak memory (max RSS of a fresh process per measurement) of training with local
   control variates over many examples, and of an evaluation with S = 20,000.
   (`memory`)

The other modules: `settings` (configurations, sizes, repeats), `workload` (the data
and model timed), `timing`, `machine` (versions, load), `report` (JSON and Markdown,
`format_table`), `runner` (`run`) and `command` (`python -m keras_vcd.benchmark`).
`estimators` is one too (`keras-vcd bench --estimators`): ms per example of each
log p(x) estimator at its recommended settings on a zoo preset.
`distributed` is a benchmark of its own (`keras-vcd bench --distributed`): one core
against two `MultiWorkerMirroredStrategy` workers; so is `small_data`
(`keras-vcd bench --small-data`): fit per iteration on 150 against 15,000 examples.

All data are synthetic (Bernoulli(0.13) pixels, about MNIST's mean), held in memory,
so nothing is downloaded. Timings depend on everything else the machine is doing:
the results record the load average before and after, and are comparable only with
results taken on the same, otherwise idle, machine. Speed targets belong to this
benchmark, never to unit tests.

Example (the command line runs the same thing: `keras-vcd bench --quick`):

>>> from keras_vcd import benchmark
>>> results = benchmark.run(quick=True, output="benchmark.json")  # doctest: +SKIP
>>> print(benchmark.format_table(results))  # doctest: +SKIP
"""

from keras_vcd.benchmark.command import main, run_benchmark
from keras_vcd.benchmark.estimators import format_estimator_speed, run_estimator_speed
from keras_vcd.benchmark.flops import (
    evaluation_flops,
    gradient_matmul_rate,
    iteration_flops,
    matmul_rate,
    mlp_flops,
)
from keras_vcd.benchmark.machine import QUIET_THRESHOLD, other_load
from keras_vcd.benchmark.memory import max_rss_bytes, memory_probe, run_memory_probe
from keras_vcd.benchmark.report import SECTION_TITLES, SECTIONS, format_table
from keras_vcd.benchmark.runner import run
from keras_vcd.benchmark.settings import PAPER_CONFIG, default_settings
from keras_vcd.benchmark.tfp_baseline import (
    TFPBaseline,
    require_tfp,
    time_baseline,
)
from keras_vcd.benchmark.throughput import time_log_likelihood
from keras_vcd.benchmark.training import time_fit
from keras_vcd.benchmark.workload import make_model, synthetic_data

__all__ = [
    "PAPER_CONFIG",
    "QUIET_THRESHOLD",
    "SECTIONS",
    "SECTION_TITLES",
    "TFPBaseline",
    "default_settings",
    "evaluation_flops",
    "format_estimator_speed",
    "format_table",
    "gradient_matmul_rate",
    "iteration_flops",
    "main",
    "make_model",
    "matmul_rate",
    "max_rss_bytes",
    "memory_probe",
    "mlp_flops",
    "other_load",
    "require_tfp",
    "run",
    "run_benchmark",
    "run_estimator_speed",
    "run_memory_probe",
    "synthetic_data",
    "time_baseline",
    "time_fit",
    "time_log_likelihood",
]
