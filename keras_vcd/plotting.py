"""Pictures of a `VCDModel`: prior samples, reconstructions, latent traversals, curves.

Every function draws on its own `matplotlib.figure.Figure` (no pyplot, no global
backend change, no display needed), writes a PNG file and returns its path as a
string. Images are Bernoulli means p(x_d = 1 | z) shown in grey scale on the fixed
range [0, 1] (black 0, white 1), so pictures of different models compare directly.

Image shape: a model with `input_dim` a perfect square (784 -> 28 x 28) is drawn as
square images; any other `input_dim` as 1-pixel-high strips, one per example. Pass
`image_shape=(height, width)` to override.

Example:

>>> import numpy as np, keras_vcd as kv
>>> from keras_vcd import plotting
>>> model = kv.VCDModel(
...     encoder=kv.GaussianEncoder(latent_dim=2, hidden_units=(8,)),
...     decoder=kv.BernoulliDecoder(output_dim=16, hidden_units=(8,)),
...     refiner=kv.HMCRefine(num_steps=2, num_leapfrog_steps=2), seed=0)
>>> x = (np.random.default_rng(0).random((10, 16)) < 0.3).astype("float32")
>>> import tempfile
>>> paths = plotting.write_all(model, x, tempfile.mkdtemp())
>>> sorted(paths)
['latent_traversal', 'prior_samples', 'reconstructions']
"""

import csv
import math
import os
import pathlib
import warnings

import numpy as np
import keras

from keras_vcd import validation
from keras_vcd.extras import require

# File names `write_all` uses inside its output directory.
FILE_NAMES = {
    "prior_samples": "prior_samples.png",
    "reconstructions": "reconstructions.png",
    "training_curves": "training_curves.png",
    "latent_traversal": "latent_traversal.png",
}
MAX_TRAVERSAL_DIMS = 10
_DPI = 100
# Spacing between images in a mosaic; drawn in the figure's background colour.
_PAD = 1
# Pixel rows per example when examples are drawn as 1-pixel-high strips.
_STRIP_HEIGHT = 4


# ---------------------------------------------------------------------- public API


def plot_prior_samples(model, path, num_samples=64, seed=0, image_shape=None):
    """Draws a grid of Bernoulli means of x ~ p(x | z), z ~ N(0, I).

    64 samples make an 8 x 8 grid; other counts a near-square grid filled row by row.

    Args:
        model: a `VCDModel` (anything with `sample(num_samples, seed)`,
            `input_dim` and `latent_dim`).
        path: where to write the PNG; missing parent folders are made.
        num_samples: number of samples, >= 1.
        seed: int seed of the latent draws (same seed, same picture).
        image_shape: `(height, width)` of one example; inferred if None (see the
            module docstring).

    Returns:
        The path written, as a string.

    Example:

    >>> import os, tempfile, keras_vcd as kv
    >>> model = kv.zoo.load("vcd_mnist")
    >>> kv.plotting.plot_prior_samples(model, os.path.join(tempfile.mkdtemp(), "prior.png"))
    '.../prior.png'
    """
    validation.check_int(num_samples, "num_samples")
    shape = _image_shape(model, image_shape)
    means = _to_numpy(model.sample(num_samples, seed=seed))
    images = means.reshape((num_samples,) + shape)
    if _is_strip(shape):
        # One strip per sample, stacked: a (num_samples, 1) grid.
        grid = _grid(images[:, None], num_samples, 1)
    else:
        cols = math.ceil(math.sqrt(num_samples))
        rows = math.ceil(num_samples / cols)
        padded = np.full((rows * cols,) + shape, np.nan, dtype="float32")
        padded[:num_samples] = images
        grid = _grid(padded.reshape((rows, cols) + shape), rows, cols)
    fig = _image_figure(grid, shape)
    ax = fig.axes[0]
    ax.set_title(f"Samples from the prior: E[x | z], z ~ N(0, I)  (seed {seed})",
                 fontsize="medium")
    if _is_strip(shape):
        ax.set_ylabel("sample")
    return _save(fig, path)


def plot_reconstructions(model, x, path, num_examples=10, seed=0, image_shape=None):
    """Draws data next to its reconstructions, without and with HMC refinement.

    Three rows, one column per example: the data `x`; `reconstruct(x,
    refine=False)` (decoded from the encoder mean); `reconstruct(x, refine=True)`
    (decoded from z_T, the HMC-refined sample, or from z0 for a model without HMC).

    Args:
        model: a `VCDModel`.
        x: array of shape `(N, input_dim)` with values in [0, 1]; the first
            `min(N, num_examples)` examples are drawn.
        path: where to write the PNG; missing parent folders are made.
        num_examples: how many examples, >= 1.
        seed: int seed of z0 and the HMC chain.
        image_shape: `(height, width)` of one example; inferred if None.

    Returns:
        The path written, as a string.

    Raises:
        ValueError: `x` is not `(N, input_dim)` with values in [0, 1].

    Example:

    >>> import numpy as np, keras_vcd as kv
    >>> from keras_vcd import plotting
    >>> model = kv.VCDModel(encoder=kv.GaussianEncoder(latent_dim=2, hidden_units=(8,)),
    ...                     decoder=kv.BernoulliDecoder(output_dim=16, hidden_units=(8,)),
    ...                     refiner=kv.HMCRefine(num_steps=2, num_leapfrog_steps=2))
    >>> x = (np.random.default_rng(0).random((5, 16)) < 0.3).astype("float32")
    >>> import os, tempfile
    >>> plotting.plot_reconstructions(model, x, os.path.join(tempfile.mkdtemp(), "recon.png"))
    '.../recon.png'
    """
    validation.check_int(num_examples, "num_examples")
    shape = _image_shape(model, image_shape)
    x = np.asarray(x)
    x = model.decoder.check_data(x[:num_examples] if x.ndim >= 1 else x)
    n = len(x)
    rows = [
        ("data", x),
        ("encoder mean", _to_numpy(model.reconstruct(x, refine=False, seed=seed))),
        (_refined_label(model), _to_numpy(model.reconstruct(x, refine=True, seed=seed))),
    ]
    labels = [label for label, _ in rows]
    if _is_strip(shape):
        # Each row of the figure becomes a block of n strips; blocks are separated.
        blocks = np.stack([r.reshape(n, 1, shape[1]) for _, r in rows])  # (3, n, 1, D)
        grid = _grid(blocks.reshape(3 * n, 1, 1, shape[1]), 3 * n, 1, group=n)
        h = _STRIP_HEIGHT
        centres = [_PAD + (i * n + (n - 1) / 2) * (h + _PAD) + (h - 1) / 2 + 3 * _PAD * i
                   for i in range(3)]
    else:
        images = np.stack([r.reshape((n,) + shape) for _, r in rows])  # (3, n, h, w)
        grid = _grid(images, 3, n)
        centres = [_cell_centre(i, shape[0]) for i in range(3)]
    fig = _image_figure(grid, shape)
    ax = fig.axes[0]
    ax.set_yticks(centres, labels)
    ax.tick_params(axis="y", length=0)
    ax.set_title(f"Reconstructions of {n} examples (seed {seed})", fontsize="medium")
    return _save(fig, path)


def plot_latent_traversal(model, path, num_steps=9, span=3.0, dims=None, image_shape=None):
    """Decodes z moved along one latent axis at a time, the other coordinates at 0.

    One row per latent dimension, one column per value in
    `linspace(-span, span, num_steps)`.

    Args:
        model: a `VCDModel`.
        path: where to write the PNG; missing parent folders are made.
        num_steps: values per dimension, >= 2.
        span: the largest |z_i| drawn, > 0 (in prior standard deviations).
        dims: the latent dimensions to draw (0-based, at most 10); the first
            `min(latent_dim, 10)` if None.
        image_shape: `(height, width)` of one example; inferred if None.

    Returns:
        The path written, as a string.

    Raises:
        ValueError: bad `num_steps`, `span` or `dims` (out of range, repeated, or
            more than 10).

    Example:

    >>> import os, tempfile, keras_vcd as kv
    >>> model = kv.zoo.load("vcd_mnist")
    >>> folder = tempfile.mkdtemp()
    >>> kv.plotting.plot_latent_traversal(model, os.path.join(folder, "traversal.png"))
    '.../traversal.png'
    """
    validation.check_int(num_steps, "num_steps", minimum=2)
    if not np.isfinite(span) or span <= 0:
        raise ValueError(f"span must be a finite number > 0, received {span!r}.")
    dims = _check_dims(dims, model.latent_dim)
    shape = _image_shape(model, image_shape)
    values = np.linspace(-span, span, num_steps, dtype="float32")
    z = np.zeros((len(dims), num_steps, model.latent_dim), dtype="float32")
    for row, dim in enumerate(dims):
        z[row, :, dim] = values
    means = _to_numpy(model.decode(z.reshape(-1, model.latent_dim)))
    images = means.reshape((len(dims), num_steps) + shape)
    grid = _grid(images, len(dims), num_steps)
    fig = _image_figure(grid, shape)
    ax = fig.axes[0]
    ax.set_yticks([_cell_centre(i, _tile_height(shape)) for i in range(len(dims))],
                  [f"$z_{{{d}}}$" for d in dims])
    ax.set_xticks([_cell_centre(j, shape[1]) for j in range(num_steps)],
                  ["0" if v == 0 else f"{v:+.3g}" for v in values], fontsize="small")
    ax.tick_params(length=0)
    ax.set_xlabel("value of the varied coordinate (others 0)")
    ax.set_title("Latent traversal: E[x | z]", fontsize="medium")
    return _save(fig, path)


def plot_training_curves(csv_path, path, target_accept_rate=0.9):
    """Draws the training metrics of a Keras `CSVLogger` file in four panels.

    Panels: ELBO (`elbo`, `val_elbo`); log p(x, z_T) (`log_lik_qt`,
    `val_log_lik_qt`); HMC acceptance rate (`hmc_accept_rate`,
    `val_hmc_accept_rate`, the target as a dashed line); HMC step size
    (`hmc_step_size`). A panel whose columns are absent or hold no numbers (e.g.
    the HMC panels of a plain VAE) says "not recorded". Values `NA` or empty (as
    `CSVLogger` writes for epochs without validation) are gaps. When an epoch
    appears more than once (a run resumed into the same file), its last row wins.

    Args:
        csv_path: the CSV file, with an `epoch` column.
        path: where to write the PNG; missing parent folders are made.
        target_accept_rate: where to draw the dashed target line.

    Returns:
        The path written, as a string.

    Raises:
        FileNotFoundError: `csv_path` does not exist.
        ValueError: the file has no `epoch` column, no rows, or a value that is
            not a number.

    Example:

    >>> import os, tempfile
    >>> from keras_vcd import plotting
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "log.csv"), "w") as f:
    ...     _ = f.write("epoch,elbo,loss\\n0,-200.5,201\\n1,-150.2,151\\n")
    >>> plotting.plot_training_curves(os.path.join(folder, "log.csv"),
    ...                               os.path.join(folder, "curves.png"))
    '.../curves.png'
    """
    columns = read_training_log(csv_path)
    epochs = columns["epoch"]
    panels = [
        ("ELBO", [("elbo", "train"), ("val_elbo", "validation")], None),
        (r"$\log p(x, z_T)$", [("log_lik_qt", "train"), ("val_log_lik_qt", "validation")],
         None),
        ("HMC acceptance rate",
         [("hmc_accept_rate", "train"), ("val_hmc_accept_rate", "validation")],
         target_accept_rate),
        ("HMC step size", [("hmc_step_size", "train")], None),
    ]
    fig = _new_figure(figsize=(10, 7))
    axes = fig.subplots(2, 2, sharex=True)
    for ax, (title, series, target) in zip(axes.ravel(), panels):
        ax.set_title(title, fontsize="medium")
        drawn = False
        for name, label in series:
            values = columns.get(name)
            if values is None or not np.isfinite(values).any():
                continue
            keep = np.isfinite(values)
            few = keep.sum() <= 50
            ax.plot(epochs[keep], values[keep], label=label, marker="o" if few else None,
                    markersize=3)
            drawn = True
        if not drawn:
            ax.text(0.5, 0.5, "not recorded", transform=ax.transAxes, ha="center",
                    va="center", color="0.4")
            ax.set_yticks([])
            continue
        if target is not None:
            ax.axhline(target, linestyle="--", color="0.3", linewidth=1,
                       label=f"target {target:g}")
        if title == "HMC step size":
            positive = columns["hmc_step_size"][np.isfinite(columns["hmc_step_size"])]
            if positive.min() > 0 and positive.max() / positive.min() > 20:
                ax.set_yscale("log")
        if len(ax.get_legend_handles_labels()[0]) > 1:
            ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("epoch")
        ax.tick_params(labelbottom=True)
    fig.suptitle(f"Training curves: {os.path.basename(os.fspath(csv_path))}",
                 fontsize="medium")
    return _save(fig, path)


def read_training_log(csv_path):
    """Reads a Keras `CSVLogger` file into numeric columns, one row per epoch.

    Rows are sorted by epoch; for an epoch logged more than once the last row is
    kept. `NA`, `nan` and empty cells become NaN. A header line repeated inside the
    file (files concatenated by hand) is skipped.

    Args:
        csv_path: path of the CSV file.

    Returns:
        Dict from column name to a float64 array; `"epoch"` holds the epochs.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: no `epoch` column, no data rows, or a cell that is not a number.

    Example:

    >>> import os, tempfile
    >>> from keras_vcd import plotting
    >>> log = os.path.join(tempfile.mkdtemp(), "log.csv")
    >>> with open(log, "w") as f:
    ...     _ = f.write("epoch,elbo\\n0,-200\\n1,-150\\n1,-140\\n")
    >>> plotting.read_training_log(log)["elbo"].tolist()
    [-200.0, -140.0]
    """
    csv_path = os.fspath(csv_path)
    if not os.path.isfile(csv_path):
        raise FileNotFoundError(f"Training log {csv_path!r} does not exist (or is not a file).")
    with open(csv_path, newline="") as f:
        reader = csv.DictReader(f)
        fieldnames = reader.fieldnames or []
        if "epoch" not in fieldnames:
            raise ValueError(
                f"{csv_path} has no 'epoch' column (found columns {fieldnames}); expected a "
                "keras.callbacks.CSVLogger file."
            )
        by_epoch = {}
        for line, row in enumerate(reader, start=2):
            if row.get("epoch") == "epoch":  # a repeated header
                continue
            parsed = {name: _parse_cell(row.get(name), csv_path, line, name)
                      for name in fieldnames if name}
            epoch = parsed["epoch"]
            if not np.isfinite(epoch):
                raise ValueError(f"{csv_path}, line {line}: the epoch is empty.")
            by_epoch.pop(epoch, None)  # the last occurrence wins
            by_epoch[epoch] = parsed
    if not by_epoch:
        raise ValueError(f"{csv_path} has a header but no rows: nothing to plot yet.")
    epochs = sorted(by_epoch)
    return {name: np.array([by_epoch[e][name] for e in epochs], dtype="float64")
            for name in fieldnames if name}


def write_all(model, x_test, output_dir, csv_path=None, seed=0):
    """Writes every picture of a model into `output_dir`, under fixed file names.

    `prior_samples.png`, `reconstructions.png` (the first 10 examples of
    `x_test`), `latent_traversal.png` and, if `csv_path` names an existing file,
    `training_curves.png`.

    Args:
        model: a `VCDModel`.
        x_test: array `(N, input_dim)` of examples to reconstruct.
        output_dir: the folder (made if missing).
        csv_path: a `CSVLogger` file, or None. A path that does not exist is
            skipped with a warning.
        seed: int seed of the random pictures (samples, reconstructions).

    Returns:
        Dict from picture name (`"prior_samples"`, `"reconstructions"`,
        `"latent_traversal"`, `"training_curves"` if drawn) to the path written.

    Example:

    >>> import numpy as np, tempfile, keras_vcd as kv
    >>> model = kv.zoo.load("vcd_mnist")
    >>> x = (np.random.default_rng(0).random((10, 784)) < 0.3).astype("float32")
    >>> sorted(kv.plotting.write_all(model, x, tempfile.mkdtemp()))
    ['latent_traversal', 'prior_samples', 'reconstructions']
    """
    output_dir = pathlib.Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)

    def target(name):
        return output_dir / FILE_NAMES[name]

    paths = {
        "prior_samples": plot_prior_samples(model, target("prior_samples"), seed=seed),
        "reconstructions": plot_reconstructions(model, x_test, target("reconstructions"),
                                                seed=seed),
        "latent_traversal": plot_latent_traversal(model, target("latent_traversal")),
    }
    if csv_path is not None:
        if os.path.isfile(os.fspath(csv_path)):
            paths["training_curves"] = plot_training_curves(csv_path,
                                                            target("training_curves"))
        else:
            warnings.warn(f"No training log at {os.fspath(csv_path)!r}; "
                          "training_curves.png not written.", stacklevel=2)
    return paths


# ---------------------------------------------------------------------- helpers


def _check_dims(dims, latent_dim):
    if dims is None:
        return list(range(min(latent_dim, MAX_TRAVERSAL_DIMS)))
    dims = [int(d) for d in np.atleast_1d(dims)]
    if not dims:
        raise ValueError("dims is empty; pass at least one latent dimension or None.")
    if len(dims) > MAX_TRAVERSAL_DIMS:
        raise ValueError(
            f"dims holds {len(dims)} dimensions; at most {MAX_TRAVERSAL_DIMS} are drawn."
        )
    bad = [d for d in dims if not 0 <= d < latent_dim]
    if bad:
        raise ValueError(
            f"dims {bad} out of range: the model has latent_dim={latent_dim} "
            f"(valid 0 to {latent_dim - 1})."
        )
    if len(set(dims)) != len(dims):
        raise ValueError(f"dims {dims} holds a dimension twice.")
    return dims


def _image_shape(model, image_shape):
    """`(height, width)` of one example: given, square, or a 1-pixel strip."""
    input_dim = int(model.input_dim)
    if image_shape is not None:
        image_shape = tuple(int(s) for s in image_shape)
        if len(image_shape) != 2 or image_shape[0] * image_shape[1] != input_dim:
            raise ValueError(
                f"image_shape must be (height, width) with height * width == input_dim "
                f"({input_dim}); received {image_shape}."
            )
        return image_shape
    side = math.isqrt(input_dim)
    return (side, side) if side * side == input_dim else (1, input_dim)


def _is_strip(shape):
    return shape[0] == 1 and shape[1] > 1


def _tile_height(shape):
    return _STRIP_HEIGHT if _is_strip(shape) else shape[0]


def _grid(images, rows, cols, group=None):
    """Tiles `images` of shape `(rows, cols, h, w)` into one array, NaN between tiles.

    With `group`, an extra gap of 3 pads separates every `group` rows.
    """
    # Written by hand: no library tiles images with gaps this simply.
    if _is_strip(images.shape[2:]):
        images = np.repeat(images, _STRIP_HEIGHT, axis=2)
    h, w = images.shape[2:]
    gap = lambda i: (_PAD * 3 * (i // group) if group else 0)  # noqa: E731
    height = rows * (h + _PAD) + _PAD + gap(rows - 1)
    width = cols * (w + _PAD) + _PAD
    grid = np.full((height, width), np.nan, dtype="float32")
    for i in range(rows):
        top = _PAD + i * (h + _PAD) + gap(i)
        for j in range(cols):
            left = _PAD + j * (w + _PAD)
            grid[top:top + h, left:left + w] = images[i, j]
    return grid


def _cell_centre(index, size):
    """Pixel coordinate of the centre of grid cell `index` along one axis."""
    return _PAD + index * (size + _PAD) + (size - 1) / 2


def _image_figure(grid, shape):
    """A figure with one axes showing `grid` at a readable size."""
    height, width = grid.shape
    if _is_strip(shape):
        # Strips: stretched vertically, about 0.1 inch per example.
        fig_w = 10.0
        fig_h = min(max(height * 0.025, 2.0), 14.0) + 1.0
        aspect = "auto"
    else:
        # About 0.9 inch per 28-pixel image, at least 3 inches, at most 14.
        scale = min(max(0.032 * 28 / max(shape), 3.0 / max(height, width)),
                    14.0 / max(height, width))
        fig_w = width * scale + 1.6
        fig_h = height * scale + 1.2
        aspect = "equal"
    fig = _new_figure(figsize=(fig_w, fig_h))
    ax = fig.add_subplot()
    cmap = _grey_cmap()
    ax.imshow(grid, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest", aspect=aspect)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    return fig


def _new_figure(figsize):
    figure = require("matplotlib.figure", extra="plots")
    return figure.Figure(figsize=figsize, dpi=_DPI, layout="constrained")


def _grey_cmap():
    matplotlib = require("matplotlib", extra="plots")

    return matplotlib.colormaps["gray"].with_extremes(bad="white")  # NaN: tile gaps


def _refined_label(model):
    refiner = getattr(model, "refiner", None)
    if getattr(model, "objective", None) == "elbo" or refiner is None \
            or getattr(refiner, "num_steps", 1) == 0:
        return "sample z0 (no HMC)"
    return f"HMC-refined z_T ({refiner.num_steps} steps)"


def _to_numpy(tensor):
    return np.asarray(keras.ops.convert_to_numpy(tensor), dtype="float32")


def _parse_cell(cell, csv_path, line, name):
    if cell is None:
        return np.nan  # a short row
    cell = cell.strip()
    if cell in ("", "NA", "N/A", "None"):
        return np.nan
    try:
        return float(cell)
    except ValueError:
        raise ValueError(
            f"{csv_path}, line {line}, column {name!r}: {cell!r} is not a number."
        ) from None


def _save(fig, path):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Always PNG, whatever the suffix: the Agg renderer, no display needed.
    fig.savefig(path, format="png", dpi=_DPI, facecolor="white", bbox_inches="tight",
                pad_inches=0.1)
    return str(path)
