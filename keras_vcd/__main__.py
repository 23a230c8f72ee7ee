"""`python -m keras_vcd` is the `keras-vcd` command line."""

import sys

from keras_vcd.cli import main

sys.exit(main())
