//! Solidity identifiers: the rule a contract's name (the renderer's, the hooks') and a public
//! input's name in the model's layout (its typed accessors) must both follow.

/// Whether `name` is a valid Solidity identifier (ASCII letters, digits, `_`, `$`, not starting
/// with a digit, not a reserved keyword we know of).
pub fn is_valid(name: &str) -> bool {
    const RESERVED: &[&str] = &[
        "contract",
        "function",
        "library",
        "interface",
        "uint256",
        "bool",
        "address",
        "bytes",
        "string",
        "mapping",
        "struct",
        "enum",
        "event",
        "error",
        "return",
        "returns",
        "if",
        "else",
        "for",
        "while",
        "do",
        "true",
        "false",
        "new",
        "delete",
        "this",
        "super",
        "assembly",
    ];
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') && !RESERVED.contains(&name)
}
