"""Wall-clock timing: a warm-up call, timed repeats, their median, progress lines."""

import time

import numpy as np


class Progress:
    """Progress lines `[bench   12.3s] message`, timed from when it was made.

    Args:
        verbose: 1 prints each line, 0 prints nothing.

    Example:

    >>> progress = Progress(verbose=0)
    >>> progress.log("not printed")
    >>> progress.elapsed() >= 0
    True
    """

    def __init__(self, verbose=1):
        self.verbose = verbose
        self.start = time.perf_counter()

    def log(self, message):
        if self.verbose:
            print(f"[bench {self.elapsed():6.1f}s] {message}", flush=True)

    def elapsed(self):
        """Seconds since this was made."""
        return time.perf_counter() - self.start


def median(values):
    """The median as a float.

    >>> median([3, 1, 2])
    2.0
    """
    return float(np.median(values))


def time_calls(call, repeats, warmup=None):
    """Times one warm-up call, then `repeats` calls of `call`.

    The warm-up is timed apart: it is where TensorFlow traces and XLA compiles, which
    says nothing about the speed of a step.

    Args:
        call: a function of no arguments; it must wait for its own result (e.g. read
            it back as a float), or the time is that of dispatching it.
        repeats: how many timed calls.
        warmup: the warm-up function of no arguments; None calls `call`.

    Returns:
        `(warm-up seconds, list of the seconds of each repeat)`.

    Example:

    >>> warmup_seconds, seconds = time_calls(lambda: sum(range(1000)), repeats=3)
    >>> len(seconds)
    3
    """
    start = time.perf_counter()
    (warmup or call)()
    warmup_seconds = time.perf_counter() - start
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    return warmup_seconds, seconds


def timing_record(seconds, iterations, batch_size):
    """A timing record from per-repeat wall times of `iterations` iterations each.

    Returns:
        A dict: the median `seconds_per_iteration` and `seconds_per_example`, and
        what they were measured over.

    Example:

    >>> record = timing_record([2.0, 1.0, 3.0], iterations=10, batch_size=100)
    >>> record["seconds_per_iteration"], record["seconds_per_example"]
    (0.2, 0.002)
    """
    per_iteration = [s / iterations for s in seconds]
    per_iteration_median = median(per_iteration)
    return {
        "seconds_per_iteration": per_iteration_median,
        "seconds_per_example": per_iteration_median / batch_size,
        "iterations_per_repeat": iterations,
        "repeats": len(seconds),
        "seconds_per_iteration_all": per_iteration,
        "batch_size": batch_size,
    }
