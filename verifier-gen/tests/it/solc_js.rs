//! solc-js, which Hardhat and Remix compile with, crashed ("memory access out of bounds") on one
//! compile that held the largest verifier beside the hook contracts and their tests
//! (docs/building.md: the size of one unit, not one contract). Every verifier this suite
//! generates compiles from scratch with solc-js in one unit with every contract under
//! `contracts/`, as in a user's project; each also compiles alone where its suite takes its
//! bytecode (forge.rs, models.rs).

use crate::circuits::{fixture, two_round_fixture};
use crate::common::{hook_contract_sources, repo_root, solc_unit};
use crate::forge::{max_public_inputs, render_two_round, sum_fixture};
use crate::models;
use zkml_verifier_gen::{solidity, solidity::PrecompileGas};

#[test]
fn every_generated_verifier_compiles_with_solc_js_beside_the_hook_contracts() {
    let root = repo_root();
    let fx = fixture();
    let big = sum_fixture(max_public_inputs());
    let mut sources = hook_contract_sources(&root);
    let mut names = vec![];
    let mut add = |name: &str, text: String| {
        sources.push((format!("generated/{name}.sol"), text));
        names.push(name.to_string());
    };
    add("MulAddVerifier", solidity::render_with(&fx.vk, "MulAddVerifier", None, PrecompileGas::Forward, None).unwrap());
    add(
        "MulAddCappedVerifier",
        solidity::render_with(&fx.vk, "MulAddCappedVerifier", None, PrecompileGas::Eip1108, None).unwrap(),
    );
    // The most public inputs a bare key's verifier may have: its IC points in a table.
    add("SumVerifier", solidity::render_with(&big.vk, "SumVerifier", None, PrecompileGas::Forward, None).unwrap());
    add("MulAddTwoRoundVerifier", render_two_round("MulAddTwoRoundVerifier", &two_round_fixture()));
    // The models' verifiers as `zkml-gen solidity` renders them (typed entry points, packing).
    let tmp = tempfile::tempdir().unwrap();
    for (p, name) in [
        (models::price_mlp(), "PriceMlpVerifier"),
        (models::lenet(), "LenetVerifier"),
        (models::tiny_gemm(), "TinyGemmVerifier"),
    ] {
        add(name, models::render(p, name, &tmp.path().join(format!("{name}.sol"))));
    }
    let out = solc_unit(&root, &sources);
    for name in
        names.iter().map(String::as_str).chain(["ZkmlEscrow", "ZkmlFeedOracle", "ZkmlSignedOracle", "ZkmlValidator"])
    {
        out.code(name).unwrap_or_else(|e| panic!("solc-js beside the hook contracts: {name}: {e:#}"));
    }
}

#[test]
fn solc_errors_name_what_went_wrong() {
    use zkml_verifier_gen::solc::{self, SolcError};
    let root = repo_root();
    crate::common::toolchain(&root);
    let solc_js = root.join("script/solc");
    let unit = |text: &str| {
        vec![("Unit.sol".to_string(), format!("// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\n{text}"))]
    };
    let e = solc::compile(&solc_js, &root, &unit("contract Broken {")).err().unwrap();
    assert!(matches!(&e, SolcError::Compilation(m) if !m.is_empty()), "{e}");
    let out = solc::compile(&solc_js, &root, &unit("interface I { function f() external; }")).unwrap();
    assert!(matches!(out.code("I"), Err(SolcError::NoBytecode(n)) if n == "I"));
    assert!(matches!(out.get("J"), Err(SolcError::NoContract(n)) if n == "J"));
    let e = solc::compile(&root.join("no-such-solc"), &root, &unit("")).err().unwrap();
    assert!(matches!(&e, SolcError::Run { .. }), "{e}");
}
