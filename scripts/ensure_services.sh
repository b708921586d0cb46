#!/usr/bin/env bash
# Make sure PostgreSQL and RabbitMQ are up on this machine, starting them when they are not.
set -euo pipefail

wait_until() {  # wait_until SECONDS CMD...: run CMD until it succeeds, fail after SECONDS
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then echo "timed out waiting for: $*" >&2; return 1; fi
    sleep 1
  done
}

if ! pg_isready -h 127.0.0.1 -q; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
fi
wait_until 60 pg_isready -h 127.0.0.1 -q

if ! rabbitmq-diagnostics -q check_running >/dev/null 2>&1; then
  echo "starting RabbitMQ"
  rabbitmq-server -detached || true
fi
wait_until 120 rabbitmq-diagnostics -q check_running
wait_until 60 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5672'
