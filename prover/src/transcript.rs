//! The Fiat–Shamir transcript: one Poseidon sponge over `Fr` (rate 2, capacity 1, α = 5,
//! 8 full and 57 partial rounds, constants from the Grain LFSR as in the Poseidon paper).
//! The R1CS gadget of the wrap uses the same parameters, so both sides squeeze equal challenges.

use std::sync::OnceLock;

use ark_crypto_primitives::sponge::poseidon::{PoseidonConfig, PoseidonSponge, find_poseidon_ark_and_mds};
use ark_crypto_primitives::sponge::{CryptographicSponge, FieldBasedCryptographicSponge};

use crate::field::F;

pub const FULL_ROUNDS: usize = 8;
pub const PARTIAL_ROUNDS: usize = 57;
pub const ALPHA: u64 = 5;
pub const RATE: usize = 2;

pub fn poseidon_config() -> &'static PoseidonConfig<F> {
    static CONFIG: OnceLock<PoseidonConfig<F>> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let (ark, mds) =
            find_poseidon_ark_and_mds::<F>(254, RATE, FULL_ROUNDS as u64, PARTIAL_ROUNDS as u64, 0);
        PoseidonConfig::new(FULL_ROUNDS, PARTIAL_ROUNDS, ALPHA, mds, ark, RATE, 1)
    })
}

pub struct Transcript {
    sponge: PoseidonSponge<F>,
}

impl Transcript {
    /// A transcript for one protocol, separated from others by its label.
    pub fn new(label: &[u8]) -> Self {
        let mut t = Transcript { sponge: PoseidonSponge::new(poseidon_config()) };
        t.absorb(&crate::field::fe(label.len() as i64));
        for chunk in label.chunks(31) {
            t.absorb(&ark_ff::PrimeField::from_le_bytes_mod_order(chunk));
        }
        t
    }

    pub fn absorb(&mut self, v: &F) {
        self.sponge.absorb(v);
    }

    pub fn absorb_slice(&mut self, v: &[F]) {
        self.sponge.absorb(&v);
    }

    pub fn challenge(&mut self) -> F {
        self.sponge.squeeze_native_field_elements(1)[0]
    }

    pub fn challenges(&mut self, n: usize) -> Vec<F> {
        (0..n).map(|_| self.challenge()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::fe;

    #[test]
    fn challenges_depend_on_every_absorbed_value() {
        let run = |x: i64| {
            let mut t = Transcript::new(b"test");
            t.absorb(&fe(1));
            t.absorb(&fe(x));
            t.challenge()
        };
        assert_eq!(run(2), run(2));
        assert_ne!(run(2), run(3));
        let mut a = Transcript::new(b"a");
        let mut b = Transcript::new(b"b");
        assert_ne!(a.challenge(), b.challenge());
    }
}
