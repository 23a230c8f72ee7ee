#!/usr/bin/env python
"""Thin entry point: `python scripts/train.py ARGS` is `keras-vcd train ARGS`.

All logic lives in the library (keras_vcd.cli and the modules it calls); see
`keras-vcd train --help` for the arguments.
"""

import sys

from keras_vcd.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
