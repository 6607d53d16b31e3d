//! The small real Groth16 circuits the generator's tests prove: [`MulAdd`] (one-round keys) and
//! [`MulAddSeeded`] (two-round keys), with a proof of each.

use ark_bn254::{Bn254, Fr};
use ark_groth16::{Groth16, Proof, VerifyingKey};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, LinearCombination, SynthesisError, Variable};
use ark_snark::SNARK;
use ark_std::rand::{SeedableRng, rngs::StdRng};
use zkml::wrap::groth16::TwoRoundProof;

/// Knowledge of x, y with x * y = z and x + y = w; z and w are public.
#[derive(Clone)]
pub(crate) struct MulAdd {
    pub(crate) x: Option<Fr>,
    pub(crate) y: Option<Fr>,
}

impl ConstraintSynthesizer<Fr> for MulAdd {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let missing = || SynthesisError::AssignmentMissing;
        let z = cs.new_input_variable(|| Ok(self.x.ok_or_else(missing)? * self.y.ok_or_else(missing)?))?;
        let w = cs.new_input_variable(|| Ok(self.x.ok_or_else(missing)? + self.y.ok_or_else(missing)?))?;
        let x = cs.new_witness_variable(|| self.x.ok_or_else(missing))?;
        let y = cs.new_witness_variable(|| self.y.ok_or_else(missing))?;
        let lc = |vars: &[Variable]| LinearCombination::sum_vars(vars);
        cs.enforce_r1cs_constraint(|| lc(&[x]), || lc(&[y]), || lc(&[z]))?;
        cs.enforce_r1cs_constraint(|| lc(&[x, y]), || lc(&[Variable::One]), || lc(&[w]))?;
        Ok(())
    }
}

/// [`MulAdd`] as a two-round circuit: x and y (its first witnesses) are the round-1 wires, and
/// the seed the last public input, tied into a constraint (`seed · 1 = seed`) so that a verifier
/// that derives another seed fails the pairing.
#[derive(Clone)]
pub(crate) struct MulAddSeeded {
    x: Option<Fr>,
    y: Option<Fr>,
    seed: Option<Fr>,
}

impl ConstraintSynthesizer<Fr> for MulAddSeeded {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        MulAdd { x: self.x, y: self.y }.generate_constraints(cs.clone())?;
        let seed = cs.new_input_variable(|| self.seed.ok_or(SynthesisError::AssignmentMissing))?;
        let one = LinearCombination::sum_vars(&[Variable::One]);
        cs.enforce_r1cs_constraint(|| seed.into(), || one, || seed.into())?;
        Ok(())
    }
}

pub(crate) struct Fixture {
    pub(crate) vk: VerifyingKey<Bn254>,
    pub(crate) proof: Proof<Bn254>,
    pub(crate) inputs: Vec<Fr>,
}

/// Two-round keys (the Groth16 key and `[δ₁]₂`) and two proofs of one statement (so two Ds and
/// two seeds), made with zkml's UltraGroth prover.
pub(crate) struct TwoRoundFixture {
    pub(crate) vk: VerifyingKey<Bn254>,
    pub(crate) delta1_g2: ark_bn254::G2Affine,
    pub(crate) proofs: [TwoRoundProof; 2],
    pub(crate) inputs: Vec<Fr>,
}

pub(crate) fn two_round_fixture() -> TwoRoundFixture {
    use zkml::wrap::groth16 as g16;
    let mut rng = StdRng::seed_from_u64(43);
    let r1cs = g16::R1cs::synthesize(MulAddSeeded { x: None, y: None, seed: None }).unwrap().with_round1(2).unwrap();
    let (pk, ck) = g16::setup_two_round(&r1cs, &mut rng).unwrap();
    let (x, y) = (Fr::from(3u64), Fr::from(11u64));
    let inputs = vec![x * y, x + y];
    let mut prove = || {
        let round1 = g16::commit(&pk, &ck, &[x, y], &mut rng).unwrap();
        let seed = g16::challenge(&round1.d, &inputs);
        let z = g16::assignment(MulAddSeeded { x: Some(x), y: Some(y), seed: Some(seed) }).unwrap();
        g16::prove_two_round(&pk, &ck, &r1cs, &z, &round1, &mut rng).unwrap()
    };
    let proofs = [prove(), prove()];
    assert!(proofs.iter().all(|p| g16::verify_two_round(&pk.vk, &ck.delta1_g2, &inputs, p)), "native verification");
    TwoRoundFixture { vk: pk.vk, delta1_g2: ck.delta1_g2, proofs, inputs }
}

pub(crate) fn fixture() -> Fixture {
    let mut rng = StdRng::seed_from_u64(42);
    let (pk, vk) = Groth16::<Bn254>::circuit_specific_setup(MulAdd { x: None, y: None }, &mut rng).expect("setup");
    let (x, y) = (Fr::from(3u64), Fr::from(11u64));
    let proof = Groth16::<Bn254>::prove(&pk, MulAdd { x: Some(x), y: Some(y) }, &mut rng).expect("prove");
    let inputs = vec![x * y, x + y];
    assert!(Groth16::<Bn254>::verify(&vk, &inputs, &proof).expect("verify"), "native verification");
    Fixture { vk, proof, inputs }
}
