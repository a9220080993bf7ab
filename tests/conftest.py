"""Shared test set-up: every test run gets its own cache folder, so converted masks from one run
(or from the user's own datasets) never leak into another."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    from segutils import config

    saved = os.environ.get(config.CACHE_ENV)
    os.environ[config.CACHE_ENV] = str(tmp_path_factory.mktemp("segutils_cache"))
    yield
    if saved is None:
        os.environ.pop(config.CACHE_ENV, None)
    else:
        os.environ[config.CACHE_ENV] = saved


@pytest.fixture(scope="session")
def builtin_dataset(tmp_path_factory):
    """``builtin_dataset(n, (h, w), seed)``: a built-in dataset folder, each one made once per
    test run. Tests that change files copy the folder first."""
    from segutils.data import synthetic

    made = {}

    def make(n: int, size=(24, 32), seed: int = 0):
        key = (int(n), tuple(size), int(seed))
        if key not in made:
            made[key] = synthetic.generate(tmp_path_factory.mktemp("builtin") / "street",
                                           n=n, size=size, seed=seed, progress=False)
        return made[key]

    return make
