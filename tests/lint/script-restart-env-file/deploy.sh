#!/usr/bin/env bash
set -euo pipefail
cd /opt/javisi

rsync -a ./env/ /opt/javisi/env/

# Reload the new secrets.
docker compose pull && docker compose -f docker-compose.yml restart nocodb
docker restart javisi_n8n

# Caddy reads no env_file: a restart is fine.
docker compose restart caddy
