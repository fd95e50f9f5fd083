"""Run every benchmark under bench/ and print their summaries (results: bench/out/, git-ignored).

    .venv/bin/python bench/run_all.py            # 1,000,000 students
    .venv/bin/python bench/run_all.py --n 100000 # quicker

Arguments are passed on to each benchmark. Copy the numbers into docs/benchmarks.md with the
command, the machine and the date.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import engine_bench

BENCHES = [("engine", engine_bench.main)]


def main(argv: list[str]) -> None:
    for name, run in BENCHES:
        print(f"== {name}", flush=True)
        run(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
