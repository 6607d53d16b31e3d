#!/usr/bin/env bash
# The main job until the oracle demo lands: compile, prove and verify each sample model the repo
# ships (tests/data), printing outputs, proof sizes and times; then wrap price_mlp's proof into
# a Groth16 proof (development keys) and verify that.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/zkml-target}"
cargo build --quiet --bin zkml
zkml="$CARGO_TARGET_DIR/debug/zkml"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for m in price_mlp digits_mlp lenet; do
  echo "== $m"
  "$zkml" compile "tests/data/$m.onnx" --calibrate "tests/data/$m.input.json" --out "$work/$m"
  "$zkml" run "$work/$m" --input "tests/data/$m.input.json"
  "$zkml" prove "$work/$m" --input "tests/data/$m.input.json" --out "$work/$m.proof"
  "$zkml" verify "$work/$m" "$work/$m.proof"
done
echo "== price_mlp, wrapped (Groth16, development keys)"
"$zkml" setup "$work/price_mlp" --dev-seed 1
"$zkml" prove "$work/price_mlp" --input tests/data/price_mlp.input.json --out "$work/price_mlp.wrap" --wrap --context 1
"$zkml" verify "$work/price_mlp" "$work/price_mlp.wrap" --input tests/data/price_mlp.input.json
