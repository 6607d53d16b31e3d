//! BN254 base-field circuits of the verifier, traced by zkml-gen {{ generator_version }} from its
//! Rust implementation of the tower Fp2/Fp6/Fp12 (arkworks' representation), the affine G1/G2
//! steps and the Miller-loop digits with the residue check. Each function feeds its inputs
//! (spans the caller holds, then constants) to one `core::circuit` circuit and returns the
//! outputs in order.
use core::circuit::{
    AddInputResultTrait, CircuitElement, CircuitInput, CircuitInputs,
    CircuitOutputsTrait, EvalCircuitTrait, circuit_add, circuit_inverse, circuit_mul, circuit_sub,
    u384,
};
use super::verifier::bn254_modulus;
{% for c in circuits %}
{{ c }}{% endfor %}
