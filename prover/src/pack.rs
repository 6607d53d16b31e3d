//! Packing of small integers into field elements: `⌊253 / bits⌋` slots per element, signed
//! values offset by `2^(bits−1)`. Unpacking rejects any element that is not exactly such a
//! packing, so a packed vector determines its values and every value lies in its slot's range.

// A verifier path: no panic on any input (see Cargo.toml's [workspace.lints]).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![warn(missing_docs)]

use ark_ff::{BigInteger, PrimeField};

use crate::field::F;

/// Slots per field element for `bits`-bit values: as many as fit below 2^253 < r.
pub fn slots(bits: u32) -> usize {
    (253 / bits) as usize
}

/// Field elements that `n` packed `bits`-bit values take.
pub fn packed_len(n: usize, bits: u32) -> usize {
    n.div_ceil(slots(bits))
}

/// Why values do not pack, or elements do not unpack.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PackError {
    #[error("a slot is 1 to {MAX_BITS} bits wide, not {bits}")]
    /// A slot width no `i64` value packs into: 0, or more than [`MAX_BITS`].
    Width {
        /// The width asked for.
        bits: u32,
    },
    #[error("value {value} does not fit a {bits}-bit {kind} slot")]
    /// A value outside its slot's range.
    Value {
        /// The value.
        value: i64,
        /// The slot's width.
        bits: u32,
        /// "signed" or "unsigned".
        kind: &'static str,
    },
    #[error("packed element {index} is not a valid packing of {bits}-bit values")]
    /// A field element with bits above its last slot, or a packed vector of the wrong length
    /// (`index`: where it departs from the expected one).
    Element {
        /// Which element of the packed vector.
        index: usize,
        /// The slots' width.
        bits: u32,
    },
}

/// The widest slot: values are `i64`s, signed ones offset by `2^(bits−1)`.
pub const MAX_BITS: u32 = 63;

fn check_width(bits: u32) -> Result<(), PackError> {
    if (1..=MAX_BITS).contains(&bits) { Ok(()) } else { Err(PackError::Width { bits }) }
}

/// What a `bits`-bit value is shifted by in its slot: signed values are stored as
/// `v + 2^(bits-1)`, in `[0, 2^bits)`.
pub fn offset(bits: u32, signed: bool) -> i64 {
    if signed { 1i64 << (bits - 1) } else { 0 }
}

/// Packs `values` into `⌊253 / bits⌋` slots per element, lowest slot first; refuses a value
/// outside its slot's range, or a width past [`MAX_BITS`].
#[allow(
    clippy::indexing_slicing,
    reason = "a slot lies below bit 253 (`slots`): limb w + 1 ≤ 3 where a slot crosses into it"
)]
pub fn pack(values: &[i64], bits: u32, signed: bool) -> Result<Vec<F>, PackError> {
    check_width(bits)?;
    let off = i128::from(offset(bits, signed));
    let mut out = Vec::with_capacity(packed_len(values.len(), bits));
    for chunk in values.chunks(slots(bits)) {
        let mut limbs = [0u64; 4];
        for (i, &v) in chunk.iter().enumerate() {
            let u = v as i128 + off;
            if u < 0 || u >= 1i128 << bits {
                return Err(PackError::Value { value: v, bits, kind: if signed { "signed" } else { "unsigned" } });
            }
            let pos = i * bits as usize;
            let (w, b) = (pos / 64, pos % 64);
            limbs[w] |= (u as u64) << b;
            if b + bits as usize > 64 {
                limbs[w + 1] |= (u as u64) >> (64 - b);
            }
        }
        // At most 253 bits (`slots`) are below the modulus, so this error cannot occur.
        out.push(F::from_bigint(ark_ff::BigInt(limbs)).ok_or(PackError::Element { index: out.len(), bits })?);
    }
    Ok(out)
}

/// The `n` values `felts` pack, or an error naming the first element that is not exactly a
/// packing of them (or the width, past [`MAX_BITS`]).
#[allow(
    clippy::indexing_slicing,
    reason = "a slot lies below bit 253 (`slots`): limb w + 1 ≤ 3 where a slot crosses into it"
)]
pub fn unpack(felts: &[F], n: usize, bits: u32, signed: bool) -> Result<Vec<i64>, PackError> {
    check_width(bits)?;
    let off = i128::from(offset(bits, signed));
    let per = slots(bits);
    if felts.len() != packed_len(n, bits) {
        return Err(PackError::Element { index: felts.len().min(packed_len(n, bits)), bits });
    }
    let mut out = Vec::with_capacity(n);
    for (index, f) in felts.iter().enumerate() {
        let count = per.min(n - index * per);
        let big = f.into_bigint();
        let used = count * bits as usize;
        if big.num_bits() as usize > used {
            return Err(PackError::Element { index, bits });
        }
        let limbs = big.0;
        for i in 0..count {
            let pos = i * bits as usize;
            let (w, b) = (pos / 64, pos % 64);
            let mut u = (limbs[w] >> b) as u128;
            if b + bits as usize > 64 {
                u |= (limbs[w + 1] as u128) << (64 - b);
            }
            u &= (1u128 << bits) - 1;
            out.push((u as i128 - off) as i64);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::fe;
    use ark_ff::Field;

    #[test]
    fn round_trips_and_rejects_out_of_range() {
        let v: Vec<i64> = (0..40).map(|i| i * 997 % 65536 - 32768).collect();
        let p = pack(&v, 16, true).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(unpack(&p, v.len(), 16, true).unwrap(), v);
        let u: Vec<i64> = (0..9).map(|i| (i * 123456789) % (1 << 32)).collect();
        assert_eq!(unpack(&pack(&u, 32, false).unwrap(), 9, 32, false).unwrap(), u);
        assert!(pack(&[32768], 16, true).is_err());
        assert!(pack(&[-1], 16, false).is_err());
        // An element with bits beyond the used slots is no packing.
        let mut bad = p.clone();
        bad[2] += fe(1) * F::from(2u64).pow([250u64]);
        assert!(unpack(&bad, v.len(), 16, true).is_err());
        // No slot of no width, nor one an i64 cannot fill.
        assert_eq!(pack(&[0], 0, false), Err(PackError::Width { bits: 0 }));
        assert_eq!(unpack(&p, v.len(), MAX_BITS + 1, true), Err(PackError::Width { bits: MAX_BITS + 1 }));
        let widest = [-(1i64 << 62), (1i64 << 62) - 1];
        assert_eq!(unpack(&pack(&widest, MAX_BITS, true).unwrap(), 2, MAX_BITS, true).unwrap(), widest);
        assert!(pack(&[i64::MIN], MAX_BITS, true).is_err());
    }
}
