"""The shipped serving files in deploy/: the systemd units pass `systemd-analyze verify`, each runs a command the
app really has, as a dedicated user with the hardening and the environment file; the nginx site passes `nginx -t`
and agrees with the app (body limit, one proxy hop, the feed routes' own pool, no public metrics or liveness)."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from config import MIB, REPO_ROOT
from tests.faults.servers import missing

DEPLOY = REPO_ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
SITE = DEPLOY / "nginx" / "aidservice.conf"
ENV_EXAMPLE = DEPLOY / "aidservice.env.example"
RELEASE = "/opt/aidservice"
HARDENING = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ReadWritePaths": "/var/lib/aidservice"}


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign] - systemd keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser


def exec_start(path: Path) -> list[str]:
    return shlex.split(unit(path)["Service"]["ExecStart"])


def environment(path: Path) -> dict[str, str]:
    pairs = shlex.split(unit(path)["Service"].get("Environment", ""))
    return dict(pair.split("=", 1) for pair in pairs)


def env_example() -> dict[str, str]:
    rows = (line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if "=" in line)
    return {name.strip(): value.strip() for name, value in rows if not name.startswith("#")}


def test_the_units_are_the_web_server_the_feed_pool_the_job_worker_and_the_report_with_its_timer() -> None:
    names = {path.name for path in (DEPLOY / "systemd").iterdir()}
    assert names == {
        "aidservice-web.service",
        "aidservice-feeds.service",
        "aidservice-worker.service",
        "aidservice-report.service",
        "aidservice-report.timer",
    }
    timer = unit(DEPLOY / "systemd" / "aidservice-report.timer")["Timer"]
    assert timer["OnCalendar"] and timer["Persistent"] == "true"


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_each_unit_runs_as_the_dedicated_user_from_the_environment_file_hardened(path: Path) -> None:
    service = unit(path)["Service"]
    assert (service["User"], service["Group"]) == ("aidservice", "aidservice")
    assert service["EnvironmentFile"] == "/etc/aidservice/aidservice.env"
    assert service["WorkingDirectory"] == RELEASE
    assert {key: service.get(key) for key in HARDENING} == HARDENING


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_each_unit_runs_a_command_the_release_has(path: Path, app: Flask) -> None:
    argv = exec_start(path)
    program = Path(argv[0])
    assert program.parent == Path(RELEASE) / ".venv" / "bin"
    if program.name == "gunicorn":
        assert argv[1:] == ["-c", "gunicorn.conf.py", "wsgi:app"]
        assert (REPO_ROOT / "gunicorn.conf.py").is_file() and (REPO_ROOT / "wsgi.py").is_file()
        return
    # `flask --app wsgi aid ...` until the package's `aid` console script lands; the same words after `aid`
    assert program.name == "flask" and argv[1:4] == ["--app", "wsgi", "aid"]
    result = app.test_cli_runner().invoke(args=[*argv[3:], "--help"])
    assert result.exit_code == 0, result.output


def test_the_feed_pool_listens_where_nginx_sends_the_feed_routes_and_the_web_server_where_the_rest_go() -> (
    None
):
    site = SITE.read_text()
    upstreams = dict(re.findall(r"upstream (\w+) \{\s*server ([\d.:]+);", site))
    web = environment(DEPLOY / "systemd" / "aidservice-web.service")["AID_BIND"]
    feeds = environment(DEPLOY / "systemd" / "aidservice-feeds.service")["AID_BIND"]
    assert upstreams == {"aidservice_web": web, "aidservice_feeds": feeds}
    feed_location = re.search(r"location /api/v1/feeds/ \{\s*proxy_pass http://(\w+);", site)
    assert feed_location is not None and feed_location.group(1) == "aidservice_feeds"


def test_the_proxy_body_limit_is_the_apps_and_the_env_file_says_one_proxy_hop(app: Flask) -> None:
    site = SITE.read_text()
    limits = re.findall(r"client_max_body_size (\d+)m;", site)
    app_limit = app.config["MAX_CONTENT_LENGTH"]  # the default: the test configuration does not change it
    assert [int(value) * MIB for value in limits] == [app_limit]
    example = env_example()
    assert int(example["AID_MAX_BODY_BYTES"]) == app_limit and example["AID_PROXY_HOPS"] == "1"
    for header, value in (
        ("X-Forwarded-For", "$proxy_add_x_forwarded_for"),
        ("X-Forwarded-Proto", "$scheme"),
        ("X-Forwarded-Host", "$host"),
    ):
        assert re.findall(rf"proxy_set_header {header} (\S+);", site) == [value]


def test_metrics_and_liveness_are_not_public_and_readiness_only_for_the_load_balancer() -> None:
    site = SITE.read_text()
    blocks = dict(re.findall(r"location ((?:= )?/[\w/]*) \{([^}]*)\}", site))
    assert "deny all;" in blocks["= /metrics"] and "proxy_pass" not in blocks["= /metrics"]
    assert "deny all;" in blocks["/health/"] and "proxy_pass" not in blocks["/health/"]
    ready = blocks["= /health/ready"]
    assert ready.index("allow ") < ready.index("deny all;") and "proxy_pass http://aidservice_web;" in ready


def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        missing("systemd-analyze is not installed")
    venv_bin = Path(sys.executable).parent
    if not (venv_bin / "gunicorn").exists() or not (venv_bin / "flask").exists():
        missing(f"no gunicorn and flask beside {sys.executable}")
    for path in (DEPLOY / "systemd").iterdir():  # the release's folders as this checkout has them
        text = (
            path.read_text().replace(f"{RELEASE}/.venv/bin/", f"{venv_bin}/").replace(RELEASE, str(REPO_ROOT))
        )
        (tmp_path / path.name).write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and "aidservice" not in done.stderr, done.stderr


def test_the_nginx_site_passes_nginx_t(tmp_path: Path) -> None:
    if shutil.which("nginx") is None or shutil.which("openssl") is None:
        missing("nginx (apt-get install nginx-light) or openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    openssl = [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=aid.test",
    ]
    subprocess.run(
        [*openssl, "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60
    )
    site = SITE.read_text()
    site = site.replace("/etc/ssl/aidservice/fullchain.pem", str(cert))
    site = site.replace("/etc/ssl/aidservice/privkey.pem", str(key))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n    include {tmp_path}/site.conf;\n}}\n"
    )
    done = subprocess.run(
        [
            "nginx",
            "-t",
            "-p",
            str(tmp_path),
            "-e",
            str(tmp_path / "error.log"),
            "-c",
            str(tmp_path / "nginx.conf"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
