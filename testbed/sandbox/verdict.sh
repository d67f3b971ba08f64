#!/bin/bash
# The harness's test run, inside a fresh verdict container that no process of the agent's has
# ever run in. /workspace is the harness's copy of the agent's tree (pristine protected paths and
# runner files put back); the runner is pinned: the harness's own pytest config (-c), rootdir and
# confcutdir at the tree, no plugin autoload, no cache, no cwd on sys.path (PYTHONSAFEPATH), and a
# JUnit report in /tb-out beside the harness guard's own record (testbed_guard.py), both read
# by the harness after the container is stopped.
# Usage: verdict.sh TIMEOUT_S SEED -- TEST_COMMAND
set -u
timeout_s="$1" seed="$2"; shift 3
cd /workspace || exit 90
extra=()
[ -f /opt/testbed/harness/env.list ] && mapfile -t extra < /opt/testbed/harness/env.list
exec > /tb-out/out 2>&1 < /dev/null
exec env -i "${extra[@]}" PATH=/usr/local/bin:/usr/bin:/bin HOME=/home/agent LANG=C.UTF-8 \
  PYTHONNOUSERSITE=1 PYTHONDONTWRITEBYTECODE=1 PYTHONSAFEPATH=1 PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 \
  PYTHONPATH=/opt/testbed/harness/plugin TESTBED_GUARD_OUT=/tb-out \
  PYTEST_ADDOPTS="-p no:cacheprovider -p testbed_guard -c /opt/testbed/harness/pytest.ini --rootdir=/workspace --confcutdir=/workspace --junitxml=/tb-out/junit.xml" \
  TESTBED_SEED="$seed" timeout -s KILL "$timeout_s" /bin/bash -c "$*"
