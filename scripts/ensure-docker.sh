#!/bin/sh
# Make sure a Docker engine answers. On a fresh Debian machine (as root) this installs docker.io
# and starts dockerd without any network bridge: sandboxes run with --network none, and this
# engine must never create a bridge or touch iptables.
set -eu
if docker info >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "The Docker engine does not answer and this is not root: start dockerd, or run as root" >&2
  exit 1
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "installing docker.io (apt-get) ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq docker.io >/dev/null
fi
pidfile=/var/run/testbed-dockerd.pid
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then :; else
  echo "starting dockerd (--bridge=none --iptables=false --ip-forward=false) ..." >&2
  nohup dockerd --bridge=none --iptables=false --ip-forward=false \
    >/var/log/testbed-dockerd.log 2>&1 &
  echo $! >"$pidfile"
fi
i=0
until docker info >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -gt 120 ]; then
    echo "dockerd did not answer within 60 s; see /var/log/testbed-dockerd.log" >&2
    tail -n 20 /var/log/testbed-dockerd.log >&2 || true
    exit 1
  fi
  sleep 0.5
done
