#!/usr/bin/env bash
# The main job end to end (oracle-demo/): a proved price model feeds a Chainlink-style oracle on a
# local anvil, a consumer contract reads it, and an agent pays for one proved inference through
# an x402 escrow that releases on the proof while the ERC-8004 Validation Registry records it.
# Installs the pinned toolchain (anvil, solc-js) first. Arguments go to oracle-demo
# (`./script/demo.sh --help`: --rounds N, --keep-chain, --port P, --rpc-url URL, ...).
#   ./script/demo.sh --samples   the older walk-through: compile, prove and verify each sample
#                                model in tests/data with the zkml CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
# One build for the README's two commands: cargo's own target directory (./target, or
# $CARGO_TARGET_DIR when set), the dev profile (optimised, see Cargo.toml) that `cargo test`
# builds, and the workspace's feature resolution. `--workspace --bins` resolves features exactly
# as `cargo test --workspace` does (no dev-dependency adds a feature; see docs/building.md), so
# `cargo test --workspace` afterwards reuses every dependency built here, while the Cairo
# compiler, needed only by the Starknet harness's tests, is not built for the demo.
bin="${CARGO_TARGET_DIR:-target}/debug"
cargo build --quiet --workspace --bins

if [[ "${1:-}" != "--samples" ]]; then
  script/install-toolchain.sh
  exec "$bin/oracle-demo" "$@"
fi

zkml="$bin/zkml"
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
