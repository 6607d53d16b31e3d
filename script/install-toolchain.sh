#!/usr/bin/env bash
# Installs the pinned Solidity toolchain (package.json + package-lock.json) into node_modules/:
# forge and anvil 1.7.1 (real binaries in the npm packages), solc-js 0.8.28 behind script/solc,
# forge-std 1.9.7, OpenZeppelin contracts, snarkjs 0.7.6 (the peer for setup ceremonies) and the
# reference x402 client, @x402/fetch + @x402/evm 2.27.0 with viem (zkml serve's interoperability
# test drives it: serve/tests/clients/buy.mjs).
# Needs only node (>= 20) and npm; idempotent, and a no-op apart from the checks when
# node_modules already matches the lock file.
# After it: node_modules/.bin/forge test   (foundry.toml points forge at script/solc, offline)
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "install-toolchain: $tool not found on PATH" >&2; exit 1; }
done

# Tests install the toolchain themselves when it is missing, several at once on a fresh clone: one
# install at a time (a lock on this script), or one `npm ci` deletes the forge another runs.
exec 9<script/install-toolchain.sh
flock 9

# Written last, once every check below passed: with it newer than the lock file and package.json,
# node_modules/ is complete and what the lock file asks for (`npm ci` deletes it first).
stamp=node_modules/.zkml-toolchain
if [[ -f "$stamp" && "$stamp" -nt package-lock.json && "$stamp" -nt package.json ]]; then
  echo "install-toolchain: node_modules up to date"
else
  echo "install-toolchain: npm ci"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null  # errors still go to stderr
fi

# The binaries live in node_modules/@foundry-rs/{forge,anvil}-linux-amd64/bin/ and npm links them
# into node_modules/.bin; make sure they are executable whatever the unpacking did.
for tool in forge anvil; do
  bin="node_modules/@foundry-rs/$tool-linux-amd64/bin/$tool"
  [[ -f "$bin" ]] || { echo "install-toolchain: $bin missing after npm ci" >&2; exit 1; }
  [[ -x "$bin" ]] || chmod +x "$bin"
  [[ -e "node_modules/.bin/$tool" ]] || ln -sf "../@foundry-rs/$tool-linux-amd64/bin/$tool" "node_modules/.bin/$tool"
done
chmod +x script/solc

forge_v="$(node_modules/.bin/forge --version | head -n1)"
anvil_v="$(node_modules/.bin/anvil --version | head -n1)"
solc_v="$(script/solc --version | tail -n1)"
[[ -f node_modules/@layerzerolabs/toolbox-foundry/lib/forge-std/Test.sol ]] \
  || { echo "install-toolchain: forge-std missing" >&2; exit 1; }
[[ -d node_modules/@openzeppelin/contracts/token ]] \
  || { echo "install-toolchain: @openzeppelin/contracts missing" >&2; exit 1; }
[[ -x node_modules/.bin/snarkjs ]] \
  || { echo "install-toolchain: snarkjs missing" >&2; exit 1; }
for pkg in @x402/fetch @x402/evm viem; do
  [[ -f "node_modules/$pkg/package.json" ]] || { echo "install-toolchain: $pkg missing" >&2; exit 1; }
done
echo "$forge_v"
echo "$anvil_v"
echo "solc $solc_v (solc-js via script/solc)"
touch "$stamp"
