//! The Fiat–Shamir transcript: one Poseidon sponge over `Fr` (rate 4, capacity 1, α = 5,
//! 8 full and 60 partial rounds — the Poseidon paper's 128-bit parameters for width 5 — constants
//! from the Grain LFSR as in the paper). The R1CS gadget of the wrap uses the same parameters, so
//! both sides squeeze equal challenges. Rate 4 because a sumcheck round sends 3 or 4 values and
//! then draws one challenge: one permutation per round (300 constraints in the wrap circuit, 366
//! with the wires `wrap/transcript.rs` adds) where rate 2 took two (2 × 243).

// A verifier path: no panic on any input (see Cargo.toml's [workspace.lints]).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![warn(missing_docs)]

use std::sync::OnceLock;

use ark_crypto_primitives::sponge::poseidon::{PoseidonConfig, find_poseidon_ark_and_mds};
use ark_ff::{Field, Zero};

use crate::field::F;

/// Full rounds of the permutation (half before the partial rounds, half after).
pub const FULL_ROUNDS: usize = 8;
/// Partial rounds (one S-box each).
pub const PARTIAL_ROUNDS: usize = 60;
/// The S-box's exponent: x ↦ x⁵.
pub const ALPHA: u64 = 5;
/// Field elements absorbed or squeezed per permutation (the width is one more).
pub const RATE: usize = 4;

/// The permutation's constants and MDS matrix, made once from the Grain LFSR.
pub fn poseidon_config() -> &'static PoseidonConfig<F> {
    static CONFIG: OnceLock<PoseidonConfig<F>> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let (ark, mds) = find_poseidon_ark_and_mds::<F>(254, RATE, FULL_ROUNDS as u64, PARTIAL_ROUNDS as u64, 0);
        PoseidonConfig::new(FULL_ROUNDS, PARTIAL_ROUNDS, ALPHA, mds, ark, RATE, 1)
    })
}

/// A duplex sponge with exactly the absorb/squeeze semantics of ark-crypto-primitives'
/// `PoseidonSponge` (which the R1CS gadget mirrors), over a fixed-width permutation that avoids
/// its per-round allocations and generic exponentiation.
pub struct Transcript {
    state: [F; RATE + 1],
    /// Whether the last operation absorbed, and the next rate position to absorb or squeeze.
    absorbing: bool,
    index: usize,
}

impl Transcript {
    /// A transcript for one protocol, separated from others by its label.
    pub fn new(label: &[u8]) -> Self {
        let mut t = Transcript { state: [F::zero(); RATE + 1], absorbing: true, index: 0 };
        t.absorb(&crate::field::fe(label.len() as i64));
        for chunk in label.chunks(31) {
            t.absorb(&ark_ff::PrimeField::from_le_bytes_mod_order(chunk));
        }
        t
    }

    /// Absorbs one element.
    pub fn absorb(&mut self, v: &F) {
        self.absorb_slice(std::slice::from_ref(v));
    }

    /// Absorbs elements in order, permuting whenever the rate is full.
    #[allow(clippy::indexing_slicing, reason = "index < RATE (it permutes and restarts at RATE): 1 + index < RATE + 1")]
    pub fn absorb_slice(&mut self, v: &[F]) {
        if v.is_empty() {
            return;
        }
        let mut index = if self.absorbing { self.index } else { 0 };
        if self.absorbing && index == RATE {
            permute(&mut self.state);
            index = 0;
        }
        for x in v {
            if index == RATE {
                permute(&mut self.state);
                index = 0;
            }
            self.state[1 + index] += x;
            index += 1;
        }
        self.absorbing = true;
        self.index = index;
    }

    /// Squeezes one challenge (permuting first if anything was absorbed since the last squeeze).
    #[allow(clippy::indexing_slicing, reason = "index < RATE (it permutes and restarts at RATE): 1 + index < RATE + 1")]
    pub fn challenge(&mut self) -> F {
        let mut index = self.index;
        if self.absorbing || index == RATE {
            permute(&mut self.state);
            index = 0;
        }
        self.absorbing = false;
        self.index = index + 1;
        self.state[1 + index]
    }
}

fn permute(state: &mut [F; RATE + 1]) {
    let c = poseidon_config();
    let half = FULL_ROUNDS / 2;
    for (round, ark) in c.ark.iter().enumerate() {
        for (s, k) in state.iter_mut().zip(ark) {
            *s += k;
        }
        if round < half || round >= half + PARTIAL_ROUNDS {
            state.iter_mut().for_each(sbox);
        } else {
            sbox(&mut state[0]);
        }
        let old = *state;
        for (s, row) in state.iter_mut().zip(&c.mds) {
            *s = old.iter().zip(row).map(|(x, m)| *x * m).sum();
        }
    }
}

fn sbox(x: &mut F) {
    let x2 = x.square();
    *x *= x2.square();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::fe;

    /// Bit-for-bit the sponge the R1CS gadget mirrors, for any interleaving of absorbs and squeezes.
    #[test]
    fn matches_the_arkworks_poseidon_sponge() {
        use ark_crypto_primitives::sponge::poseidon::PoseidonSponge;
        use ark_crypto_primitives::sponge::{CryptographicSponge, FieldBasedCryptographicSponge};
        let mut ours = Transcript { state: [F::zero(); RATE + 1], absorbing: true, index: 0 };
        let mut theirs = PoseidonSponge::new(poseidon_config());
        let mut x = 1i64;
        for pattern in [1usize, 2, 3, 0, 5, 1, 0, 0, 4, 2, 7] {
            let v: Vec<F> = (0..pattern)
                .map(|_| {
                    x = x * 7919 % 1_000_003;
                    fe(x)
                })
                .collect();
            ours.absorb_slice(&v);
            theirs.absorb(&v);
            for _ in 0..(pattern % 3 + 1) {
                assert_eq!(ours.challenge(), theirs.squeeze_native_field_elements(1)[0]);
            }
        }
    }

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
