//! Off-chain side of the hook contracts in `contracts/`: the public-input convention of
//! `contracts/ZkmlPublicInputs.sol` (contexts, packing, answers), the escrow's request id and
//! EIP-3009 nonce, the x402 v2 `PaymentRequired` body a resource server sends for a `ZkmlEscrow`,
//! and an ERC-8004 agent registration file that advertises zkml validation.
//!
//! Public inputs of every zkml proof the hooks accept (the Groth16 wrap must produce exactly this):
//!
//! ```text
//! pub[0]          model id = keccak256(quantized model) mod r
//! pub[1]          context  (oracle: oracle_context(chain, oracle, dataTimestamp); ERC-8004:
//!                           validation_context(chain, validator, agentId, requestHash); escrow:
//!                           escrow_context(chain, escrow, requestId): injective 248-bit hashes)
//! pub[2 .. 2+k]   the model input, packed (k field elements)
//! pub[2+k ..]     the model output, packed
//! ```

#![warn(missing_docs)]

use alloy_primitives::{Address, B256, I256, U256, keccak256};
use alloy_sol_types::{SolStruct, SolValue, eip712_domain, sol};
use serde_json::{Value, json};

use crate::calldata::fr_to_u256;
use crate::x402::{PAYMENT_SIGNATURE, PaymentRequired, PaymentRequirements, Resource, X402_VERSION, caip2};

/// BN254 scalar field modulus r.
pub fn modulus() -> U256 {
    U256::from_be_bytes(zkml::field::modulus_word::<zkml::field::F>())
}

/// `ZkmlPublicInputs.modelId`: a 32-byte hash reduced mod r.
pub fn model_id(model_hash: B256) -> U256 {
    U256::from_be_bytes(model_hash.0) % modulus()
}

/// `ZkmlPublicInputs.oracleContext(oracle, dataTimestamp)` on chain `chain_id`:
/// `uint256(keccak256(abi.encode(keccak256("zkml.oracle.v2"), chainId, oracle, dataTimestamp))) >> 8`.
/// The derivation itself is `zkml::context`'s (the prover's `--context oracle:…` uses it too).
pub fn oracle_context(chain_id: u64, oracle: Address, data_timestamp: u64) -> U256 {
    U256::from_be_bytes(zkml::context::oracle(chain_id, oracle.into_array(), data_timestamp))
}

/// `ZkmlPublicInputs.validationContext(validator, agentId, requestHash)` on chain `chain_id`: the
/// context of a proof answering an ERC-8004 validation request.
pub fn validation_context(chain_id: u64, validator: Address, agent_id: U256, request_hash: B256) -> U256 {
    U256::from_be_bytes(zkml::context::erc8004(
        chain_id,
        validator.into_array(),
        agent_id.to_be_bytes(),
        request_hash.0,
    ))
}

/// `ZkmlPublicInputs.escrowContext(escrow, requestId)` on chain `chain_id`.
pub fn escrow_context(chain_id: u64, escrow: Address, request_id: B256) -> U256 {
    U256::from_be_bytes(zkml::context::escrow(chain_id, escrow.into_array(), request_id.0))
}

/// `ZkmlPublicInputs.wordsHash`: keccak256 of the words as consecutive 32-byte big-endian words
/// (the escrow's input hash, the validator's and the ERC-8274 adapter's input/output hashes).
pub fn words_hash(words: &[U256]) -> B256 {
    let mut buf = Vec::with_capacity(32 * words.len());
    for w in words {
        buf.extend_from_slice(&w.to_be_bytes::<32>());
    }
    keccak256(buf)
}

/// `ZkmlPublicInputs.requestHashOf` = `keccak256(abi.encode(client, modelId, inputHash, salt))`:
/// an ERC-8004 request hash for `ZkmlValidator` and a `ZkmlEscrow` request id (client = payer).
pub fn request_hash(client: Address, model_id: U256, input_hash: B256, salt: B256) -> B256 {
    keccak256((client, model_id, input_hash, salt).abi_encode_params())
}

sol! {
    /// What `ZkmlSignedOracle`'s data signers sign (EIP-712).
    struct Report {
        uint64 dataTimestamp;
        int256[] features;
    }
}

/// The EIP-712 digest `ZkmlSignedOracle.reportDigest(features, dataTimestamp)` of the oracle at
/// `oracle` on chain `chain_id`: what a data signer signs.
pub fn report_digest(chain_id: u64, oracle: Address, data_timestamp: u64, features: &[i64]) -> B256 {
    let domain = eip712_domain! {
        name: "ZkmlOracle",
        version: "1",
        chain_id: chain_id,
        verifying_contract: oracle,
    };
    Report {
        dataTimestamp: data_timestamp,
        features: features.iter().map(|&v| I256::try_from(v).expect("i64 fits int256")).collect(),
    }
    .eip712_signing_hash(&domain)
}

/// `ZkmlFeedOracle.quantize`: a feed answer with `feed_decimals` decimals as a model input of
/// scale 2^`input_scale`, `round(answer * 2^input_scale / 10^feed_decimals)`, halves away from
/// zero. `None` where the contract reverts (|answer| beyond int128, decimals above 38) or the
/// result does not fit `i128`.
pub fn feed_input(answer: i128, feed_decimals: u8, input_scale: i8) -> Option<i128> {
    if feed_decimals > 38 {
        return None;
    }
    let mut num = I256::try_from(answer).ok()?;
    let mut den = I256::try_from(10i128.checked_pow(feed_decimals as u32)?).ok()?;
    let shift = I256::ONE << input_scale.unsigned_abs() as usize;
    if input_scale >= 0 {
        num = num.checked_mul(shift)?;
    } else {
        den = den.checked_mul(shift)?;
    }
    let two = I256::try_from(2).ok()?;
    let q = (num.abs() * two + den) / (two * den);
    i128::try_from(if num.is_negative() { -q } else { q }).ok()
}

/// `ZkmlEscrow.nonceOf` = `keccak256(abi.encode(requestId, provider, amount, deadline))`: the
/// nonce of the payer's EIP-3009 ReceiveWithAuthorization.
pub fn escrow_nonce(request_id: B256, provider: Address, amount: U256, deadline: u64) -> B256 {
    keccak256((request_id, provider, amount, U256::from(deadline)).abi_encode_params())
}

/// `ZkmlPublicInputs.packSigned`: the EVM words of `zkml::pack`'s signed packing (`floor(253 /
/// bits)` slots per field element, value i in element `i / slots` at bit `(i % slots) * bits`,
/// each value offset by `2^(bits-1)`), the words a proof carries for a packed tensor.
pub fn pack_signed(values: &[i64], bits: u32) -> Result<Vec<U256>, zkml::pack::PackError> {
    Ok(zkml::pack::pack(values, bits, true)?.iter().map(fr_to_u256).collect())
}

/// `ZkmlPublicInputs.decodeSigned`: a single signed value alone in `word` (slot `bits` wide,
/// `frac_bits` fractional bits) in `decimals` decimals, rounded toward zero. `None` if `word` is
/// not such a packing or the result does not fit `i128`.
pub fn decode_signed(word: U256, bits: u32, frac_bits: u32, decimals: u32) -> Option<i128> {
    if bits == 0 || bits > 127 || word >> bits as usize != U256::ZERO {
        return None;
    }
    let q = word.to::<u128>() as i128 - (1i128 << (bits - 1));
    q.checked_mul(10i128.checked_pow(decimals)?)?.checked_div(1i128.checked_shl(frac_bits)?)
}

/// CAIP-10 id of an account (contract) on an EVM chain, checksummed.
pub fn caip10(chain_id: u64, address: Address) -> String {
    format!("{}:{}", caip2(chain_id), address.to_checksum(None))
}

/// The x402 scheme name of a `ZkmlEscrow` payment: the payer signs an EIP-3009
/// `ReceiveWithAuthorization` to the escrow whose nonce is [`escrow_nonce`] (not the `exact`
/// scheme's `TransferWithAuthorization` with a random nonce, which would bypass the escrow).
pub const ESCROW_SCHEME: &str = "zkml-escrow";

/// What a resource server charges for one proved inference, paid into a `ZkmlEscrow`.
#[derive(Clone, Debug)]
pub struct EscrowOffer {
    /// The chain (x402 `network` `eip155:<chain id>`).
    pub chain_id: u64,
    /// The `ZkmlEscrow` contract (x402 `payTo`).
    pub escrow: Address,
    /// The EIP-3009 token (x402 `asset`) and its EIP-712 domain name and version.
    pub asset: Address,
    /// The token's EIP-712 domain name (x402 `extra.name`).
    pub asset_name: String,
    /// The token's EIP-712 domain version (x402 `extra.version`).
    pub asset_version: String,
    /// Price in the token's smallest unit.
    pub amount: U256,
    /// How long the server may take to answer a paid request; also how long the payer's
    /// authorization stays valid.
    pub max_timeout_seconds: u64,
    /// Who is paid on a valid proof.
    pub provider: Address,
    /// Seconds after opening until the payer may refund.
    pub deadline_seconds: u64,
    /// The model whose proved inference is sold.
    pub model_id: U256,
    /// Packed input words in the public inputs.
    pub num_input_words: usize,
    /// The resource's URL (x402 `resource.url`).
    pub resource_url: String,
    /// What it is (x402 `resource.description`).
    pub description: String,
    /// The media type of a paid answer (x402 `resource.mimeType`).
    pub mime_type: String,
}

/// The x402 v2 `PaymentRequired` (its JSON the 402 answer's body, and base64-encoded its
/// `PAYMENT-REQUIRED` header) for a `ZkmlEscrow` offer. `extra` carries the EIP-712 domain
/// {name, version} as x402 requires, plus (our extension, under `extra.zkml`) what the payer
/// needs to bind the authorization to the request: the escrow terms and the rules for requestId
/// and nonce.
pub fn payment_required(o: &EscrowOffer) -> PaymentRequired {
    PaymentRequired {
        x402_version: X402_VERSION,
        error: Some(format!("{PAYMENT_SIGNATURE} header is required")),
        resource: Resource {
            url: o.resource_url.clone(),
            description: o.description.clone(),
            mime_type: o.mime_type.clone(),
        },
        accepts: vec![PaymentRequirements {
            scheme: ESCROW_SCHEME.into(),
            network: caip2(o.chain_id),
            amount: o.amount.to_string(),
            asset: o.asset.to_checksum(None),
            pay_to: o.escrow.to_checksum(None),
            max_timeout_seconds: o.max_timeout_seconds,
            extra: json!({
                "name": o.asset_name,
                "version": o.asset_version,
                "zkml": {
                    "authorization": "ReceiveWithAuthorization",
                    "provider": o.provider.to_checksum(None),
                    "deadlineSeconds": o.deadline_seconds,
                    "modelId": format!("{:#066x}", o.model_id),
                    "numInputWords": o.num_input_words,
                    "requestId": "keccak256(abi.encode(payer, modelId, inputHash, salt)), inputHash = keccak256(abi.encodePacked(inputWords))",
                    "nonce": "keccak256(abi.encode(requestId, provider, amount, deadline))",
                    "proofContext": "uint256(keccak256(abi.encode(keccak256(\"zkml.escrow.v2\"), chainId, payTo, requestId))) >> 8",
                },
            }),
        }],
    }
}

/// An ERC-8004 agent whose work is validated by zkml proofs.
#[derive(Clone, Debug)]
pub struct AgentRegistration {
    /// The agent's name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// An image URL.
    pub image: String,
    /// (service name, endpoint), e.g. ("web", "https://…"), ("A2A", "https://…/agent-card.json").
    pub services: Vec<(String, String)>,
    /// Whether it takes x402 payments.
    pub x402_support: bool,
    /// The chain of its registries and validator.
    pub chain_id: u64,
    /// The Identity Registry and the agent's id there (None before registration).
    pub identity_registry: Address,
    /// The agent's id in the Identity Registry (none before registration).
    pub agent_id: Option<u64>,
    /// Trust models besides "zkml" ("reputation", "crypto-economic", "tee-attestation").
    pub other_trust: Vec<String>,
    /// The model's verifier and the ZkmlValidator to name in validation requests.
    pub verifier: Address,
    /// The `ZkmlValidator`.
    pub validator: Address,
    /// The model the agent's outputs are proved with.
    pub model_id: U256,
}

/// Our extension of `supportedTrust`: the spec lists reputation, crypto-economic and
/// tee-attestation; "zkml" says the agent's outputs come with zkml proofs that the `ZkmlValidator`
/// named in the file checks on-chain.
pub const ZKML_TRUST: &str = "zkml";

/// The agent registration file (type `https://eips.ethereum.org/EIPS/eip-8004#registration-v1`).
/// Adds "zkml" to `supportedTrust` (our extension, see [`ZKML_TRUST`]) and a top-level `zkml`
/// object with the verifier, the validator (CAIP-10) and the model id.
pub fn registration_file(a: &AgentRegistration) -> Value {
    let mut trust: Vec<String> = a.other_trust.clone();
    if !trust.iter().any(|t| t == ZKML_TRUST) {
        trust.push(ZKML_TRUST.to_string());
    }
    let registrations: Vec<Value> = a
        .agent_id
        .map(|id| {
            json!({
                "agentId": id,
                "agentRegistry": caip10(a.chain_id, a.identity_registry),
            })
        })
        .into_iter()
        .collect();
    json!({
        "type": "https://eips.ethereum.org/EIPS/eip-8004#registration-v1",
        "name": a.name,
        "description": a.description,
        "image": a.image,
        "services": a.services.iter().map(|(n, e)| json!({"name": n, "endpoint": e})).collect::<Vec<_>>(),
        "x402Support": a.x402_support,
        "active": true,
        "registrations": registrations,
        "supportedTrust": trust,
        "zkml": {
            "note": "extension: 'zkml' in supportedTrust is not in the ERC-8004 list; request validations from `validator`",
            "proofSystem": "groth16-bn254",
            "verifier": caip10(a.chain_id, a.verifier),
            "validator": caip10(a.chain_id, a.validator),
            "modelId": format!("{:#066x}", a.model_id),
            "publicInputs": "[modelId, uint256(keccak256(abi.encode(keccak256(\"zkml.erc8004.v2\"), chainId, validator, agentId, requestHash))) >> 8, input words..., output words...]",
            "requestHash": "keccak256(abi.encode(client, modelId, keccak256(abi.encodePacked(inputWords)), salt))",
        },
    })
}

#[cfg(test)]
mod tests {
    use zkml::pack::PackError;

    use super::*;

    fn addr(b: u8) -> Address {
        Address::repeat_byte(b)
    }

    #[test]
    fn contexts_and_ids() {
        // abi.encode(bytes32, uint256, address, uint256): four words, then keep the top 248 bits.
        let mut buf = keccak256(b"zkml.oracle.v2").to_vec();
        buf.extend_from_slice(&U256::from(31337u64).to_be_bytes::<32>());
        buf.extend_from_slice(&[0u8; 12]);
        buf.extend_from_slice(addr(9).as_slice());
        buf.extend_from_slice(&U256::from(7u64).to_be_bytes::<32>());
        let c = oracle_context(31337, addr(9), 7);
        assert_eq!(c, U256::from_be_bytes(keccak256(&buf).0) >> 8);
        assert!(c < U256::from(1u8) << 248);
        assert_ne!(c, oracle_context(1, addr(9), 7), "another chain");
        assert_ne!(c, oracle_context(31337, addr(8), 7), "another deployment");
        assert_ne!(c, oracle_context(31337, addr(9), 8), "another round");
        // Request hashes that are congruent mod r no longer share a context.
        let h = B256::repeat_byte(0x01);
        let h_plus_r = B256::from(U256::from_be_bytes(h.0) + modulus());
        assert_ne!(
            validation_context(1, addr(2), U256::from(3), h),
            validation_context(1, addr(2), U256::from(3), h_plus_r)
        );
        assert_ne!(
            validation_context(1, addr(2), U256::from(3), h),
            validation_context(1, addr(2), U256::from(4), h),
            "another agent"
        );
        assert_ne!(escrow_context(1, addr(2), h), escrow_context(1, addr(2), h_plus_r));
        assert_ne!(escrow_context(1, addr(2), h), validation_context(1, addr(2), U256::ZERO, h));
        let id = request_hash(addr(1), U256::from(5), B256::repeat_byte(2), B256::repeat_byte(3));
        let mut enc = vec![0u8; 12];
        enc.extend_from_slice(addr(1).as_slice());
        enc.extend_from_slice(&U256::from(5).to_be_bytes::<32>());
        enc.extend_from_slice(&[2u8; 32]);
        enc.extend_from_slice(&[3u8; 32]);
        assert_eq!(id, keccak256(&enc));
        assert_ne!(escrow_nonce(id, addr(4), U256::from(1), 10), escrow_nonce(id, addr(4), U256::from(2), 10));
        assert_eq!(words_hash(&[]), keccak256([]));
    }

    #[test]
    fn feed_inputs_round_half_away_from_zero() {
        // 8 decimals, scale 2^2: q = round(answer * 4 / 1e8).
        assert_eq!(feed_input(250_000_000, 8, 2), Some(10));
        assert_eq!(feed_input(12_500_000, 8, 2), Some(1), "0.5 rounds up");
        assert_eq!(feed_input(-12_500_000, 8, 2), Some(-1), "-0.5 rounds down");
        assert_eq!(feed_input(12_499_999, 8, 2), Some(0));
        assert_eq!(feed_input(300, 0, -3), Some(38), "300 / 8 = 37.5");
        assert_eq!(feed_input(1, 39, 0), None);
        assert_eq!(feed_input(i128::MAX, 0, 127), None);
    }

    #[test]
    fn report_digest_is_eip712() {
        let d = report_digest(31337, addr(7), 100, &[1, -2]);
        let type_hash = keccak256(b"Report(uint64 dataTimestamp,int256[] features)");
        let mut features = Vec::new();
        for v in [I256::ONE, I256::try_from(-2).unwrap()] {
            features.extend_from_slice(&v.to_be_bytes::<32>());
        }
        let struct_hash = keccak256((type_hash, U256::from(100u64), keccak256(&features)).abi_encode_params());
        let domain_hash = keccak256(
            (
                keccak256(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256(b"ZkmlOracle"),
                keccak256(b"1"),
                U256::from(31337u64),
                addr(7),
            )
                .abi_encode_params(),
        );
        let mut m = vec![0x19, 0x01];
        m.extend_from_slice(domain_hash.as_slice());
        m.extend_from_slice(struct_hash.as_slice());
        assert_eq!(d, keccak256(&m));
        assert_ne!(d, report_digest(31337, addr(7), 100, &[1, -3]));
    }

    #[test]
    fn packing_and_decoding() {
        assert_eq!(pack_signed(&[-1, 0], 16).unwrap(), vec![U256::from(0x7fffu64) | (U256::from(0x8000u64) << 16)]);
        assert_eq!(pack_signed(&[1 << 15], 16), Err(PackError::Value { value: 1 << 15, bits: 16, kind: "signed" }));
        assert_eq!(pack_signed(&[0], 0), Err(PackError::Width { bits: 0 }));
        // 16 values of 16 bits: 15 slots per element.
        assert_eq!(pack_signed(&[0; 16], 16).unwrap().len(), 2);
        let w = pack_signed(&[1000], 34).unwrap()[0];
        assert_eq!(decode_signed(w, 34, 8, 8), Some(1000 * 390_625));
        let w = pack_signed(&[-256], 34).unwrap()[0];
        assert_eq!(decode_signed(w, 34, 8, 2), Some(-100));
        assert_eq!(decode_signed(U256::from(1u64) << 40, 34, 8, 8), None);
        assert_eq!(decode_signed(U256::from(3u64) + (U256::from(1u64) << 33), 34, 1, 0), Some(1));
    }

    #[test]
    fn x402_payment_required() {
        let o = EscrowOffer {
            chain_id: 8453,
            escrow: addr(0xee),
            asset: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913".parse().unwrap(),
            asset_name: "USD Coin".into(),
            asset_version: "2".into(),
            amount: U256::from(1_500_000u64),
            max_timeout_seconds: 300,
            provider: addr(0xaa),
            deadline_seconds: 3600,
            model_id: U256::from(42u64),
            num_input_words: 1,
            resource_url: "https://api.example/infer".into(),
            description: "one proved inference of price_mlp".into(),
            mime_type: "application/json".into(),
        };
        let v = serde_json::to_value(payment_required(&o)).unwrap();
        assert_eq!(v["x402Version"], 2);
        assert_eq!(v["error"], "PAYMENT-SIGNATURE header is required");
        let a = &v["accepts"][0];
        assert_eq!(a["scheme"], ESCROW_SCHEME);
        assert_eq!(a["network"], "eip155:8453");
        assert_eq!(a["amount"], "1500000");
        assert_eq!(a["asset"], "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913");
        assert_eq!(a["payTo"], o.escrow.to_checksum(None));
        assert_eq!(a["maxTimeoutSeconds"], 300);
        assert_eq!(a["extra"]["name"], "USD Coin");
        assert_eq!(a["extra"]["version"], "2");
        assert_eq!(a["extra"]["zkml"]["authorization"], "ReceiveWithAuthorization");
        assert_eq!(a["extra"]["zkml"]["modelId"], "0x000000000000000000000000000000000000000000000000000000000000002a");
        assert_eq!(v["resource"]["url"], "https://api.example/infer");
        // Serializes to JSON that parses back to the same value.
        let s = serde_json::to_string(&v).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&s).unwrap(), v);
    }

    #[test]
    fn erc8004_registration_file() {
        let a = AgentRegistration {
            name: "price-agent".into(),
            description: "prices with a proved model".into(),
            image: "https://example/agent.png".into(),
            services: vec![("web".into(), "https://example".into())],
            x402_support: true,
            chain_id: 1,
            identity_registry: addr(0x80),
            agent_id: Some(22),
            other_trust: vec!["reputation".into()],
            verifier: addr(0x11),
            validator: addr(0x22),
            model_id: U256::from(7u64),
        };
        let v = registration_file(&a);
        assert_eq!(v["type"], "https://eips.ethereum.org/EIPS/eip-8004#registration-v1");
        assert_eq!(v["supportedTrust"], json!(["reputation", "zkml"]));
        assert_eq!(v["registrations"][0]["agentId"], 22);
        assert_eq!(v["registrations"][0]["agentRegistry"], format!("eip155:1:{}", addr(0x80).to_checksum(None)));
        assert_eq!(v["services"][0]["name"], "web");
        assert_eq!(v["zkml"]["validator"], caip10(1, addr(0x22)));
        assert_eq!(v["zkml"]["verifier"], caip10(1, addr(0x11)));
        assert_eq!(v["x402Support"], true);
        // "zkml" only once, and no registrations before the agent has an id.
        let mut b = a.clone();
        b.other_trust = vec!["zkml".into()];
        b.agent_id = None;
        let v = registration_file(&b);
        assert_eq!(v["supportedTrust"], json!(["zkml"]));
        assert_eq!(v["registrations"], json!([]));
    }
}
