"""A minibench run's results.jsonl against the schema of docs/bench.md, for the bench tests'
checks (tests/host/bench_minibench.sh, bench_migrate.sh, bench_density_check.py): imported,
not run."""
import json
import os
import sys

SCHEMA = {"experiment", "backend", "workload", "guests", "run", "metric", "value", "unit"}


def records(d, extra=()):
    """[(line number, record)] of DIR/results.jsonl: not empty, every line a JSON object with
    the schema's keys and no others but extra; else exits 1 with FAIL: and the line."""
    with open(os.path.join(d, "results.jsonl")) as f:
        lines = f.read().splitlines()
    if not lines:
        sys.exit("FAIL: results.jsonl is empty")
    out = []
    for n, line in enumerate(lines, 1):
        r = json.loads(line)
        keys = set(r)
        if not SCHEMA <= keys or not keys - SCHEMA <= set(extra):
            sys.exit(f"FAIL: results.jsonl line {n}: missing {sorted(SCHEMA - keys)}, "
                     f"unexpected {sorted(keys - SCHEMA - set(extra))}")
        out.append((n, r))
    return out
