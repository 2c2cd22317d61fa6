#!/bin/sh
# Install what bench/run.py compares against (Debian, as root).
#
# vsftpd, proftpd and pure-ftpd each provide and conflict with `ftp-server`,
# so apt installs only one of them at a time.  vsftpd is apt-installed (the
# test suite uses it too); proftpd-core and pure-ftpd are downloaded with
# `apt-get download` and unpacked with `dpkg -x` into bench/.cache/root,
# after apt-installing the shared libraries they link against.  Nothing is
# enabled or started: the harness runs every daemon itself, in the
# foreground, on a high loopback port.  Any system instance an install
# started is stopped again, so nothing is left listening on port 21.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache="$here/.cache"
unpacked="$cache/root"

if [ "$(id -u)" != 0 ]; then
  echo "install-servers: not root; vsftpd/proftpd/pure-ftpd rows will say why they were skipped"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-servers: no apt-get; using whatever servers are already installed"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
need_update=1
apt_install() {
  if [ "$need_update" = 1 ]; then
    apt-get update -qq
    need_update=0
  fi
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=""
command -v curl >/dev/null 2>&1 || missing="$missing curl"
command -v vsftpd >/dev/null 2>&1 || [ -x /usr/sbin/vsftpd ] || missing="$missing vsftpd"
command -v useradd >/dev/null 2>&1 || [ -x /usr/sbin/useradd ] || missing="$missing passwd"
if [ -n "$missing" ]; then
  echo "install-servers: apt-get install$missing"
  apt_install $missing
fi

unpack() {  # unpack PACKAGE... into bench/.cache/root unless its binary is already there
  binary=$1
  shift
  if command -v "$binary" >/dev/null 2>&1 || [ -x "/usr/sbin/$binary" ] || [ -x "$unpacked/usr/sbin/$binary" ]; then
    return 0
  fi
  if [ "$need_update" = 1 ]; then
    apt-get update -qq
    need_update=0
  fi
  echo "install-servers: unpacking $* into $unpacked"
  # The libraries they link against (lib*), which do not conflict with anything.
  libs=$(apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
           --no-replaces --no-enhances "$@" \
         | awk '$1 == "Depends:" && $2 ~ /^lib/ { print $2 }' | sort -u)
  # shellcheck disable=SC2086
  [ -z "$libs" ] || apt_install $libs
  mkdir -p "$cache/debs" "$unpacked"
  (cd "$cache/debs" && apt-get download "$@" >/dev/null 2>&1)
  for package in "$@"; do
    deb=$(ls -t "$cache/debs/${package}"_*.deb | head -n 1)
    dpkg -x "$deb" "$unpacked"
    dpkg-deb -f "$deb" Version >"$cache/$package.version"
  done
}

unpack proftpd proftpd-core
unpack pure-ftpd pure-ftpd pure-ftpd-common

# An install may have started a system instance on port 21: stop it.
for service in vsftpd proftpd pure-ftpd; do
  if command -v service >/dev/null 2>&1; then
    service "$service" stop >/dev/null 2>&1 || true
  fi
done
if command -v ss >/dev/null 2>&1 && ss -ltn 'sport = :21' | grep -q LISTEN; then
  for pidfile in /run/vsftpd.pid /run/proftpd.pid /run/pure-ftpd/pure-ftpd.pid; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  if ss -ltn 'sport = :21' | grep -q LISTEN; then
    echo "install-servers: warning: something still listens on port 21 (not started by us)"
  fi
fi
echo "install-servers: ok"
