"""The zoo entries, installed as the data package `keras_vcd.presets` (see setup.py)."""
