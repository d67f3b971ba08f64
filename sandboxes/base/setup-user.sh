#!/bin/sh
# Shared by both build paths: the unprivileged agent user and the sandbox layout.
set -eu
groupadd --gid 1000 agent
useradd --uid 1000 --gid 1000 --create-home --shell /bin/bash agent
mkdir -p /workspace /opt/testbed
chown agent:agent /workspace
git config --system user.name "agent"
git config --system user.email "agent@sandbox.invalid"
git config --system init.defaultBranch main
git config --system safe.directory '*'
# pip refuses to install into Debian's system Python without this; installs still fail offline,
# which is the realistic failure the broken-environment scenarios rely on.
printf '[global]\nbreak-system-packages = true\n' > /etc/pip.conf
