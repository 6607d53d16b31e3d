//! What a server refuses to sell, at start: each refusal names the directory and the problem.

use std::sync::Arc;

use zkml_serve::catalog::{Catalog, CatalogError, Listing};

use crate::price_mlp;

#[test]
fn a_catalog_refuses_what_it_cannot_sell() {
    let load = |dirs: &[std::path::PathBuf], allow| Catalog::load(dirs, allow).err().expect("refused");
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

#[test]
fn a_catalog_of_a_model_the_caller_holds_shares_it_and_refuses_the_same() {
    let dir = price_mlp().to_path_buf();
    let held = Listing::load(&dir).unwrap();
    // The caller's copy is the one sold: no second read of the model or its keys.
    let catalog = Catalog::new([Ok(held.clone())], true).unwrap();
    let sold = catalog.get(&held.name).expect("listed under its directory's name");
    assert!(Arc::ptr_eq(&sold.keys, &held.keys) && Arc::ptr_eq(&sold.compiled, &held.compiled));
    let refused =
        |listings: Vec<Listing>, allow| Catalog::new(listings.into_iter().map(Ok), allow).err().expect("refused");
    assert!(matches!(refused(vec![], true), CatalogError::Empty));
    assert!(matches!(refused(vec![held.clone(), held.clone()], true), CatalogError::Duplicate { .. }));
    let e = refused(vec![held], false);
    assert!(matches!(&e, CatalogError::UnsoundKeys { dir: d, .. } if *d == dir.display().to_string()), "{e}");
}
