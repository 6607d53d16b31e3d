#!/usr/bin/env bash
# Prints a directory holding the `onnx` package's node test models of the operator families
# listed in script/onnx-node-tests.py (one DIR/test_NAME/ per model), which the conformance test
# runs with their extra inputs bound as constants. The package ships the generators, not the
# files: they are written once into a cache directory, with the `onnx` package at the pinned
# version (the installed one, or pip-installed with its dependencies into the cache).
set -euo pipefail
ONNX_VERSION=1.23.2
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${ZKML_ONNX_NODE_CACHE:-$HOME/.cache/zkml-onnx-node-$ONNX_VERSION}"
out="$cache/node"
# Regenerate when the family list changes.
stamp="$(sha256sum "$here/onnx-node-tests.py" | cut -c1-16)"

if [[ ! -f "$out/.done-$stamp" ]]; then
  command -v python3 >/dev/null || { echo "onnx-node-tests: python3 not found on PATH" >&2; exit 1; }
  if ! python3 -c "import onnx; assert onnx.__version__ == '$ONNX_VERSION'" 2>/dev/null; then
    if ! PYTHONPATH="$cache/py" python3 -c "import onnx; assert onnx.__version__ == '$ONNX_VERSION'" 2>/dev/null; then
      echo "onnx-node-tests: installing onnx==$ONNX_VERSION into $cache/py" >&2
      python3 -m pip install --quiet --disable-pip-version-check --target "$cache/py" "onnx==$ONNX_VERSION" >&2
    fi
    export PYTHONPATH="$cache/py"
  fi
  rm -rf "$out"
  mkdir -p "$out"
  python3 "$here/onnx-node-tests.py" "$out" >&2
  touch "$out/.done-$stamp"
fi
echo "$out"
