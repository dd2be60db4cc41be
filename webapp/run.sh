#!/usr/bin/env bash
# Starts the web server, a Celery worker and Celery beat (the sweeper's clock) as separate
# processes; Ctrl-C stops them all.
set -euo pipefail
host=${1:-127.0.0.1}
port=${2:-8000}
cd "$(dirname "$0")/.."
py=.venv/bin/python

var_dir=${MODELGATE_VAR_DIR:-var}
mkdir -p "$var_dir"

.venv/bin/celery -A webapp worker --loglevel=INFO --concurrency=2 &
worker=$!
# Exactly one beat per deployment: it queues the sweeper (re-queues validations that were lost).
.venv/bin/celery -A webapp beat --loglevel=INFO --schedule "$var_dir/celerybeat-schedule" &
beat=$!
# gunicorn.conf.py holds the hooks (prediction-log flush at exit, Prometheus multiprocess files
# under $PROMETHEUS_MULTIPROC_DIR, emptied when the master starts); the flags below override it.
export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-$var_dir/prometheus}
.venv/bin/gunicorn webapp.wsgi:application -c gunicorn.conf.py --bind "$host:$port" --workers 2 --threads 4 \
  --access-logfile - --timeout 300 --graceful-timeout 5 &
web=$!
stop() {
  trap - INT TERM EXIT
  kill "$web" "$worker" "$beat" 2>/dev/null || true
  wait "$web" "$worker" "$beat" 2>/dev/null || true
  echo
  echo "ModelGate stopped."
  exit 0
}
trap stop INT TERM EXIT

for _ in $(seq 1 60); do
  curl -fsS "http://$host:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.5
done
# Once the worker has validated the demo versions: promote them, send traffic, monitor once.
$py manage.py demo_traffic --wait 120 | sed 's/^/  /' || echo "  The demo traffic failed; see above (the app runs anyway)."
cat <<MSG

  ModelGate is running at  http://$host:$port/
  API docs:                http://$host:$port/api/docs/

$($py manage.py demo | sed 's/^/  /')

  Press Ctrl-C to stop the web server, the worker and beat.

MSG
wait -n $web $worker $beat
