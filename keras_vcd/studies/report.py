"""A study's summary, rebuilt from its folders: JSON, a Markdown table, pictures.

Everything is read from the cell folders (cell.json, measurement.json, run/log.csv),
so `keras-vcd study NAME --report` can rebuild it at any time, from a study that is
finished or not, and from folders trained on several machines and copied together.
"""

import csv
import json
import math
import pathlib

import numpy as np

from keras_vcd.extras import require
from keras_vcd.files import write_json
from keras_vcd.studies.grid import PAPER_LOG_LIKELIHOOD
from keras_vcd.studies.runner import CELL_FILE, MEASUREMENT_FILE, RUN_DIR, STUDY_FILE

REPORT_DIR = "report"
# What each study compares its arms against.
REFERENCE_ARMS = {"control-variates": "local", "batch-size": "b16"}


def collect(study_dir):
    """The study record and its cells' records (finished ones with their figures)."""
    study_dir = pathlib.Path(study_dir)
    if not (study_dir / STUDY_FILE).exists():
        raise ValueError(f"{study_dir} holds no study ({STUDY_FILE} is missing); run "
                         "the study there first.")
    study = json.loads((study_dir / STUDY_FILE).read_text())
    cells = []
    for path in sorted(study_dir.glob(f"*/{CELL_FILE}")):
        record = json.loads(path.read_text())
        measurement = path.parent / MEASUREMENT_FILE
        record["measurement"] = (json.loads(measurement.read_text())
                                 if measurement.exists() else None)
        record["log_csv"] = str(path.parent / RUN_DIR / "log.csv")
        cells.append(record)
    return study, cells


def mean_and_std(values):
    """(mean, sample standard deviation) of a list; the std is None for one value."""
    values = np.asarray(values, dtype=float)
    std = float(values.std(ddof=1)) if len(values) > 1 else None
    return float(values.mean()), std


def _p_value(t, df):
    """Two-sided p of a t statistic, if scipy is installed (the 'test' extra)."""
    try:
        from scipy import stats
    except ImportError:
        return None
    return float(2 * stats.t.sf(abs(t), df))


def welch(reference, other):
    """Welch's t comparison of two groups' means: other - reference.

    Example:

    >>> from keras_vcd.studies.report import welch
    >>> result = welch([1.0, 2.0, 3.0], [2.0, 3.0, 4.0])
    >>> result["difference"], round(result["t"], 3), result["df"]
    (1.0, 1.225, 4.0)
    """
    (mean_a, std_a), (mean_b, std_b) = mean_and_std(reference), mean_and_std(other)
    if std_a is None or std_b is None:
        return None
    var_a, var_b = std_a**2 / len(reference), std_b**2 / len(other)
    stderr = math.sqrt(var_a + var_b)
    if stderr == 0:
        return None
    df = (var_a + var_b) ** 2 / (var_a**2 / (len(reference) - 1)
                                 + var_b**2 / (len(other) - 1))
    t = (mean_b - mean_a) / stderr
    return {"test": "welch", "difference": mean_b - mean_a, "stderr": stderr, "t": t,
            "df": df, "p": _p_value(t, df)}


def paired(reference, other):
    """The paired comparison over seeds both groups ran: other - reference.

    Args:
        reference, other: {seed: value}.
    """
    seeds = sorted(set(reference) & set(other))
    if len(seeds) < 2:
        return None
    differences = [other[s] - reference[s] for s in seeds]
    mean, std = mean_and_std(differences)
    stderr = std / math.sqrt(len(seeds))
    t = mean / stderr if stderr > 0 else None
    return {"test": "paired", "seeds": seeds, "difference": mean, "stderr": stderr, "t": t,
            "df": len(seeds) - 1, "p": None if t is None else _p_value(t, len(seeds) - 1)}


def summarize(study, cells):
    """The summary dict: every cell's figures, per-arm statistics, comparisons."""
    rows, timing = [], []
    for cell in cells:
        measurement = cell["measurement"]
        if measurement is None:
            rows.append({"cell": cell["name"], "arm": cell["arm"], "seed": cell["seed"],
                         "status": "unfinished"})
            continue
        if cell["kind"] == "timing":
            timing = measurement["timing"]
            continue
        rows.append({
            "cell": cell["name"], "arm": cell["arm"], "seed": cell["seed"],
            "split": cell["split"], "status": "finished",
            "learning_rate": cell["recipe"]["optimization"]["decoder_learning_rate"],
            **{key: measurement[key] for key in (
                "batch_size", "iterations", "epochs", "wall_time_s", "ms_per_iteration",
                "process_peak_rss_bytes", "estimates")},
        })
    finished = [row for row in rows if row["status"] == "finished"]
    test_rows = [row for row in finished if row["split"] == "test"]
    methods = sorted({e["method"] for row in test_rows for e in row["estimates"]})
    arms = {}
    for row in test_rows:
        arms.setdefault(row["arm"], []).append(row)
    statistics = {}
    for arm, members in arms.items():
        statistics[arm] = {"runs": len(members), "batch_size": members[0]["batch_size"],
                           "learning_rate": members[0]["learning_rate"],
                           "iterations": members[0]["iterations"],
                           "ms_per_iteration": mean_and_std(
                               [m["ms_per_iteration"] for m in members])[0]}
        for method in methods:
            values = [_value(m, method) for m in members]
            statistics[arm][method] = dict(zip(("mean", "std"), mean_and_std(values)))
    return {"study": study["study"], "options": study["options"],
            "estimators": study["estimators"], "cells": rows, "arms": statistics,
            "comparisons": _comparisons(study["study"], arms, methods),
            "timing": timing}


def _value(row, method):
    return next(e["mean"] for e in row["estimates"] if e["method"] == method)


def _comparisons(name, arms, methods):
    if not methods:
        return []
    method = methods[0]  # "hmc_is" sorts first: the tighter estimate
    if name == "spread":
        return [{"arm": arm, "method": method, "reference": "paper",
                 "paper": PAPER_LOG_LIKELIHOOD,
                 "difference": mean_and_std([_value(m, method) for m in members])[0]
                 - PAPER_LOG_LIKELIHOOD,
                 "std": mean_and_std([_value(m, method) for m in members])[1]}
                for arm, members in arms.items()]
    reference = REFERENCE_ARMS[name]
    if reference not in arms:
        return []
    by_seed = {arm: {m["seed"]: _value(m, method) for m in members}
               for arm, members in arms.items()}
    return [{"arm": arm, "reference": reference, "method": method,
             "paired": paired(by_seed[reference], by_seed[arm]),
             "welch": welch(list(by_seed[reference].values()), list(by_seed[arm].values()))}
            for arm in arms if arm != reference]


def _number(value, digits=2):
    return "n/a" if value is None else f"{value:.{digits}f}"


def markdown(summary):
    """The summary as Markdown: arms, comparisons, the sweep, the timing."""
    methods = sorted({e["method"] for row in summary["cells"]
                      if row.get("split") == "test" for e in row["estimates"]})
    estimators = summary["estimators"]
    lines = [f"## Study: {summary['study']}", "",
             f"Budget {summary['options']['budget']} of the original run, "
             f"{summary['options']['seeds']} seeds per arm. Test estimates: "
             + ", ".join(f"{m} S={s}" for m, s in estimators["test"])
             + f" on {estimators['num_examples'] or 'all'} test examples; mean ± standard "
             "deviation over seeds.", "",
             "| arm | runs | batch | learning rate | iterations | "
             + " | ".join(methods) + " | ms/iteration |",
             "|" + " --- |" * (6 + len(methods))]
    for arm, stats in summary["arms"].items():
        lines.append(f"| {arm} | {stats['runs']} | {stats['batch_size']} | "
                     f"{stats['learning_rate']:g} | {stats['iterations']} | "
                     + " | ".join(f"{_number(stats[m]['mean'])} ± {_number(stats[m]['std'])}"
                                  for m in methods)
                     + f" | {_number(stats['ms_per_iteration'], 1)} |")
    if summary["comparisons"]:
        lines += ["", "Comparisons (difference = arm − reference, nats):", ""]
        for comparison in summary["comparisons"]:
            lines.append("- " + _comparison_text(comparison))
    sweep = [row for row in summary["cells"] if row.get("split") == "valid"]
    if sweep:
        lines += ["", f"Learning-rate sweep ({estimators['sweep'][0]} S="
                  f"{estimators['sweep'][1]} on the validation split, seed 0):", "",
                  "| batch | learning rate | validation log p(x) |", "| --- | --- | --- |"]
        lines += [f"| {row['batch_size']} | {row['learning_rate']:g} | "
                  f"{_number(row['estimates'][0]['mean'])} |" for row in sweep]
    if summary["timing"]:
        lines += ["", "ms per iteration by control variate and steps_per_execution "
                  "(one process):", "", "| control variate | steps_per_execution | "
                  "ms/iteration |", "| --- | --- | --- |"]
        lines += [f"| {r['control_variate']} | {r['steps_per_execution']} | "
                  f"{1000 * r['seconds_per_iteration']:.2f} |" for r in summary["timing"]]
    unfinished = [row["cell"] for row in summary["cells"] if row["status"] != "finished"]
    if unfinished:
        lines += ["", f"Not finished yet: {', '.join(unfinished)}."]
    return "\n".join(lines) + "\n"


def _comparison_text(comparison):
    if comparison["reference"] == "paper":
        return (f"{comparison['arm']}: mean {comparison['method']} − paper "
                f"({comparison['paper']}) = {_number(comparison['difference'])}; "
                f"one standard deviation = {_number(comparison['std'])}")
    parts = []
    for key in ("paired", "welch"):
        result = comparison[key]
        if result is not None:
            parts.append(f"{key} {_number(result['difference'])} ± "
                         f"{_number(result['stderr'])} (t = {_number(result['t'])}, "
                         f"df = {_number(result['df'], 1)}, p = {_number(result['p'], 3)})")
    return (f"{comparison['arm']} vs {comparison['reference']} ({comparison['method']}): "
            + ("; ".join(parts) or "needs two seeds per arm"))


def _read_curve(path, column):
    if not pathlib.Path(path).exists():
        return [], []
    with open(path) as f:
        rows = [row for row in csv.DictReader(f) if row.get(column) not in (None, "")]
    return [int(row["epoch"]) + 1 for row in rows], [float(row[column]) for row in rows]


def pictures(summary, cells, directory, column="elbo"):
    """Writes the training curves per arm and, for batch sizes, log p(x) by batch size.

    Returns:
        The paths written.
    """
    plt = require("matplotlib.pyplot", extra="plots")
    directory = pathlib.Path(directory)
    paths = []
    figure, axis = plt.subplots(figsize=(7, 4.5))
    arms = sorted({cell["arm"] for cell in cells if cell["kind"] == "train"})
    colours = {arm: plt.cm.viridis(i / max(len(arms) - 1, 1)) for i, arm in enumerate(arms)}
    labelled = set()
    for cell in cells:
        if cell["kind"] != "train" or cell["split"] != "test":
            continue
        epochs, values = _read_curve(cell["log_csv"], column)
        if epochs:
            axis.plot(epochs, values, color=colours[cell["arm"]], linewidth=1,
                      label=None if cell["arm"] in labelled else cell["arm"])
            labelled.add(cell["arm"])
    axis.set(xlabel="epoch", ylabel=f"training {column} (nats)",
             title=f"{summary['study']}: training curves, one line per run")
    if labelled:
        axis.legend()
    paths.append(directory / "training_curves.png")
    figure.savefig(paths[-1], dpi=120, bbox_inches="tight")
    plt.close(figure)
    points = [(row["batch_size"], row["estimates"][0]) for row in summary["cells"]
              if row.get("split") == "test"]
    if summary["study"] == "batch-size" and points:
        figure, axis = plt.subplots(figsize=(6, 4))
        axis.scatter([b for b, _ in points], [e["mean"] for _, e in points])
        axis.set_xscale("log", base=2)
        method = points[0][1]["method"]
        axis.set(xlabel="batch size", ylabel=f"test log p(x), {method} (nats)",
                 title="test log-likelihood by batch size, a point per run")
        paths.append(directory / "loglik_by_batch_size.png")
        figure.savefig(paths[-1], dpi=120, bbox_inches="tight")
        plt.close(figure)
    return [str(path) for path in paths]


def write_report(study_dir, with_pictures=True):
    """Rebuilds `STUDY_DIR/report/` (summary.json, summary.md, pictures) from the folders.

    Returns:
        `(summary dict, Markdown text, picture paths)`.
    """
    study, cells = collect(study_dir)
    summary = summarize(study, cells)
    directory = pathlib.Path(study_dir) / REPORT_DIR
    directory.mkdir(exist_ok=True)
    write_json(directory / "summary.json", summary)
    text = markdown(summary)
    (directory / "summary.md").write_text(text)
    paths = pictures(summary, cells, directory) if with_pictures else []
    return summary, text, paths
