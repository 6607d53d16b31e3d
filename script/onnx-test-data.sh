#!/usr/bin/env bash
# Prints the directory holding the ONNX backend test models (onnx/backend/test/data), which the
# conformance runner and its test use (pytorch-converted/, pytorch-operator/). Uses the `onnx`
# Python package when it is installed at the pinned version; otherwise pip-installs that version's
# wheel (no dependencies: only its data files are read) into a cache directory, once.
set -euo pipefail
ONNX_VERSION=1.23.2
cache="${ZKML_ONNX_CACHE:-$HOME/.cache/zkml-onnx-$ONNX_VERSION}"

if command -v python3 >/dev/null; then
  dir="$(python3 -c "import onnx, os; assert onnx.__version__ == '$ONNX_VERSION'; print(os.path.dirname(onnx.__file__))" 2>/dev/null || true)"
  if [[ -n "$dir" && -d "$dir/backend/test/data/pytorch-converted" ]]; then
    echo "$dir/backend/test/data"
    exit 0
  fi
fi
if [[ ! -d "$cache/onnx/backend/test/data/pytorch-converted" ]]; then
  command -v python3 >/dev/null || { echo "onnx-test-data: python3 not found on PATH (needed to pip-install onnx==$ONNX_VERSION)" >&2; exit 1; }
  echo "onnx-test-data: installing onnx==$ONNX_VERSION into $cache" >&2
  python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$cache" "onnx==$ONNX_VERSION" >&2
fi
[[ -d "$cache/onnx/backend/test/data/pytorch-converted" ]] \
  || { echo "onnx-test-data: $cache/onnx/backend/test/data is missing after pip install" >&2; exit 1; }
echo "$cache/onnx/backend/test/data"
