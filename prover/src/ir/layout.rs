//! The padded layout: every tensor lives in a flat vector of a power-of-two length, each axis
//! padded to a power of two, so that the sumcheck's multilinear extensions index it by bits.

/// Each axis padded to a power of two.
pub fn padded_dims(shape: &[usize]) -> Vec<usize> {
    shape.iter().map(|d| d.next_power_of_two()).collect()
}

/// log₂ of the padded vector's length.
pub fn log_len(shape: &[usize]) -> u32 {
    padded_dims(shape).iter().map(|d| d.trailing_zeros()).sum()
}

/// Position of each logical (row-major) element in the padded layout.
pub fn padded_positions(shape: &[usize]) -> Vec<usize> {
    let pd = padded_dims(shape);
    let mut out = vec![0usize];
    for (&d, &p) in shape.iter().zip(&pd) {
        out = out.iter().flat_map(|&base| (0..d).map(move |i| base * p + i)).collect();
    }
    out
}

/// `values` (row-major, logical order) at their padded positions in a vector of `2^log_len`
/// zeros.
pub fn place(shape: &[usize], log_len: u32, values: impl IntoIterator<Item = i64>) -> Vec<i64> {
    let mut v = vec![0; 1 << log_len];
    for (p, x) in padded_positions(shape).into_iter().zip(values) {
        v[p] = x;
    }
    v
}
