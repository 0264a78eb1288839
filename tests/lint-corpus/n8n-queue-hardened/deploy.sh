#!/usr/bin/env bash
# Pull, then recreate what changed: `up -d` recreates a service whose env_file
# changed content only with --force-recreate.
set -euo pipefail
cd /opt/n8n

docker compose pull
docker compose up -d --remove-orphans
docker compose up -d --force-recreate n8n n8n-worker
# Caddy reloads its configuration without a restart.
docker compose exec -w /etc/caddy caddy caddy reload
docker compose ps
