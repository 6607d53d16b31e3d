// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @title IProofVerifier (draft ERC-8274 shape)
/// @notice A proof-system-agnostic verifier of "this computation maps inputHash to outputHash".
///         Draft standard: the shape used here is verify(inputHash, outputHash, metadata, proof),
///         proofSystem() and proofProfile().
interface IProofVerifier {
    /// @return True when `proof` shows the computation this verifier stands for maps the input
    ///         committed by `inputHash` to the output committed by `outputHash`.
    function verify(bytes32 inputHash, bytes32 outputHash, bytes calldata metadata, bytes calldata proof)
        external
        view
        returns (bool);

    /// @return The proof system, e.g. "groth16-bn254".
    function proofSystem() external view returns (string memory);

    /// @return The profile: how inputs, outputs and metadata map onto the proof's public inputs.
    function proofProfile() external view returns (string memory);
}
