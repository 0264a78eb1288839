#!/usr/bin/env bash
# Every local image the end-to-end tests and examples/local use (no registry is
# needed): the Debian base and the broken stub (build.sh), Caddy 2.11 (build-caddy.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/build.sh"
bash "$here/build-caddy.sh"
