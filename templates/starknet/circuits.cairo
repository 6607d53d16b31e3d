//! BN254 base-field circuits of the verifier, traced by zkml-gen {{ generator_version }} from its
//! Rust implementation of the tower Fp2/Fp6/Fp12 (arkworks' representation), the G2 line steps
//! and the complete G1 addition. Each function feeds its inputs (and constants) to one
//! `core::circuit` circuit and returns the outputs in order.
use core::circuit::{
    AddInputResultTrait, CircuitElement, CircuitInput, CircuitInputs,
    CircuitOutputsTrait, EvalCircuitTrait, circuit_add, circuit_inverse, circuit_mul, circuit_sub,
    u384,
};
use super::verifier::bn254_modulus;
{% for c in circuits %}
{{ c }}{% endfor %}
