#!/usr/bin/python3
"""NPEET's KSG mutual information, transcribed for a side-by-side anchor with `automl mi`.

The functions mi, add_noise, query_neighbors, count_neighbors and avgdigamma below are a
transcription of NPEET (Non-parametric Entropy Estimation Toolbox), entropy_estimators.py,
by Greg Ver Steeg, https://github.com/gregversteeg/NPEET, MIT license:

    Copyright (c) 2016 Greg Ver Steeg
    Permission is hereby granted, free of charge, to any person obtaining a copy of this
    software and associated documentation files (the "Software"), to deal in the Software
    without restriction, including without limitation the rights to use, copy, modify, merge,
    publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons
    to whom the Software is furnished to do so, subject to the following conditions: The above
    copyright notice and this permission notice shall be included in all copies or substantial
    portions of the Software. THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.

Only what mi(x, y, k=3, base=2) without z uses is kept. The one change: scipy >= 1.9 renamed
cKDTree's n_jobs=-1 to workers=-1 (all cores), so that is what is passed. The algorithm is
NPEET's: 1e-10 uniform noise on every coordinate, a cKDTree on the joint points queried for
k + 1 neighbours in the max-norm (p = inf; the first is the point itself), then in each
marginal the number of points within eps - 1e-15 (the point itself included, hence
psi(n_x + 1) of KSG), and (-a - b + psi(k) + psi(N)) / log(base).

Usage: npeet_reference.py X.csv Y.csv [--k 3] [--seed 0]
X and Y are comma-separated tables with one sample per row (as `automl mi` reads them). Prints
the estimate in bits (NPEET's base 2) and in nats, and NPEET's own time (without reading).
"""
import argparse
import sys
import time
from math import log

import numpy as np
import scipy.spatial as ss
from scipy.special import digamma


def mi(x, y, k=3, base=2):
    """Mutual information of x and y; x, y are [n, d] arrays (NPEET's mi without z)."""
    assert len(x) == len(y), "Arrays should have same length"
    assert k <= len(x) - 1, "Set k smaller than num. samples - 1"
    x, y = np.asarray(x), np.asarray(y)
    x, y = x.reshape(x.shape[0], -1), y.reshape(y.shape[0], -1)
    x = add_noise(x)
    y = add_noise(y)
    points = np.hstack([x, y])
    # Find nearest neighbors in joint space, p=inf means max-norm
    tree = ss.cKDTree(points)
    dvec = query_neighbors(tree, points, k)
    a, b, c, d = avgdigamma(x, dvec), avgdigamma(y, dvec), digamma(k), digamma(len(x))
    return (-a - b + c + d) / log(base)


def add_noise(x, intens=1e-10):
    # small noise to break degeneracy, see doc.
    return x + intens * np.random.random_sample(x.shape)


def query_neighbors(tree, x, k):
    return tree.query(x, k=k + 1, p=float("inf"), workers=-1)[0][:, k]


def count_neighbors(tree, x, r):
    return np.asarray(tree.query_ball_point(x, r, p=float("inf"), workers=-1, return_length=True))


def avgdigamma(points, dvec):
    # This part finds number of neighbors in some radius in the marginal space
    # returns expectation value of <psi(nx)>
    n_elements = len(points)
    tree = ss.cKDTree(points)
    dvec = dvec - 1e-15
    num_points = count_neighbors(tree, points, dvec)
    return np.sum(digamma(num_points)) / n_elements


def read_table(path):
    """A CSV table as `automl mi` reads it: a first row with a non-numeric cell is a header."""
    with open(path) as f:
        first = f.readline()
    try:
        [float(cell) for cell in first.split(",")]
        skip = 0
    except ValueError:
        skip = 1
    return np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("x")
    parser.add_argument("y")
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0, help="seeds numpy's noise generator")
    args = parser.parse_args()
    x, y = read_table(args.x), read_table(args.y)
    np.random.seed(args.seed)
    start = time.perf_counter()
    bits = mi(x, y, k=args.k, base=2)
    seconds = time.perf_counter() - start
    print(f"# {len(x)} rows, dX = {x.shape[1]}, dY = {y.shape[1]}, k = {args.k}, "
          f"NPEET mi() took {seconds:.2f} s")
    print(f"bits {bits:.10g}")
    print(f"nats {bits * log(2):.10g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
