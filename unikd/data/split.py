"""A deterministic train/test split for data that come without one (the official UCI archive, generic .npz files
without a `split` key).

Each domain is split on its own, class by class: round(30 %) of a class's windows (at least one when the class
has two or more) go to the test part, chosen by a random permutation seeded from (seed, domain id). A domain's
split therefore depends only on its own windows, the seed and its id: adding or removing other domains does not
change it. Rows keep their file order inside each part (`order`).
"""

from __future__ import annotations

import zlib

import numpy as np

DEFAULT_SEED = 0
TEST_FRACTION = 0.3


def describe(seed: int = DEFAULT_SEED, test_fraction: float = TEST_FRACTION) -> str:
    return (
        f"seeded stratified split, per domain and class {100 - round(100 * test_fraction)}/"
        f"{round(100 * test_fraction)} train/test (seed {seed}; not the AdaTime split)"
    )


def stratified_split(
    y: np.ndarray, domain: np.ndarray, seed: int = DEFAULT_SEED, test_fraction: float = TEST_FRACTION
) -> np.ndarray:
    """int8 (N,): 0 = train, 1 = test."""
    split = np.zeros(len(y), np.int8)
    for d in np.unique(domain):
        # crc32 of the id's text: a stable, non-negative seed part even for negative or large ids
        rng = np.random.default_rng([seed, zlib.crc32(str(int(d)).encode())])
        in_domain = domain == d
        for c in np.unique(y[in_domain]):
            rows = np.flatnonzero(in_domain & (y == c))
            n_test = int(round(test_fraction * len(rows)))
            if len(rows) >= 2:
                n_test = min(max(n_test, 1), len(rows) - 1)  # both parts see every class the domain has
            split[rows[rng.permutation(len(rows))[:n_test]]] = 1
    return split


def order_within_parts(domain: np.ndarray, split: np.ndarray) -> np.ndarray:
    """int64 (N,): position of each row inside its (domain, split) part, in file order."""
    order = np.zeros(len(domain), np.int64)
    for d in np.unique(domain):
        for s in (0, 1):
            rows = np.flatnonzero((domain == d) & (split == s))
            order[rows] = np.arange(len(rows))
    return order
