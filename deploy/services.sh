#!/usr/bin/env bash
# Starts (or stops) Berth's processes on this machine: Redis, the web server,
# the control worker, a host agent and the runtime CLI's fork server. Each runs in the background with its log
# in var/log/ and its PID in var/run/; `stop` ends exactly those PIDs.
set -euo pipefail
cd "$(dirname "$0")/.."
VAR=${BERTH_VAR_DIR:-$PWD/var}
PY=$PWD/.venv/bin/python
PORT=${BERTH_PORT:-8000}
REDIS_PORT=${BERTH_REDIS_PORT:-6379}
export BERTH_REDIS_URL=${BERTH_REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/0}
export BERTH_VAR_DIR=$VAR
mkdir -p "$VAR/log" "$VAR/run" "$VAR/redis"

running() { [ -f "$VAR/run/$1.pid" ] && kill -0 "$(cat "$VAR/run/$1.pid")" 2>/dev/null; }

launch() {  # name, command...
  local name=$1; shift
  if running "$name"; then echo "$name already running (pid $(cat "$VAR/run/$name.pid"))"; return; fi
  setsid "$@" >>"$VAR/log/$name.log" 2>&1 < /dev/null &
  echo $! > "$VAR/run/$name.pid"
}

start_redis() {
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then return; fi
  launch redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$VAR/redis" --save 60 1 --appendonly no
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "redis did not start; see $VAR/log/redis.log" >&2; exit 1
}

admin_password() {
  local f=$VAR/admin_password
  [ -f "$f" ] || (umask 077; "$PY" -c 'import secrets; print(secrets.token_urlsafe(12))' > "$f")
  cat "$f"
}

start() {
  start_redis
  "$PY" manage.py migrate --noinput -v 0
  "$PY" manage.py collectstatic --noinput -v 0
  "$PY" -m runtime images 2>/dev/null | grep -q '^busybox:latest' || "$PY" -m runtime bootstrap busybox
  local password; password=$(admin_password)
  "$PY" manage.py berth_seed --username admin --password "$password"
  "$PY" manage.py berth_join_token --name "this machine's agent" --file "$VAR/join_token"
  launch web "$PY" -m uvicorn webui.asgi:application --host 127.0.0.1 --port "$PORT" --ws websockets
  launch control "$PY" -m workers.control
  export BERTH_JOIN_TOKEN_FILE=${BERTH_JOIN_TOKEN_FILE:-$VAR/join_token}
  launch agent "$PY" -m workers.agent
  launch forkserver "$PY" -m runtime.forkserver  # .venv/bin/berth-runtime's calls start in it
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$PORT/login/" 2>/dev/null && break; sleep 0.2
  done
  echo
  echo "Berth is running at http://127.0.0.1:$PORT/"
  echo "Log in as admin with password: $password"
  echo "Logs: $VAR/log/   Stop with: make stop   The runtime's CLI: .venv/bin/berth-runtime"
  "$PY" -m runtime images 2>/dev/null | grep -q '^debian:bookworm-slim' ||
    echo "Base images: busybox:latest is ready; \`make debian\` adds debian:bookworm-slim (about 30 s)."
}

stop_one() {  # SIGTERM, then wait for the exit (the agent finishes its jobs first), SIGKILL after 60 s
  local name=$1 pid
  running "$name" || { rm -f "$VAR/run/$name.pid"; return; }
  pid=$(cat "$VAR/run/$name.pid")
  kill "$pid"
  for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; echo "killed $name (pid $pid): it did not stop in 60 s"; else echo "stopped $name"; fi
  rm -f "$VAR/run/$name.pid"
}

stop() {
  # Redis goes last: the others need it to finish their work.
  for name in forkserver agent control web redis; do stop_one "$name"; done
  echo "Containers keep running under their monitors; the next \`make run\` picks them up."
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
