"""Run every benchmark (or one), write ``bench/results/<name>.json``, ``RESULTS.md`` and the README table.

    python -m agentwatch.bench.run [--quick] [--only NAME[,NAME]] [--out-dir DIR] [--no-readme]

``make bench`` runs the full set (about 50 minutes on 2 CPUs, 18 of them the rule-cost benchmark);
``make bench-quick`` the short one.
A benchmark that fails is reported and the others still run; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import importlib
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from agentwatch.bench.report import ORDER, QUICK_DIR, README, RESULTS_DIR, write_reports

__all__ = ["BENCHMARKS", "main"]

#: Benchmark name → module, in issue order (the names are also the result file names).
BENCHMARKS = {name: f"agentwatch.bench.{name}" for name in ORDER}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short version of every benchmark")
    parser.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--out-dir", type=Path, default=None,
                        help="default bench/results (quick: bench/results/quick, not committed)")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite the README table")
    parser.add_argument("--no-pin", action="store_true")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}")
    out_dir = args.out_dir or (QUICK_DIR if args.quick else RESULTS_DIR)
    failed = []
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        start = time.perf_counter()
        options = ["--out-dir", str(out_dir)] + (["--quick"] if args.quick else []) + \
            (["--no-pin"] if args.no_pin else [])
        try:
            importlib.import_module(BENCHMARKS[name]).main(options)
        except Exception:
            traceback.print_exc()
            failed.append(name)
        print(f"=== {name}: {time.perf_counter() - start:.0f} s ===", flush=True)
    # The README table shows committed full results only, never a quick run's.
    readme = None if args.no_readme or out_dir.resolve() != RESULTS_DIR.resolve() else README
    print(f"wrote {write_reports(out_dir, readme)}" + ("" if readme is None else f" and {readme}"))
    if failed:
        print(f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
