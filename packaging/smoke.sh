#!/usr/bin/env bash
# Release check of the desktop bundle (docs/desktop-build.md):
#
#   make bundle && packaging/smoke.sh [dist/AlphaForge-UI]
#
# Runs the BUILT app, never the checkout: from an empty folder, with a temporary AlphaForge
# home, no PYTHONPATH. Steps:
#   1. demo project, a short mining run, a strategy and its backtest through `--cli`;
#   2. a PDF report through `--cli report` (skipped with a message while that command is
#      absent); kaleido's Chromium runs through the app's own executable;
#   3. the server (`--no-browser`), health, the home page in headless Chromium (the dev venv's
#      Playwright drives /usr/bin/chromium; any request off this machine fails);
#   4. a mining run started from the Factor mining page runs as `AlphaForge-UI --worker mine`;
#   5. SIGTERM stops the server cleanly: server.json removed, that run cancelled with its
#      checkpoint kept.
# Exits non-zero on the first failure. KEEP=1 keeps the temporary folder for a look.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
APP_DIR=$(cd "${1:-$REPO/dist/AlphaForge-UI}" && pwd)
EXE="$APP_DIR/AlphaForge-UI"
PY=${PYTHON:-$REPO/.venv/bin/python}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/alphaforge-smoke.XXXXXX")
SERVER_PID=""

export ALPHAFORGE_HOME="$WORK/home" XDG_STATE_HOME="$WORK/state" XDG_DATA_HOME="$WORK/data" \
       XDG_CACHE_HOME="$WORK/cache" OMP_WAIT_POLICY=PASSIVE
unset PYTHONPATH PYTHONHOME
PROJECT="$ALPHAFORGE_HOME/projects/demo"

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'SMOKE FAILED: %s\n' "$*" >&2; exit 1; }
json_get() {  # json_get FILE EXPR  (EXPR on the parsed object `d`)
  "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
cleanup() {
  local code=$?
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ "${KEEP:-0}" == 1 || $code -ne 0 ]]; then
    echo "files of this check: $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

[[ -x "$EXE" ]] || fail "$EXE not found: run 'make bundle' first"
[[ -x "$PY" ]] || fail "no Python with Playwright at $PY (set PYTHON=...)"
mkdir -p "$ALPHAFORGE_HOME"
echo '{"mode": "single", "language": "en", "schema_version": 1}' > "$ALPHAFORGE_HOME/settings.json"
cd "$WORK"
echo "bundle: $APP_DIR ($(du -sh "$APP_DIR" | cut -f1)); work folder: $WORK"
if ! diff -rq -x __pycache__ "$REPO/alphaforge_app" "$APP_DIR/_internal/alphaforge_app" > /dev/null; then
  echo "WARNING: the bundle's page files differ from this checkout's: rebuild with 'make bundle'"
fi

step "1. demo project, mining, strategy, backtest (--cli)"
"$EXE" --cli demo --tickers 100 --days 400 --json > demo.json || fail "--cli demo"
"$EXE" --cli mine --epochs 1 --max-evaluations 200 --zoo-size 5 --json > mine.json \
  || fail "--cli mine"
echo "mined run $(json_get mine.json 'd["result"]["run_id"]'):" \
     "$(json_get mine.json 'len(d["result"]["zoo"])') factor(s)," \
     "device $(json_get mine.json 'd["result"]["source"]["device"]')"
"$EXE" --cli combine --factors classic --test 2016-01-01: --window 150 --name smoke --json \
  > combine.json || fail "--cli combine"
"$EXE" --cli backtest --strategy smoke --top-k 10 --drop-n 2 --json > backtest.json \
  || fail "--cli backtest"
echo "strategy 'smoke' backtested"

step "2. PDF report (--cli report)"
if "$EXE" --cli report --help > /dev/null 2>&1; then
  "$EXE" --cli report --strategy smoke --out "$WORK/smoke.pdf" --json > report.json \
    || fail "--cli report"
  [[ "$(head -c 5 "$WORK/smoke.pdf")" == "%PDF-" ]] || fail "smoke.pdf is not a PDF"
  CHARTS=$(json_get report.json 'd["result"]["charts"]')
  echo "smoke.pdf: $(wc -c < "$WORK/smoke.pdf") bytes, charts drawn by $CHARTS"
  # with a Chromium on PATH the charts must come from kaleido, whose browser runs through
  # this executable (launcher.py); a broken dispatch would silently fall back to native
  if command -v chromium > /dev/null || command -v google-chrome > /dev/null; then
    [[ "$CHARTS" == kaleido ]] || fail "kaleido did not draw the charts: $(cat report.json)"
  fi
else
  echo "SKIPPED: this build has no 'report' command (alphaforge report --help failed)"
fi

step "3. server, health, home page in Chromium"
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$EXE" --no-browser --port "$PORT" > server.log 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 180); do
  curl -sf "http://127.0.0.1:$PORT/_stcore/health" > /dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat server.log; fail "the server exited"; }
  sleep 0.5
done
curl -sf "http://127.0.0.1:$PORT/_stcore/health" > /dev/null \
  || { cat server.log; fail "no health answer on port $PORT"; }
[[ -f "$ALPHAFORGE_HOME/server.json" ]] || fail "server.json was not written"
ls "$PROJECT/runs" > runs-before.txt
"$PY" "$REPO/packaging/smoke_browser.py" "http://127.0.0.1:$PORT" --shot "$WORK/home.png" \
  --start-mining || { tail -50 server.log; fail "browser check"; }
echo "home page rendered (screenshot $WORK/home.png)"

step "4. mining run from the page, in a worker process of the app"
RUN=""
for _ in $(seq 1 60); do
  RUN=$(ls "$PROJECT/runs" | grep -vxF -f runs-before.txt | head -1 || true)
  [[ -n "$RUN" ]] && break
  sleep 0.5
done
[[ -n "$RUN" ]] || { tail -50 server.log; fail "no mining run was started from the page"; }
RUN_DIR="$PROJECT/runs/$RUN"
for _ in $(seq 1 240); do
  [[ -f "$RUN_DIR/checkpoint.pt" ]] && break
  sleep 0.5
done
[[ -f "$RUN_DIR/checkpoint.pt" ]] || { cat "$RUN_DIR/worker.log"; fail "run $RUN wrote no checkpoint"; }
WORKER_PID=$(json_get "$RUN_DIR/worker.json" 'd["pid"]') \
  || { cat "$RUN_DIR/worker.log"; fail "run $RUN ended before the server was stopped"; }
CMDLINE=$(tr '\0' ' ' < "/proc/$WORKER_PID/cmdline")
[[ "$CMDLINE" == "$EXE --worker mine "* ]] || fail "worker command line: $CMDLINE"
echo "run $RUN: worker $WORKER_PID = $CMDLINE"

step "5. clean shutdown"
kill -TERM "$SERVER_PID"
for _ in $(seq 1 180); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.5; done
kill -0 "$SERVER_PID" 2>/dev/null && fail "the server did not stop within 90 s"
wait "$SERVER_PID" || fail "the server exited with status $?"
SERVER_PID=""
[[ -f "$ALPHAFORGE_HOME/server.json" ]] && fail "server.json left behind"
# (an exited worker whose parent has gone may stay a zombie where init does not reap)
[[ "$(awk '{print $3}' "/proc/$WORKER_PID/stat" 2>/dev/null || echo gone)" =~ ^(Z|gone)$ ]] \
  || fail "worker $WORKER_PID still running"
STATUS=$(json_get "$RUN_DIR/record.json" 'd["status"]')
[[ "$STATUS" == cancelled ]] || fail "run $RUN is '$STATUS', expected 'cancelled'"
[[ -f "$RUN_DIR/checkpoint.pt" ]] || fail "run $RUN lost its checkpoint"
grep -q "cancelled 1 mining run" server.log || fail "the server did not report the cancelled run"
echo "server stopped; run $RUN cancelled with its checkpoint (resumable)"

printf '\nSMOKE PASSED\n'
