//! zkml-serve's integration tests, one binary: the `exact` scheme's offline checks and its
//! settlement on anvil.

mod exact;
mod settle;
