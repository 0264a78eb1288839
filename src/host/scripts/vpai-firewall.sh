# Body of /usr/local/sbin/vpai-firewall: vpai puts the shebang, `set -euo pipefail`
# and the host's values (readonly variables) above it. vpai-firewall.service runs it
# before dockerd starts; running it again, by hand or after a change, is safe.
#
# Docker publishes ports by DNAT: the packets cross FORWARD, where UFW never looks.
# DOCKER-USER is the chain Docker leaves to its operators (it only adds its jump from
# FORWARD and a final RETURN): declaring it below empties it, then says who may open
# a connection to a container from outside. After DNAT a packet carries the
# container's port, so public ports are matched on conntrack's original destination
# port, the published one.

log() { printf 'vpai-firewall: %s\n' "$*"; }
fail() {
  printf 'vpai-firewall: error: %s\n' "$*" >&2
  exit 1
}

[[ $EUID -eq 0 ]] || fail "run as root"
command -v iptables-restore >/dev/null || fail "iptables-restore is missing: apt-get install iptables"

read -ra public_tcp <<<"$PUBLIC_TCP"
read -ra public_udp <<<"$PUBLIC_UDP"
read -ra internal_subnets <<<"$INTERNAL_SUBNETS"

rules() {
  echo '*filter'
  echo ':DOCKER-USER - [0:0]'
  echo ':VPAI-INPUT - [0:0]'
  echo '-A DOCKER-USER -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN'
  # From a container: to another one (Docker's isolation chains judge it) or out.
  echo '-A DOCKER-USER -i docker0 -j RETURN'
  echo '-A DOCKER-USER -i br-+ -j RETURN'
  if [[ -n $VPN_CIDR ]]; then
    echo "-A DOCKER-USER -s $VPN_CIDR -j RETURN"
  fi
  local port
  for port in "${public_tcp[@]}"; do
    echo "-A DOCKER-USER -p tcp -m conntrack --ctorigdstport $port -j RETURN"
  done
  for port in "${public_udp[@]}"; do
    echo "-A DOCKER-USER -p udp -m conntrack --ctorigdstport $port -j RETURN"
  done
  echo '-A DOCKER-USER -j DROP'
  # An internal network's gateway is an address of this host: nothing on an
  # internal network may connect to the host itself.
  local subnet
  for subnet in "${internal_subnets[@]}"; do
    echo "-A VPAI-INPUT -s $subnet -m conntrack --ctstate NEW -j DROP"
  done
  echo 'COMMIT'
}

# One transaction: the chain is never half-written.
rules | iptables-restore --noflush
iptables -C INPUT -j VPAI-INPUT 2>/dev/null || iptables -I INPUT 1 -j VPAI-INPUT
log "containers reachable from outside on tcp ${PUBLIC_TCP:-none}, udp ${PUBLIC_UDP:-none}${VPN_CIDR:+, and every published port from $VPN_CIDR}"
