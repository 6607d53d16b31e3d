//! What a server refuses to sell, at start: each refusal names the directory and the problem.

use alloy::primitives::{Address, U256};
use zkml_serve::catalog::{Catalog, CatalogError, Pricing};

use crate::price_mlp;

fn pricing() -> Pricing {
    Pricing {
        chain_id: 31337,
        asset: Address::repeat_byte(0xaa),
        token_name: "USD Coin".into(),
        token_version: "2".into(),
        pay_to: Address::repeat_byte(0xbb),
        amount: U256::from(1u64),
        max_timeout_seconds: 60,
    }
}

#[test]
fn a_catalog_refuses_what_it_cannot_sell() {
    let load = |dirs: &[std::path::PathBuf], allow| Catalog::load(dirs, &pricing(), allow).err().expect("refused");
    assert!(matches!(load(&[], true), CatalogError::Empty));
    let missing = std::path::PathBuf::from("/nonexistent/price_mlp");
    let e = load(&[missing], true);
    assert!(matches!(e, CatalogError::Artifact { .. }) && e.to_string().contains("/nonexistent/price_mlp"), "{e}");
    let dir = price_mlp().to_path_buf();
    assert!(matches!(load(&[dir.clone(), dir.clone()], true), CatalogError::Duplicate { .. }));
    let e = load(std::slice::from_ref(&dir), false);
    assert!(matches!(&e, CatalogError::UnsoundKeys { why, .. } if why.contains("development setup")), "{e}");
    assert!(e.to_string().contains("--allow-dev-keys"), "{e}");
}
