//! Groth16 (Groth, "On the Size of Pairing-based Non-interactive Arguments", EUROCRYPT 2016)
//! over stored R1CS matrices, in ark-groth16's key and proof formats and with its QAP reduction
//! (`LibsnarkReduction`): for the same randomness, `setup` gives ark-groth16's keys and
//! `prove` its proof.
//!
//! Two things differ from calling `Groth16::prove` on the circuit:
//! - **The circuit is synthesized into matrices once, at setup** (`R1cs`, stored beside the
//!   proving key). A proof runs the circuit in witness-only mode (`assignment`: no constraint
//!   is built, no linear combination inlined) and reads the stored matrices.
//! - **Independent work runs side by side.** ark-groth16 runs the QAP witness map's FFTs and the
//!   five MSMs one after the other; each is parallel inside, but each one's tail and the
//!   sequential steps between them left the second core spinning (~18% of the wrap in the
//!   scheduler on 2 cores). Only the H term depends on the FFTs, so the three FFT chains run
//!   beside each other and the H MSM beside the A, B and L ones.
//!
//! The witness map also checks every constraint (it evaluates A·z, B·z and C·z anyway), so an
//! unsatisfying witness is an error naming the constraint rather than a proof that fails later.
//!
//! Two-round proofs (UltraGroth; DESIGN.md, "Stage 2"): `R1cs::with_round1` marks the first
//! witness wires as round 1, `setup_two_round` gives them their own δ₁ (`CommitKey`), `commit`
//! makes the blinded D the challenge seed is hashed from (`challenge`), `prove_two_round`
//! finishes the proof and `verify_two_round` derives the seed itself and checks the
//! four-pairing equation.

// A verifier path: no panic on any input (see Cargo.toml's [workspace.lints]).
#![deny(clippy::unwrap_used, clippy::expect_used)]
#![warn(missing_docs)]

use ark_bn254::{Bn254, Fr as F, G1Affine, G2Affine};
use ark_groth16::Proof;
use ark_poly::GeneralEvaluationDomain;
use ark_relations::gr1cs::SynthesisError;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};

mod msm;
mod prove;
mod r1cs;
mod setup;
mod verify;

pub use prove::{check_commit_key, check_hiding, commit, prove, prove_two_round, prove_with};
pub use r1cs::{R1cs, assignment, witness_count};
pub use setup::{setup, setup_two_round};
pub use verify::{CHALLENGE_TAG, challenge, check_proof, verify_two_round};

type Domain = GeneralEvaluationDomain<F>;

/// Why a setup, proof or key check failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Groth16Error {
    /// The circuit could not be synthesized.
    #[error("constraint synthesis failed: {0}")]
    Synthesis(#[from] SynthesisError),
    /// The circuit made no R1CS matrices.
    #[error("the circuit has no R1CS constraints")]
    NoR1cs,
    /// A witness of another length than the matrices'.
    #[error("the assignment has {got} variables but the constraint system has {expected}")]
    AssignmentLength {
        /// The matrices' variables.
        expected: usize,
        /// The assignment's.
        got: usize,
    },
    /// A proving key of other dimensions than the matrices'; says which.
    #[error("the proving key does not belong to this constraint system: {0}")]
    KeyMismatch(String),
    /// The witness fails this constraint.
    #[error("R1CS constraint {0} is not satisfied by the witness")]
    Unsatisfied(usize),
    /// More constraints than BN254's 2-adic FFT domain holds.
    #[error("the constraint system is too large for BN254's FFT domain")]
    TooLarge,
    /// A proving key whose blinding terms are degenerate; says which.
    #[error("the proving key could make proofs that reveal the witness: {0}")]
    NotHiding(String),
    /// A malformed matrices file; says what.
    #[error("{0}")]
    Format(String),
}

/// UltraGroth's round-1 key part: the bases of the round-1 wires over δ₁ and δ₁ itself.
#[derive(Clone, Debug, PartialEq, CanonicalSerialize, CanonicalDeserialize)]
pub struct CommitKey {
    /// `[(β·u_i(τ) + α·v_i(τ) + w_i(τ)) / δ₁]₁` for each round-1 wire i.
    pub k_query: Vec<G1Affine>,
    /// `[δ₁]₁`, which takes D's blinding out of C.
    pub delta1_g1: G1Affine,
    /// `[δ₁]₂`, the verifier's.
    pub delta1_g2: G2Affine,
}

/// Round 1 of a two-round proof: `d = Σ wᵢ·Kᵢ + ρ·[δ]₁`, the blinded commitment to the round-1
/// wires, with what round 2 needs to finish the proof.
pub struct Commitment {
    /// D, which the challenge seed is hashed from.
    pub d: G1Affine,
    rho: F,
    values: Vec<F>,
}

/// A two-round (UltraGroth) proof `(A, B, C, D)`.
#[derive(Clone, Debug, PartialEq, CanonicalSerialize, CanonicalDeserialize)]
pub struct TwoRoundProof {
    /// A, B and C.
    pub proof: Proof<Bn254>,
    /// The round-1 commitment D.
    pub d: G1Affine,
}

#[cfg(test)]
mod tests {
    use super::r1cs::QapValue;
    use super::verify::pairing_check;
    use super::*;
    use ark_bn254::{G1Projective as G1, G2Projective as G2};
    use ark_ec::CurveGroup;
    use ark_ec::scalar_mul::glv::GLVConfig;
    use ark_ec::short_weierstrass::{Projective, SWCurveConfig};
    use ark_ff::{Field, One, PrimeField, UniformRand, Zero};
    use ark_groth16::Groth16;
    use ark_groth16::ProvingKey;
    use ark_r1cs_std::alloc::AllocVar;
    use ark_r1cs_std::eq::EqGadget;
    use ark_r1cs_std::fields::{FieldVar, fp::FpVar};
    use ark_relations::gr1cs::ConstraintSystemRef;
    use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem, OptimizationGoal};
    use ark_snark::SNARK;
    use ark_std::rand::{SeedableRng, rngs::StdRng};

    /// The points' linear combination (GLV for one or two terms, Straus above) is the sum of the
    /// products, on G1 and G2, for scalars of every size: 0, 1, small, −1, random, and those
    /// whose signed digits carry through every window (8s and 9s).
    #[test]
    fn combination_of_points_is_the_sum_of_products() {
        fn check<P: GLVConfig + SWCurveConfig<ScalarField = F>>(rng: &mut StdRng) {
            for n in [1, 2, 3, 17] {
                let xs: Vec<Projective<P>> = (0..n).map(|_| Projective::<P>::rand(rng)).collect();
                let mut cs: Vec<F> = (0..n).map(|_| F::rand(rng)).collect();
                let special = [
                    F::zero(),
                    F::one(),
                    F::from(1u64 << 40),
                    -F::one(),
                    F::from_le_bytes_mod_order(&[0x99; 32]),
                    F::from_le_bytes_mod_order(&[0x88; 32]),
                    F::from(0x8999_9999_9999_9999u64),
                    -F::from(8u64),
                ];
                for (c, s) in cs.iter_mut().zip(special) {
                    *c = s;
                }
                let want: Projective<P> = xs.iter().zip(&cs).map(|(x, c)| *x * c).sum();
                assert_eq!(QapValue::combination(&xs, &cs), want, "{n} terms");
            }
            // Only small magnitudes, some negated: the windows stop early.
            let small = [-F::from(3u64), F::from(0xffffu64), -F::from(0x1_0000u64), F::from(8u64), -F::from(9u64)];
            for n in [1, 2, 5] {
                let xs: Vec<Projective<P>> = (0..n).map(|_| Projective::<P>::rand(rng)).collect();
                let want: Projective<P> = xs.iter().zip(&small).map(|(x, c)| *x * c).sum();
                assert_eq!(QapValue::combination(&xs, &small[..n]), want, "{n} small terms");
            }
        }
        let mut rng = StdRng::seed_from_u64(3);
        check::<ark_bn254::g1::Config>(&mut rng);
        check::<ark_bn254::g2::Config>(&mut rng);
    }

    /// `x³ + x·y + 5 = out` with `out` public, a chain of products so the queries are long, and
    /// a non-unit coefficient.
    #[derive(Clone)]
    struct Poly {
        x: Option<F>,
        y: Option<F>,
    }

    impl Poly {
        fn some(x: u64, y: u64) -> Self {
            Poly { x: Some(F::from(x)), y: Some(F::from(y)) }
        }
        fn out(&self) -> F {
            let (x, y) = (self.x.unwrap(), self.y.unwrap());
            x * x * x + x * y + F::from(5u64)
        }
    }

    impl ConstraintSynthesizer<F> for Poly {
        fn generate_constraints(self, cs: ConstraintSystemRef<F>) -> Result<(), SynthesisError> {
            let out =
                FpVar::new_input(cs.clone(), || self.x.map(|_| self.out()).ok_or(SynthesisError::AssignmentMissing))?;
            let x = FpVar::new_witness(cs.clone(), || self.x.ok_or(SynthesisError::AssignmentMissing))?;
            let y = FpVar::new_witness(cs.clone(), || self.y.ok_or(SynthesisError::AssignmentMissing))?;
            (&x * &x * &x + &x * &y + F::from(5u64)).enforce_equal(&out)?;
            let mut acc = x.clone();
            for _ in 0..40 {
                acc = &acc * &y + &x * F::from(3u64);
            }
            let _ = acc.square()?;
            Ok(())
        }
    }

    #[test]
    fn keys_and_proofs_equal_ark_groth16s_for_the_same_randomness() {
        let r1cs = R1cs::synthesize(Poly { x: None, y: None }).unwrap();
        let ours = setup(&r1cs, &mut StdRng::seed_from_u64(7)).unwrap();
        let (theirs, vk) =
            Groth16::<Bn254>::circuit_specific_setup(Poly { x: None, y: None }, &mut StdRng::seed_from_u64(7)).unwrap();
        assert!(ours == theirs, "setup differs from ark-groth16's");
        let c = Poly::some(3, 11);
        let z = assignment(c.clone()).unwrap();
        let (r, s) = (F::from(1234u64), F::from(5678u64));
        let proof = prove_with(&ours, &r1cs, &z, r, s).unwrap();
        assert_eq!(proof, Groth16::<Bn254>::create_proof_with_reduction(c.clone(), &theirs, r, s).unwrap());
        assert!(Groth16::<Bn254>::verify(&vk, &[c.out()], &proof).unwrap());
        assert!(!Groth16::<Bn254>::verify(&vk, &[c.out() + F::one()], &proof).unwrap());
    }

    #[test]
    fn witness_only_synthesis_gives_the_full_synthesis_assignment() {
        let cs = ConstraintSystem::<F>::new_ref();
        cs.set_optimization_goal(OptimizationGoal::Constraints);
        Poly::some(3, 11).generate_constraints(cs.clone()).unwrap();
        let full = {
            let cs = cs.borrow().unwrap();
            [cs.instance_assignment().unwrap(), cs.witness_assignment().unwrap()].concat()
        };
        assert_eq!(assignment(Poly::some(3, 11)).unwrap(), full);
    }

    #[test]
    fn an_unsatisfying_assignment_is_refused_with_its_constraint() {
        let r1cs = R1cs::synthesize(Poly { x: None, y: None }).unwrap();
        let pk = setup(&r1cs, &mut StdRng::seed_from_u64(1)).unwrap();
        let mut z = assignment(Poly::some(3, 11)).unwrap();
        z[1] += F::one();
        assert!(matches!(prove(&pk, &r1cs, &z, &mut StdRng::seed_from_u64(2)), Err(Groth16Error::Unsatisfied(_))));
        assert!(matches!(
            prove(&pk, &r1cs, &z[1..], &mut StdRng::seed_from_u64(2)),
            Err(Groth16Error::AssignmentLength { .. })
        ));
    }

    #[test]
    fn a_key_for_another_circuit_is_refused() {
        let small = R1cs::synthesize(Small).unwrap();
        let pk = setup(&small, &mut StdRng::seed_from_u64(8)).unwrap();
        let r1cs = R1cs::synthesize(Poly { x: None, y: None }).unwrap();
        let z = assignment(Poly::some(3, 11)).unwrap();
        assert!(matches!(prove(&pk, &r1cs, &z, &mut StdRng::seed_from_u64(2)), Err(Groth16Error::KeyMismatch(_))));
    }

    #[test]
    fn matrices_round_trip_and_corrupt_files_are_errors() {
        let r1cs = R1cs::synthesize(Poly { x: None, y: None }).unwrap();
        let mut bytes = vec![];
        r1cs.write(&mut bytes).unwrap();
        assert_eq!(R1cs::read(&mut bytes.as_slice()).unwrap(), r1cs);
        assert!(R1cs::read(&mut &bytes[..bytes.len() - 1]).is_err(), "truncated");
        assert!(R1cs::read(&mut [bytes.as_slice(), &[0]].concat().as_slice()).is_err(), "trailing byte");
        // Every single-byte change either is refused or reads back as different matrices; none
        // panics or allocates without bound.
        for pos in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[pos] ^= flip;
                if let Ok(m) = R1cs::read(&mut b.as_slice()) {
                    assert_ne!(m, r1cs, "byte {pos} ^ {flip:#x} read back unchanged");
                }
            }
        }
    }

    /// Round 1: x, y with `x·y = out` public; round 2: the inverse of `c − x` for the public
    /// challenge seed c, the shape of a LogUp term.
    #[derive(Clone)]
    struct TwoRound {
        x: Option<F>,
        y: Option<F>,
        c: Option<F>,
    }

    impl ConstraintSynthesizer<F> for TwoRound {
        fn generate_constraints(self, cs: ConstraintSystemRef<F>) -> Result<(), SynthesisError> {
            let get = |v: Option<F>| v.ok_or(SynthesisError::AssignmentMissing);
            let out = FpVar::new_input(cs.clone(), || Ok(get(self.x)? * get(self.y)?))?;
            let c = FpVar::new_input(cs.clone(), || get(self.c))?;
            let x = FpVar::new_witness(cs.clone(), || get(self.x))?;
            let y = FpVar::new_witness(cs.clone(), || get(self.y))?;
            x.mul_equals(&y, &out)?;
            let inv =
                FpVar::new_witness(cs.clone(), || Ok((get(self.c)? - get(self.x)?).inverse().unwrap_or_default()))?;
            (&c - &x).mul_equals(&inv, &FpVar::one())
        }
    }

    /// (keys, matrices, statement, proof) for x = 3, y = 11.
    fn two_round_fixture(rng: &mut StdRng) -> (ProvingKey<Bn254>, CommitKey, R1cs, Vec<F>, TwoRoundProof) {
        let r1cs = R1cs::synthesize(TwoRound { x: None, y: None, c: None }).unwrap().with_round1(2).unwrap();
        let (pk, ck) = setup_two_round(&r1cs, rng).unwrap();
        let (x, y) = (F::from(3u64), F::from(11u64));
        let round1 = commit(&pk, &ck, &[x, y], rng).unwrap();
        let c = challenge(&round1.d, &[x * y]);
        let z = assignment(TwoRound { x: Some(x), y: Some(y), c: Some(c) }).unwrap();
        let proof = prove_two_round(&pk, &ck, &r1cs, &z, &round1, rng).unwrap();
        (pk, ck, r1cs, vec![x * y, c], proof)
    }

    #[test]
    fn two_round_proofs_verify_and_are_blinded() {
        let rng = &mut StdRng::seed_from_u64(21);
        let (pk, ck, r1cs, x, p) = two_round_fixture(rng);
        assert!(verify_two_round(&pk.vk, &ck.delta1_g2, &x[..1], &p));
        // D is blinded: the same round-1 values commit to another point each time.
        let again = commit(&pk, &ck, &[F::from(3u64), F::from(11u64)], rng).unwrap();
        assert_ne!(again.d, p.d);
        // Plain Groth16 on a two-round system is refused rather than silently unsound.
        let z = assignment(TwoRound { x: Some(F::from(3u64)), y: Some(F::from(11u64)), c: Some(x[1]) }).unwrap();
        assert!(prove(&pk, &r1cs, &z, rng).is_err());
    }

    #[test]
    fn two_round_rejects_a_changed_statement_challenge_or_commitment() {
        use ark_ec::PrimeGroup;
        let rng = &mut StdRng::seed_from_u64(22);
        let (pk, ck, _, x, p) = two_round_fixture(rng);
        let vk = &pk.vk;
        assert!(verify_two_round(vk, &ck.delta1_g2, &x[..1], &p));
        assert!(!verify_two_round(vk, &ck.delta1_g2, &[x[0] + F::one()], &p), "another output");
        // Even with the seed the pairing needs for the other output: the seed is not the
        // hash of D and that output.
        assert!(!pairing_check(vk, &ck.delta1_g2, &[x[0] + F::one(), x[1]], &p), "another output, the old seed");
        assert!(!pairing_check(vk, &ck.delta1_g2, &[x[0], x[1] + F::one()], &p), "another challenge");
        assert!(!verify_two_round(vk, &ck.delta1_g2, &[], &p), "a missing input");
        assert!(!verify_two_round(vk, &ck.delta1_g2, &x, &p), "the seed given as a public input");
        let mut d = p.clone();
        d.d = (d.d + G1::generator()).into_affine();
        assert!(!verify_two_round(vk, &ck.delta1_g2, &x[..1], &d), "D + G");
        assert!(!pairing_check(vk, &ck.delta1_g2, &x, &d), "D + G, the old seed");
        for i in 0..3 {
            let mut t = p.clone();
            match i {
                0 => t.proof.a = (t.proof.a + G1::generator()).into_affine(),
                1 => t.proof.b = (t.proof.b + G2::generator()).into_affine(),
                _ => t.proof.c = (t.proof.c + G1::generator()).into_affine(),
            }
            assert!(!verify_two_round(vk, &ck.delta1_g2, &x[..1], &t), "tampered element {i}");
        }
        // The attack that a shared γ would allow (D pairing with γ, as public inputs do):
        // move part of the public-input sum into D to present the proof as one for another
        // statement. D pairs with δ₁ here, so it fails.
        let shift = (vk.gamma_abc_g1[1] * F::from(5u64)).into_affine();
        let mut moved = p.clone();
        moved.d = (moved.d + shift).into_affine();
        assert!(!pairing_check(vk, &ck.delta1_g2, &[x[0] - F::from(5u64), x[1]], &moved), "public input moved into D");
    }

    #[test]
    fn two_round_rejects_round1_values_changed_after_the_challenge() {
        let rng = &mut StdRng::seed_from_u64(23);
        let r1cs = R1cs::synthesize(TwoRound { x: None, y: None, c: None }).unwrap().with_round1(2).unwrap();
        let (pk, ck) = setup_two_round(&r1cs, rng).unwrap();
        // Committed to (3, 11); after seeing c, the prover wants (1, 33) (same output).
        let first = commit(&pk, &ck, &[F::from(3u64), F::from(11u64)], rng).unwrap();
        let c = challenge(&first.d, &[F::from(33u64)]);
        let z = assignment(TwoRound { x: Some(F::one()), y: Some(F::from(33u64)), c: Some(c) }).unwrap();
        assert!(prove_two_round(&pk, &ck, &r1cs, &z, &first, rng).is_err(), "refused by the prover");
        // Forced: the old D with the new values' assignment does not verify.
        let forged = Commitment { d: first.d, rho: first.rho, values: vec![F::one(), F::from(33u64)] };
        let p = prove_two_round(&pk, &ck, &r1cs, &z, &forged, rng).unwrap();
        assert!(!pairing_check(&pk.vk, &ck.delta1_g2, &[F::from(33u64), c], &p));
        assert!(!verify_two_round(&pk.vk, &ck.delta1_g2, &[F::from(33u64)], &p));
        // Honestly re-committed, the new values give a new D and so a new challenge.
        let second = commit(&pk, &ck, &[F::one(), F::from(33u64)], rng).unwrap();
        assert_ne!(challenge(&second.d, &[F::from(33u64)]), c);
    }

    #[test]
    fn the_challenge_binds_d_and_every_public_input() {
        use ark_ec::PrimeGroup;
        let d = G1::generator().into_affine();
        let c = challenge(&d, &[F::from(1u64), F::from(2u64)]);
        assert_ne!(c, challenge(&(d + d).into_affine(), &[F::from(1u64), F::from(2u64)]));
        assert_ne!(c, challenge(&d, &[F::from(1u64), F::from(3u64)]));
        assert_ne!(c, challenge(&d, &[F::from(1u64)]));
        // Solidity's uint256(keccak256(abi.encodePacked(bytes32("zkml/wrap/ultragroth/v1"), 1,
        // 2, 1, 2))) % r for D = G = (1, 2).
        let mut words = b"zkml/wrap/ultragroth/v1".to_vec();
        words.resize(32, 0);
        for v in [1u8, 2, 1, 2] {
            let mut w = [0u8; 32];
            w[31] = v;
            words.extend(w);
        }
        use sha3::{Digest, Keccak256};
        assert_eq!(c, F::from_be_bytes_mod_order(&Keccak256::digest(&words)));
    }

    struct Small;
    impl ConstraintSynthesizer<F> for Small {
        fn generate_constraints(self, cs: ConstraintSystemRef<F>) -> Result<(), SynthesisError> {
            let x = FpVar::new_witness(cs, || Ok(F::from(2u64)))?;
            x.square()?.enforce_equal(&FpVar::constant(F::from(4u64)))
        }
    }
}
