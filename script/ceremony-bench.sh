#!/usr/bin/env bash
# Times a key ceremony with zkml and with snarkjs (the peer, pinned in package.json) on the same
# circuit and the same Powers of Tau, and prints a Markdown table: zkml's wrap circuit of MODEL
# (default tests/data/tiny_gemm at 6 bits), exported with `zkml setup r1cs`; a test ptau of the
# power it needs (script/test-ptau.sh). zkml makes two-round keys (the default), whose steps
# also move δ₁. Each step: wall seconds and peak RSS (GNU time). Run it alone: it measures.
# Usage: script/ceremony-bench.sh [MODEL.onnx INPUT.json [zkml compile flags...]]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# cargo's own target directory, as script/demo.sh builds in.
target="${CARGO_TARGET_DIR:-$root/target}"
if [[ $# -ge 2 ]]; then
  model="$1" input="$2"; shift 2; flags=("$@")
else
  model="$root/tests/data/tiny_gemm.onnx" input="$root/tests/data/tiny_gemm.input.json"
  flags=(--lookup-bits 6 --weight-bits 6)
fi
# The dev profile is optimized (Cargo.toml), and what the tests build.
(cd "$root" && cargo build --workspace --bin zkml -q)
zkml="$target/debug/zkml"
snarkjs="$root/node_modules/.bin/snarkjs"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$zkml" compile "$model" --calibrate "$input" --out "$work/m" "${flags[@]}" >/dev/null
constraints=$("$zkml" setup r1cs "$work/m" --out "$work/c.r1cs" | sed -E 's/.*\(([0-9]+) constraints.*/\1/')
power=$(python3 -c "import math,sys; n=int(sys.argv[1]); print(max(1, math.ceil(math.log2(n))))" \
  "$(( constraints + $("$snarkjs" r1cs info "$work/c.r1cs" 2>&1 | sed -nE 's/.*# of Public Inputs: ([0-9]+).*/\1/p') + 1 ))")
ptau="$("$root/script/test-ptau.sh" "$power")"
step() { # LABEL COMMAND...: one table cell pair, "seconds | MB"
  /usr/bin/time -f "%e %M" -o "$work/t" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  read -r s kb < "$work/t"
  printf '%s | %s' "$s" "$((kb / 1024))"
}
echo "$(basename "$model") wrap circuit: $constraints constraints, a ptau of power $power ($(basename "$ptau"))"
echo
echo "| step | zkml s | zkml MB | snarkjs step | snarkjs s | snarkjs MB |"
echo "|---|---:|---:|---|---:|---:|"
z=$(step "$zkml" setup "$work/m" --ptau "$ptau")
j=$(step "$snarkjs" zkey new "$work/c.r1cs" "$ptau" "$work/c0.zkey")
echo "| initial keys from the ptau | $z | \`zkey new\` | $j |"
z=$(step "$zkml" setup contribute "$work/m" --entropy bench)
j=$(step "$snarkjs" zkey contribute "$work/c0.zkey" "$work/c1.zkey" --name=bench -e=bench)
echo "| one contribution | $z | \`zkey contribute\` | $j |"
z=$(step "$zkml" setup verify "$work/m" --ptau "$ptau")
j=$(step "$snarkjs" zkey verify "$work/c.r1cs" "$ptau" "$work/c1.zkey")
echo "| verify the ceremony | $z | \`zkey verify\` | $j |"
