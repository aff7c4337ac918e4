#!/usr/bin/python3
"""Fits the cost constants of the KSG engine choice (mi/ksg_cpu.cpp, "Cost per unit").

    build/bench/bench_mi --calibrate --reps 11 > calib.txt
    /usr/bin/python3 bench/mi_calibrate.py calib.txt

bench_mi --calibrate prints, per input, the single-thread CPU ms of the k-d tree and of the scan
and the probe's work counts per sampled query. The per-query time of each engine is modelled as
a non-negative combination of its counts (non-negative least squares on the relative error, so
small and large inputs weigh alike); the script prints the constants to paste and, per input,
whether the fitted costs pick the faster engine and what a wrong pick costs.
"""
import sys

import numpy as np
from scipy.optimize import nnls

TREE = ["kTreeQueryCost", "kTreeLeafCoordCost", "kTreeNodeCost"]
SCAN = ["kScanQueryCost", "kScanKnnCoordCost", "kScanCountCoordCost", "kScanCountBoxCost",
        "kScanExactCost"]
TREE_CLEAR_FRACTION = 0.1  # kTreeClearFraction in mi/ksg_cpu.cpp


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            kind, *values = line.split()
            rows.append([kind] + [float(v) for v in values])
    return rows


def fit(features, per_query_ns):
    weight = 1.0 / per_query_ns
    coef, _ = nnls(features * weight[:, None], per_query_ns * weight)
    return coef


def main():
    rows = load(sys.argv[1] if len(sys.argv) > 1 else "/dev/stdin")
    kinds = [r[0] for r in rows]
    (n, dt, dy, tree_ms, scan_ms, leaf_coords, nodes, knn_coords, _cand, knn_exact, count_coords,
     count_boxes, count_exact) = np.array([r[1:] for r in rows]).T
    dj = dt + dy
    ones = np.ones_like(n)
    # The same combinations as tree_cost() and scan_cost() in mi/ksg_cpu.cpp (pass 2 is
    # measured on the sample's own side: half of it is the sample's share).
    tree_x = np.stack([ones, leaf_coords, nodes * dj], 1)
    scan_x = np.stack([ones, knn_coords, 0.5 * count_coords, 0.5 * count_boxes,
                       (knn_exact + 0.5 * count_exact) * dj], 1)
    tree_t, scan_t = tree_ms * 1e6 / n, scan_ms * 1e6 / n
    tree_c, scan_c = fit(tree_x, tree_t), fit(scan_x, scan_t)
    for name, value in list(zip(TREE, tree_c)) + list(zip(SCAN, scan_c)):
        print(f"constexpr double {name} = {value:.4g};")
    tree_p, scan_p = tree_x @ tree_c, scan_x @ scan_c
    # kAuto takes the tree without comparing when its kNN touched under 10 % of the points.
    clear = leaf_coords / dj < TREE_CLEAR_FRACTION * n
    wrong = 0
    for i in range(len(n)):
        picks_tree = clear[i] or tree_p[i] < scan_p[i]
        right = (tree_t[i] < scan_t[i]) == picks_tree
        cost = max(tree_t[i], scan_t[i]) / min(tree_t[i], scan_t[i]) - 1
        wrong += not right
        how = "tree (clear)" if clear[i] else f"fitted {tree_p[i] / scan_p[i]:5.2f}"
        print(f"{kinds[i]:8s} n={int(n[i]):6d} {int(dt[i]):3d}+{int(dy[i]):<3d} tree/scan time "
              f"{tree_t[i] / scan_t[i]:5.2f}, {how}"
              + ("" if right else f"  wrong pick: {100 * cost:.0f} % slower"))
    print(f"{wrong} wrong picks of {len(n)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
