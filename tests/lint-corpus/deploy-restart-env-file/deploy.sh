#!/bin/sh
# Deploy: render the env files from the vault, then apply them.
set -eu
cd /opt/stack

./render-env.sh nocodb > nocodb.env
./render-env.sh n8n > n8n.env

# Wrong: a restart keeps the environment the container was created with.
docker compose restart nocodb
docker compose -f docker-compose.yml --project-name stack restart
docker restart stack-n8n-1 && echo "n8n restarted"

# Fine: these read no env file, or are recreated.
docker compose restart caddy redis
docker compose up -d --force-recreate nocodb n8n
# docker compose restart nocodb   (the old way, kept for reference)
