# Body of /usr/local/sbin/vpai-bootstrap: vpai puts the shebang, `set -euo pipefail`
# and the host's values (readonly variables) above it. cloud-init runs it once, at
# first boot, after writing every file of the user-data; running it again is safe.

readonly DOCKER_KEY_FINGERPRINT=9DC858229FC7DD38854AE2D88D81803C0EBFCD88
readonly TAILSCALE_KEY_FINGERPRINT=2596A99EAAB33821893C0A79458CA832957F5868
# 001 §3.4, except that Caddy logs JSON: its collection replaces the seed's nginx one.
readonly CROWDSEC_COLLECTIONS=(crowdsecurity/linux crowdsecurity/sshd crowdsecurity/caddy crowdsecurity/http-cve)
readonly HARDENING_DROPIN=/etc/ssh/sshd_config.d/00-vpai-hardening.conf
readonly LOCKDOWN_DROPIN=/etc/ssh/sshd_config.d/01-vpai-vpn-listen.conf

log() { printf 'vpai-bootstrap: %s\n' "$*"; }
fail() {
  printf 'vpai-bootstrap: error: %s\n' "$*" >&2
  exit 1
}

[[ $EUID -eq 0 ]] || fail "run as root"
export DEBIAN_FRONTEND=noninteractive
# At first boot apt-daily and unattended-upgrades may hold dpkg's lock: wait for it
# instead of failing.
apt_get() { apt-get -o DPkg::Lock::Timeout=600 "$@"; }

# --- The machine must be the one vpai.toml describes.
# shellcheck source=/dev/null
. /etc/os-release
case "${ID:-}" in
  debian | ubuntu) ;;
  *) fail "unsupported distribution '${ID:-unknown}': vpai bootstraps Debian 13 (Ubuntu works too)" ;;
esac
[[ -n ${VERSION_CODENAME:-} ]] || fail "/etc/os-release has no VERSION_CODENAME: no repository to choose"
machine_arch="$(dpkg --print-architecture)"
[[ $machine_arch == "$HOST_ARCH" ]] ||
  fail "this machine is $machine_arch but vpai.toml declares $HOST_ARCH for host $HOST_NAME: fix its arch there (images are checked against it)"
log "host $HOST_NAME: ${PRETTY_NAME:-$ID}, $machine_arch"

# --- 002 §13: minimal images may list neither the -updates nor the -security suite.
# Add what is missing before the first update instead of installing from half an archive.
debian_suite_listed() {
  grep -Eqs "^[[:space:]]*(Suites:|deb[[:space:]]).*[[:space:]]$1([[:space:]]|\$)" \
    /etc/apt/sources.list /etc/apt/sources.list.d/debian.sources
}
add_debian_suites() { # URI SUITE...
  local uri=$1
  shift
  log "apt: adding $* ($uri) to /etc/apt/sources.list.d/debian.sources"
  printf '\nTypes: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$uri" "$*" >>/etc/apt/sources.list.d/debian.sources
}
if [[ $ID == debian ]]; then
  missing=()
  for suite in "$VERSION_CODENAME" "$VERSION_CODENAME-updates"; do
    debian_suite_listed "$suite" || missing+=("$suite")
  done
  if ((${#missing[@]} > 0)); then
    add_debian_suites http://deb.debian.org/debian "${missing[@]}"
  fi
  debian_suite_listed "$VERSION_CODENAME-security" ||
    add_debian_suites http://deb.debian.org/debian-security "$VERSION_CODENAME-security"
fi

# --- Repositories. Each key is fetched over HTTPS, kept only if its fingerprint is the
# one pinned above, and trusted for its own repository only: signed-by=, no apt-key,
# no apt-transport-https (002 §13).
apt_get update -q
apt_get install -y -q ca-certificates curl gpg

install_signing_key() { # URL FINGERPRINT KEYRING
  local download gnupg_home actual
  download="$(mktemp)"
  gnupg_home="$(mktemp -d)"
  curl -fsSL --retry 5 --retry-all-errors -o "$download" "$1"
  actual="$(GNUPGHOME="$gnupg_home" gpg --batch --show-keys --with-colons "$download" |
    awk -F: '$1 == "fpr" { print $10; exit }')"
  [[ $actual == "$2" ]] || fail "the key at $1 has fingerprint ${actual:-none}, not $2: repository refused"
  install -d -m 0755 /etc/apt/keyrings
  # Docker serves an armored key, Tailscale a binary one: --dearmor passes binary through.
  GNUPGHOME="$gnupg_home" gpg --batch --yes --dearmor -o "$3" "$download"
  chmod 0644 "$3"
  rm -rf "$download" "$gnupg_home"
}

install_signing_key "https://download.docker.com/linux/$ID/gpg" "$DOCKER_KEY_FINGERPRINT" /etc/apt/keyrings/docker.gpg
echo "deb [arch=$machine_arch signed-by=/etc/apt/keyrings/docker.gpg] https://download.docker.com/linux/$ID $VERSION_CODENAME stable" \
  >/etc/apt/sources.list.d/docker.list
packages=(docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin
  ufw fail2ban python3-systemd crowdsec)
if [[ $VPN_JOIN != none ]]; then
  # 002 §0.8: the repository path follows the distribution, it is not always debian.
  install_signing_key "https://pkgs.tailscale.com/stable/$ID/$VERSION_CODENAME.noarmor.gpg" \
    "$TAILSCALE_KEY_FINGERPRINT" /etc/apt/keyrings/tailscale.gpg
  echo "deb [signed-by=/etc/apt/keyrings/tailscale.gpg] https://pkgs.tailscale.com/stable/$ID $VERSION_CODENAME main" \
    >/etc/apt/sources.list.d/tailscale.list
  # at: the dead-man switch of vpai-vpn-lockdown (002 §39).
  packages+=(tailscale at)
fi
apt_get update -q
apt_get install -y -q "${packages[@]}"
# The bouncer registers with the local CrowdSec API only once CrowdSec is configured.
apt_get install -y -q crowdsec-firewall-bouncer

# --- Docker. /etc/docker/daemon.json (001 §2.1) was in place before dockerd first started.
# vpai-firewall fills DOCKER-USER now and before every later start of dockerd.
systemctl daemon-reload
systemctl enable --now vpai-firewall.service
systemctl enable --now docker
systemctl is-active --quiet docker || fail "dockerd is not running: journalctl -u docker (and /etc/docker/daemon.json)"
usermod -aG docker "$DEPLOY_USER"

# --- SSH (001 §3.1). The hardening drop-in was in place before sshd first started; if
# sshd refuses it, fall back to the image's settings rather than leave a machine nobody
# can log in to, and stop before the firewall.
reload_sshd() {
  if systemctl is-active --quiet ssh.socket; then
    # Ubuntu starts sshd from a socket whose port a generator reads from sshd_config.
    systemctl daemon-reload
    systemctl restart ssh.socket
  else
    systemctl reload-or-restart ssh
  fi
}
if ! sshd -t; then
  mv "$HARDENING_DROPIN" "$HARDENING_DROPIN.refused"
  reload_sshd
  fail "sshd refused $HARDENING_DROPIN (kept as .refused): sshd runs with the image's settings and the firewall is not enabled"
fi
reload_sshd

# --- UFW (001 §3.2). SSH stays open to all until vpai-vpn-lockdown narrows it to the VPN.
ufw default deny incoming
ufw default allow outgoing
# Exactly the stack's public ports, UDP included, so that `ufw status` shows what is
# open. Connections to containers are judged in DOCKER-USER (vpai-firewall), which
# lets in the same ports: these rules alone would not hold them.
read -ra public_tcp <<<"$PUBLIC_TCP"
read -ra public_udp <<<"$PUBLIC_UDP"
for port in "${public_tcp[@]}"; do
  ufw allow "$port/tcp" comment 'vpai: public port'
done
for port in "${public_udp[@]}"; do
  ufw allow "$port/udp" comment 'vpai: public port'
done
if [[ -e $LOCKDOWN_DROPIN ]]; then
  log "SSH stays restricted to the VPN (vpai-vpn-lockdown)"
else
  ufw allow "$SSH_PORT/tcp" comment 'vpai: SSH'
fi
if [[ $VPN_JOIN != none ]]; then
  ufw allow 41641/udp comment 'vpai: Tailscale'
fi
ufw --force enable

# --- fail2ban (001 §3.3), reading sshd from the journal: Debian 13 has no /var/log/auth.log.
fail2ban-client -t
systemctl enable fail2ban
systemctl restart fail2ban

# --- CrowdSec (001 §3.4), from the hub copy Debian ships; Debian's acquis.yaml already
# reads ssh.service from the journal.
cscli collections install "${CROWDSEC_COLLECTIONS[@]}"
systemctl enable crowdsec crowdsec-firewall-bouncer
systemctl restart crowdsec crowdsec-firewall-bouncer

# --- VPN. tailscaled starts at every boot and reconnects with its own state, without
# the pre-auth key (002 §0.11).
case $VPN_JOIN in
  boot)
    systemctl enable --now tailscaled
    /usr/local/sbin/vpai-vpn-join
    ;;
  later)
    systemctl enable --now tailscaled
    log "this host runs Headscale: start it, then join with: sudo vpai-vpn-join"
    ;;
  none) ;;
esac

log "done: SSH on port $SSH_PORT for $DEPLOY_USER, firewall on, Docker running"
