#!/usr/bin/env python
"""Speed benchmark of keras_vcd: a thin entry point over `keras_vcd.benchmark`.

Measures, in one run on this machine: `VCDModel.fit` per iteration in the paper's
configuration (global and local control variates); the same step written with
`tfp.mcmc.HamiltonianMonteCarlo` in `tf.function` and eagerly; the machine's limit
(analytic FLOPs over a measured matrix-product rate); scaling with batch size, HMC
steps and latent dimension; `log_likelihood` throughput; and peak memory. Writes the
results as JSON and prints Markdown tables.

Run it on an otherwise idle machine: timings taken beside other work mean little.

Usage:
    python scripts/benchmark.py [--quick] [--output benchmark.json] [--quiet]

Same as `keras-vcd bench [--quick] [--output FILE]`.
"""

import sys

from keras_vcd import benchmark

if __name__ == "__main__":
    sys.exit(benchmark.main())
