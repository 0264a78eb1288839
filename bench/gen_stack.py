#!/usr/bin/env python3
"""Write a synthetic stack of N custom services (plus PostgreSQL, Redis, Caddy) for benchmarks.

Each service has a route, a database, env values referencing secrets and another
service's export, a healthcheck and a dependency, so check and render do their full work.
"""
import os
import sys

n = int(sys.argv[1])
out = sys.argv[2]
os.makedirs(out, exist_ok=True)
lines = [
    "[project]",
    'name = "synthetic"',
    'domain = "synthetic.example"',
    "",
    "[hosts.big]",
    f'memory = "{n * 256 + 8192}M"',
    "",
    "[services.postgresql]",
    "[services.redis]",
    "[services.caddy]",
    "",
]
for i in range(n):
    dep = f"svc{i - 1:04d}" if i > 0 else "postgresql"
    lines += [
        f"[services.svc{i:04d}]",
        f'image = "registry.example/svc{i:04d}:1.0.{i}"',
        "port = 8080",
        'networks = ["backend", "frontend"]',
        'health = { http = "/health" }',
        f'subdomain = "s{i:04d}"',
        f'databases = [{{ name = "db{i:04d}" }}]',
        f'depends_on = {{ {dep} = "healthy" }}',
        'exports = { internal_url = "http://svc:8080" }',
        f'env = {{ DATABASE_URL = "{{{{ db.url }}}}", TOKEN = "{{{{ secret.token{i:04d} }}}}", PEER = "{{{{ services.{dep if i > 0 else "postgresql"}.internal_url }}}}" }}' if i > 0 else
        f'env = {{ DATABASE_URL = "{{{{ db.url }}}}", TOKEN = "{{{{ secret.token{i:04d} }}}}" }}',
        f"secrets.token{i:04d} = {{ length = 32 }}",
        "",
    ]
with open(os.path.join(out, "vpai.toml"), "w") as f:
    f.write("\n".join(lines))
