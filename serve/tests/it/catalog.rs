//! What a server refuses to sell, at start: each refusal names the directory and the problem.

use zkml_serve::catalog::{Catalog, CatalogError};

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
