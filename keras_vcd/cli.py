"""The `keras-vcd` command line (also `python -m keras_vcd`)."""

import argparse
import json
import pathlib
import sys


def _recipe(preset_or_config):
    from keras_vcd import zoo

    path = pathlib.Path(preset_or_config)
    if path.is_file():
        return json.loads(path.read_text()), path.stem
    directory = zoo.resolve(preset_or_config)
    return zoo.read_json(directory, zoo.CONFIG_FILE), directory.name


def cmd_train(args):
    from keras_vcd import training

    recipe, name = _recipe(args.preset)
    output_dir = pathlib.Path(args.output_dir or pathlib.Path("runs") / name)
    _, summary = training.train(
        recipe, output_dir, iterations=args.iterations, verbose=args.verbose
    )
    print(json.dumps({k: v for k, v in summary.items() if k != "dataset"}))


def build_parser():
    parser = argparse.ArgumentParser(prog="keras-vcd", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a preset's recipe from scratch, resumably")
    train.add_argument("preset", help="preset name (see `keras-vcd zoo list`) or a config.json")
    train.add_argument("--output-dir", help="checkpoints and logs (default runs/PRESET)")
    train.add_argument("--iterations", type=int, help="total iterations (default: the recipe's)")
    train.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    train.set_defaults(func=cmd_train)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
