"""Engine benchmarks on generated students (default 1,000,000): per-record, columnar, `aid evaluate`, memory.

    .venv/bin/python bench/engine_bench.py                 # everything, 1M students
    .venv/bin/python bench/engine_bench.py --n 200000 --runs 3 --skip-cli

(a) per-record compiled path without trace: µs/student on already-normalised facts, and
    validate_facts + evaluate from JSON-like raw facts;
(b) columnar path in memory: students/s, and the ratio to the hand-written polars baseline
    (`handwritten_polars.py`) measured in the same run, interleaved (both checked to agree);
(c) `flask --app wsgi aid evaluate` end to end on a Parquet file (subprocess; median of the runs;
    also hyperfine when installed);
(d) peak RSS of each phase (each runs in its own process) and of the CLI.

Each phase runs in a fresh interpreter so its peak RSS is its own. Results: a table on stdout
and JSON in bench/out/engine.json (git-ignored). Times are medians; machine load is recorded
because the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
AS_OF = date(2020, 9, 1)
SEED = 2020


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def facts_file(n: int) -> Path:
    """The generated students as a Parquet file (external representation), made once per n."""
    path = OUT / f"facts-{n}.parquet"
    if not path.exists():
        from aidservice.demo.facts import generate_facts

        OUT.mkdir(parents=True, exist_ok=True)
        generate_facts(n, SEED).write_parquet(path)
    return path


def internal_frame(n: int):
    import polars as pl

    from aidservice.engine import load_rules
    from aidservice.engine.batch_validate import validate

    ruleset = load_rules(REPO / "rules")
    facts, problems = validate(ruleset, pl.read_parquet(facts_file(n)))
    assert problems.height == 0, problems.head()
    return ruleset, facts.drop("__row")


# ------------------------------------------------------------------------------------- phases


def phase_generate(n: int, runs: int) -> dict:
    from aidservice.demo.facts import generate_facts

    times = []
    for _ in range(runs):
        start = time.perf_counter()
        generate_facts(n, SEED)
        times.append(time.perf_counter() - start)
    return {"generate_s": statistics.median(times), "runs": runs}


def phase_record(n: int, runs: int, n_validate: int) -> dict:
    import polars as pl

    ruleset, facts = internal_frame(n)
    names = list(ruleset.rules.facts)
    rows = facts.select(names).with_columns(pl.col("stage", "city_code").cast(pl.String)).to_dicts()
    evaluate = ruleset.compiled(AS_OF)
    evaluate(rows[0])
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for row in rows:
            evaluate(row)
        times.append(time.perf_counter() - start)
    record_us = statistics.median(times) / len(rows) * 1e6
    # validate + evaluate from raw facts as the JSON API receives them (money as strings, nulls left out)
    raw = pl.read_parquet(facts_file(n)).head(n_validate).drop("student_id")
    raw = raw.with_columns(pl.col(c).cast(pl.String) for c, t in raw.schema.items() if t.is_decimal())
    raw_rows = [{k: v for k, v in r.items() if v is not None} for r in raw.to_dicts()]
    vtimes = []
    for _ in range(runs):
        start = time.perf_counter()
        for row in raw_rows:
            evaluate(ruleset.validate_facts(row))
        vtimes.append(time.perf_counter() - start)
    # the reference evaluator with its trace, for scale
    sample = rows[:20_000]
    start = time.perf_counter()
    for row in sample:
        ruleset.explain(row, AS_OF)
    reference_us = (time.perf_counter() - start) / len(sample) * 1e6
    return {
        "students": len(rows),
        "record_us_per_student": record_us,
        "record_runs_s": times,
        "validate_students": len(raw_rows),
        "validate_evaluate_us_per_student": statistics.median(vtimes) / len(raw_rows) * 1e6,
        "reference_trace_us_per_student": reference_us,
        "peak_rss_mb": peak_rss_mb(),
    }


def phase_columnar(n: int, runs: int) -> dict:
    import polars as pl

    sys.path.insert(0, str(REPO / "bench"))
    from handwritten_polars import handwritten

    from aidservice.engine.columnar import compile_frame
    from aidservice.engine.columnar_compiler import result_columns

    ruleset, facts = internal_frame(n)
    run = compile_frame(ruleset.rules, AS_OF)
    as_text = facts.with_columns(pl.col("stage", "city_code").cast(pl.String))
    columns = result_columns(ruleset.rules)
    agree = run(facts).select(columns).equals(handwritten(facts).select(columns))
    timings: dict[str, list[float]] = {"columnar": [], "handwritten": [], "columnar_text_enums": []}
    for _ in range(runs):  # interleaved, so both see the same machine load
        for name, fn, frame in (
            ("columnar", run, facts),
            ("handwritten", handwritten, facts),
            ("columnar_text_enums", run, as_text),
        ):
            start = time.perf_counter()
            fn(frame)
            timings[name].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in timings.items()}
    return {
        "students": facts.height,
        "columnar_s": med["columnar"],
        "handwritten_s": med["handwritten"],
        "columnar_text_enums_s": med["columnar_text_enums"],
        "columnar_students_per_s": facts.height / med["columnar"],
        "handwritten_students_per_s": facts.height / med["handwritten"],
        "ratio_columnar_to_handwritten_time": med["columnar"] / med["handwritten"],
        "runs_s": timings,
        "outputs_agree": agree,
        "peak_rss_mb": peak_rss_mb(),
    }


def phase_cli(n: int, runs: int) -> dict:
    source = facts_file(n)
    target = OUT / f"out-{n}.parquet"
    command = [
        str(Path(sys.executable).with_name("flask")),
        "--app",
        "wsgi",
        "aid",
        "evaluate",
        "--input",
        str(source),
        "--output",
        str(target),
        "--as-of",
        AS_OF.isoformat(),
    ]
    times, rss = [], []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(
            ["/usr/bin/time", "-f", "%M", *command] if Path("/usr/bin/time").exists() else command,
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(done.stderr)
        last = done.stderr.strip().splitlines()[-1]
        if last.isdigit():
            rss.append(int(last) / 1024)
    result = {
        "command": " ".join(command).replace(str(REPO) + "/", ""),
        "runs_s": times,
        "median_s": statistics.median(times),
        "peak_rss_mb": max(rss) if rss else None,
    }
    startup = []  # the same interpreter and Flask app start-up without the work: `aid --help`
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [command[0], "--app", "wsgi", "aid", "--help"], cwd=REPO, capture_output=True, check=True
        )
        startup.append(time.perf_counter() - start)
    result["startup_runs_s"] = startup
    result["startup_median_s"] = statistics.median(startup)
    hyperfine = shutil.which("hyperfine")
    if hyperfine:
        export = OUT / "hyperfine-cli.json"
        shell_command = " ".join(command)
        subprocess.run(
            [
                hyperfine,
                "--warmup",
                "1",
                "--runs",
                str(max(runs, 5)),
                "--export-json",
                str(export),
                shell_command,
            ],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        data = json.loads(export.read_text())["results"][0]
        result["hyperfine"] = {
            "median_s": data["median"],
            "mean_s": data["mean"],
            "stddev_s": data["stddev"],
            "min_s": data["min"],
            "runs": len(data["times"]),
        }
    return result


# --------------------------------------------------------------------------------------- main


def machine() -> dict:
    def sh(cmd: str) -> str:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()

    import polars as pl

    return {
        "date": datetime.now().isoformat(timespec="seconds"),
        "nproc": sh("nproc"),
        "lscpu": sh("lscpu | head -20"),
        "free": sh("free -h"),
        "loadavg_before": sh("cat /proc/loadavg"),
        "python": platform.python_version(),
        "polars": pl.__version__,
        "commit": sh(f"git -C {REPO} rev-parse --short HEAD"),
    }


def child(phase: str, args: argparse.Namespace) -> dict:
    command = [
        sys.executable,
        __file__,
        "--phase",
        phase,
        "--n",
        str(args.n),
        "--runs",
        str(args.runs),
        "--n-validate",
        str(args.n_validate),
    ]
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}
    )
    if done.returncode != 0:
        raise RuntimeError(f"phase {phase} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(results: dict) -> str:
    rec, col = results.get("record"), results.get("columnar")
    lines = [
        f"machine: nproc {results['machine']['nproc']}, load {results['machine']['loadavg_before']}, {results['machine']['date']}"
    ]
    if "generate" in results:
        lines.append(f"generate_facts({results['n']:,}): {results['generate']['generate_s']:.3f} s")
    if rec:
        lines.append(
            f"(a) per-record compiled, no trace: {rec['record_us_per_student']:.2f} µs/student ({rec['students']:,} students)"
            f"; validate+evaluate {rec['validate_evaluate_us_per_student']:.2f} µs ({rec['validate_students']:,})"
            f"; reference with trace {rec['reference_trace_us_per_student']:.1f} µs; peak RSS {rec['peak_rss_mb']:.0f} MB"
        )
    if rec:
        lines.append(
            f"    fastest run (least disturbed): {min(rec['record_runs_s']) / rec['students'] * 1e6:.2f} µs/student"
        )
    if col:
        lines.append(
            f"(b) columnar: {col['columnar_students_per_s'] / 1e6:.2f} M students/s ({col['columnar_s'] * 1e3:.0f} ms), "
            f"hand-written {col['handwritten_students_per_s'] / 1e6:.2f} M/s ({col['handwritten_s'] * 1e3:.0f} ms), "
            f"time ratio {col['ratio_columnar_to_handwritten_time']:.2f}; string enums {col['columnar_text_enums_s'] * 1e3:.0f} ms; "
            f"agree {col['outputs_agree']}; peak RSS {col['peak_rss_mb']:.0f} MB"
        )
    if col:
        best = {k: min(v) for k, v in col["runs_s"].items()}
        lines.append(
            f"    fastest runs: columnar {col['students'] / best['columnar'] / 1e6:.2f} M/s, hand-written {col['students'] / best['handwritten'] / 1e6:.2f} M/s"
        )
    if "cli" in results:
        cli = results["cli"]
        startup = (
            f"; start-up alone (flask --app wsgi aid --help): median {cli['startup_median_s']:.2f} s"
            if "startup_median_s" in cli
            else ""
        )
        lines.append(f"    fastest CLI run: {min(cli['runs_s']):.2f} s{startup}")
        extra = (
            f"; hyperfine median {cli['hyperfine']['median_s']:.2f} s ± {cli['hyperfine']['stddev_s']:.2f}"
            if "hyperfine" in cli
            else ""
        )
        lines.append(
            f"(c) {cli['command']}: median {cli['median_s']:.2f} s over {len(cli['runs_s'])} runs{extra}; (d) peak RSS {cli['peak_rss_mb']:.0f} MB"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--n-validate", type=int, default=200_000, help="students for validate+evaluate (slow path)"
    )
    parser.add_argument("--skip-cli", action="store_true")
    parser.add_argument("--phase", choices=["generate", "record", "columnar", "cli"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        funcs = {
            "generate": lambda: phase_generate(args.n, args.runs),
            "record": lambda: phase_record(args.n, max(3, args.runs // 2), min(args.n_validate, args.n)),
            "columnar": lambda: phase_columnar(args.n, max(args.runs, 5)),
            "cli": lambda: phase_cli(args.n, max(args.runs, 5)),
        }
        print(json.dumps(funcs[args.phase]()))
        return {}
    OUT.mkdir(parents=True, exist_ok=True)
    facts_file(args.n)
    results: dict = {"n": args.n, "machine": machine()}
    for phase in ("generate", "record", "columnar", *(() if args.skip_cli else ("cli",))):
        results[phase] = child(phase, args)
        print(f"{phase} done", file=sys.stderr)
    results["machine"]["loadavg_after"] = subprocess.run(
        ["cat", "/proc/loadavg"], capture_output=True, text=True
    ).stdout.strip()
    text = json.dumps(results, indent=2, ensure_ascii=False)
    (OUT / "engine.json").write_text(text)
    (OUT / f"engine-{datetime.now():%Y%m%dT%H%M%S}.json").write_text(text)
    print(report(results))
    return results


if __name__ == "__main__":
    main()
