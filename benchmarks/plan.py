"""Planning speed and memory.

(a) 10,000 tokens sampled from a manifest with over 100,000 combinations and a few exclusions;
(b) the same with exact counts on two values (`count:`);
(c) re-planning (a) after adding an exclusion, the old plan.json in place (kept/replaced report);
(d) `supply: all` over 1,000,000+ combinations, plan.json streamed to disk.
Each case runs in a fresh process: wall time, and peak resident memory (ru_maxrss) of
that process, which includes the interpreter and imports (~60 MiB) — measured beside
a process that only imports, so the planner's own share shows.

    python benchmarks/plan.py
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from collection.plan.manifest import load_manifest
from collection.plan.plan_step import make_plan
from collection.plan.planner import count_combinations, plan_tokens


def manifest(values: list[int], supply, exclusions: list[dict]) -> dict:
    cats = {f"c{i}": {f"v{i}_{j}": (j % 7) + 1 for j in range(n)} for i, n in enumerate(values)}
    return {
        "collection": {"name": "Bench", "symbol": "B", "seed": 1, "supply": supply, "shuffle": True},
        "render": {"models": "tiny"},
        "prompt": {"template": " ".join(f"{{c{i}}}" for i in range(len(values)))},
        "traits": cats,
        "exclude": exclusions,
    }


def run_case(doc: dict, write: bool, before: dict | None = None) -> dict:
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "manifest.yaml"
        if before is not None:  # plan the unedited manifest first; time only the re-plan
            f.write_text(json.dumps(before))
            make_plan(load_manifest(f), Path(d) / "build")
        f.write_text(json.dumps(doc))
        t0 = time.perf_counter()
        m = load_manifest(f)
        total, allowed = count_combinations(m.categories, m.exclusions)
        if write:
            summary = make_plan(m, Path(d) / "build")
            n = summary.tokens
            size = (Path(d) / "build" / "plan.json").stat().st_size
        else:
            n = sum(1 for _ in plan_tokens(m))
            size = 0
        dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"total": total, "tokens": n, "seconds": dt, "rss": rss, "size": size / 2**20}


EXCL = [{"c0": "v0_1", "c1": "v1_2"}, {"c2": ["v2_0", "v2_3"], "c3": "v3_4"}, {"c1": "v1_0"}]


def with_counts(doc: dict) -> dict:
    doc["traits"]["c0"]["v0_3"] = {"weight": 1, "count": 50}
    doc["traits"]["c0"]["v0_5"] = {"weight": 1, "count": 1500}
    return doc


CASES = {
    "imports only": None,
    "10,000 of 160,000 (tokens only)": (manifest([20, 20, 20, 20], 10_000, EXCL), False),
    "10,000 of 160,000 (+ plan.json)": (manifest([20, 20, 20, 20], 10_000, EXCL), True),
    "10,000 of 160,000, 2 counts (+ plan.json)": (with_counts(manifest([20, 20, 20, 20], 10_000, EXCL)), True),
    "re-plan 10,000 after +1 exclusion": (manifest([20, 20, 20, 20], 10_000, EXCL + [{"c2": "v2_7"}]), True,
                                          manifest([20, 20, 20, 20], 10_000, EXCL)),
    "all of 1,000,000 (tokens only)": (manifest([100, 100, 100], "all", EXCL[:1]), False),
    "all of 1,000,000 (+ plan.json)": (manifest([100, 100, 100], "all", EXCL[:1]), True),
}


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--case":
        case = CASES[sys.argv[2]]
        if case is None:
            out = {"total": 0, "tokens": 0, "seconds": 0.0, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "size": 0}
        else:
            out = run_case(*case)
        print(json.dumps(out))
        return
    t = Table(title="planning (fresh process per case)")
    for col in ("case", "combinations", "tokens", "seconds", "peak RSS MiB", "plan.json MiB"):
        t.add_column(col, justify="left" if col == "case" else "right")
    for name in CASES:
        p = subprocess.run([sys.executable, __file__, "--case", name], capture_output=True, text=True, check=True)
        r = json.loads(p.stdout.strip().splitlines()[-1])
        t.add_row(name, f"{r['total']:,}", f"{r['tokens']:,}", f"{r['seconds']:.2f}", f"{r['rss']:.0f}", f"{r['size']:.0f}" if r["size"] else "-")
    Console(width=120).print(t)


if __name__ == "__main__":
    main()
