#!/usr/bin/env bash
# Prints a directory holding the `onnx` package's node test models of the operator families
# listed in script/onnx-node-tests.py (one DIR/test_NAME/ per model), which the conformance test
# runs with their extra inputs bound as constants. The package ships the generators, not the
# files: they are written once into a cache directory, with the `onnx` package at the pinned
# version (the installed one, or pip-installed once by script/python-package.sh).
set -euo pipefail
ONNX_VERSION=1.23.2
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${ZKML_ONNX_NODE_CACHE:-$HOME/.cache/zkml-onnx-node-$ONNX_VERSION}"
out="$cache/node"
# Regenerate when the family list changes.
stamp="$(sha256sum "$here/onnx-node-tests.py" | cut -c1-16)"

if [[ ! -f "$out/.done-$stamp" ]]; then
  PYTHONPATH="$("$here/python-package.sh" onnx "$ONNX_VERSION")"
  export PYTHONPATH
  rm -rf "$out"
  mkdir -p "$out"
  python3 "$here/onnx-node-tests.py" "$out" >&2
  touch "$out/.done-$stamp"
fi
echo "$out"
