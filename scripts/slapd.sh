#!/usr/bin/env bash
# A throwaway OpenLDAP server in a directory, for tests, benchmarks and local development.
# No system service, no root, no Docker: slapd runs from DIR on free 127.0.0.1 high ports.
#
#   scripts/slapd.sh init    DIR            certificates, config (cn=config in DIR/slapd.d), mdb
#                                           with the suffix, ou=services and a read-only account
#   scripts/slapd.sh load    DIR FILE.ldif  offline bulk load (slapadd -q); slapd must be stopped
#   scripts/slapd.sh start   DIR            start in the background, wait until it answers
#   scripts/slapd.sh stop    DIR            SIGTERM the pid in DIR/run/slapd.pid, wait for exit
#   scripts/slapd.sh env     DIR            print shell exports: URLs, base DN, accounts, CA file
#   scripts/slapd.sh destroy DIR            stop, then rm -rf DIR
#
# Settings (environment, read by init and kept in DIR/instance.env):
#   LDAP_PORT / LDAPS_PORT   ports for ldap:// (plain and StartTLS) and ldaps://; unset or 0
#                            picks free ports at every start
#   LDAP_SUFFIX              base DN (dc=example,dc=com)
#   LDAP_ROOTPW              password of cn=admin,<suffix>, which ignores every limit (secret)
#   LDAP_READER_PW           password of uid=svc-reader,ou=services,<suffix> (ReaderPass1!),
#                            read-only and subject to the size limit
#   LDAP_SIZELIMIT           entries a non-admin unpaged search may return (500); paged searches
#                            (RFC 2696) may page through everything
#   LDAP_LOGLEVEL            slapd loglevel (none; "stats" logs every operation to DIR/slapd.log)
# Binaries: SLAPD, SLAPADD, SLAPTEST, SLAPPASSWD, LDAPSEARCH override the Debian paths.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage="usage: scripts/slapd.sh init|load|start|stop|env|destroy DIR [FILE.ldif]"
cmd=${1:?$usage}
dir=${2:?$usage}
SLAPD=${SLAPD:-/usr/sbin/slapd}
SLAPADD=${SLAPADD:-/usr/sbin/slapadd}
SLAPTEST=${SLAPTEST:-/usr/sbin/slaptest}
SLAPPASSWD=${SLAPPASSWD:-/usr/sbin/slappasswd}
LDAPSEARCH=${LDAPSEARCH:-ldapsearch}

need() {
  for b in "$@"; do
    if ! command -v "$b" >/dev/null 2>&1; then
      echo "slapd.sh: $b not found: install OpenLDAP (Debian/Ubuntu: sudo apt-get install -y slapd ldap-utils)" >&2
      exit 3
    fi
  done
}

loadenv() {
  [ -f "$dir/instance.env" ] || { echo "slapd.sh: $dir is not initialised (run init first)" >&2; exit 1; }
  # shellcheck disable=SC1091
  . "$dir/instance.env"
}

running() {
  [ -f "$dir/run/slapd.pid" ] && kill -0 "$(cat "$dir/run/slapd.pid")" 2>/dev/null
}

port_in_use() {
  if command -v ss >/dev/null 2>&1; then
    [ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

# Ports below Linux's ephemeral range (32768-60999 by default): a port freed by a killed slapd is
# then never handed to another socket bound to port 0, nor taken as the source port of a
# connection to itself (a TCP self-connect), so "connection refused" tests stay exact.
free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 12768))
    if ! port_in_use "$p"; then echo "$p"; return 0; fi
  done
  echo "slapd.sh: no free port found" >&2
  exit 1
}

case "$cmd" in
init)
  need "$SLAPD" "$SLAPADD" "$SLAPTEST" "$SLAPPASSWD" openssl
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  suffix=${LDAP_SUFFIX:-dc=example,dc=com}
  rootpw=${LDAP_ROOTPW:-secret}
  readerpw=${LDAP_READER_PW:-ReaderPass1!}
  sizelimit=${LDAP_SIZELIMIT:-500}
  loglevel=${LDAP_LOGLEVEL:-none}
  rootdn="cn=admin,$suffix"
  readerdn="uid=svc-reader,ou=services,$suffix"
  rm -rf "$dir/db" "$dir/slapd.d" "$dir/run"
  mkdir -p "$dir/db" "$dir/run" "$dir/slapd.d"
  "$here/mkcerts.sh" "$dir/tls"
  cat > "$dir/instance.env" <<E
LDAP_FIXED_PORT=${LDAP_PORT:-0}
LDAP_FIXED_LDAPS_PORT=${LDAPS_PORT:-0}
LDAP_SUFFIX='$suffix'
LDAP_ROOTDN='$rootdn'
LDAP_ROOTPW='$rootpw'
LDAP_READER_DN='$readerdn'
LDAP_READER_PW='$readerpw'
LDAP_SIZELIMIT=$sizelimit
E
  roothash=$("$SLAPPASSWD" -h '{SSHA}' -s "$rootpw")
  readerhash=$("$SLAPPASSWD" -h '{SSHA}' -s "$readerpw")
  schema=/etc/ldap/schema
  cat > "$dir/slapd.conf" <<C
include $schema/core.schema
include $schema/cosine.schema
include $schema/inetorgperson.schema
include $schema/nis.schema
pidfile  $dir/run/slapd.pid
argsfile $dir/run/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
moduleload refint
loglevel $loglevel
# Non-admin identities: unpaged searches stop at $sizelimit entries (result code 4);
# paged searches may page through everything.
sizelimit size.soft=$sizelimit size.hard=$sizelimit size.pr=unlimited size.prtotal=unlimited
timelimit 60
TLSCACertificateFile  $dir/tls/ca.crt
TLSCertificateFile    $dir/tls/server.crt
TLSCertificateKeyFile $dir/tls/server.key

database config
rootdn "cn=admin,cn=config"
rootpw $roothash

database mdb
maxsize 8589934592
suffix "$suffix"
rootdn "$rootdn"
rootpw $roothash
directory $dir/db
index objectClass eq
index uid,sn,employeeType eq
index cn,mail eq,sub
index member,uniqueMember,memberUid,memberOf eq
index entryUUID,modifyTimestamp eq
access to attrs=userPassword
  by self write
  by anonymous auth
  by * none
access to *
  by users read
  by * none
overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE
overlay refint
refint_attributes member
# groupOfNames needs a member: when refint removes the last one it writes this placeholder.
refint_nothing "cn=nobody"
C
  rdn=${suffix%%,*}
  rdnattr=$(printf '%s' "${rdn%%=*}" | tr 'A-Z' 'a-z')
  rdnval=${rdn#*=}
  case "$rdnattr" in
  dc) top="objectClass: dcObject
objectClass: organization
o: $rdnval
dc: $rdnval" ;;
  o) top="objectClass: organization
o: $rdnval" ;;
  *) echo "slapd.sh: LDAP_SUFFIX must start with dc= or o=" >&2; exit 2 ;;
  esac
  cat > "$dir/base.ldif" <<L
dn: $suffix
objectClass: top
$top

dn: ou=services,$suffix
objectClass: organizationalUnit
ou: services

dn: $readerdn
objectClass: account
objectClass: simpleSecurityObject
uid: svc-reader
userPassword: $readerhash
description: read-only bind account, subject to the size limit
L
  # slaptest opens the mdb read-only and fails on an empty directory, so the base load (which
  # creates the mdb) runs first from slapd.conf, then the conversion to cn=config.
  "$SLAPADD" -f "$dir/slapd.conf" -b "$suffix" -q -l "$dir/base.ldif"
  "$SLAPTEST" -f "$dir/slapd.conf" -F "$dir/slapd.d" -Q
  echo "initialised $dir (suffix $suffix)"
  ;;
load)
  need "$SLAPADD"
  loadenv
  ldif=${3:?usage: scripts/slapd.sh load DIR FILE.ldif}
  if running; then echo "slapd.sh: stop slapd before load" >&2; exit 1; fi
  "$SLAPADD" -F "$dir/slapd.d" -b "$LDAP_SUFFIX" -q -l "$ldif"
  ;;
start)
  need "$SLAPD" "$LDAPSEARCH"
  loadenv
  dir=$(cd "$dir" && pwd)
  if running; then echo "slapd.sh: already running (pid $(cat "$dir/run/slapd.pid"))" >&2; exit 1; fi
  sock=$(printf '%s' "$dir/run/ldapi" | sed 's|/|%2F|g')
  for attempt in $(seq 1 10); do
    port=$LDAP_FIXED_PORT
    sport=$LDAP_FIXED_LDAPS_PORT
    [ "$port" != 0 ] || port=$(free_port)
    [ "$sport" != 0 ] || sport=$(free_port)
    rm -f "$dir/run/slapd.pid"
    if "$SLAPD" -F "$dir/slapd.d" -h "ldap://127.0.0.1:$port/ ldaps://127.0.0.1:$sport/ ldapi://$sock" \
      >"$dir/slapd.out" 2>&1; then
      for _ in $(seq 1 400); do
        if "$LDAPSEARCH" -x -H "ldap://127.0.0.1:$port" -b "" -s base -LLL namingContexts \
          >/dev/null 2>&1; then
          printf 'LDAP_PORT=%s\nLDAPS_PORT=%s\n' "$port" "$sport" > "$dir/run/ports.env"
          echo "slapd up: pid $(cat "$dir/run/slapd.pid") ldap://127.0.0.1:$port ldaps://127.0.0.1:$sport"
          exit 0
        fi
        running || break
        sleep 0.05
      done
      "$0" stop "$dir" >/dev/null 2>&1 || true
    fi
    if [ "$LDAP_FIXED_PORT" != 0 ] && [ "$LDAP_FIXED_LDAPS_PORT" != 0 ]; then break; fi
    echo "slapd.sh: start attempt $attempt failed, trying other ports" >&2
  done
  echo "slapd.sh: slapd did not start" >&2
  cat "$dir/slapd.out" >&2
  exit 1
  ;;
stop)
  pidf="$dir/run/slapd.pid"
  [ -f "$pidf" ] || { echo "slapd.sh: not running"; exit 0; }
  pid=$(cat "$pidf")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "slapd.sh: slapd $pid still running after 10 s, sending SIGKILL" >&2
      kill -9 "$pid"
    fi
  fi
  rm -f "$pidf" "$dir/run/ports.env"
  echo "slapd $pid stopped"
  ;;
env)
  loadenv
  dir=$(cd "$dir" && pwd)
  [ -f "$dir/run/ports.env" ] || { echo "slapd.sh: not running (start it first)" >&2; exit 1; }
  # shellcheck disable=SC1091
  . "$dir/run/ports.env"
  cat <<E
export LDAP_HOST=127.0.0.1
export LDAP_PORT=$LDAP_PORT
export LDAPS_PORT=$LDAPS_PORT
export LDAP_URL=ldap://127.0.0.1:$LDAP_PORT
export LDAPS_URL=ldaps://127.0.0.1:$LDAPS_PORT
export LDAP_BASE_DN='$LDAP_SUFFIX'
export LDAP_BIND_DN='$LDAP_ROOTDN'
export LDAP_BIND_PW='$LDAP_ROOTPW'
export LDAP_READER_DN='$LDAP_READER_DN'
export LDAP_READER_PW='$LDAP_READER_PW'
export LDAP_SIZELIMIT=$LDAP_SIZELIMIT
export LDAPTLS_CACERT=$dir/tls/ca.crt
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
