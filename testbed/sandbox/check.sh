#!/bin/bash
# The harness's own test run. It never trusts the agent's copy of the tests or of the test-runner
# configuration: it copies the agent's work tree aside, puts the pristine protected paths and the
# pristine checker configuration back, drops any new conftest/site hooks, and runs the test command
# in a clean environment.  Usage: check TIMEOUT_S HEAD_BYTES TAIL_BYTES -- TEST_COMMAND
set -u
timeout_s="$1" head_b="$2" tail_b="$3"; shift 4
pristine=/opt/testbed/pristine
harness=/opt/testbed/harness
dst=$(mktemp -d /tmp/tb-check.XXXXXX) || exit 90
out="$dst.out"
trap 'rm -rf "$dst" "$out"' EXIT
tar -C /workspace --exclude=./.git -cf - . 2>/dev/null | tar -C "$dst" -xf - 2>/dev/null
while IFS= read -r p; do
  [ -n "$p" ] || continue
  rm -rf "${dst:?}/$p"
  mkdir -p "$(dirname "$dst/$p")"
  cp -a "$pristine/$p" "$dst/$p"
done < "$harness/protected.list"
# Files that change how the test runner behaves: pristine version if the template had one, else none.
find "$dst" \( -name conftest.py -o -name pytest.ini -o -name tox.ini -o -name setup.cfg \
  -o -name pyproject.toml -o -name sitecustomize.py -o -name usercustomize.py -o -name '*.pth' \) \
  -print 2>/dev/null | while IFS= read -r f; do
    rel="${f#$dst/}"
    if [ -f "$pristine/$rel" ]; then cp -a "$pristine/$rel" "$f"; else rm -f "$f"; fi
  done
( cd "$pristine" && find . \( -name conftest.py -o -name pytest.ini -o -name tox.ini -o -name setup.cfg \
  -o -name pyproject.toml \) -print ) | while IFS= read -r rel; do
    mkdir -p "$(dirname "$dst/$rel")"; cp -a "$pristine/$rel" "$dst/$rel"
  done
cd "$dst" || exit 90
extra=()
[ -f "$harness/env.list" ] && mapfile -t extra < "$harness/env.list"
env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$dst" LANG=C.UTF-8 PYTHONNOUSERSITE=1 \
  PYTHONDONTWRITEBYTECODE=1 PYTEST_ADDOPTS="-p no:cacheprovider" TESTBED_SEED="${TESTBED_SEED:-0}" \
  "${extra[@]}" \
  timeout -s KILL "$timeout_s" bash -c "$*" >"$out" 2>&1 </dev/null
rc=$?
size=$(wc -c <"$out")
printf '__TB_CHECK %s %s\n' "$rc" "$size"
if [ "$size" -le $((head_b + tail_b)) ]; then cat "$out"; else
  head -c "$head_b" "$out"; printf '\n__TB_CUT\n'; tail -c "$tail_b" "$out"; fi
