"""Real servers for the fault tests: a private PostgreSQL cluster that may be stopped, and gunicorn serving the app.

The private cluster lives in its own folder under /tmp on a free port (5438 preferred), run as the `postgres`
OS user (initdb refuses root); the machine's PostgreSQL on 5432, which everyone shares, is never touched.
"""

from __future__ import annotations

import contextlib
import glob
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from config import REPO_ROOT


def missing(reason: str) -> None:
    """Skip where the machine cannot do this; under CI=true (this machine kind, as root) it is a failure."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + " (CI=true: fault tests are required)")
    pytest.skip(reason)


def free_port(preferred: int) -> int:
    """`preferred` when nothing listens there, else any free port on 127.0.0.1."""
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError("no free port")


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    """A throw-away PostgreSQL cluster this test owns, so it may stop and restart it under load."""

    def __init__(self, preferred_port: int = 5438) -> None:
        bindir = _pg_bin()
        if bindir is None:
            missing("no PostgreSQL server binaries under /usr/lib/postgresql")
        if os.geteuid() != 0:
            missing("a private PostgreSQL is started as the postgres OS user, which needs root")
        try:
            self.user = pwd.getpwnam("postgres")
        except KeyError:
            missing("no postgres OS user")
        self.bin = bindir
        self.root = Path(tempfile.mkdtemp(prefix="aid-faults-pg-", dir="/tmp"))
        os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self.data = self.root / "data"
        self.port = free_port(preferred_port)
        self._as_postgres(
            [
                "initdb",
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        )
        self.start()

    def _as_postgres(self, argv: list[str], timeout: float = 60) -> None:
        command = [str(self.bin / argv[0]), *argv[1:]]
        user = self.user
        subprocess.run(
            command,
            check=True,
            timeout=timeout,
            capture_output=True,
            cwd=self.root,
            user=user.pw_uid,
            group=user.pw_gid,
            extra_groups=[],
            env={"PATH": "/usr/bin:/bin", "HOME": str(self.root), "LC_ALL": "C.UTF-8"},
        )

    def _ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            [
                "pg_ctl",
                "-D",
                str(self.data),
                "-l",
                str(self.root / "log"),
                "-w",
                "-t",
                "60",
                *args,
                "-o",
                options,
            ]
        )

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        """Fast shutdown: open transactions are rolled back, sessions are ended (57P01)."""
        self._ctl("-m", "fast", "stop")

    def restart(self) -> None:
        self._ctl("-m", "fast", "restart")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._as_postgres(["pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(self.root, ignore_errors=True)


def listening_socket(preferred: int) -> socket.socket:
    """A listening socket on `preferred` if free, else on any port; gunicorn inherits it, so no one can take
    the port between choosing it and binding it (a foreign server answering there once failed a test)."""
    for port in (preferred, 0):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            continue
        sock.listen(128)
        return sock
    raise RuntimeError("no free port")


class Gunicorn:
    """`gunicorn wsgi:app` with its own workers on a free port, as `make run` serves the app.

    `shipped`: with the repository's gunicorn.conf.py (its timeout, max_requests, no control socket), workers
    and worker class passed as its environment variables; otherwise with the fault tests' own flags (a longer
    timeout, a short graceful one).
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        workers: int = 2,
        preferred_port: int = 5308,
        app: str = "wsgi:app",
        log: Path | None = None,
        prefix: Sequence[str] = (),
        worker_class: str = "sync",
        shipped: bool = False,
    ) -> None:
        listener = listening_socket(preferred_port)
        self.port = listener.getsockname()[1]
        self.log = log
        out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed in stop()
        self._out = out
        if shipped:
            flags = ["-c", "gunicorn.conf.py"]
            env = {"AID_WORKERS": str(workers), "AID_WORKER_CLASS": worker_class, **env}
        else:
            flags = [
                "--no-control-socket",
                "-k",
                worker_class,
                "-w",
                str(workers),
                "--timeout",
                "60",
                "--graceful-timeout",
                "2",
            ]
        self.process = subprocess.Popen(
            [*prefix, sys.executable, "-m", "gunicorn", *flags, "-b", f"fd://{listener.fileno()}", app],
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env},
            stdout=out,
            stderr=out,
            start_new_session=True,
            pass_fds=(listener.fileno(),),
        )
        listener.close()  # gunicorn holds its own copy
        self.wait_ready()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.tail()}")
            with contextlib.suppress(OSError):
                if request("GET", self.port, "/api/v1/health", timeout=5).status in (200, 503):
                    return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer within {timeout} s: {self.tail()}")

    def worker_pids(self) -> set[int]:
        """The master's children: the same set before and after an outage means no worker was restarted."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        return {int(pid) for pid in children.split()}

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log and self.log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)
        if self._out is not subprocess.DEVNULL:
            self._out.close()


class PrivateMount:
    """A small tmpfs at a folder that only a private mount namespace sees, held open by a sleeping process.

    SQLite resolves symbolic links in file names, so /proc/PID/root/... would lead it back to the host's
    folder: whatever must see the tmpfs runs inside the namespace (`inside`, `prefix`).
    """

    def __init__(self, size_kib: int) -> None:
        if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("nsenter") is None:
            missing("a private tmpfs needs root and util-linux's unshare and nsenter")
        self.folder = Path(tempfile.mkdtemp(prefix="aid-faults-fs-", dir="/tmp"))
        self.holder = subprocess.Popen(
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                f"mount -t tmpfs -o size={size_kib}k,mode=0755 tmpfs {self.folder} && echo mounted && exec sleep 900",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.holder.stdout.readline().strip()  # type: ignore[union-attr]
        if line != "mounted":
            self.holder.kill()
            missing(f"cannot mount a tmpfs in a private mount namespace: {self.holder.stderr.read()[-500:]}")  # type: ignore[union-attr]

    @property
    def prefix(self) -> list[str]:
        """Run a command inside the namespace: `[*mount.prefix, argv...]`."""
        return ["nsenter", "-t", str(self.holder.pid), "-m", "--"]

    def inside(
        self, *argv: str, check: bool = True, timeout: float = 120, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.prefix, *argv],
            check=check,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})},
        )

    def remount(self, mode: str) -> None:
        """`ro` or `rw`: the instance folder's file system turns read-only (or back) under a running server."""
        self.inside("mount", "-o", f"remount,{mode}", str(self.folder))

    def close(self) -> None:
        self.holder.kill()
        self.holder.wait(timeout=20)
        for stream in (self.holder.stdout, self.holder.stderr):
            if stream is not None:
                stream.close()
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class Reply:
    """One HTTP exchange as the client saw it; status 0 means the connection failed or timed out."""

    status: int
    content_type: str = ""
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    error: str = ""
    started: float = 0.0
    ended: float = 0.0


def request(
    method: str, port: int, path: str, *, body: Any = None, token: str | None = None, timeout: float = 20
) -> Reply:
    """One request on a fresh connection; connection errors are a Reply with status 0, not an exception."""
    started = time.monotonic()
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        raw = response.read()
    except (OSError, http.client.HTTPException) as error:
        return Reply(0, error=f"{type(error).__name__}: {error}", started=started, ended=time.monotonic())
    finally:
        conn.close()
    content_type = response.getheader("Content-Type", "")
    parsed: Any = raw.decode("utf-8", "replace")
    if "json" in content_type:
        with contextlib.suppress(ValueError):
            parsed = json.loads(raw)
    return Reply(
        response.status, content_type, parsed, dict(response.getheaders()), "", started, time.monotonic()
    )
