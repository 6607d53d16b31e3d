//! The stage-1 transcript as an R1CS gadget: ark's `PoseidonSpongeVar` over the same config,
//! fed exactly what the native `Transcript` is fed, so both squeeze equal challenges.

// A verifier path: no panic on any input (see Cargo.toml's [workspace.lints]).
#![deny(clippy::unwrap_used, clippy::expect_used)]

use ark_crypto_primitives::sponge::constraints::CryptographicSpongeVar;
use ark_crypto_primitives::sponge::poseidon::constraints::PoseidonSpongeVar;
use ark_ff::PrimeField;
use ark_r1cs_std::fields::fp::FpVar;
use ark_r1cs_std::prelude::FieldVar;
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};

use crate::field::{F, fe};
use crate::transcript::poseidon_config;

pub struct TranscriptVar {
    sponge: PoseidonSpongeVar<F>,
}

impl TranscriptVar {
    /// The label is a constant of the circuit, absorbed as `Transcript::new` absorbs it.
    pub fn new(cs: ConstraintSystemRef<F>, label: &[u8]) -> Result<Self, SynthesisError> {
        let mut t = TranscriptVar { sponge: PoseidonSpongeVar::new(cs, poseidon_config()) };
        t.absorb(&[FpVar::constant(fe(label.len() as i64))])?;
        for chunk in label.chunks(31) {
            t.absorb(&[FpVar::constant(F::from_le_bytes_mod_order(chunk))])?;
        }
        Ok(t)
    }

    pub fn absorb(&mut self, v: &[FpVar<F>]) -> Result<(), SynthesisError> {
        self.sponge.absorb(&v)
    }

    pub fn challenge(&mut self) -> Result<FpVar<F>, SynthesisError> {
        Ok(self.sponge.squeeze_field_elements(1)?.remove(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::Transcript;
    use ark_r1cs_std::GR1CSVar;
    use ark_r1cs_std::alloc::AllocVar;
    use ark_relations::gr1cs::ConstraintSystem;

    #[test]
    fn gadget_squeezes_the_native_challenges() {
        let cs = ConstraintSystem::<F>::new_ref();
        let mut native = Transcript::new(b"zkml/stage1/v1");
        let mut gadget = TranscriptVar::new(cs.clone(), b"zkml/stage1/v1").unwrap();
        let mut x = 3i64;
        for n in [1usize, 5, 0, 2, 7, 3] {
            let vals: Vec<F> = (0..n)
                .map(|_| {
                    x = x * 48271 % 2_147_483_647;
                    fe(x)
                })
                .collect();
            let vars: Vec<FpVar<F>> = vals.iter().map(|v| FpVar::new_witness(cs.clone(), || Ok(*v)).unwrap()).collect();
            native.absorb_slice(&vals);
            gadget.absorb(&vars).unwrap();
            for _ in 0..(n % 2 + 1) {
                assert_eq!(gadget.challenge().unwrap().value().unwrap(), native.challenge());
            }
        }
        assert!(cs.is_satisfied().unwrap());
    }

    /// What a sumcheck round costs the wrap's transcript: its 3 or 4 messages and the challenge
    /// after them take one permutation, at most 300 constraints (8 full rounds × 5 S-boxes + 60
    /// partial rounds × 1, 3 constraints each).
    #[test]
    fn a_sumcheck_round_costs_one_permutation() {
        for messages in [3, 4] {
            let cs = ConstraintSystem::<F>::new_ref();
            let mut gadget = TranscriptVar::new(cs.clone(), b"x").unwrap();
            let _ = gadget.challenge().unwrap();
            let before = cs.num_constraints();
            for i in 0..10 {
                for j in 0..messages {
                    let v = FpVar::new_witness(cs.clone(), || Ok(fe(i * 7 + j))).unwrap();
                    gadget.absorb(&[v]).unwrap();
                }
                let _ = gadget.challenge().unwrap();
            }
            // At most one permutation a round (a few S-boxes fall on constants), not two (486).
            let per = (cs.num_constraints() - before) / 10;
            assert!((250..=300).contains(&per), "{messages} messages a round: {per} constraints");
        }
    }
}
