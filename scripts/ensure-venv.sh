#!/bin/sh
# Create the virtualenv and install the project with pinned dependencies. A stamp keyed on the
# dependency files makes the second run a no-op.
set -eu
venv="${VENV:-.venv}"
extras="${EXTRAS:-all}"
# llama.cpp is compiled here. A native build (-march=native, llama.cpp's default) enables its AMX
# kernels on CPUs that have AMX, and those crash the server on its first request (segfault in
# ggml_backend_amx_mul_mat, ggml-org/llama.cpp#20824; seen here on an AMX_INT8 machine): build for a
# portable AVX2 baseline instead. Its own stamp (version and flags) rebuilds a venv built otherwise once.
LLAMA_CMAKE_ARGS="${LLAMA_CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}"
llama_key=$( (grep -i '^llama.cpp.python==' constraints.txt; echo "$LLAMA_CMAKE_ARGS") | sha256sum | cut -c1-16)
llama_stamp="$venv/.testbed-llama-$llama_key"
stamp_key=$( (cat pyproject.toml constraints.txt 2>/dev/null; echo "$llama_key") | sha256sum | cut -c1-16)
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
case ",$extras," in *,all,*|*,local,*)
  if [ ! -f "$llama_stamp" ]; then
    # --no-cache-dir: pip's wheel cache does not key on CMAKE_ARGS, so a cached native build would return.
    CMAKE_ARGS="$LLAMA_CMAKE_ARGS" "$venv/bin/python" -m pip install -q --no-cache-dir --force-reinstall \
      --no-deps -c constraints.txt llama_cpp_python
    rm -f "$venv"/.testbed-llama-*
    touch "$llama_stamp"
  fi ;;
esac
"$venv/bin/python" -m pip install -q -c constraints.txt -e ".[$extras]"
rm -f "$venv"/.testbed-installed-*
touch "$stamp"
