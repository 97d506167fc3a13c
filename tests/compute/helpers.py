"""Shared helpers for the pure computation tests (no database)."""

from __future__ import annotations

import math

import numpy as np

TOL = 1e-9


def close(actual, expected, tol: float = TOL) -> bool:
    """|a - b| <= tol * max(1, |b|): absolute for values of order 1, relative for large ones."""
    if actual is None or expected is None:
        return actual is expected
    a, b = float(actual), float(expected)
    if math.isnan(b):
        return math.isnan(a)
    return abs(a - b) <= tol * max(1.0, abs(b))


def integer_feature(rng: np.random.Generator, n: int, high: int = 6) -> np.ndarray:
    """Integer-valued floats: most values sit exactly on a decile edge."""
    return rng.integers(0, high, size=n).astype(np.float64)


def with_nulls(rng: np.random.Generator, x: np.ndarray, share: float = 0.05) -> np.ndarray:
    x = x.astype(np.float64).copy()
    x[rng.random(x.size) < share] = np.nan
    return x
