#!/usr/bin/env bash
# Wheel smoke test (CI, .ci/run): what an operator gets from the wheel alone. Builds the wheel, installs it into a
# fresh virtualenv outside the checkout, and from an empty folder: `aid db upgrade` on a new SQLite database,
# `aid rules check`, `aid serve` on a free port, readiness 200 (/health/ready), stop.
# Usage: scripts/wheel_smoke.sh [PYTHON]   (PYTHON builds the wheel; default .venv/bin/python, else python3)
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=$(pwd)
build_python=${1:-}
if [ -z "$build_python" ]; then
  if [ -x .venv/bin/python ]; then build_python=.venv/bin/python; else build_python=python3; fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/aid-wheel-smoke.XXXXXX")
server=""
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
case "$work" in "$checkout"/*) echo "wheel smoke: $work is inside the checkout" >&2; exit 1 ;; esac
started=$SECONDS
step() { echo "wheel smoke [$((SECONDS - started))s]: $*"; }

step "building the wheel"
"$build_python" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$work/dist" . 2>&1 \
  | grep -v "^WARNING: Location" || true
wheel=$(ls "$work"/dist/aidservice-*.whl)
if [ -x .venv/bin/pytest ]; then
  step "the wheel's contents (tests/test_wheel.py)"
  AID_WHEEL="$wheel" .venv/bin/pytest -q -p no:cacheprovider -m wheel tests/test_wheel.py | tail -n 1
fi

step "installing $(basename "$wheel") into a fresh virtualenv"
python3 -m venv "$work/venv"
# Only the lock and the wheel: the runtime dependencies with their hashes, then the wheel without resolving again.
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes \
  -r requirements/runtime.txt 2>&1 | grep -v "^WARNING: Location" || true
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "$wheel" 2>&1 \
  | grep -v "^WARNING: Location" || true
"$work/venv/bin/python" -m pip check
test -x "$work/venv/bin/aid" || { echo "wheel smoke: the wheel installed no aid script" >&2; exit 1; }

mkdir "$work/empty"
cd "$work/empty"
# Nothing from the checkout: no PYTHONPATH, no wsgi.py or config.py in this folder; the development configuration
# (dev keys) on a new SQLite database.
unset PYTHONPATH FLASK_APP AID_RULES_DIR AID_REDIS_URL REDIS_URL AID_ENV || true
export DATABASE_URL="sqlite:///$work/aid.sqlite3" AID_INSTANCE_DIR="$work/instance"
aid=("$work/venv/bin/aid")

step "aid db upgrade"
"${aid[@]}" db upgrade >"$work/upgrade.log" 2>&1 || { cat "$work/upgrade.log" >&2; exit 1; }
step "aid rules check"
"${aid[@]}" rules check | tail -n 1

port=$("$work/venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
step "aid serve --port $port"
AID_WORKERS=1 "${aid[@]}" serve --host 127.0.0.1 --port "$port" >"$work/serve.log" 2>&1 &
server=$!
status=000
for _ in $(seq 1 120); do
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; echo "wheel smoke: aid serve exited" >&2; exit 1; }
  status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health/ready" || true)
  [ "$status" = 200 ] && break
  sleep 0.5
done
if [ "$status" != 200 ]; then
  cat "$work/serve.log" >&2
  echo "wheel smoke: readiness answered $status, not 200" >&2
  exit 1
fi
step "readiness 200; stopping the server"
kill "$server"
wait "$server" 2>/dev/null || true
server=""
step "passed"
