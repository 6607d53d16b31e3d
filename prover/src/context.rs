//! The contexts the on-chain hooks bind a wrapped proof to, derived exactly as
//! `contracts/ZkmlPublicInputs.sol` derives them (one copy for the CLI, the code generator and
//! the tests):
//!
//! ```text
//! context = uint256(keccak256(abi.encode(tag, uint256 chainId, address hook, use...))) >> 8
//! oracle     tag = keccak256("zkml.oracle.v2"),  hook = the oracle,    use = (uint256 dataTimestamp)
//! ERC-8004   tag = keccak256("zkml.erc8004.v2"), hook = the validator, use = (uint256 agentId, bytes32 requestHash)
//! x402       tag = keccak256("zkml.escrow.v2"),  hook = the escrow,    use = (bytes32 requestId)
//! ```
//!
//! `abi.encode` of static types is the concatenation of 32-byte words (integers big-endian, an
//! address left-padded with zeros). Keeping the hash's top 248 bits makes the context always
//! smaller than the BN254 scalar modulus r (> 2^253), so it is a field element as it is: no
//! reduction mod r, hence no two uses (say request hashes `h` and `h + r`) share a context.
//!
//! Contexts are 32 big-endian bytes here; [`to_field`] gives the field element the wrap binds.

#![warn(missing_docs)]

use ark_ff::PrimeField;
use sha3::{Digest, Keccak256};

use crate::field::F;

/// Labels whose Keccak-256 are the domain tags (`ZkmlPublicInputs.*_CONTEXT_TAG`).
/// The oracles' (`ZkmlOracle`, `ZkmlSignedOracle`).
pub const ORACLE_LABEL: &str = "zkml.oracle.v2";
/// The ERC-8004 validator's (`ZkmlValidator`).
pub const ERC8004_LABEL: &str = "zkml.erc8004.v2";
/// The x402 escrow's (`ZkmlEscrow`).
pub const ESCROW_LABEL: &str = "zkml.escrow.v2";

/// The forms [`parse`] accepts, for help texts and error messages.
pub const SPEC_FORMS: &str = "a field element (decimal, or 0x hex), below the BN254 scalar modulus r; \
    oracle:<chain id>:<0x oracle address>:<data timestamp>; \
    erc8004:<chain id>:<0x validator address>:<agent id>:<0x request hash>; \
    escrow:<chain id>:<0x escrow address>:<0x request id>";

/// Keccak-256, as Solidity's `keccak256` (not SHA3-256).
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    Keccak256::digest(data).into()
}

/// `keccak256(label)`: a context's domain tag.
pub fn tag(label: &str) -> [u8; 32] {
    keccak256(label.as_bytes())
}

/// A `uint256` word, big-endian.
pub fn word_u64(v: u64) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&v.to_be_bytes());
    w
}

/// An `address` word: the 20 bytes left-padded with zeros.
pub fn word_address(a: [u8; 20]) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[12..].copy_from_slice(&a);
    w
}

/// `uint256(keccak256(abi.encode(tag, uint256 chainId, address hook, uses...))) >> 8`, as 32
/// big-endian bytes (the first one always zero).
pub fn derive(tag: [u8; 32], chain_id: u64, hook: [u8; 20], uses: &[[u8; 32]]) -> [u8; 32] {
    let mut buf = Vec::with_capacity(32 * (3 + uses.len()));
    buf.extend_from_slice(&tag);
    buf.extend_from_slice(&word_u64(chain_id));
    buf.extend_from_slice(&word_address(hook));
    for u in uses {
        buf.extend_from_slice(u);
    }
    let h = keccak256(&buf);
    let mut c = [0u8; 32];
    c[1..].copy_from_slice(&h[..31]);
    c
}

/// `ZkmlPublicInputs.oracleContext`: a proof for round `data_timestamp` of the oracle at
/// `oracle` on chain `chain_id`.
pub fn oracle(chain_id: u64, oracle: [u8; 20], data_timestamp: u64) -> [u8; 32] {
    derive(tag(ORACLE_LABEL), chain_id, oracle, &[word_u64(data_timestamp)])
}

/// `ZkmlPublicInputs.validationContext`: a proof answering ERC-8004 validation request
/// `request_hash` of agent `agent_id` (a `uint256`, big-endian) through `validator`.
pub fn erc8004(chain_id: u64, validator: [u8; 20], agent_id: [u8; 32], request_hash: [u8; 32]) -> [u8; 32] {
    derive(tag(ERC8004_LABEL), chain_id, validator, &[agent_id, request_hash])
}

/// `ZkmlPublicInputs.escrowContext`: a proof settling request `request_id` of the escrow at
/// `escrow`.
pub fn escrow(chain_id: u64, escrow: [u8; 20], request_id: [u8; 32]) -> [u8; 32] {
    derive(tag(ESCROW_LABEL), chain_id, escrow, &[request_id])
}

/// The field element of a context (or of any 32-byte big-endian value below r), or `None` if
/// the value is not below r. Every derived context is.
pub fn to_field_checked(be: [u8; 32]) -> Option<F> {
    (be < crate::field::modulus_word::<F>()).then(|| F::from_be_bytes_mod_order(&be))
}

/// The field element a derived context is, as the wrap's public input `pub[1]`.
pub fn to_field(context: [u8; 32]) -> F {
    to_field_checked(context).expect("a context has 248 bits, below r")
}

/// Lowercase hex, without `0x`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a `--context` value is refused; each message says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// An empty value.
    #[error("empty context: expected {SPEC_FORMS}")]
    Empty,
    /// Neither a number nor a known hook's form.
    #[error("unknown context {0:?}: expected {SPEC_FORMS}")]
    Unknown(String),
    /// A hook's context with too few or too many fields.
    #[error("{kind} context {spec:?} has {got} field(s) after \"{kind}:\"; expected {expected}")]
    Arity {
        /// `oracle`, `erc8004` or `escrow`.
        kind: &'static str,
        /// The value given.
        spec: String,
        /// Its fields after the kind.
        got: usize,
        /// The fields the kind takes.
        expected: &'static str,
    },
    /// A field that does not parse.
    #[error("{what} {value:?} in context {spec:?}: {why}")]
    Part {
        /// Which field (`chain id`, `address`, …).
        what: &'static str,
        /// Its text.
        value: String,
        /// The whole value given.
        spec: String,
        /// What it should be.
        why: &'static str,
    },
    /// A number that is not a field element.
    #[error("context {0} is not below the BN254 scalar modulus r = {r}", r = F::MODULUS)]
    NotBelowModulus(String),
}

/// Parses a `--context` value: a field element (decimal or `0x` hex, below r) or one of the
/// hooks' contexts, `oracle:<chain id>:<0x oracle>:<data timestamp>`,
/// `erc8004:<chain id>:<0x validator>:<agent id>:<0x request hash>`,
/// `escrow:<chain id>:<0x escrow>:<0x request id>`. Chain ids and timestamps are decimal; the
/// agent id is a `uint256` (decimal or `0x` hex); addresses are 40 hex digits and hashes 64.
pub fn parse(spec: &str) -> Result<F, ContextError> {
    let s = spec.trim();
    if s.is_empty() {
        return Err(ContextError::Empty);
    }
    let Some((kind, rest)) = s.split_once(':') else {
        let hex = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"));
        let numeric = match hex {
            Some(h) => !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()),
            None => s.bytes().all(|b| b.is_ascii_digit()),
        };
        if !numeric {
            return Err(ContextError::Unknown(s.to_string()));
        }
        // A number of more than 256 bits is not below r either.
        return parse_uint256(s).and_then(to_field_checked).ok_or_else(|| ContextError::NotBelowModulus(s.to_string()));
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (kind, expected): (&'static str, &'static str) = match kind {
        "oracle" => ("oracle", "<chain id>:<0x oracle address>:<data timestamp>"),
        "erc8004" => ("erc8004", "<chain id>:<0x validator address>:<agent id>:<0x request hash>"),
        "escrow" => ("escrow", "<chain id>:<0x escrow address>:<0x request id>"),
        _ => return Err(ContextError::Unknown(s.to_string())),
    };
    let n = expected.matches(':').count() + 1;
    if parts.len() != n {
        return Err(ContextError::Arity { kind, spec: s.to_string(), got: parts.len(), expected });
    }
    let part = |what: &'static str, value: &str, why: &'static str| ContextError::Part {
        what,
        value: value.to_string(),
        spec: s.to_string(),
        why,
    };
    let chain_id =
        parse_u64(parts[0]).ok_or_else(|| part("chain id", parts[0], "expected a decimal number below 2^64"))?;
    let hook_name = match kind {
        "oracle" => "oracle address",
        "erc8004" => "validator address",
        _ => "escrow address",
    };
    let hook: [u8; 20] =
        parse_hex_exact(parts[1]).ok_or_else(|| part(hook_name, parts[1], "expected 0x and 40 hex digits"))?;
    let c = match kind {
        "oracle" => {
            let ts = parse_u64(parts[2])
                .ok_or_else(|| part("data timestamp", parts[2], "expected a decimal number below 2^64"))?;
            oracle(chain_id, hook, ts)
        }
        "erc8004" => {
            let agent = parse_uint256(parts[2])
                .ok_or_else(|| part("agent id", parts[2], "expected a uint256, decimal or 0x hex"))?;
            let h = parse_hex_exact(parts[3])
                .ok_or_else(|| part("request hash", parts[3], "expected 0x and 64 hex digits"))?;
            erc8004(chain_id, hook, agent, h)
        }
        _ => {
            let id = parse_hex_exact(parts[2])
                .ok_or_else(|| part("request id", parts[2], "expected 0x and 64 hex digits"))?;
            escrow(chain_id, hook, id)
        }
    };
    Ok(to_field(c))
}

fn parse_u64(s: &str) -> Option<u64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

/// `0x` and exactly `2N` hex digits.
fn parse_hex_exact<const N: usize>(s: &str) -> Option<[u8; N]> {
    let h = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    if h.len() != 2 * N || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// A `uint256`, big-endian: decimal digits, or `0x` and 1 to 64 hex digits.
pub fn parse_uint256(s: &str) -> Option<[u8; 32]> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if h.is_empty() || h.len() > 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let padded = format!("{h:0>64}");
        return parse_hex_exact::<32>(&format!("0x{padded}"));
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut w = [0u8; 32];
    for d in s.bytes() {
        // w = 10·w + d, from the least significant byte up; a carry out of the top overflows.
        let mut carry = u32::from(d - b'0');
        for b in w.iter_mut().rev() {
            let v = u32::from(*b) * 10 + carry;
            *b = v as u8;
            carry = v >> 8;
        }
        if carry != 0 {
            return None;
        }
    }
    Some(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOOK: [u8; 20] = [0x11; 20];

    fn be_to_field(b: [u8; 32]) -> F {
        F::from_be_bytes_mod_order(&b)
    }

    /// Keccak-256 as Solidity's keccak256 (not SHA3-256): the known digests of "" and "abc".
    #[test]
    fn keccak_is_ethereum_keccak() {
        assert_eq!(hex(&keccak256(b"")), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
        assert_eq!(hex(&keccak256(b"abc")), "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
    }

    /// The encoding, word for word, rebuilt by hand.
    #[test]
    fn contexts_are_the_top_248_bits_of_the_hash_of_the_words() {
        let mut buf = vec![];
        buf.extend_from_slice(&keccak256(b"zkml.oracle.v2"));
        buf.extend_from_slice(&[0u8; 31]);
        buf.push(31); // chain id 31
        buf.extend_from_slice(&[0u8; 12]);
        buf.extend_from_slice(&HOOK);
        buf.extend_from_slice(&[0u8; 28]);
        buf.extend_from_slice(&1_800_000_000u32.to_be_bytes());
        assert_eq!(buf.len(), 4 * 32);
        let h = keccak256(&buf);
        let c = oracle(31, HOOK, 1_800_000_000);
        assert_eq!(c[0], 0);
        assert_eq!(c[1..], h[..31]);

        let agent = parse_uint256("258").unwrap();
        assert_eq!(agent[30..], [1, 2]);
        let rh = [0xab; 32];
        let mut buf = vec![];
        buf.extend_from_slice(&keccak256(b"zkml.erc8004.v2"));
        buf.extend_from_slice(&word_u64(8453));
        buf.extend_from_slice(&word_address(HOOK));
        buf.extend_from_slice(&agent);
        buf.extend_from_slice(&rh);
        assert_eq!(buf.len(), 5 * 32);
        assert_eq!(erc8004(8453, HOOK, agent, rh)[1..], keccak256(&buf)[..31]);

        let id = [0x5a; 32];
        let mut buf = keccak256(b"zkml.escrow.v2").to_vec();
        buf.extend_from_slice(&word_u64(1));
        buf.extend_from_slice(&word_address(HOOK));
        buf.extend_from_slice(&id);
        assert_eq!(escrow(1, HOOK, id)[1..], keccak256(&buf)[..31]);
    }

    /// Known answers computed independently (js-sha3's keccak256 over the hand-built
    /// abi.encode bytes, in node), for the hook address 0x1111…1111.
    #[test]
    fn known_answers() {
        assert_eq!(hex(&tag(ORACLE_LABEL)), KNOWN_ORACLE_TAG);
        assert_eq!(hex(&oracle(31337, HOOK, 1_800_000_000)), KNOWN_ORACLE);
        assert_eq!(hex(&erc8004(31337, HOOK, parse_uint256("7").unwrap(), [0xab; 32])), KNOWN_ERC8004);
        assert_eq!(hex(&escrow(31337, HOOK, [0x5a; 32])), KNOWN_ESCROW);
    }

    const KNOWN_ORACLE_TAG: &str = "730101e20ff776df0ced5b2ff77c81736fec986184914aadc13a54b4dfeea31e";
    const KNOWN_ORACLE: &str = "00b5a05d0df14b136d5bc1647b7fea65fbc2e938757fe8a887fe88e8607b7f77";
    const KNOWN_ERC8004: &str = "000f2f2d18f2dbf12c0ad79f3d9749b0de76cd91d8c2c4eda68c1ab7cf77df0a";
    const KNOWN_ESCROW: &str = "0058fb98a60d2ea008d8dd64a9c7a00118282a93b2a8cc427218a949e28b9d47";

    #[test]
    fn contexts_are_below_2_pow_248_and_fields_round_trip() {
        for ts in 0..64u64 {
            let c = oracle(1, HOOK, ts);
            assert_eq!(c[0], 0);
            let f = to_field(c);
            assert_eq!(crate::field::word(&f), c);
        }
        assert_eq!(to_field_checked(crate::field::modulus_word::<F>()), None);
        let mut below = crate::field::modulus_word::<F>();
        below[31] -= 1;
        assert_eq!(to_field_checked(below), Some(-F::from(1u64)));
    }

    #[test]
    fn every_part_changes_the_context() {
        let a = [0x22; 20];
        let base = oracle(1, HOOK, 100);
        assert_ne!(base, oracle(2, HOOK, 100), "chain id");
        assert_ne!(base, oracle(1, a, 100), "oracle");
        assert_ne!(base, oracle(1, HOOK, 101), "timestamp");
        let (g, h) = (word_u64(5), [0x33; 32]);
        let e = erc8004(1, HOOK, g, h);
        assert_ne!(e, erc8004(1, HOOK, word_u64(6), h), "agent");
        assert_ne!(e, erc8004(1, HOOK, g, [0x34; 32]), "request hash");
        assert_ne!(e, erc8004(10, HOOK, g, h), "chain id");
        assert_ne!(e, erc8004(1, a, g, h), "validator");
        assert_ne!(escrow(1, HOOK, h), escrow(1, a, h), "escrow");
        assert_ne!(escrow(1, HOOK, h), escrow(1, HOOK, [0x35; 32]), "request id");
        // Domain separation: the same words under another tag.
        assert_ne!(escrow(1, HOOK, word_u64(100)), oracle(1, HOOK, 100));
    }

    /// Request hashes `h` and `h + r` (both 256-bit values) are the same field element but
    /// give different contexts: the hash is not reduced mod r.
    #[test]
    fn no_aliasing_mod_r() {
        let (h, h_plus_r) = ([0u8; 32], crate::field::modulus_word::<F>());
        assert_eq!(be_to_field(h), be_to_field(h_plus_r));
        assert_ne!(erc8004(1, HOOK, word_u64(1), h), erc8004(1, HOOK, word_u64(1), h_plus_r));
        assert_ne!(escrow(1, HOOK, h), escrow(1, HOOK, h_plus_r));
        let mut small = [0u8; 32];
        small[31] = 9;
        let mut big = crate::field::modulus_word::<F>();
        big[31] += 9;
        assert_eq!(be_to_field(small), be_to_field(big));
        assert_ne!(escrow(1, HOOK, small), escrow(1, HOOK, big));
    }

    #[test]
    fn parses_every_form() {
        let addr = "0x1111111111111111111111111111111111111111";
        assert_eq!(parse(&format!("oracle:31337:{addr}:1800000000")), Ok(to_field(oracle(31337, HOOK, 1_800_000_000))));
        let rh = format!("0x{}", "ab".repeat(32));
        assert_eq!(
            parse(&format!("erc8004:31337:{addr}:7:{rh}")),
            Ok(to_field(erc8004(31337, HOOK, word_u64(7), [0xab; 32])))
        );
        assert_eq!(parse(&format!("erc8004:31337:{addr}:0x7:{rh}")), parse(&format!("erc8004:31337:{addr}:7:{rh}")));
        let id = format!("0X{}", "5A".repeat(32));
        assert_eq!(parse(&format!(" escrow:31337:{addr}:{id} ")), Ok(to_field(escrow(31337, HOOK, [0x5a; 32]))));
        assert_eq!(parse("0"), Ok(F::from(0u64)));
        assert_eq!(parse("99"), Ok(F::from(99u64)));
        assert_eq!(parse("0x63"), Ok(F::from(99u64)));
        let r_minus_1 = (-F::from(1u64)).to_string();
        assert_eq!(parse(&r_minus_1), Ok(-F::from(1u64)));
        // The largest agent id.
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        assert_eq!(parse_uint256(max), Some([0xff; 32]));
        assert!(parse(&format!("erc8004:1:{addr}:{max}:{rh}")).is_ok());
    }

    #[test]
    fn refuses_bad_specs_naming_the_bad_part() {
        let addr = "0x1111111111111111111111111111111111111111";
        let rh = format!("0x{}", "ab".repeat(32));
        let err = |s: &str| parse(s).unwrap_err().to_string();
        let r = F::MODULUS.to_string();
        assert!(err(&r).contains("not below the BN254 scalar modulus"), "{}", err(&r));
        assert!(err("-1").contains("unknown context"));
        assert!(err("").contains("empty"));
        assert!(err("1.5").contains("unknown context"));
        assert!(err("0x").contains("unknown context"));
        assert!(err(&format!("0x1{}", "0".repeat(64))).contains("not below"), "more than 256 bits");
        // 2^256 in decimal.
        assert!(
            err("115792089237316195423570985008687907853269984665640564039457584007913129639936").contains("not below")
        );
        assert!(err(&format!("oracel:1:{addr}:5")).contains("unknown context \"oracel:"));
        let e = err(&format!("oracle:1:{addr}"));
        assert!(e.contains("has 2 field(s)") && e.contains("<data timestamp>"), "{e}");
        let e = err(&format!("oracle:x1:{addr}:5"));
        assert!(e.starts_with("chain id \"x1\""), "{e}");
        let e = err(&format!("oracle:99999999999999999999:{addr}:5"));
        assert!(e.starts_with("chain id") && e.contains("below 2^64"), "{e}");
        let e = err("oracle:1:0x1234:5");
        assert!(e.starts_with("oracle address \"0x1234\"") && e.contains("40 hex digits"), "{e}");
        let e = err(&format!("oracle:1:{}:5", &addr[2..]));
        assert!(e.starts_with("oracle address"), "{e}");
        let e = err(&format!("oracle:1:{addr}:-5"));
        assert!(e.starts_with("data timestamp \"-5\""), "{e}");
        let e = err(&format!("erc8004:1:{}g:7:{rh}", &addr[..41]));
        assert!(e.starts_with("validator address"), "{e}");
        let e = err(&format!("erc8004:1:{addr}:seven:{rh}"));
        assert!(e.starts_with("agent id \"seven\""), "{e}");
        let e = err(&format!("erc8004:1:{addr}:7:{}", &rh[..64]));
        assert!(e.starts_with("request hash") && e.contains("64 hex digits"), "{e}");
        let e = err(&format!("erc8004:1:{addr}:7"));
        assert!(e.contains("has 3 field(s)"), "{e}");
        let e = err(&format!("escrow:1:{addr}:{rh}:1"));
        assert!(e.contains("has 4 field(s)"), "{e}");
        let e = err(&format!("escrow:1:{addr}:0x12"));
        assert!(e.starts_with("request id \"0x12\""), "{e}");
        let e = err(&format!("escrow:1:0x{}:{rh}", "2".repeat(40)).replace("0x2222", "0xzz22"));
        assert!(e.starts_with("escrow address"), "{e}");
    }
}
