// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {HookFixtures} from "./HookFixtures.t.sol";
import {ZkmlValidator} from "../../../contracts/ZkmlValidator.sol";
import {IZkmlValidator} from "../../../contracts/interfaces/IZkmlValidator.sol";
import {ZkmlProofVerifier} from "../../../contracts/ZkmlProofVerifier.sol";
import {ZkmlPublicInputs} from "../../../contracts/ZkmlPublicInputs.sol";
import {IERC8004Validation, IERC8004Identity, IERC8004Reputation} from "../../../contracts/interfaces/IERC8004.sol";
import {TestIdentityRegistry} from "../../../contracts/testing/TestIdentityRegistry.sol";
import {TestValidationRegistry} from "../../../contracts/testing/TestValidationRegistry.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @notice A smart-account client: approves what its owner key signed (ERC-1271).
contract Erc1271Client {
    address public immutable owner;

    constructor(address owner_) {
        owner = owner_;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (address signer,,) = ECDSA.tryRecover(hash, signature);
        return signer == owner ? this.isValidSignature.selector : bytes4(0xffffffff);
    }
}

contract ZkmlValidatorTest is HookFixtures {
    TestIdentityRegistry internal identity;
    TestValidationRegistry internal registry;
    ZkmlValidator internal validator;
    address internal agentOwner = makeAddr("agentOwner");
    address internal anyone = makeAddr("anyone");
    address internal client;
    /// anvil's account #1, the fixtures' client.
    uint256 internal constant CLIENT_PK = 0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d;
    uint256 internal agentId;
    bytes32 internal req0;
    bytes32 internal req1;
    /// The client's signatures asking the agent for the validation of requests 0 and 1 (made in
    /// setUp: a signature made in a call's arguments would take a pending prank).
    bytes internal sig0;
    bytes internal sig1;

    function setUp() public {
        loadFixtures();
        client = vm.parseJsonAddress(fx, ".client");
        assertEq(client, vm.addr(CLIENT_PK));
        identity = new TestIdentityRegistry();
        (registry, validator) = freshValidatorAt(fixtureAddress("validator"));
        vm.prank(agentOwner);
        agentId = identity.register("ipfs://agent-registration.json");
        req0 = vm.parseJsonBytes32(fx, ".validator[0].requestHash");
        req1 = vm.parseJsonBytes32(fx, ".validator[1].requestHash");
        vm.startPrank(agentOwner);
        registry.validationRequest(address(validator), agentId, "ipfs://request-0", req0);
        registry.validationRequest(address(validator), agentId, "ipfs://request-1", req1);
        vm.stopPrank();
        sig0 = signRequest(CLIENT_PK, validator, req0);
        sig1 = signRequest(CLIENT_PK, validator, req1);
    }

    function signRequest(uint256 key, ZkmlValidator v, bytes32 requestHash) internal view returns (bytes memory) {
        return _signFor(key, v, agentId, requestHash);
    }

    /// @notice A validation registry of its own and a validator over it, deployed at `at` (the
    ///         fixtures' proofs count only at the fixtures' validator address).
    function freshValidatorAt(address at) internal returns (TestValidationRegistry reg, ZkmlValidator v) {
        reg = new TestValidationRegistry(address(identity));
        v = ZkmlValidator(
            deployAt(abi.encodePacked(type(ZkmlValidator).creationCode, abi.encode(reg, verifier, modelId, 1)), at)
        );
    }

    /// @notice `who` registers an agent of its own (at `agentURI`) and then request 0's hash for it
    ///         in `reg`, before the client's agent can (the registry is first come, first served).
    function registerRequestFirst(TestValidationRegistry reg, ZkmlValidator v, address who, string memory agentURI)
        internal
        returns (uint256 agent)
    {
        vm.startPrank(who);
        agent = identity.register(agentURI);
        reg.validationRequest(address(v), agent, "", req0);
        vm.stopPrank();
    }

    /// @notice `who` answers request 0 for `agent` with the client's proof, which is bound to the
    ///         client's agent: `v` refuses it as a proof for another request.
    function expectProofRefusedFor(ZkmlValidator v, address who, uint256 agent, string memory uri) internal {
        (bytes memory proof, uint256[] memory pub) = statement(0);
        uint256 expected = ZkmlPublicInputs.validationContext(address(v), agent, req0);
        vm.prank(who);
        vm.expectRevert(abi.encodeWithSelector(IZkmlValidator.WrongRequest.selector, pub[1], expected));
        v.respond(agent, client, salt(0), proof, pub, uri, sig0);
    }

    function salt(uint256 i) internal view returns (bytes32) {
        return vm.parseJsonBytes32(fx, string.concat(".validator[", vm.toString(i), "].salt"));
    }

    function statement(uint256 i) internal view returns (bytes memory, uint256[] memory) {
        return statementAt(string.concat(".validator[", vm.toString(i), "]"));
    }

    /// @notice The agent's owner answers request i with its proof.
    function respond(uint256 i, string memory uri) internal returns (bytes32 requestHash, bytes32 responseHash) {
        (bytes memory proof, uint256[] memory pub) = statement(i);
        vm.prank(agentOwner);
        return validator.respond(agentId, client, salt(i), proof, pub, uri, (i == 0 ? sig0 : sig1));
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
        (bytes memory proof, uint256[] memory pub) = statement(0);
        // The request hash derives from the task; the context binds validator, agent and request.
        assertEq(req0, validator.requestHashOf(client, inputHashOf(pub), salt(0)));
        assertEq(pub[1], ZkmlPublicInputs.validationContext(address(validator), agentId, req0));
        bytes32 responseHash = keccak256(abi.encode(proof, pub));
        vm.expectEmit(address(registry));
        emit IERC8004Validation.ValidationResponse(
            address(validator), agentId, req0, 100, "ipfs://response-0", responseHash, "zkml"
        );
        (bytes32 answered, bytes32 rh0) = respond(0, "ipfs://response-0");
        assertEq(answered, req0);
        assertEq(rh0, responseHash);

        (address v, uint256 a, uint8 response, bytes32 rh, string memory tag, uint256 lastUpdate) =
            registry.getValidationStatus(req0);
        assertEq(v, address(validator));
        assertEq(a, agentId);
        assertEq(response, 100);
        assertEq(rh, responseHash);
        assertEq(tag, "zkml");
        assertEq(lastUpdate, block.timestamp);
    }

    function test_ValidatorRecordsWhatWasProved() public {
        (, uint256[] memory pub) = statement(0);
        respond(0, "ipfs://response-0");
        (address c, bytes32 inputHash, bytes32 outputHash) = validator.resultOf(req0);
        assertEq(c, client);
        assertEq(inputHash, inputHashOf(pub));
        uint256[] memory outWords = new uint256[](1);
        outWords[0] = pub[3];
        assertEq(outputHash, ZkmlPublicInputs.wordsHash(outWords));
        address[] memory none = new address[](0);
        (uint64 count, uint8 avg) = registry.getSummary(agentId, none, "zkml");
        assertEq(count, 1);
        assertEq(avg, 100);
    }

    function inputHashOf(uint256[] memory pub) internal pure returns (bytes32) {
        uint256[] memory inWords = new uint256[](1);
        inWords[0] = pub[2];
        return ZkmlPublicInputs.wordsHash(inWords);
    }

    function test_ApprovedOperatorResponds() public {
        vm.prank(agentOwner);
        identity.approve(anyone, agentId);
        (bytes memory proof, uint256[] memory pub) = statement(0);
        vm.prank(anyone);
        (bytes32 answered,) = validator.respond(agentId, client, salt(0), proof, pub, "ipfs://r", sig0);
        assertEq(answered, req0);
    }

    function test_GasOfValidationResponsePath() public {
        (bytes memory proof, uint256[] memory pub) = statement(0);
        bytes32 s0 = salt(0); // parsed before measuring: the fixtures are a long storage string
        vm.prank(agentOwner);
        uint256 before = gasleft();
        validator.respond(agentId, client, s0, proof, pub, "ipfs://response-0", sig0);
        emit log_named_uint("ZkmlValidator.respond gas (incl. validationResponse)", before - gasleft());
    }

    // ----- attacks -----

    /// @notice Farming: a request hash the agent made up (not derived from a task) cannot be
    ///         answered: respond derives the hash from the client, the salt and the proof's input.
    function test_RevertWhen_RequestHashNotDerivedFromTheTask() public {
        bytes32 madeUp = keccak256("any hash the agent likes");
        vm.prank(agentOwner);
        registry.validationRequest(address(validator), agentId, "", madeUp);
        (bytes memory proof, uint256[] memory pub) = statement(0);
        // Whatever salt it names, respond lands on a derived hash, never on madeUp (and the
        // proof is bound to request 0's).
        bytes32 derived = validator.requestHashOf(client, inputHashOf(pub), keccak256("another salt"));
        uint256 expected = ZkmlPublicInputs.validationContext(address(validator), agentId, derived);
        vm.prank(agentOwner);
        vm.expectRevert(abi.encodeWithSelector(IZkmlValidator.WrongRequest.selector, pub[1], expected));
        validator.respond(agentId, client, keccak256("another salt"), proof, pub, "", sig0);
        (,, uint8 response,,,) = registry.getValidationStatus(madeUp);
        assertEq(response, 0);
    }

    /// @notice A proof answers only the request for its own input: request 1's proof, offered
    ///         with request 0's client and salt, derives another hash.
    function test_RevertWhen_ProofIsForAnotherInput() public {
        (bytes memory proof, uint256[] memory pub) = statement(1);
        bytes32 derived = validator.requestHashOf(client, inputHashOf(pub), salt(0));
        assertTrue(derived != req0 && derived != req1);
        uint256 expected = ZkmlPublicInputs.validationContext(address(validator), agentId, derived);
        vm.prank(agentOwner);
        vm.expectRevert(abi.encodeWithSelector(IZkmlValidator.WrongRequest.selector, pub[1], expected));
        validator.respond(agentId, client, salt(0), proof, pub, "", sig0);
    }

    /// @notice Front-running the request: another agent registers the provider's request hash
    ///         under its own id first; the provider's proof (bound to agent 0) is no use to it.
    function test_RevertWhen_RequestHijackedByAnotherAgent() public {
        // A fresh registry where the attacker gets there first.
        (TestValidationRegistry reg2, ZkmlValidator v2) = freshValidatorAt(makeAddr("validator2"));
        address thief = makeAddr("thief");
        uint256 thiefAgent = registerRequestFirst(reg2, v2, thief, "ipfs://thief");
        expectProofRefusedFor(v2, thief, thiefAgent, "ipfs://stolen");
    }

    /// @notice Front-running the response: someone copies the agent's pending respond with its own
    ///         responseURI. Only the agent's owner or operator may respond.
    function test_RevertWhen_ResponseFrontRun() public {
        (bytes memory proof, uint256[] memory pub) = statement(0);
        vm.prank(anyone);
        vm.expectRevert(abi.encodeWithSelector(IZkmlValidator.NotAgentOperator.selector, agentId, anyone));
        validator.respond(agentId, client, salt(0), proof, pub, "ipfs://someone-elses-uri", sig0);
        respond(0, "ipfs://response-0");
    }

    /// @notice A proof for this request at another validator deployment does not count here
    ///         (the same task, requested from a second validator of the same model).
    function test_RevertWhen_ProofForAnotherValidator() public {
        TestValidationRegistry reg2 = new TestValidationRegistry(address(identity));
        ZkmlValidator other = new ZkmlValidator(reg2, verifier, modelId, 1);
        vm.prank(agentOwner);
        reg2.validationRequest(address(other), agentId, "", req0);
        (bytes memory proof, uint256[] memory pub) = statement(0);
        uint256 expected = ZkmlPublicInputs.validationContext(address(other), agentId, req0);
        vm.prank(agentOwner);
        vm.expectRevert(abi.encodeWithSelector(IZkmlValidator.WrongRequest.selector, pub[1], expected));
        other.respond(agentId, client, salt(0), proof, pub, "", sig0);
    }

    function test_RevertWhen_ProofForAnotherChain() public {
        (bytes memory proof, uint256[] memory pub) = statement(0);
        vm.chainId(block.chainid + 1);
        uint256 expected = ZkmlPublicInputs.validationContext(address(validator), agentId, req0);
        vm.prank(agentOwner);
        vm.expectRevert(abi.encodeWithSelector(IZkmlValidator.WrongRequest.selector, pub[1], expected));
        validator.respond(agentId, client, salt(0), proof, pub, "", sig0);
    }

    function test_RevertWhen_ProofIsWrong() public {
        (bytes memory proof, uint256[] memory pub) = statement(0);
        vm.prank(agentOwner);
        vm.expectRevert(IZkmlValidator.InvalidProof.selector);
        validator.respond(agentId, client, salt(0), flipBit(proof, 100), pub, "", sig0);
        // Nothing was written.
        (,, uint8 response,,,) = registry.getValidationStatus(req0);
        assertEq(response, 0);
        (, bytes32 inputHash,) = validator.resultOf(req0);
        assertEq(inputHash, bytes32(0));
    }

    function test_RevertWhen_BOutsideG2_AtBoundedGas() public {
        (, uint256[] memory pub) = statement(0);
        vm.prank(agentOwner);
        (bool ok, bytes memory ret, uint256 used) = callWith30MGas(
            address(validator),
            abi.encodeCall(validator.respond, (agentId, client, salt(0), outsideG2Proof(), pub, "", sig0))
        );
        assertFalse(ok);
        assertEq(ret, abi.encodeWithSelector(IZkmlValidator.InvalidProof.selector));
        assertLt(used, REJECTED_PROOF_GAS_BOUND);
    }

    function test_RevertWhen_OutputIsNotTheProvedOne() public {
        (bytes memory proof, uint256[] memory pub) = statement(0);
        pub[3] += 1;
        vm.prank(agentOwner);
        vm.expectRevert(IZkmlValidator.InvalidProof.selector);
        validator.respond(agentId, client, salt(0), proof, pub, "", sig0);
    }

    function test_RevertWhen_WrongModel() public {
        (bytes memory proof, uint256[] memory pub) = statement(0);
        pub[0] = modelId + 1;
        vm.prank(agentOwner);
        vm.expectRevert(abi.encodeWithSelector(IZkmlValidator.WrongModel.selector, modelId + 1, modelId));
        validator.respond(agentId, client, salt(0), proof, pub, "", sig0);
    }

    /// @notice Request 0's task, requested at a fresh registry from another validator: a
    ///         validation at a second ZkmlValidator needs the client's signature for that one (the
    ///         one it gave this validator does not count), and then the registry, whose request
    ///         names the other validator, is not answered.
    function test_RequestForAnotherValidatorIsNotAnsweredInTheRegistry() public {
        (TestValidationRegistry reg2, ZkmlValidator v2) = freshValidatorAt(fixtureAddress("validator"));
        address other = makeAddr("otherValidator");
        vm.prank(agentOwner);
        reg2.validationRequest(other, agentId, "", req0);
        (bytes memory proof, uint256[] memory pub) = statement(0);
        bytes memory forV2 = signRequest(CLIENT_PK, v2, req0);
        vm.prank(agentOwner);
        vm.expectEmit(address(v2));
        emit IZkmlValidator.RegistryNotAnswered(req0, other, agentId);
        v2.respond(agentId, client, salt(0), proof, pub, "", forV2);
        (address named,, uint8 response,,,) = reg2.getValidationStatus(req0);
        assertEq(named, other);
        assertEq(response, 0);
    }

    /// @notice Review round 2, item 3: a request hash is public once the client shares it (an
    ///         escrow's request id, a registration in the mempool) and the registry is first come,
    ///         first served, so a squatter registers it first for an agent of its own. The
    ///         validation does not depend on that registration: it is kept, and only the registry
    ///         goes unanswered.
    function test_SquattedRequestIsStillValidated() public {
        (TestValidationRegistry reg2, ZkmlValidator v) = freshValidatorAt(fixtureAddress("validator"));
        address squatter = makeAddr("squatter");
        uint256 squatterAgent = registerRequestFirst(reg2, v, squatter, "ipfs://squatter");
        vm.prank(agentOwner);
        vm.expectRevert(bytes("exists"));
        reg2.validationRequest(address(v), agentId, "", req0);

        // Nor can the squatter answer it for its agent: the proof is bound to the client's agent.
        expectProofRefusedFor(v, squatter, squatterAgent, "");
        (bytes memory proof, uint256[] memory pub) = statement(0);

        vm.prank(agentOwner);
        vm.expectEmit(address(v));
        emit IZkmlValidator.RegistryNotAnswered(req0, address(v), squatterAgent);
        (bytes32 answered,) = v.respond(agentId, client, salt(0), proof, pub, "", sig0);
        assertEq(answered, req0);
        assertGt(v.validatedAt(req0), 0);
        (address c, bytes32 ih,) = v.resultOf(req0);
        assertEq(c, client);
        assertEq(ih, inputHashOf(pub));
        (,, uint8 response,,,) = reg2.getValidationStatus(req0);
        assertEq(response, 0);
    }

    /// @notice Review round 2, item 2: the agent's owner records "zkml" 100s attributed to a
    ///         well-known client on inputs it chose. Without the client's signature over this
    ///         agent's validation of this request, the validator refuses.
    function test_RevertWhen_ClientNeverAsked() public {
        (bytes memory proof, uint256[] memory pub) = statement(0);
        (, uint256 ownerKey) = makeAddrAndKey("agentOwnerKey");
        bytes memory altered = bytes.concat(sig0); // the client's signature with a bit of s flipped
        altered[40] = bytes1(uint8(altered[40]) ^ 1);
        bytes[5] memory forged = [
            bytes(""),
            signRequest(ownerKey, validator, req0), // someone else signs for the client
            signRequest(CLIENT_PK, validator, req1), // the client asked for another request
            _signFor(CLIENT_PK, validator, agentId + 1, req0), // ... or of another agent
            altered
        ];
        for (uint256 k = 0; k < forged.length; k++) {
            vm.prank(agentOwner);
            vm.expectRevert(abi.encodeWithSelector(IZkmlValidator.ClientDidNotAsk.selector, client, agentId, req0));
            validator.respond(agentId, client, salt(0), proof, pub, "", forged[k]);
        }
        (,, uint8 response,,,) = registry.getValidationStatus(req0);
        assertEq(response, 0);
    }

    /// @notice The client's signature is bound to this validator (EIP-712 domain): one made for
    ///         another deployment does not count here.
    function test_RevertWhen_ClientSignedForAnotherValidator() public {
        (bytes memory proof, uint256[] memory pub) = statement(0);
        ZkmlValidator other = new ZkmlValidator(registry, verifier, modelId, 1);
        bytes memory elsewhere = signRequest(CLIENT_PK, other, req0);
        vm.prank(agentOwner);
        vm.expectRevert(abi.encodeWithSelector(IZkmlValidator.ClientDidNotAsk.selector, client, agentId, req0));
        validator.respond(agentId, client, salt(0), proof, pub, "", elsewhere);
    }

    /// @notice A contract client (a smart account) asks through ERC-1271; an ECDSA signature of
    ///         its address's key no longer counts once it has code.
    function test_ContractClientAsksWithErc1271() public {
        (bytes memory proof, uint256[] memory pub) = statement(0);
        (address walletOwner, uint256 walletKey) = makeAddrAndKey("walletOwner");
        vm.etch(client, address(new Erc1271Client(walletOwner)).code);
        vm.prank(agentOwner);
        vm.expectRevert(abi.encodeWithSelector(IZkmlValidator.ClientDidNotAsk.selector, client, agentId, req0));
        validator.respond(agentId, client, salt(0), proof, pub, "", sig0);
        bytes memory asked = signRequest(walletKey, validator, req0);
        vm.prank(agentOwner);
        (bytes32 answered,) = validator.respond(agentId, client, salt(0), proof, pub, "", asked);
        assertEq(answered, req0);
    }

    function _signFor(uint256 key, ZkmlValidator v, uint256 agent, bytes32 requestHash)
        internal
        view
        returns (bytes memory)
    {
        (uint8 sv, bytes32 r, bytes32 ss) = vm.sign(key, v.requestDigest(agent, requestHash));
        return abi.encodePacked(r, ss, sv);
    }

    function test_RevertWhen_ResponseReplayed() public {
        respond(0, "");
        (bytes memory proof, uint256[] memory pub) = statement(0);
        vm.prank(agentOwner);
        vm.expectRevert(abi.encodeWithSelector(IZkmlValidator.AlreadyValidated.selector, req0));
        validator.respond(agentId, client, salt(0), proof, pub, "", sig0);
    }

    function test_RevertWhen_PublicInputsTooShort() public {
        (bytes memory proof,) = statement(0);
        uint256[] memory pub = new uint256[](3);
        vm.expectRevert(abi.encodeWithSelector(IZkmlValidator.PublicInputsLength.selector, 3, 4));
        validator.respond(agentId, client, salt(0), proof, pub, "", sig0);
    }

    function test_RevertWhen_ModelIdNotAFieldElement() public {
        vm.expectRevert(abi.encodeWithSelector(IZkmlValidator.ModelIdNotAFieldElement.selector, R));
        new ZkmlValidator(registry, verifier, R, 1);
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

    /// A contract that asks the adapter about a proof pays a bounded price for a B outside G2.
    function test_Erc8274AdapterRejectsBOutsideG2AtBoundedGas() public {
        ZkmlProofVerifier adapter = new ZkmlProofVerifier(verifier, modelId);
        (, uint256[] memory pub) = statement(0);
        uint256[] memory inWords = new uint256[](1);
        inWords[0] = pub[2];
        uint256[] memory outWords = new uint256[](1);
        outWords[0] = pub[3];
        (bool ok, bytes memory ret, uint256 used) = callWith30MGas(
            address(adapter),
            abi.encodeCall(
                adapter.verify,
                (
                    ZkmlPublicInputs.wordsHash(inWords),
                    ZkmlPublicInputs.wordsHash(outWords),
                    abi.encode(pub[1], inWords, outWords),
                    outsideG2Proof()
                )
            )
        );
        assertTrue(ok);
        assertFalse(abi.decode(ret, (bool)));
        assertLt(used, REJECTED_PROOF_GAS_BOUND);
    }
}
