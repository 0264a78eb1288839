# Body of /usr/local/sbin/vpai-vpn-lockdown: vpai puts the shebang, `set -euo pipefail`
# and the host's values (readonly variables) above it.
#
# Moves SSH behind the VPN (001 §3.1 ListenAddress, §3.2 UFW from the VPN range) once
# the VPN is up, under a dead-man switch (002 §39): the revert is scheduled before
# anything changes, and only --confirm, run while a NEW connection through the VPN is
# open, cancels it.
#
#   sudo vpai-vpn-lockdown            check, schedule the revert, lock down
#   sudo vpai-vpn-lockdown --confirm  keep it (needs an SSH connection to the VPN address)
#   sudo vpai-vpn-lockdown --revert   undo now; the scheduled revert runs this
#   sudo vpai-vpn-lockdown --status

readonly LISTEN_DROPIN=/etc/ssh/sshd_config.d/01-vpai-vpn-listen.conf
readonly NONLOCAL_BIND_CONF=/etc/sysctl.d/60-vpai-sshd-vpn-listen.conf
readonly PENDING_MARK=/var/lib/vpai/vpn-lockdown.pending
readonly AT_QUEUE=v
SELF="$(readlink -f "${BASH_SOURCE[0]}")"
readonly SELF

log() { printf 'vpai-vpn-lockdown: %s\n' "$*"; }
fail() {
  printf 'vpai-vpn-lockdown: error: %s\n' "$*" >&2
  exit 1
}

reload_sshd() {
  sshd -t || fail "sshd -t refuses the configuration: sshd left as it runs"
  if systemctl is-active --quiet ssh.socket; then
    # Ubuntu starts sshd from a socket whose addresses a generator reads from sshd_config.
    systemctl daemon-reload
    systemctl restart ssh.socket
  else
    systemctl reload-or-restart ssh
  fi
}

cancel_revert() {
  atq -q "$AT_QUEUE" | cut -f1 | xargs -r atrm
  rm -f "$PENDING_MARK"
}

lock_down() {
  local address
  address="$(tailscale ip -4 2>/dev/null | head -n 1 || true)"
  [[ $address == "$VPN_ADDRESS" ]] ||
    fail "tailscale ip -4 says '${address:-nothing}', vpai.toml expects $VPN_ADDRESS: join first (sudo vpai-vpn-join) or correct vpn_address; nothing changed"
  systemctl is-enabled --quiet tailscaled ||
    fail "tailscaled does not start at boot: after a reboot nothing would bring $VPN_ADDRESS up (002 §0.11); run systemctl enable tailscaled first"
  [[ ! -e $PENDING_MARK ]] || fail "a lockdown already waits: --confirm or --revert it"
  if [[ -e $LISTEN_DROPIN ]]; then
    log "already locked down"
    return
  fi

  # The switch first: whatever below cuts the way in, atd puts it back. An at job
  # survives a reboot, the one thing a locked-out operator can still do from the
  # provider's panel (the deploy user has no password for the console).
  mkdir -p "$(dirname "$PENDING_MARK")"
  touch "$PENDING_MARK"
  echo "$SELF --revert" | at -q "$AT_QUEUE" "now + $REVERT_AFTER_MINUTES minutes"

  # At boot sshd starts before tailscaled brings the VPN address up: let it bind anyway.
  printf 'net.ipv4.ip_nonlocal_bind = 1\n' >"$NONLOCAL_BIND_CONF"
  sysctl -q -p "$NONLOCAL_BIND_CONF"
  printf '# vpai-vpn-lockdown: SSH on the VPN address only (001 §3.1); --revert removes this file.\nListenAddress %s\n' \
    "$VPN_ADDRESS" >"$LISTEN_DROPIN"
  if ! sshd -t; then
    rm -f "$LISTEN_DROPIN"
    cancel_revert
    fail "sshd -t refuses ListenAddress $VPN_ADDRESS; nothing changed"
  fi
  reload_sshd
  ufw allow from "$VPN_CIDR" to any port "$SSH_PORT" proto tcp comment 'vpai: SSH through the VPN'
  ufw delete allow "$SSH_PORT/tcp"
  log "SSH now listens on $VPN_ADDRESS only, from $VPN_CIDR."
  log "It comes back on every address in $REVERT_AFTER_MINUTES minutes unless you open a NEW connection through the VPN and confirm while it is open:"
  log "  ssh -p $SSH_PORT $DEPLOY_USER@$VPN_ADDRESS sudo vpai-vpn-lockdown --confirm"
}

confirm() {
  [[ -e $PENDING_MARK ]] || fail "no lockdown waits for confirmation"
  # The proof that the way in works: a connection made to the VPN address, which sshd
  # only listens on since the lockdown.
  ss -Htn state established "( sport = :$SSH_PORT )" |
    awk -v want="$VPN_ADDRESS:$SSH_PORT" '$3 == want { found = 1 } END { exit !found }' ||
    fail "no SSH connection to $VPN_ADDRESS:$SSH_PORT is open: confirm from a new connection through the VPN (ssh -p $SSH_PORT $DEPLOY_USER@$VPN_ADDRESS sudo vpai-vpn-lockdown --confirm); the revert stays scheduled"
  cancel_revert
  log "confirmed: SSH listens on $VPN_ADDRESS only, from $VPN_CIDR"
}

revert() {
  # The firewall first: it does not depend on sshd accepting its configuration.
  ufw allow "$SSH_PORT/tcp" comment 'vpai: SSH'
  if ufw show added | grep -qF "from $VPN_CIDR to any port $SSH_PORT proto tcp"; then
    ufw delete allow from "$VPN_CIDR" to any port "$SSH_PORT" proto tcp
  fi
  rm -f "$LISTEN_DROPIN" "$NONLOCAL_BIND_CONF"
  reload_sshd
  cancel_revert
  log "reverted: SSH listens on every address again, port $SSH_PORT open to all"
}

status() {
  if [[ -e $LISTEN_DROPIN ]]; then
    log "SSH listens on $VPN_ADDRESS only"
  else
    log "SSH listens on every address"
  fi
  if [[ -e $PENDING_MARK ]]; then
    log "waiting for --confirm; the revert is scheduled:"
    atq -q "$AT_QUEUE"
  fi
  ufw status | grep -F 'vpai: SSH' || true
}

[[ $EUID -eq 0 ]] || fail "run as root: sudo vpai-vpn-lockdown ${1:-}"
case "${1:-}" in
  "") lock_down ;;
  --confirm) confirm ;;
  --revert) revert ;;
  --status) status ;;
  *) fail "usage: vpai-vpn-lockdown [--confirm | --revert | --status]" ;;
esac
