#!/usr/bin/env bash
# A throwaway Samba Active Directory domain controller in a directory, for tests and local
# development against a real AD (objectGUID, userAccountControl, tombstones, ranged member
# retrieval, paging). No system service is touched: samba runs from DIR as one process.
#
#   scripts/samba.sh check                 exit 0 when a DC can run here, else print why (exit 3)
#   scripts/samba.sh init    DIR           provision the domain into DIR, own TLS certificates
#   scripts/samba.sh load    DIR FILE.ldif add entries: offline with ldbadd in chunks when samba
#                                          is stopped (faster), online with ldapadd when running
#   scripts/samba.sh start   DIR           start in the background, wait until it answers
#   scripts/samba.sh stop    DIR           SIGTERM the pid in DIR/run/roster-samba.pid, wait
#   scripts/samba.sh env     DIR           print shell exports: URLs, base DN, admin, CA file
#   scripts/samba.sh destroy DIR           stop, then rm -rf DIR
#
# LIMITS: Samba's LDAP ports are fixed (389, 636, 3268, 3269): one DC per host or network
# namespace, started as root (or with CAP_NET_BIND_SERVICE), and nothing else may listen on
# 389/636. Kerberos moves to 10088/10464; smbd, rpc, nbt, dns and winbindd are not started.
#
# Settings (environment, read by init and kept in DIR/instance.env):
#   AD_REALM        SAMDOM.EXAMPLE.COM (base DN DC=samdom,DC=example,DC=com)
#   AD_DOMAIN       SAMDOM (NetBIOS name)
#   AD_ADMINPASS    password of Administrator (Passw0rd!Test)
#   AD_STRONG_AUTH  "ldap server require strong auth" (no: simple binds also on plain ldap://)
#   SAMBA_LOAD_CHUNK  entries per ldbadd call in offline loads (1000; one huge call is ~2x slower)
# Packages (Debian/Ubuntu): samba samba-ad-dc samba-ad-provision samba-dsdb-modules python3-samba
# winbind ldb-tools ldap-utils openssl.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage="usage: scripts/samba.sh check|init|load|start|stop|env|destroy DIR [FILE.ldif]"
cmd=${1:?$usage}
PATH="$PATH:/usr/sbin:/usr/local/sbin"

port_in_use() {
  if command -v ss >/dev/null 2>&1; then
    [ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

# Prints why a DC cannot run here (nothing when it can).
why_not() {
  local missing=()
  for b in samba samba-tool ldbadd ldapsearch ldapadd openssl python3; do
    command -v "$b" >/dev/null 2>&1 || missing+=("$b")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "${missing[*]} not installed (Debian/Ubuntu: apt-get install -y samba samba-ad-dc" \
      "samba-ad-provision samba-dsdb-modules python3-samba winbind ldb-tools ldap-utils openssl)"
    return
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "not root (Samba's LDAP ports 389/636 are fixed and privileged; run as root or with sudo)"
    return
  fi
  local busy=()
  for p in 389 636 3268 3269; do port_in_use "$p" && busy+=("$p"); done
  if [ ${#busy[@]} -gt 0 ]; then
    echo "port(s) ${busy[*]} already in use (Samba's LDAP ports are fixed; stop the other server)"
  fi
}

if [ "$cmd" = check ]; then
  reason=$(why_not)
  if [ -n "$reason" ]; then echo "$reason"; exit 3; fi
  exit 0
fi

dir=${2:?$usage}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
conf="$dir/etc/smb.conf"
pidf="$dir/run/roster-samba.pid"

loadenv() {
  [ -f "$dir/instance.env" ] || { echo "samba.sh: $dir is not initialised (run init first)" >&2; exit 1; }
  # shellcheck disable=SC1091
  . "$dir/instance.env"
}

running() { [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; }

case "$cmd" in
init)
  for b in samba-tool openssl python3; do
    command -v "$b" >/dev/null 2>&1 || { echo "samba.sh: $(why_not)" >&2; exit 3; }
  done
  realm=${AD_REALM:-SAMDOM.EXAMPLE.COM}
  domain=${AD_DOMAIN:-SAMDOM}
  adminpass=${AD_ADMINPASS:-Passw0rd!Test}
  strong=${AD_STRONG_AUTH:-no}
  base=$(printf '%s' "$realm" | tr 'A-Z' 'a-z' | sed 's/^/DC=/; s/\./,DC=/g')
  if [ -e "$conf" ]; then echo "samba.sh: $dir is already provisioned" >&2; exit 1; fi
  mkdir -p "$dir/log" "$dir/run" "$dir/cache"
  # The certificates are made while provisioning runs (both take a few seconds).
  MKCERTS_CN="roster Samba test CA" \
    MKCERTS_SAN="DNS:localhost,IP:127.0.0.1,DNS:dc1.${realm,,}" \
    "$here/mkcerts.sh" "$dir/tls" &
  certs=$!
  # --dns-backend=NONE: no DNS server; --use-rfc2307: the uidNumber/gidNumber schema attributes.
  if ! samba-tool domain provision --use-rfc2307 --realm="$realm" --domain="$domain" \
    --server-role=dc --dns-backend=NONE --adminpass="$adminpass" --targetdir="$dir" \
    --host-name=dc1 --host-ip=127.0.0.1 \
    --option="interfaces=127.0.0.1" --option="bind interfaces only=yes" \
    >"$dir/log/provision.log" 2>&1; then
    wait "$certs" || true
    echo "samba.sh: provisioning failed:" >&2
    tail -20 "$dir/log/provision.log" >&2
    exit 1
  fi
  wait "$certs"
  # Overrides at the top of [global]: everything under DIR, only the services LDAP needs.
  python3 - "$conf" "$dir" "$strong" <<'PY'
import sys
conf, d, strong = sys.argv[1:4]
text = open(conf).read()
extra = f"""\t# --- roster test instance (scripts/samba.sh) ---
\tlog file = {d}/log/samba.log
\tlog level = 1
\tpid directory = {d}/run
\tlock directory = {d}/run/lock
\tncalrpc dir = {d}/run/ncalrpc
\twinbindd socket directory = {d}/run/winbindd
\tcache directory = {d}/cache
\tserver services = ldap, cldap, kdc
\tkrb5 port = 10088
\tkpasswd port = 10464
\tldap server require strong auth = {strong}
\ttls enabled = yes
\ttls keyfile = {d}/tls/server.key
\ttls certfile = {d}/tls/server.crt
\ttls cafile = {d}/tls/ca.crt
"""
text = text.replace("[global]\n", "[global]\n" + extra, 1)
text = text.replace("\tlog file = /var/log/samba/log.%m\n", "")
open(conf, "w").write(text)
PY
  cat >"$dir/instance.env" <<E
AD_REALM='$realm'
AD_DOMAIN='$domain'
AD_BASE_DN='$base'
AD_ADMINPASS='$adminpass'
E
  echo "provisioned $realm ($base) in $dir"
  ;;
load)
  loadenv
  ldif=${3:?usage: scripts/samba.sh load DIR FILE.ldif}
  if running; then
    # Online: one ldapadd over plain LDAP (strong auth is off by default in init).
    ldapadd -x -H ldap://127.0.0.1:389 -D "Administrator@${AD_REALM,,}" -w "$AD_ADMINPASS" \
      -f "$ldif" >"$dir/log/ldapadd.log" 2>&1 || { tail -5 "$dir/log/ldapadd.log" >&2; exit 1; }
    echo "ldapadd: added $(grep -c '^adding new entry' "$dir/log/ldapadd.log") entries"
    exit 0
  fi
  # Offline: straight into sam.ldb through the full dsdb module stack (SIDs, memberOf links).
  # ldbadd slows down as one call grows, so the LDIF is split into chunks on blank lines.
  chunk=${SAMBA_LOAD_CHUNK:-1000}
  cdir="$dir/run/chunks"
  rm -rf "$cdir"
  mkdir -p "$cdir"
  awk -v RS= -v ORS='\n\n' -v n="$chunk" -v d="$cdir" \
    '{ print > sprintf("%s/c%05d.ldif", d, int((NR-1)/n)) }' "$ldif"
  : >"$dir/log/ldbadd.log"
  total=0
  for f in "$cdir"/c*.ldif; do
    [ -e "$f" ] || continue
    if ! out=$(ldbadd --nosync -H "$dir/private/sam.ldb" "$f" 2>&1); then
      printf '%s\n' "$out" >>"$dir/log/ldbadd.log"
      echo "samba.sh: ldbadd failed on $f:" >&2
      printf '%s\n' "$out" | tail -5 >&2
      exit 1
    fi
    printf '%s\n' "$out" >>"$dir/log/ldbadd.log"
    n=$(printf '%s\n' "$out" | grep -o 'Added [0-9]\+' | grep -o '[0-9]\+' | tail -1)
    total=$((total + ${n:-0}))
  done
  rm -rf "$cdir"
  echo "ldbadd: added $total entries"
  ;;
start)
  loadenv
  if running; then echo "samba.sh: already running (pid $(cat "$pidf"))" >&2; exit 1; fi
  reason=$(why_not)
  if [ -n "$reason" ]; then echo "samba.sh: cannot start: $reason" >&2; exit 3; fi
  # -i: foreground (we background it ourselves), -M single: one process, logs to stdout.
  samba -i -M single -s "$conf" </dev/null >"$dir/log/samba.out" 2>&1 &
  pid=$!
  echo "$pid" >"$pidf"
  for _ in $(seq 1 600); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "samba.sh: samba exited:" >&2
      tail -20 "$dir/log/samba.out" >&2
      rm -f "$pidf"
      exit 1
    fi
    # The port is fixed, so check that THIS domain answers (not a stale server).
    if ldapsearch -x -H ldap://127.0.0.1:389 -b "" -s base -LLL defaultNamingContext 2>/dev/null |
      grep -qi "^defaultNamingContext: $AD_BASE_DN\$"; then
      echo "samba up: pid $pid ldap://127.0.0.1:389 ldaps://127.0.0.1:636"
      exit 0
    fi
    sleep 0.05
  done
  echo "samba.sh: samba did not answer on 127.0.0.1:389 within 30 s" >&2
  tail -20 "$dir/log/samba.out" >&2
  "$0" stop "$dir" >/dev/null 2>&1 || true
  exit 1
  ;;
stop)
  [ -f "$pidf" ] || { echo "samba.sh: not running"; exit 0; }
  pid=$(cat "$pidf")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "samba.sh: samba $pid still running after 10 s, sending SIGKILL" >&2
      kill -9 "$pid"
    fi
  fi
  rm -f "$pidf"
  echo "samba $pid stopped"
  ;;
env)
  loadenv
  cat <<E
export AD_HOST=127.0.0.1
export AD_REALM='$AD_REALM'
export AD_DOMAIN='$AD_DOMAIN'
export LDAP_URL=ldap://127.0.0.1:389
export LDAPS_URL=ldaps://127.0.0.1:636
export LDAP_BASE_DN='$AD_BASE_DN'
export LDAP_BIND_DN='CN=Administrator,CN=Users,$AD_BASE_DN'
export LDAP_BIND_UPN='Administrator@${AD_REALM,,}'
export LDAP_BIND_PW='$AD_ADMINPASS'
export LDAPTLS_CACERT=$dir/tls/ca.crt
export SAM_LDB=$dir/private/sam.ldb
export SMB_CONF=$conf
E
  ;;
destroy)
  "$0" stop "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
*)
  echo "$usage" >&2
  exit 2
  ;;
esac
