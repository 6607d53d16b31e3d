// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @title ZkmlPublicInputs
/// @notice The public-input convention of zkml's Groth16 (stage-2) proofs, which every hook
///         contract (oracle, ERC-8004 validator, x402 escrow, ERC-8274 adapter) relies on, and which
///         the wrap circuit must honour:
///
///           pub[0]          model id: Keccak-256 of the quantized model, reduced mod r
///           pub[1]          context: a caller-chosen field element bound into the proof
///           pub[2 .. 2+k]   the model input, packed (k field elements)
///           pub[2+k .. ]    the model output, packed
///
///         Contexts: an injective hash of what the proof is for, kept to 248 bits so that it is a
///         field element as it is (no reduction mod r, which would map h, h + r and h - r to one
///         context):
///           context = uint256(keccak256(abi.encode(tag, block.chainid, hook, use...))) >> 8
///           oracle           tag "zkml.oracle.v2",  hook = the oracle,    use = (dataTimestamp)
///           ERC-8004         tag "zkml.erc8004.v2", hook = the validator, use = (agentId, requestHash)
///           x402 escrow      tag "zkml.escrow.v2",  hook = the escrow,    use = (requestId)
///         so a proof made for one chain, deployment, agent, round or request counts for no other.
///         Requests (ERC-8004 requestHash, escrow requestId) derive from the task:
///           requestHash = keccak256(abi.encode(client, modelId, inputHash, salt)),
///           inputHash = keccak256(abi.encodePacked(input words))
///
///         Packing (as prover/src/pack.rs): floor(253 / bits) slots per field element, value i of
///         a vector in element i / slots at bit offset (i % slots) * bits; a signed value v is
///         stored as v + 2^(bits-1). Bits above the used slots must be zero.
///
///         Answers: an output value q with `fracBits` fractional bits (scale 2^-fracBits) is
///         reported with `decimals` decimals as q * 10^decimals / 2^fracBits (rounded toward zero).
library ZkmlPublicInputs {
    /// @notice BN254 scalar field modulus r.
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    uint256 internal constant MODEL_ID_INDEX = 0;
    uint256 internal constant CONTEXT_INDEX = 1;
    uint256 internal constant FIRST_INPUT_INDEX = 2;
    /// @notice Domain tags of the contexts.
    bytes32 internal constant ORACLE_CONTEXT_TAG = keccak256("zkml.oracle.v2");
    bytes32 internal constant ERC8004_CONTEXT_TAG = keccak256("zkml.erc8004.v2");
    bytes32 internal constant ESCROW_CONTEXT_TAG = keccak256("zkml.escrow.v2");

    error SlotWidthInvalid(uint256 bits);
    error ValueOutOfRange(int256 value, uint256 bits);
    error NotAPacking(uint256 index);
    error PublicInputsLength(uint256 got, uint256 minimum);

    // ----- ids and contexts -----

    /// @notice The model id of a model whose quantized form hashes to `modelHash`.
    function modelId(bytes32 modelHash) internal pure returns (uint256) {
        return uint256(modelHash) % R;
    }

    /// @notice The context of a proof for round `dataTimestamp` of the oracle at `oracle` on this chain.
    function oracleContext(address oracle, uint256 dataTimestamp) internal view returns (uint256) {
        return uint256(keccak256(abi.encode(ORACLE_CONTEXT_TAG, block.chainid, oracle, dataTimestamp))) >> 8;
    }

    /// @notice The context of a proof answering ERC-8004 validation request `requestHash` of agent
    ///         `agentId`, to the validator at `validator` on this chain.
    function validationContext(address validator, uint256 agentId, bytes32 requestHash)
        internal
        view
        returns (uint256)
    {
        return uint256(keccak256(abi.encode(ERC8004_CONTEXT_TAG, block.chainid, validator, agentId, requestHash))) >> 8;
    }

    /// @notice The context of a proof settling request `requestId` of the escrow at `escrow` on this chain.
    function escrowContext(address escrow, bytes32 requestId) internal view returns (uint256) {
        return uint256(keccak256(abi.encode(ESCROW_CONTEXT_TAG, block.chainid, escrow, requestId))) >> 8;
    }

    /// @notice The request hash (ERC-8004) or request id (escrow) of a task: who asked (`client`),
    ///         which model, which input (`inputHash` = wordsHash of the packed input words) and a
    ///         salt the client picks to ask the same thing twice.
    function requestHashOf(address client, uint256 id, bytes32 inputHash, bytes32 salt)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(client, id, inputHash, salt));
    }

    // ----- the verifier call -----

    /// @notice The gas a hook gives its verifier call for `n` public inputs. A generated verifier
    ///         spends ~176k + 6.7k per input at EIP-1108 precompile prices (measured from 4 to 341
    ///         inputs: 209.6k, 547k, 2.47M), a two-round key's ~39k more (the fifth pairing, the
    ///         seed's hash); this is about twice the first, and 1.8 times the second at 4 inputs. Without a cap, a proof whose
    ///         B is on the twist but outside G2 makes the pairing precompile consume all the gas it
    ///         is given, 63/64 of what the caller has: a relayer, or a contract asking the ERC-8274
    ///         adapter, would pay the whole gas limit for a rejection. On a chain that prices the
    ///         precompiles at more than twice EIP-1108's, valid proofs fail here too.
    function verifyGas(uint256 n) internal pure returns (uint256) {
        return 400_000 + 12_000 * n;
    }

    // ----- layout -----

    /// @notice keccak256 of words as consecutive 32-byte big-endian words (abi.encodePacked).
    function wordsHash(uint256[] memory words) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(words));
    }

    /// @notice keccak256 of pub[from .. to), as wordsHash of that slice.
    function sliceHash(uint256[] calldata pub, uint256 from, uint256 to) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(pub[from:to]));
    }

    /// @notice [modelId, context, inputWords..., outputWords...].
    function assemble(uint256 id, uint256 context, uint256[] memory inputWords, uint256[] memory outputWords)
        internal
        pure
        returns (uint256[] memory pub)
    {
        pub = new uint256[](2 + inputWords.length + outputWords.length);
        pub[0] = id;
        pub[1] = context;
        for (uint256 i = 0; i < inputWords.length; i++) {
            pub[2 + i] = inputWords[i];
        }
        for (uint256 i = 0; i < outputWords.length; i++) {
            pub[2 + inputWords.length + i] = outputWords[i];
        }
    }

    // ----- packing -----

    /// @notice Slots per field element for `bits`-bit values.
    function slots(uint256 bits) internal pure returns (uint256) {
        if (bits == 0 || bits > 253) revert SlotWidthInvalid(bits);
        return 253 / bits;
    }

    /// @notice Field elements needed for n values of `bits` bits.
    function packedLength(uint256 n, uint256 bits) internal pure returns (uint256) {
        uint256 s = slots(bits);
        return (n + s - 1) / s;
    }

    /// @notice Packs signed values into field elements (reverts if one does not fit its slot).
    function packSigned(int256[] memory values, uint256 bits) internal pure returns (uint256[] memory words) {
        uint256 s = slots(bits);
        words = new uint256[]((values.length + s - 1) / s);
        int256 off = int256(1 << (bits - 1));
        for (uint256 i = 0; i < values.length; i++) {
            int256 u = values[i] + off;
            if (u < 0 || uint256(u) >= (1 << bits)) revert ValueOutOfRange(values[i], bits);
            words[i / s] |= uint256(u) << ((i % s) * bits);
        }
    }

    /// @notice Value `i` of a signed packing of `n` values of `bits` bits in `words`. Checks the
    ///         element holding it is exactly a packing (no bits above its used slots).
    function unpackSignedAt(uint256[] memory words, uint256 n, uint256 bits, uint256 i) internal pure returns (int256) {
        uint256 s = slots(bits);
        uint256 e = i / s;
        if (i >= n || words.length != (n + s - 1) / s) revert NotAPacking(e);
        uint256 used = e + 1 < words.length ? s : n - e * s;
        uint256 w = words[e];
        if (used * bits < 256 && w >> (used * bits) != 0) revert NotAPacking(e);
        uint256 u = (w >> ((i % s) * bits)) & ((1 << bits) - 1);
        return int256(u) - int256(1 << (bits - 1));
    }

    /// @notice Decodes a single signed output value packed alone in `word` (slot width `bits`,
    ///         `fracBits` fractional bits) into `decimals` decimals; reverts if `word` is not a
    ///         packing of one value.
    function decodeSigned(uint256 word, uint256 bits, uint256 fracBits, uint256 decimals)
        internal
        pure
        returns (int256)
    {
        uint256[] memory w = new uint256[](1);
        w[0] = word;
        return toDecimals(unpackSignedAt(w, 1, bits, 0), fracBits, decimals);
    }

    /// @notice A value q with `fracBits` fractional bits in `decimals` decimals:
    ///         q * 10^decimals / 2^fracBits, rounded toward zero.
    function toDecimals(int256 q, uint256 fracBits, uint256 decimals) internal pure returns (int256) {
        return (q * int256(10 ** decimals)) / int256(1 << fracBits);
    }
}
