#!/usr/bin/env bash
# Times `vpai check` + `vpai render` on examples/javisi and on a generated
# 500-service stack, with hyperfine (Debian's package), and prints each figure
# against its target. Usage: bench/check_render.sh [path/to/vpai]
set -euo pipefail
cd "$(dirname "$0")/.."
vpai="${1:-target/release/vpai}"
if [ "$vpai" = target/release/vpai ]; then cargo build --release --quiet; fi
command -v hyperfine >/dev/null || { echo "hyperfine is missing: apt-get install hyperfine" >&2; exit 1; }

work=$(mktemp -d)
# Rendered bundles go to tmpfs: this machine's disk spends ~0.5 ms per mkdir/open,
# which would measure the disk, not vpai. The on-disk figure is printed apart.
shm=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
trap 'rm -rf "$work" "$shm"' EXIT

# The synthetic stack, encrypted to a throwaway identity.
"$vpai" init "$work/idgen" --defaults --name idgen --identity-out "$work/identity.txt" >/dev/null
python3 bench/gen_stack.py 500 "$work/big"
recipient=$(sed -n 's/^# public key: //p' "$work/identity.txt")
printf '\n[age]\nrecipients = ["%s"]\n' "$recipient" >> "$work/big/vpai.toml"
VPAI_IDENTITY="$work/identity.txt" "$vpai" secrets sync -C "$work/big" >/dev/null

run() { # name, target-ms, command...
  local name=$1 target=$2; shift 2
  hyperfine --warmup 3 --runs 20 --export-json "$work/$name.json" --style none "$*" >/dev/null 2>&1
  python3 - "$work/$name.json" "$name" "$target" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
mean = r["mean"] * 1000
target = float(sys.argv[3])
print(f"{sys.argv[2]:<28} mean {mean:7.1f} ms  (min {r['min']*1000:.1f}, max {r['max']*1000:.1f})  target {target:.0f} ms  ratio {mean/target:.2f}  {'OK' if mean <= target else 'OVER'}")
PY
}

export VPAI_IDENTITY="$work/identity.txt"
echo "vpai check + render ($(nproc) cores)"
run javisi-check 20 "$vpai check -C examples/javisi"
unset VPAI_IDENTITY
run javisi-check+render 20 "$vpai check -C examples/javisi && $vpai render -C examples/javisi --out $shm/out-javisi"
export VPAI_IDENTITY="$work/identity.txt"
run 500-services-check 200 "$vpai check -C $work/big"
run 500-services-check+render 200 "$vpai check -C $work/big && $vpai render -C $work/big --out $shm/out-big"
echo "for information, the same with OUT on this machine's disk (508 files, 505 directories):"
run 500-services-on-disk 200 "$vpai check -C $work/big && $vpai render -C $work/big --out $work/out-big"
