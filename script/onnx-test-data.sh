#!/usr/bin/env bash
# Prints the directory holding the ONNX backend test models (onnx/backend/test/data), which the
# conformance runner and its test use (pytorch-converted/, pytorch-operator/): the data files of
# the `onnx` Python package at the pinned version (the installed one, or pip-installed once by
# script/python-package.sh).
set -euo pipefail
ONNX_VERSION=1.23.2
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHONPATH="$("$here/python-package.sh" onnx "$ONNX_VERSION")"
export PYTHONPATH
dir="$(python3 -c "import onnx, os; print(os.path.join(os.path.dirname(onnx.__file__), 'backend', 'test', 'data'))")"
[[ -d "$dir/pytorch-converted" ]] || { echo "onnx-test-data: $dir/pytorch-converted is missing" >&2; exit 1; }
echo "$dir"
