"""The `keras-vcd` command line (also `python -m keras_vcd`).

With no subcommand it runs the main job on the bundled default: load the pretrained
`vcd_mnist` preset, estimate its test log-likelihood on a subset, write pictures, and
train a short VCD run. Every subcommand is a thin layer over the library.
"""

import argparse
import json
import pathlib
import shutil
import sys

from keras_vcd import datasets

DEFAULT_PRESET = "vcd_mnist"
# The estimators of `evaluate --method` (kept here so that --help needs no TensorFlow).
EVALUATE_METHODS = ("iwae", "hmc_is", "ais", "bdmc")


class Interrupted(Exception):
    """Ctrl-C, with what the user needs to know to go on; exits with status 130."""


def _emit(args, record):
    """Prints a result: one JSON line with --json, else readable text."""
    if args.json:
        print(json.dumps(record), flush=True)
    elif not args.quiet:
        for key, value in record.items():
            print(f"{key}: {value}")


def _verbose(args):
    return 0 if (args.quiet or args.json) else 1


def _recipe(preset_or_config):
    from keras_vcd import zoo

    path = pathlib.Path(preset_or_config)
    if path.is_file():
        return zoo.read_json(path.parent, path.name), path.stem
    directory = zoo.resolve(preset_or_config)
    return zoo.read_json(directory, zoo.CONFIG_FILE), directory.name


def _sets(args):
    """The --set KEY=VALUE changes as {key: value}."""
    from keras_vcd import recipes

    return recipes.parse_assignments(args.set or [])


def _with_sets(recipe, args):
    """The recipe with the --set changes applied (checked against it)."""
    from keras_vcd import recipes

    return recipes.with_overrides(recipe, _sets(args)) if args.set else recipe


def _dataset_name(args, specs):
    """The data set to evaluate on: the presets' own, unless the user names the same one.

    A model measured on data it was not trained on reports a meaningless figure (a
    Fashion-MNIST preset on MNIST scores -195 against -110), so a mismatch is refused.
    """
    from keras_vcd import zoo

    recorded = {str(spec): zoo.recorded_dataset(spec) for spec in specs}
    known = {name for name in recorded.values() if name is not None}
    if len(known) > 1:
        raise ValueError(f"The models were trained on different data sets: {recorded}; "
                         "compare models of one data set.")
    own = known.pop() if known else None
    if args.dataset is not None and own is not None and args.dataset != own:
        raise ValueError(
            f"{', '.join(recorded)} was trained on {own}, not {args.dataset}: its "
            f"log-likelihood there means nothing. Omit --dataset (the default is {own}), "
            "or pass your own data with --data."
        )
    return args.dataset or own or "binarized_mnist"


def _user_data(path):
    """The array in a user's `.npy` file or the only (or "x") array of a `.npz` file."""
    import numpy as np

    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"Cannot read --data {path} as .npy or .npz: {error}") from error
    if isinstance(loaded, np.ndarray):
        return loaded
    with loaded:
        names = loaded.files
        if "x" in names or len(names) == 1:
            return loaded["x" if "x" in names else names[0]]
    raise ValueError(f"--data {path} holds arrays {names}; name the data 'x' or keep one array.")


def _test_data(args, specs, models=()):
    """The test examples: --data, or the (presets') data set's test split; first N if asked.

    A model of other data (a user's .keras file) meeting the default data set is told
    that --data is missing, instead of failing on a shape deep in the estimator.
    """
    if args.data:
        x, info = _user_data(args.data), {"source": f"file {args.data}"}
    else:
        name = _dataset_name(args, specs)
        splits, info = datasets.load(name, verbose=_verbose(args))
        x = splits["test"]
        for spec, model in zip(specs, models):
            if tuple(model.event_shape) != x.shape[1:]:
                raise ValueError(
                    f"{spec} takes examples of shape {tuple(model.event_shape)}, but the test "
                    f"data set {name} holds shape {x.shape[1:]}: pass your own test data "
                    "with --data FILE (a .npy file, or a .npz file with an array 'x')."
                )
    return (x[: args.num_examples] if args.num_examples else x), info


def _write_output(path, record):
    """Writes a result as JSON; a path that cannot be written is a one-line error."""
    path = pathlib.Path(path)
    try:
        path.write_text(json.dumps(record, indent=1) + "\n")
    except OSError as error:
        reason = (f"the folder {path.parent} is not writable"
                  if path.parent.is_dir() else f"the folder {path.parent} does not exist")
        raise OSError(f"Cannot write --output {path}: {reason}.") from error


def cmd_train(args):
    from keras_vcd import distribute, training

    recipe, name = _recipe(args.preset)
    recipe = _with_sets(recipe, args)
    output_dir = pathlib.Path(args.output_dir or pathlib.Path("runs") / name)
    data = None
    if args.data:
        if args.export:
            raise ValueError("--export measures the recipe's own test set; it cannot follow "
                             "training on --data. Export with `keras-vcd zoo export` instead.")
        data = ({"train": _user_data(args.data), "valid": None, "test": None},
                {"source": f"file {args.data}"})
    try:
        with distribute.get_strategy(args.strategy).scope():
            model, summary = training.train(
                recipe, output_dir, iterations=args.iterations, data=data,
                verbose=_verbose(args) and 2, init_from=args.init_from,
            )
    except KeyboardInterrupt:
        state = training.ResumableCheckpoint(output_dir).read_state() or {}
        raise Interrupted(
            f"interrupted; the last checkpoint in {output_dir} is at iteration "
            f"{state.get('iterations', 0)}. The same command resumes from there."
        ) from None
    _emit(args, {k: v for k, v in summary.items() if k != "dataset"})
    if args.export:
        metadata = training.export(
            model, summary, recipe, args.export,
            evaluations=[("hmc_is", args.hmc_is_samples), ("iwae", args.iwae_samples)],
            num_test_examples=args.num_examples, verbose=_verbose(args),
        )
        _emit(args, {"exported": str(args.export),
                     "test_log_likelihood": metadata["test_log_likelihood"]})


def cmd_evaluate(args):
    from keras_vcd import evaluation, zoo

    model = zoo.load_model(args.model)
    if args.method == "bdmc":
        return _evaluate_bdmc(model, args)
    x, info = _test_data(args, [args.model], [model])
    result = evaluation.measure_log_likelihood(
        model, x, args.method, args.num_chains if args.method == "ais" else args.num_samples,
        args.seed, _verbose(args), **_estimator_settings(args, args.method),
    )
    result.update(model=str(args.model), dataset=info["source"])
    # The result is printed whatever happens to --output: it took minutes to compute.
    if args.json:
        _emit(args, result)
    else:
        print(f"test log p(x) [{args.method}, S={result['num_samples']}, {len(x)} examples"
              f"{''.join(f', {k}={v}' for k, v in result['settings'].items())}]: "
              f"{result['mean']:.2f} ± {result['stderr'] or 0:.2f}")
    if args.output:
        _write_output(args.output, result)
    if args.plots:
        _plots(model, x, args.plots, args)


def _estimator_settings(args, method):
    """The keyword arguments of `log_likelihood` that --method's estimator takes."""
    if method == "hmc_is":
        return {"adaptation": args.adaptation}
    if method == "ais":
        given = {"num_annealing_steps": args.num_annealing_steps}
        return {"schedule": args.schedule,
                **{key: value for key, value in given.items() if value is not None}}
    return {}


def _evaluate_bdmc(model, args):
    """`evaluate --method bdmc`: the sandwich on simulated data, each estimator inside."""
    from keras_vcd import evaluation

    estimators = {
        "iwae": {"num_samples": args.num_samples},
        "hmc_is": {"num_samples": args.num_samples, **_estimator_settings(args, "hmc_is")},
        "ais": {"num_samples": args.num_chains, **_estimator_settings(args, "ais")},
    }
    sandwich = {key: value for key, value in (("num_chains", args.num_chains), (
        "num_annealing_steps", args.num_annealing_steps)) if value is not None}
    result = evaluation.bdmc(model, args.num_examples or 100, schedule=args.schedule,
                             estimators=estimators, seed=args.seed, verbose=_verbose(args),
                             **sandwich)
    record = {key: value for key, value in result.items() if not key.endswith("per_example")}
    record["estimators"] = {name: {k: v for k, v in row.items() if k != "per_example"}
                            for name, row in result["estimators"].items()}
    record["model"] = str(args.model)
    if args.json:
        _emit(args, record)
    else:
        print(f"BDMC on {result['num_examples']} examples simulated from {args.model} "
              f"[C={result['num_chains']}, K={result['num_annealing_steps']}]: lower "
              f"{result['lower']:.2f}, upper {result['upper']:.2f}, width "
              f"{result['width']:.2f} ± {result['width_stderr']:.2f}")
        for name, row in record["estimators"].items():
            print(f"  {name}: {row['mean']:.2f}, at most {row['gap_to_upper']:.2f} ± "
                  f"{row['gap_stderr']:.2f} below log p(x), position {row['position']:.2f}")
    if args.output:
        _write_output(args.output, record)


def cmd_compare(args):
    from keras_vcd import evaluation, zoo

    models = {spec: zoo.load_model(spec) for spec in args.models}
    x, info = _test_data(args, args.models, list(models.values()))
    rows = evaluation.compare(models, x, args.method, args.num_samples, args.seed,
                              _verbose(args))
    for row in rows:
        row["dataset"] = info["source"]
    if args.json:
        for row in rows:
            _emit(args, row)
    else:
        print(f"test log p(x) [{args.method}, S={args.num_samples}, {len(x)} examples, "
              f"seed {args.seed}]; difference = model - {rows[0]['name']}, paired s.e.")
        for row in rows:
            print(f"  {row['name']}  ({row['iterations']} iterations): {row['mean']:.2f} "
                  f"± {row['stderr']:.2f}   difference {row['difference']:+.2f} "
                  f"± {row['difference_stderr']:.2f}")
    if args.output:
        _write_output(args.output, rows)


def _plots(model, x, output_dir, args, csv_path=None):
    from keras_vcd import plotting

    paths = plotting.write_all(model, x, output_dir, csv_path=csv_path, seed=args.seed)
    _emit(args, {"pictures": paths})


def cmd_sample(args):
    from keras_vcd import zoo

    model = zoo.load_model(args.model)
    x, _ = _test_data(args, [args.model], [model])
    _plots(model, x, args.output_dir, args)


def cmd_zoo(args):
    from keras_vcd import zoo

    if args.action == "list":
        for name in zoo.list_presets():
            _emit(args, {name: zoo.describe(name)["description"]})
    elif args.action == "show":
        directory = zoo.resolve(args.name)
        _emit(args, zoo.read_json(directory, zoo.METADATA_FILE))
    elif args.action == "export":
        from keras_vcd import training

        recipe, name = _recipe(args.name)
        model, summary = training.load_run(recipe, args.run_dir, args.weights)
        metadata = training.export(
            model, summary, recipe, args.to,
            evaluations=[("hmc_is", args.hmc_is_samples), ("iwae", args.iwae_samples)],
            num_test_examples=args.num_examples, verbose=_verbose(args),
            description=args.description or (zoo.describe(name)["description"] if name in
                                             zoo.list_presets() else None),
            note=args.note,
        )
        _emit(args, {"exported": args.to, "iterations": metadata["iterations"],
                     "test_log_likelihood": metadata["test_log_likelihood"]})
    elif args.action == "verify":
        names = [args.name] if args.name else zoo.list_presets()
        for name in names:
            _emit(args, {name: f"ok ({zoo.verify(name)})"})


def cmd_tune(args):
    from keras_vcd import datasets, training, tuning

    training.check_output_dir(args.directory)  # an unusable folder fails now, not mid-search
    recipe = _with_sets(_recipe(args.recipe)[0] if args.recipe else {}, args)
    dataset = recipe["training"]["dataset"] if args.recipe else args.dataset
    splits, _ = datasets.load(dataset, verbose=_verbose(args))
    x_train = splits["train"][: args.train_examples]
    x_valid = splits["valid"] if splits["valid"] is not None else splits["test"]
    _, table = tuning.run_search(
        x_train, x_valid, args.directory, project_name=args.project_name,
        algorithm=args.algorithm, max_trials=args.max_trials, epochs=args.epochs,
        best_preset_dir=args.best_preset_dir, verbose=_verbose(args), recipe=recipe,
    )
    if args.json:  # otherwise run_search has printed the table already
        _emit(args, {"results": table})


def cmd_study(args):
    from keras_vcd import studies

    study_dir = pathlib.Path(args.output_dir or pathlib.Path("runs") / "studies" / args.name)
    if args.report:
        _, text, paths = studies.write_report(study_dir)
        print(text, end="")
        _emit(args, {"report": str(study_dir / "report"), "pictures": paths})
        return
    recipe, _ = _recipe(args.recipe) if args.recipe else (studies.default_recipe(), None)
    options = studies.StudyOptions(
        budget=args.budget or studies.REDUCED_BUDGETS[args.name],
        seeds=args.seeds or studies.DEFAULT_SEEDS[args.name],
        overrides=tuple(sorted(_sets(args).items())),
        batch_sizes=tuple(args.batch_sizes or studies.BATCH_SIZES),
        scale_adaptation=args.scale_adaptation,
    )
    estimators = studies.Estimators(
        test=[("hmc_is", args.eval_samples), ("iwae", args.eval_samples)],
        num_examples=args.eval_examples)
    if args.dry_run:
        rows, total = studies.estimate(args.name, recipe, options, study_dir, estimators,
                                       args.cells)
        for row in rows:
            if args.json:
                _emit(args, row)
            else:
                print("  ".join(f"{key}={value}" for key, value in row.items()))
        _emit(args, {"cells": len(rows), "estimated_hours_one_process": round(total / 3600, 2)})
        return
    try:
        outcome = studies.run_study(args.name, study_dir, recipe, options, estimators,
                                    args.cells, verbose=_verbose(args))
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; finished cells in {study_dir} are kept and the "
                          "cell in progress resumes from its last checkpoint: run the same "
                          "command again.") from None
    _emit(args, {"study": args.name, "cells": outcome})
    studies.write_report(study_dir)


def cmd_bench(args):
    from keras_vcd import benchmark

    if args.estimators:
        results = benchmark.run_estimator_speed(
            num_examples=20 if args.quick else 100, repeats=1 if args.quick else 2,
            output=args.output or "benchmark_estimators.json", verbose=_verbose(args))
        report = benchmark.format_estimator_speed(results)
    else:
        results, report = benchmark.run_benchmark(args.quick, args.distributed, args.output,
                                                  _verbose(args), args.small_data)
    if not args.json:
        print(report)
    else:
        _emit(args, results)


def cmd_demo(args):
    """The main job: pretrained preset → test log-likelihood → pictures → a short run."""
    from keras_vcd import datasets, evaluation, training, zoo

    verbose = _verbose(args)
    model = zoo.load(DEFAULT_PRESET)
    splits, info = datasets.load("binarized_mnist", verbose=verbose)
    x_test = splits["test"][:500]
    output_dir = pathlib.Path(args.output_dir)
    _emit(args, {"preset": DEFAULT_PRESET, "dataset": info["source"],
                 "output_dir": str(output_dir.resolve())})
    _emit(args, {"test_log_likelihood": evaluation.measure_log_likelihood(
        model, x_test, "iwae", 1000, seed=0, verbose=verbose)})
    _plots(model, x_test, output_dir, args)
    recipe = zoo.read_json(zoo.resolve(DEFAULT_PRESET), zoo.CONFIG_FILE)
    short = {"train": splits["train"][:5000], "valid": splits["valid"][:1000],
             "test": None}
    shutil.rmtree(output_dir / "short_run", ignore_errors=True)  # a fresh run each time
    _, summary = training.train(
        recipe, output_dir / "short_run", iterations=100, data=(short, info),
        verbose=verbose,
    )
    _emit(args, {"short_run": {k: summary[k] for k in ("iterations", "wall_time_s")}})


def positive_int(text):
    """argparse type: an int >= 1, or a usage error that names the value."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, received {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, received {value}")
    return value


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends an option's default, unless it has none or its help already says it."""

    def _get_help_string(self, action):
        if action.default is None or isinstance(action.default, bool) or (
                "(default" in (action.help or "")):
            return action.help
        return super()._get_help_string(action)


def build_parser():
    # --quiet and --json work before or after the subcommand.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bars (results are still printed)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="results as JSON lines, no progress bars")
    parser = argparse.ArgumentParser(
        prog="keras-vcd", description=__doc__.split("\n\n")[0], parents=[common],
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--output-dir", default="keras_vcd_demo",
                        help="where the main job writes pictures and its short run (in the "
                             "current folder by default; printed as output_dir)")
    parser.set_defaults(func=cmd_demo, seed=0)
    sub = parser.add_subparsers(dest="command")

    def command(name, help):
        return sub.add_parser(name, parents=[common], help=help, description=help,
                              formatter_class=_HelpFormatter)

    def one_model(p):
        p.add_argument("model", nargs="?", default=DEFAULT_PRESET,
                       help="preset name, preset folder, .keras file or PRESET@WEIGHTS_FILE")

    def estimator(p, method):
        p.add_argument("--method", default=method, choices=("iwae", "hmc_is"),
                       help="the estimator")
        p.add_argument("--num-samples", type=positive_int, default=1000,
                       help="importance samples S per example")

    def with_data(p):
        p.add_argument("--dataset", choices=datasets.NAMES, help="test data set (default: "
                       "the one the preset was trained on; binarized_mnist for a .keras file)")
        p.add_argument("--data", help="your own test data instead: a .npy file, or a .npz "
                       "file with one array (or one named 'x')")
        p.add_argument("--num-examples", type=positive_int,
                       help="the first N test examples (default: all)")
        p.add_argument("--seed", type=int, default=0, help="seed of the estimates")

    def recipe_sets(p):
        p.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="change a recipe value, e.g. training.batch_size=128 or "
                       "optimization.decoder_learning_rate=9e-4 (repeatable; see "
                       "docs/studies.md for the keys)")

    def export_sizes(p):
        p.add_argument("--hmc-is-samples", type=positive_int, default=5000,
                       help="export: S of the hmc_is estimate")
        p.add_argument("--iwae-samples", type=positive_int, default=5000,
                       help="export: S of the iwae estimate")
        p.add_argument("--num-examples", type=positive_int,
                       help="export: the first N test examples (default: all)")

    train = command("train", "train a preset's recipe from scratch, resumably")
    train.add_argument("preset", help="preset name (see `keras-vcd zoo list`) or a config.json")
    train.add_argument("--output-dir", help="checkpoints and logs (default: runs/PRESET)")
    train.add_argument("--iterations", type=positive_int,
                       help="total iterations (default: the recipe's)")
    train.add_argument("--strategy", default="default",
                       help="distribution strategy: auto, ipu, mirrored, multi_worker, default")
    train.add_argument("--init-from", help="a preset (e.g. an unfinished zoo entry) to continue "
                       "from when the output folder holds no checkpoint")
    train.add_argument("--data", help="train on your own data instead of the recipe's: a "
                       ".npy file, or a .npz file with one array (or one named 'x')")
    train.add_argument("--export", help="after training, evaluate and write a preset folder here")
    recipe_sets(train)
    export_sizes(train)
    train.set_defaults(func=cmd_train)

    evaluate = command("evaluate", "test log-likelihood (importance sampling, AIS, BDMC)")
    one_model(evaluate)
    evaluate.add_argument("--method", default="iwae", choices=EVALUATE_METHODS,
                          help="the estimator; bdmc: the sandwich on --num-examples "
                          "(default 100) examples simulated from the model")
    evaluate.add_argument("--num-samples", type=positive_int, default=1000,
                          help="iwae, hmc_is: importance samples S per example")
    evaluate.add_argument("--adaptation", default="dual_averaging",
                          choices=("dual_averaging", "reference"),
                          help="hmc_is: how its burn-in adapts the step size")
    evaluate.add_argument("--num-chains", type=positive_int,
                          help="ais, bdmc: annealed chains per example (default: the "
                          "library's, evaluation.ais.DEFAULT_NUM_CHAINS)")
    evaluate.add_argument("--num-annealing-steps", type=positive_int,
                          help="ais, bdmc: annealing steps K (default: the library's, "
                          "evaluation.ais.DEFAULT_NUM_ANNEALING_STEPS)")
    evaluate.add_argument("--schedule", default="sigmoid", choices=("sigmoid", "geometric"),
                          help="ais, bdmc: the annealing schedule")
    evaluate.add_argument("--output", help="also write the result as JSON here")
    evaluate.add_argument("--plots", help="also write the pictures to this folder")
    with_data(evaluate)
    evaluate.set_defaults(func=cmd_evaluate)

    compare = command("compare", "several models on the same test examples, with paired "
                      "standard errors")
    compare.add_argument("models", nargs="+", help="preset names, preset folders, .keras "
                         "files or PRESET@WEIGHTS_FILE; the first is the reference")
    estimator(compare, "hmc_is")
    compare.add_argument("--output", help="also write the rows as JSON here")
    with_data(compare)
    compare.set_defaults(func=cmd_compare)

    sample = command("sample", "pictures: samples, reconstructions, traversal")
    one_model(sample)
    sample.add_argument("--output-dir", default="keras_vcd_pictures",
                        help="where the pictures go")
    with_data(sample)
    sample.set_defaults(func=cmd_sample, num_examples=100)

    tune = command("tune", "keras-tuner search, objective val_loglik")
    tune.add_argument("--directory", default="runs/tuning", help="keras-tuner's folder")
    tune.add_argument("--project-name", default="vcd_tuning", help="keras-tuner's project")
    tune.add_argument("--algorithm", default="random", choices=("random", "hyperband", "bayesian"),
                      help="the search algorithm")
    tune.add_argument("--max-trials", type=positive_int, default=4, help="trials to run")
    tune.add_argument("--epochs", type=positive_int, default=2, help="epochs per trial")
    tune.add_argument("--train-examples", type=positive_int, default=5000,
                      help="the first N training examples")
    tune.add_argument("--best-preset-dir", default="runs/tuning/best_preset",
                      help="where the best trial is written as a preset")
    tune.add_argument("--dataset", default="binarized_mnist", choices=datasets.NAMES,
                      help="the data set (with --recipe: the recipe's)")
    tune.add_argument("--recipe", help="build every trial from this short recipe (a file, "
                      "e.g. zoo/recipes/poisson_mf_mnist.json; default: the paper's model)")
    recipe_sets(tune)
    tune.set_defaults(func=cmd_tune)

    study = command("study", "rerun an experiment of the VCD write-up as a grid of training "
                    "runs (docs/studies.md)")
    study.add_argument("name", choices=("spread", "control-variates", "batch-size"),
                       help="the study")
    study.add_argument("--recipe", help="the base recipe: a preset or a recipe file "
                       "(default: zoo/recipes/vcd_mnist.json, the paper's configuration)")
    study.add_argument("--output-dir", help="the study folder (default: runs/studies/NAME)")
    study.add_argument("--budget", type=float, help="the fraction of the original's 400,000 "
                       "iterations (epochs and learning-rate decay scale with it; default: "
                       "the reduced budget of docs/studies.md)")
    study.add_argument("--seeds", type=positive_int, help="runs per arm (default: 8 for "
                       "spread, 3 otherwise)")
    study.add_argument("--cells", nargs="+", default=(), help="run only the cells whose "
                       "names match these shell patterns, e.g. 'b16-*' (see --dry-run)")
    study.add_argument("--dry-run", action="store_true",
                       help="print the grid and the time estimated from a short probe")
    study.add_argument("--report", action="store_true",
                       help="rebuild the summary, table and pictures from the folders")
    study.add_argument("--batch-sizes", type=positive_int, nargs="+",
                       help="batch-size: the batch sizes (default: 16 100 128 512 1024)")
    study.add_argument("--scale-adaptation", action="store_true", help="batch-size: scale "
                       "the HMC step-size adaptation rate by batch / 100")
    study.add_argument("--eval-samples", type=positive_int, default=1000,
                       help="S of the test hmc_is and iwae estimates")
    study.add_argument("--eval-examples", type=positive_int,
                       help="measure on the first N test examples (default: all)")
    recipe_sets(study)
    study.set_defaults(func=cmd_study)

    bench = command("bench", "speed benchmark, side by side with tfp.mcmc")
    bench.add_argument("--quick", action="store_true", help="fewer repeats and sizes")
    bench.add_argument("--distributed", action="store_true",
                       help="instead: one core against two MultiWorkerMirroredStrategy "
                            "workers on 127.0.0.1 (docs/distribute.md)")
    bench.add_argument("--small-data", action="store_true",
                       help="instead: fit per iteration on 150 against 15,000 examples "
                            "(docs/benchmark.md)")
    bench.add_argument("--estimators", action="store_true",
                       help="instead: ms per example of iwae, hmc_is, ais and bdmc at their "
                       "recommended settings on vcd_mnist (benchmark_estimators.json)")
    bench.add_argument("--output", help="the JSON results file (default: benchmark.json, "
                       "benchmark_distributed.json with --distributed, "
                       "benchmark_small_data.json with --small-data)")
    bench.set_defaults(func=cmd_bench)

    zoo = command("zoo", "list, show, verify presets; export a training run as one")
    zoo.add_argument("action", choices=("list", "show", "verify", "export"),
                     help="what to do")
    zoo.add_argument("name", nargs="?", help="preset name (needed by show and export; for "
                     "export the run's recipe; verify checks all if omitted)")
    zoo.add_argument("--run-dir", help="export: the training run's folder (needed)")
    zoo.add_argument("--weights", help="export: a snapshot instead of the latest checkpoint")
    zoo.add_argument("--to", help="export: the preset folder to write (needed)")
    export_sizes(zoo)
    zoo.add_argument("--note", help="export: a note for the model card")
    zoo.add_argument("--description", help="export: the model card's one-line description "
                     "(default: the registry's, for a registered name)")
    zoo.set_defaults(func=cmd_zoo)
    return parser


def _check_arguments(parser, args):
    """Usage errors argparse cannot express: arguments needed by one action only."""
    if args.func is cmd_zoo:
        needed = {"show": ["name"], "export": ["name", "run_dir", "to"]}.get(args.action, [])
        missing = [name for name in needed if getattr(args, name) is None]
        if missing:
            flags = ", ".join(n if n == "name" else "--" + n.replace("_", "-") for n in missing)
            parser.error(f"zoo {args.action} needs {flags}")


def main(argv=None):
    """Runs the command line; returns the exit status (2 for a user error, 130 for Ctrl-C)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.quiet = getattr(args, "quiet", False)
    args.json = getattr(args, "json", False)
    _check_arguments(parser, args)
    try:
        args.func(args)
    except (Interrupted, KeyboardInterrupt) as interruption:
        print(f"keras-vcd: {interruption or 'interrupted'}", file=sys.stderr)
        return 130
    except (ValueError, OSError, RuntimeError, ImportError) as error:
        print(f"keras-vcd: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
