#!/usr/bin/env python3
"""Compares what two automl databases recorded, trial by trial and epoch by epoch.

    python3 scripts/compare-databases.py A.db B.db [--experiment NAME]

A or B may be a postgresql:// URL (read with Debian's python3-psycopg2).

Exits 0 when both hold the same experiment results: the same trials (matched by label) with the
same stage, method, seed, configuration, status and summary; the same epochs and per-layer
records with bit-identical numbers; the same stage decisions, LRRT table D and bounds, C1/C2
candidates and final results. What only measures time (seconds, device-seconds, heartbeats,
workers, attempts, timestamps) is left out, so a run that was killed and resumed can equal one
that was not. Reads schema version 2 (epochs' JSON `extra`) and 3 (typed columns) alike, so a
database of the previous release can be compared with one of this release. Exit 1 lists the
first differences. Independent of the C++ code on purpose: it reads the files with Python's
sqlite3 only.
"""
import argparse
import json
import sqlite3
import sys

EPOCH_FIELDS = ["lr", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "ity",
                "bound", "train_mae", "test_mae", "validation_accuracy", "validation_mae"]
# Measured, not computed: how long things took, and when a remembered placement was measured.
TIMING_KEYS = {"seconds", "seconds_per_epoch", "estimated_device_seconds", "images_per_second",
               "measured_at"}


class Postgres:
    """A PostgreSQL database (postgresql:// URL, through Debian's python3-psycopg2) behind the
    few calls this script makes of an sqlite3 connection."""

    def __init__(self, url):
        import psycopg2  # only where a URL is compared
        self.connection = psycopg2.connect(url)
        self.connection.set_session(readonly=True)

    def execute(self, sql, params=()):
        cursor = self.connection.cursor()
        cursor.execute(sql.replace("?", "%s"), params)
        return cursor


def connect(location):
    if location.startswith(("postgresql://", "postgres://")):
        return Postgres(location)
    return sqlite3.connect(f"file:{location}?mode=ro", uri=True)


def columns(db, table):
    if isinstance(db, Postgres):
        return {row[0] for row in db.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", (table,))}
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def trial_config(text):
    """A trial's stored configuration; one without "format" (earlier releases) is format 1."""
    config = json.loads(text)
    config.setdefault("format", 1)
    return config


def without_timing(value):
    """A JSON value with every key that measures time removed, recursively."""
    if isinstance(value, dict):
        return {k: without_timing(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [without_timing(v) for v in value]
    return value


def experiment_id(db, name):
    rows = db.execute("SELECT id, name FROM experiments ORDER BY id").fetchall()
    if name is not None:
        rows = [r for r in rows if r[1] == name]
    if len(rows) != 1:
        sys.exit(f"expected one experiment{' named ' + name if name else ''}, found {len(rows)}")
    return rows[0][0]


def load(path, name):
    db = connect(path)
    eid = experiment_id(db, name)
    record = {}
    labels = {}
    for tid, label, stage, status, seed, config, summary in db.execute(
            "SELECT id, label, stage, status, seed, config, summary FROM trials "
            "WHERE experiment_id = ?", (eid,)):
        labels[tid] = label
        record[("trial", label)] = (stage, status, seed, trial_config(config),
                                    without_timing(json.loads(summary or "{}")))
    typed = "bound" in columns(db, "epochs")
    select = ", ".join(EPOCH_FIELDS) if typed else "lr, train_loss, train_accuracy, test_loss, " \
        "test_accuracy, ity, extra"
    for row in db.execute(f"SELECT trial_id, epoch, {select} FROM epochs WHERE trial_id IN "
                          "(SELECT id FROM trials WHERE experiment_id = ?)", (eid,)):
        tid, epoch, values = row[0], row[1], list(row[2:])
        if not typed:
            extra = json.loads(values.pop() or "{}")
            values += [extra.get(k, 0.0) for k in EPOCH_FIELDS[6:]]
        record[("epoch", labels[tid], epoch)] = tuple(values)
    for tid, epoch, group, *values in db.execute(
            "SELECT trial_id, epoch, name, lr, ity, d_p, d_p_raw, d_s, decision FROM epoch_groups "
            "WHERE trial_id IN (SELECT id FROM trials WHERE experiment_id = ?)", (eid,)):
        record[("group", labels[tid], epoch, group)] = tuple(values)
    for stage, status, decision in db.execute(
            "SELECT name, status, decision FROM stages WHERE experiment_id = ?", (eid,)):
        record[("stage", stage)] = (status, without_timing(json.loads(decision)))
    for table, key in [("lrrt_table", "trial, lr"), ("lrrt_bounds", "scope"),
                       ("c1c2_candidates", "round, c1, c2")]:
        cursor = db.execute(f"SELECT * FROM {table} WHERE experiment_id = ? ORDER BY {key}", (eid,))
        names = [d[0] for d in cursor.description]
        for row in cursor:
            values = dict(zip(names, row))
            values.pop("experiment_id")
            values.pop("rowid", None)  # PostgreSQL's explicit row order (SQLite's is implicit)
            record[(table, tuple(values[k.strip()] for k in key.split(",")))] = values
    for method, seed, tid, *values in db.execute(
            "SELECT method, seed, trial_id, lr, final_test_accuracy, best_test_accuracy, "
            "final_test_mae, status FROM results WHERE experiment_id = ?", (eid,)):
        record[("result", method, seed)] = (labels.get(tid), *values)
    return record


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--experiment")
    args = parser.parse_args()
    a, b = load(args.a, args.experiment), load(args.b, args.experiment)
    differences = [f"only in {args.a}: {key}" for key in sorted(a.keys() - b.keys(), key=str)]
    differences += [f"only in {args.b}: {key}" for key in sorted(b.keys() - a.keys(), key=str)]
    differences += [f"differs: {key}\n  {a[key]}\n  {b[key]}"
                    for key in sorted(a.keys() & b.keys(), key=str) if a[key] != b[key]]
    kinds = {}
    for key in a:
        kinds[key[0]] = kinds.get(key[0], 0) + 1
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    if differences:
        print(f"{len(differences)} difference(s) between {args.a} and {args.b}:")
        print("\n".join(differences[:20]))
        return 1
    print(f"identical: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
