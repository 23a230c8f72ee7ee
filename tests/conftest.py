"""Shared fixtures; the helpers they use (tiny models, synthetic data) are in helpers.py."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from helpers import prototype_data  # noqa: E402


@pytest.fixture
def data():
    return prototype_data()
