#!/usr/bin/env bash
# Prints the path of a Powers-of-Tau ceremony of power POWER, made as a production user gets one:
# snarkjs (pinned in package.json) `powersoftau new`, one contribution, a beacon and `prepare
# phase2` (the Lagrange sections the Hermez files carry). Made once per machine under
# ~/.cache/zkml-ptau/ (seconds for the tests' powers 6 and 13; `prepare phase2` takes ~12 min at
# power 15). With --unprepared, the file before `prepare phase2` (NAME.unprepared.ptau: the same
# powers, which zkml turns into the Lagrange basis itself), made without waiting for the
# preparation; a prepared file is always made from the unprepared one beside it. Callers that
# ask at once wait on a lock, so one file is made and all of them read it (each making its own,
# with its own random contribution, replaced the file under a test that had recorded the first
# one's hash); written under a temporary name and renamed, so no one reads a half-written file.
# Usage: script/test-ptau.sh POWER [--unprepared]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
power="${1:?usage: script/test-ptau.sh POWER [--unprepared]}"
[[ "$power" =~ ^[0-9]+$ ]] || { echo "test-ptau: POWER must be a number, not $power" >&2; exit 1; }
case "${2:-}" in
  "" | --unprepared) ;;
  *) echo "test-ptau: unknown option $2 (usage: script/test-ptau.sh POWER [--unprepared])" >&2; exit 1 ;;
esac
dir="$HOME/.cache/zkml-ptau"
out="$dir/snarkjs-0.7.6-power$power.ptau"
unprepared="${out%.ptau}.unprepared.ptau"
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
snarkjs() { "$root/node_modules/.bin/snarkjs" "$@" >/dev/null; }
prepared=true
if [[ "${2:-}" == --unprepared ]]; then prepared=false; fi
if [[ ! -f "$unprepared" ]] || { $prepared && [[ ! -f "$out" ]]; }; then
  bash "$root/script/install-toolchain.sh" >&2
  tmp="$(mktemp -d "$dir/tmp.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
fi
if [[ ! -f "$unprepared" ]]; then
  snarkjs powersoftau new bn128 "$power" "$tmp/0.ptau"
  snarkjs powersoftau contribute "$tmp/0.ptau" "$tmp/1.ptau" --name="zkml test" -e="zkml test entropy"
  snarkjs powersoftau beacon "$tmp/1.ptau" "$tmp/2.ptau" \
    0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 10 -n="final beacon"
  mv "$tmp/2.ptau" "$unprepared"
fi
if $prepared && [[ ! -f "$out" ]]; then
  snarkjs powersoftau prepare phase2 "$unprepared" "$tmp/final.ptau"
  mv "$tmp/final.ptau" "$out"
fi
if $prepared; then echo "$out"; else echo "$unprepared"; fi
