//! The stage-1 transcript as an R1CS gadget: the native `Transcript`'s sponge (same absorb and
//! squeeze order, same permutation), fed exactly what the native side is fed, so both squeeze
//! equal challenges.
//!
//! The permutation is ours rather than ark's `PoseidonSpongeVar` for one reason, the shape of its
//! constraints. A partial round applies the S-box to one state element and mixes the other four
//! in linearly, so after k partial rounds each element is a combination of up to k + 5 wires with
//! full-size coefficients; x⁵ as `x·x`, `x²·x²`, `x⁴·x` puts that combination in A and B of the
//! first and B of the third. Giving the S-box's input its own wire (`x − combination = 0`, the
//! combination in C) where it is long costs one constraint and puts the combination in one row,
//! of C, instead of three, two of them in B: a key ceremony pays one point multiplication per
//! (wire, row) entry, over G2 for B's (`phase2::initial`), and B's entries were most of them
//! (price_mlp's initial keys: 21.0 → 7.9 s for 11% more constraints; docs/benchmarks.md).

// A verifier path: no panic on any input (see Cargo.toml's [workspace.lints]).
#![deny(clippy::unwrap_used, clippy::expect_used)]
#![warn(missing_docs)]

use ark_ff::PrimeField;
use ark_r1cs_std::alloc::AllocVar;
use ark_r1cs_std::fields::FieldVar;
use ark_r1cs_std::fields::fp::{AllocatedFp, FpVar};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError, Variable};

use crate::field::{F, fe};
use crate::transcript::{FULL_ROUNDS, PARTIAL_ROUNDS, RATE, poseidon_config};

type V = FpVar<F>;

/// The sponge of `transcript::Transcript` over circuit values.
pub struct TranscriptVar {
    cs: ConstraintSystemRef<F>,
    state: [V; RATE + 1],
    /// Whether the last operation absorbed, and the next rate position to absorb or squeeze.
    absorbing: bool,
    index: usize,
}

impl TranscriptVar {
    /// The label is a constant of the circuit, absorbed as `Transcript::new` absorbs it.
    pub fn new(cs: ConstraintSystemRef<F>, label: &[u8]) -> Result<Self, SynthesisError> {
        let mut t = TranscriptVar { cs, state: std::array::from_fn(|_| V::zero()), absorbing: true, index: 0 };
        t.absorb(&[V::constant(fe(label.len() as i64))])?;
        for chunk in label.chunks(31) {
            t.absorb(&[V::constant(F::from_le_bytes_mod_order(chunk))])?;
        }
        Ok(t)
    }

    /// Absorbs circuit values as `Transcript::absorb_slice` absorbs their values.
    pub fn absorb(&mut self, v: &[V]) -> Result<(), SynthesisError> {
        if v.is_empty() {
            return Ok(());
        }
        let mut index = if self.absorbing { self.index } else { 0 };
        if self.absorbing && index == RATE {
            self.permute()?;
            index = 0;
        }
        for x in v {
            if index == RATE {
                self.permute()?;
                index = 0;
            }
            self.state[1 + index] += x;
            index += 1;
        }
        self.absorbing = true;
        self.index = index;
        Ok(())
    }

    /// Squeezes one challenge as `Transcript::challenge` does, as a wire of its own.
    pub fn challenge(&mut self) -> Result<V, SynthesisError> {
        let mut index = self.index;
        if self.absorbing || index == RATE {
            self.permute()?;
            index = 0;
        }
        self.absorbing = false;
        self.index = index + 1;
        // The circuit multiplies a challenge into many rows (every LogUp denominator has one):
        // as a wire it is one term in each, not the six of its combination.
        self.wire(1 + index)?;
        Ok(self.state[1 + index].clone())
    }

    /// Gives state[i] a wire of its own if it is a combination (one constraint, `x − combination
    /// = 0` with the combination in C).
    fn wire(&mut self, i: usize) -> Result<(), SynthesisError> {
        if let V::Var(lc) = &self.state[i] {
            let x = AllocatedFp::new_witness(self.cs.clone(), || lc.value())?;
            self.cs.enforce_r1cs_constraint(|| x.variable.into(), || Variable::One.into(), || lc.variable.into())?;
            self.state[i] = V::Var(x);
        }
        Ok(())
    }

    /// `transcript::permute` over circuit values. The S-box inputs that get their own wire: the
    /// partial rounds' and those of the first full round after them, whose state carries the
    /// partial rounds' unmixed elements; elsewhere an input combines at most the five S-box
    /// outputs of the round before and a constant, shorter than what a wire would save.
    fn permute(&mut self) -> Result<(), SynthesisError> {
        let c = poseidon_config();
        let half = FULL_ROUNDS / 2;
        for (round, ark) in c.ark.iter().enumerate() {
            for (s, k) in self.state.iter_mut().zip(ark) {
                *s += *k;
            }
            if (half..half + PARTIAL_ROUNDS).contains(&round) {
                self.sbox(0, true)?;
            } else {
                for i in 0..self.state.len() {
                    self.sbox(i, round == half + PARTIAL_ROUNDS)?;
                }
            }
            let old = self.state.clone();
            for (s, row) in self.state.iter_mut().zip(&c.mds) {
                *s = old.iter().zip(row).fold(V::zero(), |acc, (x, m)| acc + x * *m);
            }
        }
        Ok(())
    }

    /// state[i] ← state[i]⁵ in three constraints, after giving the input a wire of its own if
    /// `wire`.
    fn sbox(&mut self, i: usize, wire: bool) -> Result<(), SynthesisError> {
        if wire {
            self.wire(i)?;
        }
        let x = &self.state[i];
        let x5 = x.square()?.square()? * x;
        self.state[i] = x5;
        Ok(())
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
    /// after them take one permutation, at most 366 constraints (8 full rounds × 5 S-boxes + 60
    /// partial rounds × 1, 3 constraints each, and a wire for 65 S-box inputs and the challenge).
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
            // At most one permutation a round (a few S-boxes fall on constants), not two (730).
            let per = (cs.num_constraints() - before) / 10;
            assert!((300..=366).contains(&per), "{messages} messages a round: {per} constraints");
        }
    }

    /// The module doc's reason for our own permutation: no row of A or B holds a long
    /// combination. The longest left is a full round's input: five S-box outputs of the round
    /// before, a value absorbed and the constant. ark's gadget had rows of 60 terms and more.
    #[test]
    fn no_row_of_a_or_b_holds_a_long_combination() {
        let cs = ConstraintSystem::<F>::new_ref();
        cs.set_optimization_goal(ark_relations::gr1cs::OptimizationGoal::Constraints);
        let mut gadget = TranscriptVar::new(cs.clone(), b"x").unwrap();
        for i in 0..3 {
            let v = FpVar::new_witness(cs.clone(), || Ok(fe(i))).unwrap();
            gadget.absorb(&[v]).unwrap();
            let _ = gadget.challenge().unwrap();
        }
        cs.finalize();
        assert!(cs.is_satisfied().unwrap());
        let m = cs.to_matrices().unwrap().remove(ark_relations::gr1cs::R1CS_PREDICATE_LABEL).unwrap();
        let longest = |k: usize| m[k].iter().map(Vec::len).max().unwrap();
        assert!(longest(0) <= 7 && longest(1) <= 7, "rows of A up to {} terms, of B up to {}", longest(0), longest(1));
        assert!(longest(2) > 7, "the combinations are in C");
    }
}
