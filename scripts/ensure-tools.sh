#!/bin/sh
# System tools the project uses besides Docker: debootstrap (offline base image) and tmux (the
# replay's terminal tests drive the real program in it). Installed with apt-get when missing.
set -eu
missing=""
for tool in debootstrap tmux; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing system tools:$missing (install them with apt-get as root)" >&2
  exit 1
fi
echo "installing$missing (apt-get) ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq $missing >/dev/null
