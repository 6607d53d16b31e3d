// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {HookFixtures} from "./HookFixtures.t.sol";
import {ZkmlEscrow} from "../../../contracts/ZkmlEscrow.sol";
import {IZkmlEscrow} from "../../../contracts/interfaces/IZkmlEscrow.sol";
import {ZkmlValidator} from "../../../contracts/ZkmlValidator.sol";
import {ZkmlPublicInputs} from "../../../contracts/ZkmlPublicInputs.sol";
import {IERC3009} from "../../../contracts/interfaces/IERC3009.sol";
import {IERC8004Validation} from "../../../contracts/interfaces/IERC8004.sol";
import {IZkmlVerifier} from "../../../contracts/interfaces/IZkmlVerifier.sol";
import {TestUSDC} from "../../../contracts/testing/TestUSDC.sol";
import {TestIdentityRegistry} from "../../../contracts/testing/TestIdentityRegistry.sol";
import {TestValidationRegistry} from "../../../contracts/testing/TestValidationRegistry.sol";

/// @notice A token that calls back into the escrow while it transfers (when armed).
contract ReentrantUSDC is TestUSDC {
    address public target;
    bytes public callData;

    constructor() TestUSDC("USD Coin", "2") {}

    function arm(address target_, bytes calldata callData_) external {
        target = target_;
        callData = callData_;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (target != address(0) && from == target) {
            address t = target;
            target = address(0);
            (bool ok, bytes memory ret) = t.call(callData);
            if (!ok) {
                assembly {
                    revert(add(ret, 0x20), mload(ret))
                }
            }
        }
    }
}

contract ZkmlEscrowTest is HookFixtures {
    // anvil's first key; its address is the payer the fixtures' request ids were made for.
    uint256 internal constant PAYER_PK = 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80;
    uint256 internal constant PRICE = 1_500_000; // 1.50 USDC
    address internal payer;
    address internal provider = makeAddr("provider");
    /// The provider's ERC-8004 agent (set by requestValidation).
    uint256 internal providerAgent;
    address internal relayer = makeAddr("relayer");
    address internal attacker = makeAddr("attacker");

    TestUSDC internal usdc;
    TestIdentityRegistry internal identity;
    TestValidationRegistry internal registry;
    ZkmlValidator internal validator;
    ZkmlEscrow internal escrow;
    uint64 internal deadline;

    function setUp() public {
        loadFixtures();
        payer = vm.addr(PAYER_PK);
        assertEq(payer, vm.parseJsonAddress(fx, ".payer"));
        vm.warp(1_800_000_000);
        deadline = uint64(block.timestamp + 1 hours);
        usdc = new TestUSDC("USD Coin", "2");
        identity = new TestIdentityRegistry();
        registry = new TestValidationRegistry(address(identity));
        // At the addresses the fixtures' proofs were made for (their contexts bind them).
        validator = ZkmlValidator(
            deployAt(
                abi.encodePacked(type(ZkmlValidator).creationCode, abi.encode(registry, verifier, modelId, 1)),
                fixtureAddress("validator")
            )
        );
        escrow = ZkmlEscrow(
            deployAt(
                abi.encodePacked(
                    type(ZkmlEscrow).creationCode, abi.encode(usdc, verifier, modelId, 1, registry, validator)
                ),
                fixtureAddress("escrow")
            )
        );
        usdc.mint(payer, 10 * PRICE);
    }

    function terms(uint256 i) internal view returns (IZkmlEscrow.Terms memory t) {
        string memory p = string.concat(".escrow[", vm.toString(i), "]");
        t = IZkmlEscrow.Terms({
            payer: payer,
            provider: provider,
            amount: PRICE,
            deadline: deadline,
            inputHash: vm.parseJsonBytes32(fx, string.concat(p, ".inputHash")),
            salt: vm.parseJsonBytes32(fx, string.concat(p, ".salt"))
        });
    }

    function statement(uint256 i) internal view returns (bytes memory, uint256[] memory) {
        return statementAt(string.concat(".escrow[", vm.toString(i), "]"));
    }

    /// @notice The payer's EIP-3009 ReceiveWithAuthorization for these terms, to `to`.
    function sign(TestUSDC token, IZkmlEscrow.Terms memory t, address to)
        internal
        view
        returns (IZkmlEscrow.Authorization memory a)
    {
        bytes32 requestId = escrow.requestIdOf(t.payer, t.inputHash, t.salt);
        bytes32 nonce = escrow.nonceOf(requestId, t.provider, t.amount, t.deadline);
        a.validAfter = 0;
        a.validBefore = block.timestamp + 10 minutes;
        bytes32 structHash = keccak256(
            abi.encode(
                token.RECEIVE_WITH_AUTHORIZATION_TYPEHASH(), t.payer, to, t.amount, a.validAfter, a.validBefore, nonce
            )
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
        (a.v, a.r, a.s) = vm.sign(PAYER_PK, digest);
    }

    function openRequest(uint256 i) internal returns (bytes32 requestId) {
        IZkmlEscrow.Terms memory t = terms(i);
        IZkmlEscrow.Authorization memory a = sign(usdc, t, address(escrow));
        vm.prank(relayer);
        requestId = escrow.open(t, a);
    }

    // ----- EIP-3009 token -----

    function test_Eip3009TypehashesAsUsdc() public view {
        assertEq(
            usdc.TRANSFER_WITH_AUTHORIZATION_TYPEHASH(),
            keccak256(
                "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
            )
        );
        assertEq(
            usdc.RECEIVE_WITH_AUTHORIZATION_TYPEHASH(),
            keccak256(
                "ReceiveWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
            )
        );
        assertEq(
            usdc.CANCEL_AUTHORIZATION_TYPEHASH(), keccak256("CancelAuthorization(address authorizer,bytes32 nonce)")
        );
        assertEq(
            usdc.DOMAIN_SEPARATOR(),
            keccak256(
                abi.encode(
                    keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                    keccak256("USD Coin"),
                    keccak256("2"),
                    block.chainid,
                    address(usdc)
                )
            )
        );
    }

    // ----- happy paths -----

    function test_EscrowRelease() public {
        IZkmlEscrow.Terms memory t = terms(0);
        bytes32 expectedId = vm.parseJsonBytes32(fx, ".escrow[0].requestId");
        vm.expectEmit(address(escrow));
        emit IZkmlEscrow.Opened(expectedId, payer, provider, PRICE, deadline, t.inputHash);
        bytes32 requestId = openRequest(0);
        assertEq(requestId, expectedId);
        assertEq(usdc.balanceOf(address(escrow)), PRICE);
        assertEq(usdc.balanceOf(payer), 9 * PRICE);

        (bytes memory proof, uint256[] memory pub) = statement(0);
        assertEq(pub[1], ZkmlPublicInputs.escrowContext(address(escrow), requestId));
        assertEq(requestId, ZkmlPublicInputs.requestHashOf(payer, modelId, t.inputHash, t.salt));
        vm.prank(provider);
        escrow.release(requestId, proof, pub);
        assertEq(usdc.balanceOf(provider), PRICE);
        assertEq(usdc.balanceOf(address(escrow)), 0);
        (,,,, IZkmlEscrow.Status status,) = escrow.requests(requestId);
        assertEq(uint256(status), uint256(IZkmlEscrow.Status.Released));
    }

    function test_GasOfRelease() public {
        bytes32 requestId = openRequest(0);
        (bytes memory proof, uint256[] memory pub) = statement(0);
        uint256 before = gasleft();
        escrow.release(requestId, proof, pub);
        emit log_named_uint("ZkmlEscrow.release gas (incl. call)", before - gasleft());
    }

    /// @notice The provider, an ERC-8004 agent, asks our validator to validate request `requestId`.
    function requestValidation(bytes32 requestId) internal {
        vm.startPrank(provider);
        providerAgent = identity.register("ipfs://provider-agent.json");
        registry.validationRequest(address(validator), providerAgent, "ipfs://job", requestId);
        vm.stopPrank();
    }

    /// @notice The payer's signature asking the provider's agent for the validation of `requestId`.
    function payerAsks(bytes32 requestId) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_PK, validator.requestDigest(providerAgent, requestId));
        return abi.encodePacked(r, s, v);
    }

    /// @notice The provider answers the validation of request 0 with the proof made for it.
    function validateRequest0() internal {
        (bytes memory proof, uint256[] memory pub) = statementAt(".escrow[0].validation");
        bytes memory asked = payerAsks(vm.parseJsonBytes32(fx, ".escrow[0].requestId"));
        vm.prank(provider);
        validator.respond(providerAgent, payer, terms(0).salt, proof, pub, "ipfs://proof", asked);
    }

    /// @notice Review round 2, item 3: the request id is public once opened, so an attacker
    ///         registers it first in the validation registry (first come, first served) for an
    ///         agent of its own. The provider's validation does not depend on that registration,
    ///         and the escrow settles on it.
    function test_ReleaseByValidationOfASquattedRequest() public {
        bytes32 requestId = openRequest(0);
        vm.prank(provider);
        providerAgent = identity.register("ipfs://provider-agent.json");
        vm.startPrank(attacker);
        uint256 attackerAgent = identity.register("ipfs://squatter.json");
        registry.validationRequest(address(validator), attackerAgent, "ipfs://squat", requestId);
        vm.stopPrank();
        vm.prank(provider);
        vm.expectRevert(bytes("exists"));
        registry.validationRequest(address(validator), providerAgent, "ipfs://job", requestId);

        validateRequest0();
        escrow.releaseByValidation(requestId);
        assertEq(usdc.balanceOf(provider), PRICE);
    }

    function test_EscrowReleaseByValidation() public {
        bytes32 requestId = openRequest(0);
        requestValidation(requestId);
        vm.expectRevert(abi.encodeWithSelector(IZkmlEscrow.NotValidated.selector, requestId));
        escrow.releaseByValidation(requestId);

        // The escrow's own proof does not answer the validation (its context is the escrow's) ...
        (bytes memory proof, uint256[] memory pub) = statement(0);
        bytes memory asked = payerAsks(requestId);
        vm.prank(provider);
        vm.expectRevert();
        validator.respond(providerAgent, payer, terms(0).salt, proof, pub, "ipfs://proof", asked);
        // ... the one made for the validator and the provider's agent does.
        (proof, pub) = statementAt(".escrow[0].validation");
        vm.prank(provider);
        (bytes32 answered,) = validator.respond(providerAgent, payer, terms(0).salt, proof, pub, "ipfs://proof", asked);
        assertEq(answered, requestId);
        escrow.releaseByValidation(requestId);
        assertEq(usdc.balanceOf(provider), PRICE);
        vm.expectRevert(abi.encodeWithSelector(IZkmlEscrow.NotOpen.selector, requestId, IZkmlEscrow.Status.Released));
        escrow.releaseByValidation(requestId);
    }

    function test_RefundAfterDeadline() public {
        bytes32 requestId = openRequest(0);
        vm.warp(deadline + 1);
        vm.expectEmit(address(escrow));
        emit IZkmlEscrow.Refunded(requestId, payer, PRICE);
        vm.prank(attacker); // anyone may trigger it; the funds go to the payer
        escrow.refund(requestId);
        assertEq(usdc.balanceOf(payer), 10 * PRICE);
        (bytes memory proof, uint256[] memory pub) = statement(0);
        vm.expectRevert(abi.encodeWithSelector(IZkmlEscrow.NotOpen.selector, requestId, IZkmlEscrow.Status.Refunded));
        escrow.release(requestId, proof, pub);
    }

    // ----- attacks -----

    function test_RevertWhen_ProofIsWrong() public {
        bytes32 requestId = openRequest(0);
        (bytes memory proof, uint256[] memory pub) = statement(0);
        vm.expectRevert(IZkmlEscrow.InvalidProof.selector);
        escrow.release(requestId, flipBit(proof, 200), pub);
        pub[3] += 1; // claim another output
        vm.expectRevert(IZkmlEscrow.InvalidProof.selector);
        escrow.release(requestId, proof, pub);
        assertEq(usdc.balanceOf(address(escrow)), PRICE);
    }

    /// Anyone may call release, a relayer too: a B outside G2 costs it bounded gas.
    function test_RevertWhen_BOutsideG2_AtBoundedGas() public {
        bytes32 requestId = openRequest(0);
        (, uint256[] memory pub) = statement(0);
        (bool ok, bytes memory ret, uint256 used) =
            callWith30MGas(address(escrow), abi.encodeCall(escrow.release, (requestId, outsideG2Proof(), pub)));
        assertFalse(ok);
        assertEq(ret, abi.encodeWithSelector(IZkmlEscrow.InvalidProof.selector));
        assertLt(used, REJECTED_PROOF_GAS_BOUND);
        assertEq(usdc.balanceOf(address(escrow)), PRICE);
    }

    function test_RevertWhen_ProofIsForAnotherRequest() public {
        bytes32 id0 = openRequest(0);
        openRequest(1);
        (bytes memory proof1, uint256[] memory pub1) = statement(1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IZkmlEscrow.WrongRequest.selector, pub1[1], ZkmlPublicInputs.escrowContext(address(escrow), id0)
            )
        );
        escrow.release(id0, proof1, pub1);
        // Rewriting the context (and input) to request 0's breaks the proof.
        (, uint256[] memory pub0) = statement(0);
        pub1[1] = pub0[1];
        pub1[2] = pub0[2];
        vm.expectRevert(IZkmlEscrow.InvalidProof.selector);
        escrow.release(id0, proof1, pub1);
    }

    function test_RevertWhen_InputIsNotTheRequestedOne() public {
        bytes32 id0 = openRequest(0);
        (bytes memory proof, uint256[] memory pub) = statement(0);
        pub[2] += 1;
        bytes32 got = keccak256(abi.encodePacked(pub[2]));
        vm.expectRevert(abi.encodeWithSelector(IZkmlEscrow.WrongInput.selector, got, terms(0).inputHash));
        escrow.release(id0, proof, pub);
    }

    function test_RevertWhen_WrongModel() public {
        bytes32 id0 = openRequest(0);
        (bytes memory proof, uint256[] memory pub) = statement(0);
        pub[0] = 7;
        vm.expectRevert(abi.encodeWithSelector(IZkmlEscrow.WrongModel.selector, 7, modelId));
        escrow.release(id0, proof, pub);
    }

    function test_RevertWhen_DoubleRelease() public {
        bytes32 requestId = openRequest(0);
        (bytes memory proof, uint256[] memory pub) = statement(0);
        escrow.release(requestId, proof, pub);
        vm.expectRevert(abi.encodeWithSelector(IZkmlEscrow.NotOpen.selector, requestId, IZkmlEscrow.Status.Released));
        escrow.release(requestId, proof, pub);
        vm.expectRevert(abi.encodeWithSelector(IZkmlEscrow.NotOpen.selector, requestId, IZkmlEscrow.Status.Released));
        escrow.refund(requestId);
        assertEq(usdc.balanceOf(provider), PRICE);
    }

    function test_RevertWhen_EarlyRefund() public {
        bytes32 requestId = openRequest(0);
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(IZkmlEscrow.DeadlineNotReached.selector, requestId, deadline));
        escrow.refund(requestId);
    }

    function test_RevertWhen_ReleaseAfterDeadline() public {
        bytes32 requestId = openRequest(0);
        (bytes memory proof, uint256[] memory pub) = statement(0);
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IZkmlEscrow.DeadlinePassed.selector, requestId, deadline));
        escrow.release(requestId, proof, pub);
    }

    function test_RevertWhen_UnknownRequest() public {
        (bytes memory proof, uint256[] memory pub) = statement(0);
        bytes32 id = vm.parseJsonBytes32(fx, ".escrow[0].requestId");
        vm.expectRevert(abi.encodeWithSelector(IZkmlEscrow.NotOpen.selector, id, IZkmlEscrow.Status.None));
        escrow.release(id, proof, pub);
    }

    function test_RevertWhen_Eip3009SignatureReused() public {
        IZkmlEscrow.Terms memory t = terms(0);
        IZkmlEscrow.Authorization memory a = sign(usdc, t, address(escrow));
        escrow.open(t, a);
        // The same request again.
        bytes32 requestId = escrow.requestIdOf(t.payer, t.inputHash, t.salt);
        vm.expectRevert(abi.encodeWithSelector(IZkmlEscrow.RequestExists.selector, requestId));
        escrow.open(t, a);
        // The same authorization straight at the token, by the escrow itself: the nonce is spent.
        bytes32 nonce = escrow.nonceOf(requestId, t.provider, t.amount, t.deadline);
        assertTrue(usdc.authorizationState(payer, nonce));
        vm.prank(address(escrow));
        vm.expectRevert(TestUSDC.AuthorizationUsedOrCanceled.selector);
        usdc.receiveWithAuthorization(payer, address(escrow), PRICE, a.validAfter, a.validBefore, nonce, a.v, a.r, a.s);
        // Reused for another request (another salt): the nonce differs, so the signature fails.
        t.salt = keccak256("another salt");
        vm.expectRevert(TestUSDC.InvalidSignature.selector);
        escrow.open(t, a);
        assertEq(usdc.balanceOf(payer), 9 * PRICE);
    }

    function test_RevertWhen_TermsTamperedWith() public {
        IZkmlEscrow.Terms memory t = terms(0);
        IZkmlEscrow.Authorization memory a = sign(usdc, t, address(escrow));
        t.provider = attacker;
        vm.expectRevert(TestUSDC.InvalidSignature.selector);
        escrow.open(t, a);
        t = terms(0);
        t.amount = PRICE + 1;
        vm.expectRevert(TestUSDC.InvalidSignature.selector);
        escrow.open(t, a);
        t = terms(0);
        t.deadline = deadline + 1 days;
        vm.expectRevert(TestUSDC.InvalidSignature.selector);
        escrow.open(t, a);
    }

    function test_RevertWhen_AuthorizationFrontRun() public {
        IZkmlEscrow.Terms memory t = terms(0);
        IZkmlEscrow.Authorization memory a = sign(usdc, t, address(escrow));
        bytes32 requestId = escrow.requestIdOf(t.payer, t.inputHash, t.salt);
        bytes32 nonce = escrow.nonceOf(requestId, t.provider, t.amount, t.deadline);
        // Someone else submitting the payer's receive authorization: only the payee may.
        vm.prank(attacker);
        vm.expectRevert(TestUSDC.CallerMustBePayee.selector);
        usdc.receiveWithAuthorization(payer, address(escrow), PRICE, a.validAfter, a.validBefore, nonce, a.v, a.r, a.s);
        // ... nor reuse it as a transfer authorization (another type hash).
        vm.prank(attacker);
        vm.expectRevert(TestUSDC.InvalidSignature.selector);
        usdc.transferWithAuthorization(payer, address(escrow), PRICE, a.validAfter, a.validBefore, nonce, a.v, a.r, a.s);
        // The escrow can still use it.
        escrow.open(t, a);
    }

    function test_RevertWhen_AuthorizationExpired() public {
        IZkmlEscrow.Terms memory t = terms(0);
        IZkmlEscrow.Authorization memory a = sign(usdc, t, address(escrow));
        vm.warp(a.validBefore);
        vm.expectRevert(TestUSDC.AuthorizationExpired.selector);
        escrow.open(t, a);
    }

    function test_RevertWhen_Reentered() public {
        ReentrantUSDC evil = new ReentrantUSDC();
        // At the fixtures' escrow address (in place of setUp's), so that the proof's context fits.
        ZkmlEscrow e = ZkmlEscrow(
            deployAt(
                abi.encodePacked(
                    type(ZkmlEscrow).creationCode,
                    abi.encode(evil, verifier, modelId, 1, IERC8004Validation(address(0)), ZkmlValidator(address(0)))
                ),
                fixtureAddress("escrow")
            )
        );
        evil.mint(payer, PRICE);
        IZkmlEscrow.Terms memory t = terms(0);
        ZkmlEscrow oldEscrow = escrow;
        escrow = e; // sign() reads requestIdOf/nonceOf from `escrow`
        IZkmlEscrow.Authorization memory a = sign(evil, t, address(e));
        escrow = oldEscrow;
        bytes32 requestId = e.open(t, a);
        (bytes memory proof, uint256[] memory pub) = statement(0);
        // While paying the provider, the token calls refund/release again.
        vm.warp(block.timestamp + 1);
        evil.arm(address(e), abi.encodeCall(ZkmlEscrow.release, (requestId, proof, pub)));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        e.release(requestId, proof, pub);
        assertEq(evil.balanceOf(address(e)), PRICE);
    }

    function test_RevertWhen_BadTerms() public {
        IZkmlEscrow.Terms memory t = terms(0);
        IZkmlEscrow.Authorization memory a = sign(usdc, t, address(escrow));
        t.deadline = uint64(block.timestamp);
        vm.expectRevert(IZkmlEscrow.BadTerms.selector);
        escrow.open(t, a);
    }

    function test_RevertWhen_ValidatorForAnotherModel() public {
        ZkmlValidator other = new ZkmlValidator(registry, verifier, modelId + 1, 1);
        vm.expectRevert(IZkmlEscrow.ValidatorMismatch.selector);
        new ZkmlEscrow(usdc, verifier, modelId, 1, registry, other);
    }

    /// @notice Review round 2, item 5: a validator that checks proofs with another verifier (for
    ///         the same model id) would let releaseByValidation pay on proofs this escrow's verifier
    ///         rejects.
    function test_RevertWhen_ValidatorWithAnotherVerifier() public {
        IZkmlVerifier otherVerifier = newVerifier(); // another deployment: another address
        ZkmlValidator other = new ZkmlValidator(registry, otherVerifier, modelId, 1);
        vm.expectRevert(IZkmlEscrow.ValidatorMismatch.selector);
        new ZkmlEscrow(usdc, verifier, modelId, 1, registry, other);
    }

    /// @notice Review round 2, item 5: the deadline applies when the validation is made, not when
    ///         it is settled. A validation made in time pays the provider after the deadline, and
    ///         the refund anyone may call at deadline + 1 cannot take the payment away.
    function test_ReleaseByValidationMadeInTimeAfterTheDeadline() public {
        bytes32 requestId = openRequest(0);
        requestValidation(requestId);
        validateRequest0();
        vm.warp(deadline + 1);
        vm.prank(attacker);
        vm.expectRevert(abi.encodeWithSelector(IZkmlEscrow.ValidatedInTime.selector, requestId));
        escrow.refund(requestId);
        escrow.releaseByValidation(requestId);
        assertEq(usdc.balanceOf(provider), PRICE);
    }

    /// @notice A validation made after the deadline pays nothing; the payer gets the refund.
    function test_RevertWhen_ValidatedAfterTheDeadline() public {
        bytes32 requestId = openRequest(0);
        requestValidation(requestId);
        vm.warp(deadline + 1);
        validateRequest0();
        vm.expectRevert(abi.encodeWithSelector(IZkmlEscrow.DeadlinePassed.selector, requestId, deadline));
        escrow.releaseByValidation(requestId);
        escrow.refund(requestId);
        assertEq(usdc.balanceOf(payer), 10 * PRICE);
    }

    /// @notice A proof made for the same request at another escrow (another deployment) does
    ///         not release funds here.
    function test_RevertWhen_ProofForAnotherEscrow() public {
        ZkmlEscrow other = new ZkmlEscrow(usdc, verifier, modelId, 1, registry, validator);
        IZkmlEscrow.Terms memory t = terms(0);
        IZkmlEscrow.Authorization memory a = sign(usdc, t, address(other));
        bytes32 requestId = other.open(t, a);
        (bytes memory proof, uint256[] memory pub) = statement(0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IZkmlEscrow.WrongRequest.selector, pub[1], ZkmlPublicInputs.escrowContext(address(other), requestId)
            )
        );
        other.release(requestId, proof, pub);
        pub[1] = ZkmlPublicInputs.escrowContext(address(other), requestId);
        vm.expectRevert(IZkmlEscrow.InvalidProof.selector);
        other.release(requestId, proof, pub);
    }

    function test_RevertWhen_ProofForAnotherChain() public {
        bytes32 requestId = openRequest(0);
        (bytes memory proof, uint256[] memory pub) = statement(0);
        vm.chainId(block.chainid + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IZkmlEscrow.WrongRequest.selector, pub[1], ZkmlPublicInputs.escrowContext(address(escrow), requestId)
            )
        );
        escrow.release(requestId, proof, pub);
    }

    /// @notice The old context, uint256(requestId) % r, let a proof for one id serve the ids
    ///         congruent to it mod r; the injective context does not.
    function test_ContextsDoNotAliasModR() public view {
        bytes32 id = vm.parseJsonBytes32(fx, ".escrow[0].requestId");
        if (uint256(id) < type(uint256).max - R) {
            bytes32 alias_ = bytes32(uint256(id) + R);
            assertTrue(
                ZkmlPublicInputs.escrowContext(address(escrow), id)
                    != ZkmlPublicInputs.escrowContext(address(escrow), alias_)
            );
        }
        assertLt(ZkmlPublicInputs.escrowContext(address(escrow), id), 1 << 248);
    }

    function test_RevertWhen_ModelIdNotAFieldElement() public {
        vm.expectRevert(abi.encodeWithSelector(IZkmlEscrow.WrongModel.selector, R, R));
        new ZkmlEscrow(usdc, verifier, R, 1, registry, ZkmlValidator(address(0)));
    }
}
