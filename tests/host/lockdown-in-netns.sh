#!/bin/bash
# Runs a rendered vpai-vpn-lockdown for real, inside the network and mount namespaces
# `unshare --net --mount --fork` gives it (tests/bootstrap.rs starts it that way):
#
#   lockdown-in-netns.sh LOCKDOWN_SCRIPT HARDENING_DROPIN SSH_PORT VPN_ADDRESS DEPLOY_USER
#
# Real: sshd with the rendered hardening drop-in, UFW and its iptables rules, at's
# queue, sysctl, ss, and an SSH client in a second namespace that reaches the host over
# a veth pair, once from a "public" address and once from a VPN address. Stand-ins:
# `tailscale` (no tailnet here: it prints the address the test gives it) and
# `systemctl` (no systemd: `reload-or-restart ssh` sends sshd the SIGHUP that Debian's
# ssh.service sends). /etc/ssh, /etc/ufw, /etc/sysctl.d, /etc/passwd, /var/lib and at's
# spool are private copies, so nothing of this machine changes.
set -euo pipefail

lockdown=$1 dropin=$2 port=$3 vpn_address=$4 user=$5
readonly public_address=192.0.2.10 client_public=192.0.2.20 client_vpn=100.64.0.99

step() { printf '\n== %s\n' "$*"; }
ok() { printf 'ok: %s\n' "$*"; }
die() {
  printf 'FAILED: %s\n' "$*" >&2
  exit 1
}

mount --make-rprivate /
work="$(mktemp -d)"
chmod 0755 "$work"
mkdir -p "$work"/{etc-ssh/sshd_config.d,ufw,sysctl.d,var-lib,atjobs,bin,home}
cleanup() {
  if [[ -s $work/sshd.pid ]]; then kill "$(cat "$work/sshd.pid")" 2>/dev/null || true; fi
  umount "$work/client-ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- This host as the bootstrap leaves it.
cp "$dropin" "$work/etc-ssh/sshd_config.d/00-vpai-hardening.conf"
ssh-keygen -q -t ed25519 -N '' -f "$work/etc-ssh/ssh_host_ed25519_key"
cat >"$work/etc-ssh/sshd_config" <<EOF
Include /etc/ssh/sshd_config.d/*.conf
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile $work/sshd.pid
UsePAM no
EOF
mount --bind "$work/etc-ssh" /etc/ssh
cp -a /etc/ufw/. "$work/ufw/"
mount --bind "$work/ufw" /etc/ufw
mount --bind "$work/sysctl.d" /etc/sysctl.d
mount --bind "$work/var-lib" /var/lib
chown daemon:daemon "$work/atjobs"
chmod 1770 "$work/atjobs"
install -o daemon -g daemon -m 0600 /dev/null "$work/atjobs/.SEQ"
mount --bind "$work/atjobs" /var/spool/cron/atjobs

# The deploy user, with a key of the test's own.
home="$work/home/$user"
mkdir -p "$home/.ssh"
ssh-keygen -q -t ed25519 -N '' -f "$work/client_key"
cp "$work/client_key.pub" "$home/.ssh/authorized_keys"
chown -R 4242:4242 "$home"
chmod 0700 "$home/.ssh"
for db in passwd shadow; do cp "/etc/$db" "$work/$db"; done
echo "$user:x:4242:4242::$home:/bin/bash" >>"$work/passwd"
echo "$user:*:19000:0:99999:7:::" >>"$work/shadow"
mount --bind "$work/passwd" /etc/passwd
mount --bind "$work/shadow" /etc/shadow

cat >"$work/bin/tailscale" <<EOF
#!/bin/bash
[[ "\$*" == "ip -4" ]] && cat "$work/tailscale-ip"
EOF
cat >"$work/bin/systemctl" <<EOF
#!/bin/bash
case "\$*" in
  "is-active --quiet ssh.socket") exit 3 ;;
  "is-enabled --quiet tailscaled") exit 0 ;;
  "reload-or-restart ssh") kill -HUP "\$(cat "$work/sshd.pid")" && sleep 1 ;;
  *) echo "systemctl stand-in: unexpected \$*" >&2; exit 1 ;;
esac
EOF
chmod 0755 "$work/bin/"*
export PATH="$work/bin:$PATH"

# --- The network: this namespace is the host, a second one the operator's machine.
ip link set lo up
touch "$work/client-ns"
unshare --net="$work/client-ns" true
client() { nsenter --net="$work/client-ns" "$@"; }
client ip link set lo up
client ip link add v1 type veth peer name v0 netns $$
ip addr add "$public_address/24" dev v0
ip addr add "$vpn_address/32" dev v0
ip link set v0 up
ip route add "$client_vpn/32" dev v0
client ip addr add "$client_public/24" dev v1
client ip addr add "$client_vpn/32" dev v1
client ip link set v1 up
client ip route add "$vpn_address/32" dev v1

# As vpai-bootstrap leaves it: deny incoming, SSH open to all.
ufw default deny incoming >/dev/null
ufw allow "$port/tcp" comment 'vpai: SSH' >/dev/null
ufw --force enable >/dev/null
/usr/sbin/sshd -f /etc/ssh/sshd_config
echo "$vpn_address" >"$work/tailscale-ip"

ssh_from() { # SOURCE DESTINATION [COMMAND...]
  local source=$1 destination=$2
  shift 2
  client ssh -i "$work/client_key" -b "$source" -p "$port" -o BatchMode=yes -o ConnectTimeout=3 \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
    "$user@$destination" "${@:-true}"
}
can_log_in() { ssh_from "$@" </dev/null; }
pending_jobs() { atq -q v | wc -l; }

step "before the lockdown: the deploy user logs in from anywhere"
can_log_in "$client_public" "$public_address" || die "no login on the public address"
ok "login on $public_address:$port"

step "a VPN address that is not this host's: refused, nothing changes"
echo 100.64.9.9 >"$work/tailscale-ip"
if "$lockdown"; then die "lockdown accepted the wrong VPN address"; fi
[[ ! -e /etc/ssh/sshd_config.d/01-vpai-vpn-listen.conf && $(pending_jobs) -eq 0 ]] ||
  die "a refused lockdown changed something"
echo "$vpn_address" >"$work/tailscale-ip"
ok "refused"

step "lockdown"
"$lockdown"
[[ $(pending_jobs) -eq 1 ]] || die "no revert scheduled in at's queue"
[[ $(cat /proc/sys/net/ipv4/ip_nonlocal_bind) == 1 ]] || die "ip_nonlocal_bind is not set"
if can_log_in "$client_public" "$public_address"; then die "SSH still answers on the public address"; fi
ok "no SSH on $public_address"
if can_log_in "$client_public" "$vpn_address"; then die "UFW lets a non-VPN source reach SSH"; fi
ok "UFW drops SSH from $client_public (outside the VPN range) to $vpn_address"
can_log_in "$client_vpn" "$vpn_address" || die "no login through the VPN"
ok "login from $client_vpn through the VPN"

step "--confirm needs an open connection through the VPN"
if "$lockdown" --confirm; then die "confirmed without a VPN connection"; fi
[[ $(pending_jobs) -eq 1 ]] || die "a refused --confirm cancelled the revert"
ok "refused without one"
ssh_from "$client_vpn" "$vpn_address" sleep 8 </dev/null &
session=$!
sleep 2
"$lockdown" --confirm
wait "$session"
[[ $(pending_jobs) -eq 0 && ! -e /var/lib/vpai/vpn-lockdown.pending ]] || die "--confirm left the revert"
ok "confirmed; the revert is cancelled"
"$lockdown" --status

step "the dead-man switch: a lockdown nobody confirms comes back by itself"
"$lockdown" --revert
can_log_in "$client_public" "$public_address" || die "--revert did not reopen SSH"
"$lockdown"
job="$(atq -q v | cut -f1)"
# What atd runs when the time comes (or at boot, if the machine rebooted meanwhile).
at -c "$job" | sh
can_log_in "$client_public" "$public_address" || die "the scheduled revert did not reopen SSH"
[[ $(pending_jobs) -eq 0 && ! -e /etc/ssh/sshd_config.d/01-vpai-vpn-listen.conf ]] ||
  die "the revert left its job or the ListenAddress"
ufw show added | grep -q "ufw allow $port/tcp" || die "UFW does not allow SSH again"
if ufw show added | grep -q "from 100.64"; then die "the VPN-only rule is still there"; fi
ok "reverted: login on $public_address again, the VPN-only rule gone"
