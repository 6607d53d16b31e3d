// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {IProofVerifier} from "./interfaces/IProofVerifier.sol";
import {IZkmlVerifier} from "./interfaces/IZkmlVerifier.sol";
import {ZkmlPublicInputs as PI} from "./ZkmlPublicInputs.sol";

/// @title ZkmlProofVerifier
/// @notice The draft ERC-8274 IProofVerifier shape as an adapter over a zkml verifier.
///         metadata = abi.encode(uint256 context, uint256[] inputWords, uint256[] outputWords);
///         inputHash / outputHash = keccak256(abi.encodePacked(words)) of the packed words.
///         The proof is verified against [modelId, context, inputWords..., outputWords...].
contract ZkmlProofVerifier is IProofVerifier {
    IZkmlVerifier public immutable verifier;
    uint256 public immutable modelId;

    constructor(IZkmlVerifier verifier_, uint256 modelId_) {
        verifier = verifier_;
        modelId = modelId_;
    }

    function verify(bytes32 inputHash, bytes32 outputHash, bytes calldata metadata, bytes calldata proof)
        external
        view
        returns (bool)
    {
        (uint256 context, uint256[] memory inputWords, uint256[] memory outputWords) =
            abi.decode(metadata, (uint256, uint256[], uint256[]));
        if (PI.wordsHash(inputWords) != inputHash || PI.wordsHash(outputWords) != outputHash) return false;
        uint256[] memory pub = PI.assemble(modelId, context, inputWords, outputWords);
        try verifier.verifyProof{gas: PI.verifyGas(pub.length)}(proof, pub) returns (bool ok) {
            return ok;
        } catch {
            return false;
        }
    }

    function proofSystem() external pure returns (string memory) {
        return "groth16-bn254";
    }

    function proofProfile() external pure returns (string memory) {
        return "zkml-v1:pub=[modelId,context,inputWords,outputWords];metadata=abi(uint256,uint256[],uint256[])";
    }
}
