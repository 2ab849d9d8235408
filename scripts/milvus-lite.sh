#!/usr/bin/env bash
# scripts/milvus-lite.sh — a real Milvus on loopback for tests and benches.
#
#   scripts/milvus-lite.sh start    install (once) and start Milvus Lite in the background
#   scripts/milvus-lite.sh stop     stop it (SIGTERM)
#   scripts/milvus-lite.sh status   exit 0 when the port answers, 1 otherwise
#
# Why: `src/vectors/milvus.rs` tests and `benches/vectors.rs` need a Milvus
# gRPC server. Milvus Lite (PyPI `milvus-lite`) runs one inside a Python
# process, so CI needs nothing but python3 and PyPI (no Docker, no etcd).
# `pymilvus` is pinned beside it because the server imports pymilvus'
# generated gRPC code (see /work/shared/reference/milvus.md).
#
# Environment:
#   MILVUS_PORT           port on 127.0.0.1 (default 19530)
#   MILVUS_VENV           virtualenv dir (default <repo>/.venv-milvus, git-ignored)
#   MILVUS_START_TIMEOUT  seconds to wait for the port (default 60)
#   PYTHON                interpreter used to create the venv (default python3)
set -euo pipefail

readonly MILVUS_LITE_VERSION="3.2.2"
readonly PYMILVUS_VERSION="3.0.2"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MILVUS_VENV:-$ROOT/.venv-milvus}"
PORT="${MILVUS_PORT:-19530}"
HOST="127.0.0.1"
TIMEOUT="${MILVUS_START_TIMEOUT:-60}"
PYTHON="${PYTHON:-python3}"
PID_FILE="$VENV/milvus.pid"
LOG_FILE="$VENV/milvus.log"
DATA_FILE="$VENV/milvus.datadir"

say() { printf 'milvus-lite: %s\n' "$*"; }
die() { printf 'milvus-lite: error: %s\n' "$*" >&2; exit 1; }

usage() {
    echo "usage: $0 start|stop|status" >&2
    exit 2
}

# True when something accepts TCP connections on HOST:PORT. Uses bash's
# /dev/tcp so the check needs no nc/curl on the CI image.
port_open() {
    (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null
}

# The pid from PID_FILE when that process is still alive and is really a
# milvus-lite server (a stale pid file could point at a reused pid).
running_pid() {
    local pid args
    [[ -f "$PID_FILE" ]] || return 1
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    args="$(ps -p "$pid" -o args= 2>/dev/null || true)"
    [[ "$args" == *milvus* ]] || return 1
    echo "$pid"
}

installed() {
    [[ -x "$VENV/bin/python" && -x "$VENV/bin/milvus-lite" ]] || return 1
    # Version check via package metadata: quick (no server import) and it
    # catches a venv left behind by an older pin.
    "$VENV/bin/python" - "$MILVUS_LITE_VERSION" "$PYMILVUS_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if (version("milvus-lite"), version("pymilvus")) == (sys.argv[1], sys.argv[2]) else 1)
PY
}

install() {
    if installed; then
        return 0
    fi
    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found; Milvus Lite needs Python 3"
    if [[ ! -x "$VENV/bin/python" ]]; then
        say "creating virtualenv $VENV"
        "$PYTHON" -m venv "$VENV" \
            || die "'$PYTHON -m venv' failed (on Debian/Ubuntu install the python3-venv package)"
    fi
    say "installing milvus-lite==$MILVUS_LITE_VERSION pymilvus==$PYMILVUS_VERSION from PyPI (first run only)"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet \
        "milvus-lite==$MILVUS_LITE_VERSION" "pymilvus==$PYMILVUS_VERSION" \
        || die "pip install failed (is PyPI reachable?)"
    installed || die "milvus-lite is still missing from $VENV after pip install"
}

# Removes the data dir recorded by `start` (only a mktemp dir it created).
remove_data_dir() {
    local data_dir
    if [[ -f "$DATA_FILE" ]]; then
        data_dir="$(cat "$DATA_FILE")"
        if [[ "$data_dir" == */milvus-lite.* && -d "$data_dir" ]]; then
            rm -rf -- "$data_dir"
        fi
        rm -f "$DATA_FILE"
    fi
}

log_tail() {
    if [[ -f "$LOG_FILE" ]]; then
        echo "---- last 40 lines of $LOG_FILE ----" >&2
        tail -n 40 "$LOG_FILE" >&2 || true
        echo "----" >&2
    fi
}

start() {
    local pid data_dir waited
    if port_open; then
        if pid="$(running_pid)"; then
            say "already running on $HOST:$PORT (pid $pid)"
        else
            say "port $HOST:$PORT is already open (not started by this script); using it"
        fi
        return 0
    fi
    if pid="$(running_pid)"; then
        # One pid file per venv: a second server would orphan the first.
        die "a server started by this script is already running (pid $pid) but not on port $PORT; run '$0 stop' first"
    fi
    install
    mkdir -p "$VENV"
    # A fresh data dir per start: tests and benches create their own
    # collections, nothing should survive a restart.
    data_dir="$(mktemp -d "${TMPDIR:-/tmp}/milvus-lite.XXXXXX")"
    echo "$data_dir" >"$DATA_FILE"
    say "starting on $HOST:$PORT (data $data_dir, log $LOG_FILE)"
    # --host 127.0.0.1: the default listens on every interface. setsid (when
    # present) detaches it from the caller's process group, so a CI step that
    # kills its group on exit does not take the server down with it.
    local launcher=()
    command -v setsid >/dev/null 2>&1 && launcher=(setsid)
    nohup "${launcher[@]}" "$VENV/bin/milvus-lite" server \
        --data-dir "$data_dir" --host "$HOST" --port "$PORT" \
        >"$LOG_FILE" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PID_FILE"

    waited=0
    while ! port_open; do
        if ! kill -0 "$pid" 2>/dev/null; then
            log_tail
            rm -f "$PID_FILE"
            remove_data_dir
            die "server (pid $pid) exited before opening $HOST:$PORT"
        fi
        if ((waited >= TIMEOUT * 4)); then
            log_tail
            kill -TERM "$pid" 2>/dev/null || true
            rm -f "$PID_FILE"
            remove_data_dir
            die "port $HOST:$PORT did not open within ${TIMEOUT}s"
        fi
        sleep 0.25
        waited=$((waited + 1))
    done
    say "ready on $HOST:$PORT (pid $pid, after ~$((waited / 4))s)"
}

stop() {
    local pid i
    if ! pid="$(running_pid)"; then
        rm -f "$PID_FILE"
        if port_open; then
            say "no server started by this script, but $HOST:$PORT is open; leaving it alone"
        else
            say "not running"
        fi
        return 0
    fi
    say "stopping pid $pid (SIGTERM)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 80; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "pid $pid ignored SIGTERM for 20s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE"
    remove_data_dir
    say "stopped"
}

status() {
    local pid
    if port_open; then
        if pid="$(running_pid)"; then
            say "running on $HOST:$PORT (pid $pid)"
        else
            say "$HOST:$PORT is open (not started by this script)"
        fi
        return 0
    fi
    if pid="$(running_pid)"; then
        say "pid $pid (started by this script) is alive but $HOST:$PORT is not open (another port, still starting, or stuck: see $LOG_FILE)"
    else
        say "not running"
    fi
    return 1
}

[[ $# -eq 1 ]] || usage
case "$1" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) usage ;;
esac
