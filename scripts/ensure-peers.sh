#!/bin/sh
# The peers measured by `make bench-peers`, in a virtualenv of their own (bench/.peers-venv), pinned
# by bench/peers-requirements.txt; rebuilt when that file changes. Never touches the project's venv.
#
# Inspect AI's docker sandbox needs Docker Compose v2 and Engine >= 24.0.6; Debian 12 ships 20.10
# and Compose v1. With PEERS_NEWER_ENGINE=1 (root only) this installs Debian 13's docker.io 26.1.5
# and docker-compose 2.26.1 through a private apt source list (the system's sources are not
# changed; on Debian 12 these four packages need nothing else from Debian 13) and restarts the
# project's dockerd, still without a bridge. Without it, Inspect is reported as not measured.
set -eu
VENV=bench/.peers-venv
REQ=bench/peers-requirements.txt
stamp="$VENV/.req-$(sha256sum "$REQ" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r "$REQ"
  touch "$stamp"
fi
if [ "${PEERS_NEWER_ENGINE:-0}" = 1 ] && ! docker compose version >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then echo "PEERS_NEWER_ENGINE=1 needs root" >&2; exit 1; fi
  apt_dir=/var/tmp/testbed-peers-apt
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/parts" "$apt_dir/prefs"
  printf 'deb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian trixie main\n' \
    >"$apt_dir/sources.list"
  set -- -o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o "Dir::Etc::sourceparts=$apt_dir/parts" \
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" \
    -o "Dir::Etc::preferencesparts=$apt_dir/prefs"
  export DEBIAN_FRONTEND=noninteractive
  apt-get "$@" update -qq
  apt-get "$@" install -y -qq -t trixie docker.io docker-compose
  pidfile=/var/run/testbed-dockerd.pid
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    kill "$(cat "$pidfile")"
    while kill -0 "$(cat "$pidfile")" 2>/dev/null; do sleep 0.2; done
    rm -f "$pidfile"
  fi
  scripts/ensure-docker.sh
fi
