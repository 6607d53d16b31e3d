// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {HookFixtures} from "./HookFixtures.t.sol";
import {ZkmlValidator} from "../../contracts/ZkmlValidator.sol";
import {ZkmlProofVerifier} from "../../contracts/ZkmlProofVerifier.sol";
import {ZkmlPublicInputs} from "../../contracts/ZkmlPublicInputs.sol";
import {IERC8004Validation, IERC8004Identity, IERC8004Reputation} from "../../contracts/interfaces/IERC8004.sol";
import {TestIdentityRegistry} from "../../contracts/testing/TestIdentityRegistry.sol";
import {TestValidationRegistry} from "../../contracts/testing/TestValidationRegistry.sol";

contract ZkmlValidatorTest is HookFixtures {
    TestIdentityRegistry internal identity;
    TestValidationRegistry internal registry;
    ZkmlValidator internal validator;
    address internal agentOwner = makeAddr("agentOwner");
    address internal anyone = makeAddr("anyone");
    uint256 internal agentId;
    bytes32 internal req0;
    bytes32 internal req1;

    function setUp() public {
        loadFixtures();
        identity = new TestIdentityRegistry();
        registry = new TestValidationRegistry(address(identity));
        validator = new ZkmlValidator(registry, verifier, modelId, 1);
        vm.prank(agentOwner);
        agentId = identity.register("ipfs://agent-registration.json");
        req0 = vm.parseJsonBytes32(fx, ".validator[0].requestHash");
        req1 = vm.parseJsonBytes32(fx, ".validator[1].requestHash");
        vm.startPrank(agentOwner);
        registry.validationRequest(address(validator), agentId, "ipfs://request-0", req0);
        registry.validationRequest(address(validator), agentId, "ipfs://request-1", req1);
        vm.stopPrank();
    }

    // ----- interfaces -----

    function test_ValidationResponseSelector() public pure {
        assertEq(IERC8004Validation.validationResponse.selector, bytes4(0x3d659a96));
        assertEq(
            IERC8004Validation.validationResponse.selector,
            bytes4(keccak256("validationResponse(bytes32,uint8,string,bytes32,string)"))
        );
        assertEq(
            IERC8004Validation.validationRequest.selector,
            bytes4(keccak256("validationRequest(address,uint256,string,bytes32)"))
        );
        assertEq(IERC8004Validation.getValidationStatus.selector, bytes4(keccak256("getValidationStatus(bytes32)")));
        assertEq(
            IERC8004Reputation.giveFeedback.selector,
            bytes4(keccak256("giveFeedback(uint256,int128,uint8,string,string,string,string,bytes32)"))
        );
        assertEq(
            IERC8004Validation.ValidationResponse.selector,
            keccak256("ValidationResponse(address,uint256,bytes32,uint8,string,bytes32,string)")
        );
    }

    function test_RegistriesSayVersion200() public view {
        assertEq(registry.getVersion(), "2.0.0");
        assertEq(identity.getVersion(), "2.0.0");
        assertEq(registry.getIdentityRegistry(), address(identity));
        assertEq(identity.ownerOf(agentId), agentOwner);
        assertEq(identity.tokenURI(agentId), "ipfs://agent-registration.json");
        assertTrue(identity.supportsInterface(0x80ac58cd)); // ERC-721
    }

    // ----- happy path -----

    function test_ValidatorRespond() public {
        (bytes memory proof, uint256[] memory pub) = statementAt(".validator[0]");
        assertEq(pub[1], ZkmlPublicInputs.requestContext(req0));
        bytes32 responseHash = keccak256(abi.encode(proof, pub));
        vm.expectEmit(address(registry));
        emit IERC8004Validation.ValidationResponse(
            address(validator), agentId, req0, 100, "ipfs://response-0", responseHash, "zkml"
        );
        vm.prank(anyone);
        assertEq(validator.respond(req0, proof, pub, "ipfs://response-0"), responseHash);

        (address v, uint256 a, uint8 response, bytes32 rh, string memory tag, uint256 lastUpdate) =
            registry.getValidationStatus(req0);
        assertEq(v, address(validator));
        assertEq(a, agentId);
        assertEq(response, 100);
        assertEq(rh, responseHash);
        assertEq(tag, "zkml");
        assertEq(lastUpdate, block.timestamp);
        (bytes32 inputHash, bytes32 outputHash) = validator.resultOf(req0);
        uint256[] memory inWords = new uint256[](1);
        inWords[0] = pub[2];
        uint256[] memory outWords = new uint256[](1);
        outWords[0] = pub[3];
        assertEq(inputHash, ZkmlPublicInputs.wordsHash(inWords));
        assertEq(outputHash, ZkmlPublicInputs.wordsHash(outWords));

        address[] memory none = new address[](0);
        (uint64 count, uint8 avg) = registry.getSummary(agentId, none, "zkml");
        assertEq(count, 1);
        assertEq(avg, 100);
    }

    function test_GasOfValidationResponsePath() public {
        (bytes memory proof, uint256[] memory pub) = statementAt(".validator[0]");
        uint256 before = gasleft();
        validator.respond(req0, proof, pub, "ipfs://response-0");
        emit log_named_uint("ZkmlValidator.respond gas (incl. validationResponse)", before - gasleft());
    }

    // ----- attacks -----

    function test_RevertWhen_ProofIsWrong() public {
        (bytes memory proof, uint256[] memory pub) = statementAt(".validator[0]");
        vm.expectRevert(ZkmlValidator.InvalidProof.selector);
        validator.respond(req0, flipBit(proof, 100), pub, "");
        // Nothing was written.
        (,, uint8 response,,,) = registry.getValidationStatus(req0);
        assertEq(response, 0);
        (bytes32 inputHash,) = validator.resultOf(req0);
        assertEq(inputHash, bytes32(0));
    }

    function test_RevertWhen_OutputIsNotTheProvedOne() public {
        (bytes memory proof, uint256[] memory pub) = statementAt(".validator[0]");
        pub[3] += 1;
        vm.expectRevert(ZkmlValidator.InvalidProof.selector);
        validator.respond(req0, proof, pub, "");
    }

    function test_RevertWhen_WrongRequest() public {
        // A valid proof for request 1, offered for request 0.
        (bytes memory proof, uint256[] memory pub) = statementAt(".validator[1]");
        vm.expectRevert(
            abi.encodeWithSelector(ZkmlValidator.WrongRequest.selector, pub[1], ZkmlPublicInputs.requestContext(req0))
        );
        validator.respond(req0, proof, pub, "");
        // With the context rewritten to request 0, the proof no longer verifies.
        pub[1] = ZkmlPublicInputs.requestContext(req0);
        vm.expectRevert(ZkmlValidator.InvalidProof.selector);
        validator.respond(req0, proof, pub, "");
    }

    function test_RevertWhen_WrongModel() public {
        (bytes memory proof, uint256[] memory pub) = statementAt(".validator[0]");
        pub[0] = modelId + 1;
        vm.expectRevert(abi.encodeWithSelector(ZkmlValidator.WrongModel.selector, modelId + 1, modelId));
        validator.respond(req0, proof, pub, "");
    }

    function test_RevertWhen_ValidatorNotNamedInRequest() public {
        bytes32 other = keccak256("request naming someone else");
        vm.prank(agentOwner);
        registry.validationRequest(makeAddr("otherValidator"), agentId, "", other);
        (bytes memory proof, uint256[] memory pub) = statementAt(".validator[0]");
        vm.expectRevert(
            abi.encodeWithSelector(ZkmlValidator.NotRequestedValidator.selector, other, makeAddr("otherValidator"))
        );
        validator.respond(other, proof, pub, "");
    }

    function test_RevertWhen_UnknownRequest() public {
        (bytes memory proof, uint256[] memory pub) = statementAt(".validator[0]");
        vm.expectRevert(bytes("unknown"));
        validator.respond(keccak256("never requested"), proof, pub, "");
    }

    function test_RevertWhen_ResponseReplayed() public {
        (bytes memory proof, uint256[] memory pub) = statementAt(".validator[0]");
        validator.respond(req0, proof, pub, "");
        vm.expectRevert(abi.encodeWithSelector(ZkmlValidator.AlreadyValidated.selector, req0));
        validator.respond(req0, proof, pub, "");
    }

    function test_RevertWhen_PublicInputsTooShort() public {
        (bytes memory proof,) = statementAt(".validator[0]");
        uint256[] memory pub = new uint256[](3);
        vm.expectRevert(abi.encodeWithSelector(ZkmlValidator.PublicInputsLength.selector, 3, 4));
        validator.respond(req0, proof, pub, "");
    }

    // ----- the registry behaves like the reference -----

    function test_RevertWhen_RegistryResponseNotFromNamedValidator() public {
        vm.prank(anyone);
        vm.expectRevert(bytes("not validator"));
        registry.validationResponse(req0, 100, "", bytes32(0), "zkml");
    }

    function test_RevertWhen_RegistryRequestDuplicated() public {
        vm.prank(agentOwner);
        vm.expectRevert(bytes("exists"));
        registry.validationRequest(address(validator), agentId, "", req0);
    }

    function test_RevertWhen_RegistryRequestNotByAgentOwner() public {
        vm.prank(anyone);
        vm.expectRevert(bytes("Not authorized"));
        registry.validationRequest(address(validator), agentId, "", keccak256("x"));
    }

    function test_RevertWhen_RegistryResponseAbove100() public {
        vm.prank(address(validator));
        vm.expectRevert(bytes("resp>100"));
        registry.validationResponse(req0, 101, "", bytes32(0), "zkml");
    }

    function test_RegistryRequestByApprovedOperator() public {
        vm.prank(agentOwner);
        identity.approve(anyone, agentId);
        vm.expectEmit(address(registry));
        emit IERC8004Validation.ValidationRequest(address(validator), agentId, "uri", keccak256("y"));
        vm.prank(anyone);
        registry.validationRequest(address(validator), agentId, "uri", keccak256("y"));
        assertEq(registry.getAgentValidations(agentId).length, 3);
        assertEq(registry.getValidatorRequests(address(validator)).length, 3);
    }

    function test_IdentityRegisterWithMetadata() public {
        IERC8004Identity.MetadataEntry[] memory md = new IERC8004Identity.MetadataEntry[](1);
        md[0] = IERC8004Identity.MetadataEntry({metadataKey: "zkml.modelId", metadataValue: abi.encode(modelId)});
        vm.expectEmit(address(identity));
        emit IERC8004Identity.Registered(1, "ipfs://a2", anyone);
        vm.prank(anyone);
        uint256 id = identity.register("ipfs://a2", md);
        assertEq(abi.decode(identity.getMetadata(id, "zkml.modelId"), (uint256)), modelId);
        vm.prank(agentOwner);
        vm.expectRevert(abi.encodeWithSelector(TestIdentityRegistry.NotAgentOwnerOrOperator.selector, id));
        identity.setMetadata(id, "k", "v");
    }

    // ----- ERC-8274 adapter -----

    function test_Erc8274AdapterVerifies() public {
        ZkmlProofVerifier adapter = new ZkmlProofVerifier(verifier, modelId);
        (bytes memory proof, uint256[] memory pub) = statementAt(".validator[0]");
        uint256[] memory inWords = new uint256[](1);
        inWords[0] = pub[2];
        uint256[] memory outWords = new uint256[](1);
        outWords[0] = pub[3];
        bytes32 ih = ZkmlPublicInputs.wordsHash(inWords);
        bytes32 oh = ZkmlPublicInputs.wordsHash(outWords);
        bytes memory metadata = abi.encode(pub[1], inWords, outWords);
        assertTrue(adapter.verify(ih, oh, metadata, proof));
        assertFalse(adapter.verify(oh, oh, metadata, proof), "wrong input hash");
        assertFalse(adapter.verify(ih, ih, metadata, proof), "wrong output hash");
        assertFalse(adapter.verify(ih, oh, metadata, flipBit(proof, 3)), "wrong proof");
        assertFalse(adapter.verify(ih, oh, abi.encode(pub[1] + 1, inWords, outWords), proof), "wrong context");
        assertEq(adapter.proofSystem(), "groth16-bn254");
        assertGt(bytes(adapter.proofProfile()).length, 0);
    }
}
