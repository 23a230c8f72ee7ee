#!/usr/bin/env python
"""Thin entry point: `python scripts/tune.py ARGS` is `keras-vcd tune ARGS`.

All logic lives in the library (keras_vcd.cli and the modules it calls); see
`keras-vcd tune --help` for the arguments.
"""

import sys

from keras_vcd.cli import main

if __name__ == "__main__":
    sys.exit(main(["tune", *sys.argv[1:]]))
