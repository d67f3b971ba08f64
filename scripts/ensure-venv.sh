#!/bin/sh
# Create the virtualenv and install the project with pinned dependencies. A stamp keyed on the
# dependency files makes the second run a no-op.
set -eu
venv="${VENV:-.venv}"
extras="${EXTRAS:-all}"
stamp_key=$(cat pyproject.toml constraints.txt 2>/dev/null | sha256sum | cut -c1-16)
stamp="$venv/.testbed-installed-$extras-$stamp_key"
[ -f "$stamp" ] && exit 0
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
# torch first, from the pinned CPU wheel, so nothing can resolve a CUDA build.
case ",$extras," in *,all,*|*,tone,*|*,whitebox,*)
  "$venv/bin/python" -m pip install -q "torch==2.13.0" ;;
esac
"$venv/bin/python" -m pip install -q -c constraints.txt -e ".[$extras]"
rm -f "$venv"/.testbed-installed-*
touch "$stamp"
