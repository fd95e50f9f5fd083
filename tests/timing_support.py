"""The time bound every hostile or security probe is held to (tests/hostile, tests/security).

It separates "answered at once" from the failures the probes guard against: before issue 15 a huge exponent
pinned a worker for 212 s, 100,000 keys took 8.6 s, a deep body or a zip bomb could take the process down. On a
quiet machine every probe answers in milliseconds; the bound leaves room for a machine loaded several times
over (seen: 1.5-3.7 s for millisecond probes with five test runs sharing two cores), so it never flakes in CI
and still fails on any return of the slow paths. Speed itself is measured in bench/, never here.
"""

import time

FAST = 3.0
"""Seconds for one probe of a request."""
SLOW_FILE = 10 * FAST
"""Seconds for a probe that must read a whole file of the largest allowed size before refusing it: 3-6 s on a
quiet core, 10-11 s seen with the suite's two xdist workers and six more test runs on two cores; the slow paths
it guards against took minutes or the worker itself (gunicorn's timeout is 120 s)."""

work_clock = time.thread_time
"""The clock in-process probes read (the test client runs the app in the test's own thread): the CPU seconds that
thread spent. Other processes on a loaded machine do not move it (wall time went past FAST for a millisecond probe
with helpers' suites sharing the two cores), so a bound on it fails only when the probe itself works too hard, and
every slow path above was CPU-bound Python. Probes of a served worker, and of a refusal that must not wait (429),
keep wall time."""
