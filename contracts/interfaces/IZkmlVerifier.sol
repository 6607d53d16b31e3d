// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @title IZkmlVerifier
/// @notice The entry point of every verifier `zkml-gen solidity` renders (templates/Groth16Verifier.sol):
///         a Groth16 proof over BN254 (256 bytes: A, B, C; 320 for a two-round key's verifier:
///         A, B, C, D, the seed derived from D and the inputs, not among them) and its public
///         inputs, each < r.
///         Returns false (does not revert) for a proof that does not verify.
interface IZkmlVerifier {
    function verifyProof(bytes calldata proof, uint256[] calldata pubInputs) external view returns (bool);
}

/// @title IZkmlVerifierLayout
/// @notice The constants every generated verifier exposes, which hooks check before they trust a
///         verifier: the public-input count, and (when the model id is folded into the key, as
///         `zkml-gen solidity DIR` does) the model id. A bare-key verifier has no MODEL_ID.
interface IZkmlVerifierLayout {
    function NUM_PUBLIC_INPUTS() external view returns (uint256);
    function MODEL_ID() external view returns (uint256);
}
