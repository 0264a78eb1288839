# Body of /usr/local/sbin/vpai-vpn-join: vpai puts the shebang, `set -euo pipefail` and
# the host's values (readonly variables) above it. vpai-bootstrap runs it at first boot;
# run it again by hand after a failure (Headscale down, key used or expired).

log() { printf 'vpai-vpn-join: %s\n' "$*"; }
fail() {
  printf 'vpai-vpn-join: error: %s\n' "$*" >&2
  exit 1
}

[[ $EUID -eq 0 ]] || fail "run as root: sudo vpai-vpn-join"
command -v tailscale >/dev/null ||
  fail "tailscale is not installed: vpai-bootstrap did not finish (/var/log/cloud-init-output.log)"
if tailscale status >/dev/null 2>&1; then
  log "already on the VPN as $(tailscale ip -4)"
  exit 0
fi
[[ -s $AUTHKEY_FILE ]] ||
  fail "no pre-auth key in $AUTHKEY_FILE (deleted once used): create one on the Headscale server (headscale preauthkeys create --user USER --expiration 24h), write it there with mode 0600, then run sudo vpai-vpn-join again"

# 002 §0.6: `tailscale up` waits forever for a Headscale that does not answer.
log "checking that Headscale answers at $LOGIN_SERVER"
curl -fsS --max-time 10 --retry 6 --retry-delay 10 --retry-all-errors -o /dev/null "$LOGIN_SERVER/health" ||
  fail "Headscale does not answer at $LOGIN_SERVER/health: start it, then run sudo vpai-vpn-join"

log "joining as $NODE_NAME"
# The key goes through its file, never the command line (ps, logs).
timeout 150 tailscale up --login-server="$LOGIN_SERVER" --auth-key="file:$AUTHKEY_FILE" \
  --hostname="$NODE_NAME" --timeout=120s ||
  fail "tailscale up did not complete (journalctl -u tailscaled). The key is single use and expires (002 §0.7): if it was used or has expired, write a new one to $AUTHKEY_FILE"

# Single use: worth nothing now, and tailscaled's own state reconnects at boot (002 §0.11).
rm -f "$AUTHKEY_FILE"
address="$(tailscale ip -4)"
log "on the VPN as $NODE_NAME, $address"
if [[ -n $EXPECTED_VPN_ADDRESS && $address != "$EXPECTED_VPN_ADDRESS" ]]; then
  log "warning: vpai.toml expects vpn_address $EXPECTED_VPN_ADDRESS: correct one of them; vpai-vpn-lockdown refuses while they differ"
fi
