//! The module direction DESIGN.md states, checked on the sources: in every library of the
//! workspace the top-level modules' `crate::` imports point one way, with no cycle (a module that
//! reaches back into one that uses it is a knot the next change has to untie first). Comments and
//! `#[cfg(test)]` modules are left out (a test may reach anywhere); the binaries' roots
//! (`main.rs`, `*_main.rs`) are other crates.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::common::repo_root;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The top-level modules `text` names as `crate::x` or inside `use crate::{x, y::z}`.
fn named_modules(text: &str) -> BTreeSet<String> {
    let code: String = text
        .split("#[cfg(test)]")
        .next()
        .unwrap_or_default()
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut out = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Each item of the group at its first level: `x`, `y::z`, `w::{..}`.
            let (mut depth, mut item_start) = (0usize, true);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && !c.is_whitespace() => {
                        out.insert(ident(&group[i..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest));
        }
    }
    out
}

/// Each top-level module of the library under `src` and the others it names.
fn graph(src: &Path) -> Graph {
    fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut all = vec![];
    files(src, &mut all);
    let mut g = Graph::new();
    for p in &all {
        let top = p.strip_prefix(src).unwrap().components().next().unwrap().as_os_str().to_string_lossy();
        let top = top.trim_end_matches(".rs").to_string();
        if top == "main" || top.ends_with("_main") {
            continue;
        }
        let names = named_modules(&std::fs::read_to_string(p).unwrap());
        g.entry(top).or_default().extend(names);
    }
    let modules: BTreeSet<String> = g.keys().cloned().collect();
    for (m, uses) in &mut g {
        uses.retain(|u| u != m && modules.contains(u));
    }
    g
}

/// A cycle of `g` (its modules in order, the first again at the end), if it has one.
fn cycle(g: &Graph) -> Option<Vec<String>> {
    fn visit(g: &Graph, m: &str, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == m) {
            return Some([&path[at..], &[m.to_string()]].concat());
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for next in g.get(m).into_iter().flatten() {
            if let Some(c) = visit(g, next, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys().find_map(|m| visit(g, m, &mut vec![], &mut done))
}

#[test]
fn no_library_has_a_module_cycle() {
    let root = repo_root();
    for krate in ["prover", "verifier-gen", "serve", "oracle-demo", "starknet-harness"] {
        let g = graph(&root.join(krate).join("src"));
        assert!(g.len() > 1 || krate == "starknet-harness", "{krate}: no modules found");
        if let Some(c) = cycle(&g) {
            panic!("{krate}: the modules import one another in a cycle: {}", c.join(" → "));
        }
    }
}

#[test]
fn the_check_finds_a_cycle_through_grouped_imports() {
    let text =
        "use crate::{b::Thing, c};\n// crate::d in a comment\nfn f() { crate::e::g() }\n#[cfg(test)]\nuse crate::f;";
    let names = named_modules(text);
    assert_eq!(names.into_iter().collect::<Vec<_>>(), ["b", "c", "e"]);
    let g: Graph = [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"]), ("d", vec![])]
        .into_iter()
        .map(|(m, u)| (m.to_string(), u.into_iter().map(String::from).collect()))
        .collect();
    assert_eq!(cycle(&g), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
    let mut acyclic = g.clone();
    acyclic.get_mut("c").unwrap().clear();
    assert_eq!(cycle(&acyclic), None);
}
