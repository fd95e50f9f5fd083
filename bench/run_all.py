"""Run the benchmarks under bench/ and print their summaries (results: bench/out/, git-ignored).

    .venv/bin/python bench/run_all.py                       # the engine benchmark, 1,000,000 students
    .venv/bin/python bench/run_all.py --n 100000            # quicker
    .venv/bin/python bench/run_all.py --with demo --with load --only
        # `aid demo-data --students 1000000` on PostgreSQL, then the 50-client load test against it

`--with NAME` adds an optional benchmark (demo: bench/demo_bench.py; load: bench/load.py, which needs
the province demo leaves in h6_demo_bench; registry: bench/registry_bench.py, ingest with two agency clients
and redetermine at 1,000,000 students); `--only` skips the default ones. Other arguments are
passed on to the default benchmarks. Copy the numbers into docs/benchmarks.md with the command, the
machine and the date.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _engine(argv: list[str]) -> None:
    import engine_bench

    engine_bench.main(argv)


def _demo(_argv: list[str]) -> None:
    import demo_bench

    demo_bench.main([])


def _registry(_argv: list[str]) -> None:
    import registry_bench

    # issue 3's figures: 1,000,000 records in 100 batches from two agencies at once, and redetermine at 1 M
    registry_bench.main(["--runs", "1", "--workers", "2"])


def _load(_argv: list[str]) -> None:
    import load

    # served as docs/deployment.md advises for one host: the feed routes in a pool of their own at a lower CPU
    # weight, and PostgreSQL over its Unix socket when the local server has one in the usual place
    argv = ["--database", "h6_demo_bench", "--pool-size", "25", "--feed-workers", "1", "--feed-nice", "10"]
    if Path("/var/run/postgresql/.s.PGSQL.5432").exists():
        argv += ["--socket-dir", "/var/run/postgresql"]
    load.main(argv)


DEFAULT = {"engine": _engine}
OPTIONAL = {"demo": _demo, "load": _load, "registry": _registry}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--with", dest="extra", action="append", choices=sorted(OPTIONAL), default=[])
    parser.add_argument("--only", action="store_true")
    args, rest = parser.parse_known_args(argv)
    chosen = ({} if args.only else dict(DEFAULT)) | {name: OPTIONAL[name] for name in args.extra}
    for name, run in chosen.items():
        print(f"== {name}", flush=True)
        run(rest)


if __name__ == "__main__":
    main(sys.argv[1:])
