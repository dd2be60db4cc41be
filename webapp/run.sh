#!/usr/bin/env bash
# Starts the web server and a Celery worker as separate processes; Ctrl-C stops both.
set -euo pipefail
host=${1:-127.0.0.1}
port=${2:-8000}
cd "$(dirname "$0")/.."
py=.venv/bin/python

.venv/bin/celery -A webapp worker --loglevel=INFO --concurrency=2 &
worker=$!
.venv/bin/gunicorn webapp.wsgi:application --bind "$host:$port" --workers 2 --threads 4 \
  --access-logfile - --timeout 300 --graceful-timeout 5 &
web=$!
stop() {
  trap - INT TERM EXIT
  kill "$web" "$worker" 2>/dev/null || true
  wait "$web" "$worker" 2>/dev/null || true
  echo
  echo "ModelGate stopped."
  exit 0
}
trap stop INT TERM EXIT

for _ in $(seq 1 60); do
  curl -fsS "http://$host:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.5
done
cat <<MSG

  ModelGate is running at  http://$host:$port/
  API docs:                http://$host:$port/api/docs/

$($py manage.py demo | sed 's/^/  /')

  Press Ctrl-C to stop the web server and the worker.

MSG
wait -n $web $worker
