"""`python -m keras_vcd.benchmark`; `run_memory_probe` starts each probe this way."""

import sys

from keras_vcd.benchmark.command import main

sys.exit(main())
