#!/usr/bin/env bash
# Smoke checks of the test images: PostgreSQL, Redis, Caddy and vpai-stub really
# run inside them. Usage: smoke.sh [BASE_IMAGE] [BROKEN_IMAGE]. Run by build.sh
# after a (re)build; safe to run by hand. Exits non-zero on the first failure.
set -euo pipefail

BASE=${1:-vpai-test/debian:bookworm}
BROKEN=${2:-vpai-test/stub:broken}
tag="vpai-smoke-$$"
started=()

cleanup() {
  local c
  for c in "${started[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

say() { printf '  %-10s %s\n' "$1" "$2"; }
fail() { printf 'SMOKE FAILED: %s\n' "$*" >&2; exit 1; }

# Poll a command (up to $1 tenths of a second) until it succeeds.
wait_for() {
  local tries=$1 i
  shift
  for ((i = 0; i < tries; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  return 1
}

say users "$(docker run --rm "$BASE" sh -c 'for u in postgres redis caddy; do id "$u"; done' | paste -sd ';' -)"

# PostgreSQL: a throwaway initdb'd cluster, run as postgres like the tests do.
out=$(docker run --rm --user postgres "$BASE" bash -euc '
  bin=/usr/lib/postgresql/15/bin
  $bin/initdb -D /tmp/pg -A trust -U postgres >/dev/null
  $bin/postgres -D /tmp/pg -k /tmp -c listen_addresses=127.0.0.1 -p 5433 >/tmp/pg.log 2>&1 &
  for _ in $(seq 100); do $bin/pg_isready -q -h 127.0.0.1 -p 5433 && break; sleep 0.1; done
  $bin/psql -h 127.0.0.1 -p 5433 -U postgres -Atc "select version()"
  kill -INT $! && wait $!') || fail "postgres: $out"
say postgres "$out"

out=$(docker run --rm --user redis "$BASE" bash -euc '
  redis-server --port 6390 --save "" --appendonly no >/tmp/redis.log 2>&1 &
  for _ in $(seq 100); do redis-cli -p 6390 ping >/dev/null 2>&1 && break; sleep 0.1; done
  printf "%s, %s\n" "$(redis-cli -p 6390 ping)" "$(redis-server --version | cut -d" " -f1-3)"
  redis-cli -p 6390 shutdown nosave >/dev/null 2>&1 || true') || fail "redis: $out"
[[ $out == PONG* ]] || fail "redis: $out"
say redis "$out"

# Caddy in front of the stub, both inside one container.
out=$(docker run --rm -e STUB_NAME=behind-caddy "$BASE" bash -euc '
  caddy version
  vpai-stub >/tmp/stub.log 2>&1 &
  caddy reverse-proxy --from :2080 --to 127.0.0.1:8080 >/tmp/caddy.log 2>&1 &
  for _ in $(seq 100); do curl -fs -o /dev/null 127.0.0.1:2080/health && break; sleep 0.1; done
  curl -fsS 127.0.0.1:2080/via/caddy || { cat /tmp/caddy.log; exit 1; }') || fail "caddy: $out"
[[ $out == *'"service": "behind-caddy"'* ]] || fail "caddy: $out"
say caddy "$(printf '%s' "$out" | paste -sd ' ' -)"

# The stub as PID 1 (default CMD), reached through a published port, stopped
# with SIGTERM: must exit 0 quickly.
c="$tag-stub"
started+=("$c")
docker run -d --name "$c" -e STUB_NAME=pid1 -p 127.0.0.1::8080 "$BASE" >/dev/null
port=$(docker port "$c" 8080/tcp | head -n1 | sed 's/.*://')
wait_for 100 curl -fs "http://127.0.0.1:$port/health" || fail "stub: no answer on 127.0.0.1:$port: $(docker logs "$c" 2>&1)"
health=$(curl -fsS -D - "http://127.0.0.1:$port/health" | tr -d '\r')
[[ $health == *'X-Stub-Name: pid1'* && $health == *'ok pid1'* ]] || fail "stub health: $health"
say stub "health via published port $port: $(printf '%s' "$health" | tail -n1)"
say stub "$(docker exec "$c" curl -fsS 127.0.0.1:8080/api/x)"
t0=$(date +%s%N)
docker stop -t 10 "$c" >/dev/null
ms=$((($(date +%s%N) - t0) / 1000000))
code=$(docker inspect -f '{{.State.ExitCode}}' "$c")
{ [ "$code" = 0 ] && [ "$ms" -lt 5000 ]; } || fail "stub stop: exit $code after $ms ms"
say stub "docker stop: exit $code in $ms ms; log: $(docker logs "$c" 2>&1 | paste -sd '|' -)"

# The broken image: health path answers 500 and Docker reports it unhealthy.
c="$tag-broken"
started+=("$c")
docker run -d --name "$c" -e STUB_NAME=broken "$BROKEN" >/dev/null
wait_for 100 docker exec "$c" curl -s -o /dev/null 127.0.0.1:8080/ || fail "broken: no answer"
status=$(docker exec "$c" curl -s -o /dev/null -w '%{http_code}' 127.0.0.1:8080/health)
[ "$status" = 500 ] || fail "broken: health answered $status"
is_unhealthy() { [ "$(docker inspect -f '{{.State.Health.Status}}' "$c")" = unhealthy ]; }
wait_for 300 is_unhealthy || fail "broken: Docker health is $(docker inspect -f '{{.State.Health.Status}}' "$c")"
say broken "health path answers $status, docker health: unhealthy"

echo "smoke checks passed"
