//! A tracer that turns the generic BN254 arithmetic of [`super::tower`] into Cairo
//! `core::circuit` functions: each [`Sym`] operation records a gate (constants are folded,
//! common subexpressions shared), and [`Circuit::emit`] writes a Cairo function that feeds the
//! inputs and constants to one modular circuit over the BN254 base field and returns its outputs.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write;

use ark_bn254::Fq;
use ark_ff::{BigInteger, One, PrimeField, Zero};

use super::tower::Fe;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Node {
    Input(usize),
    Const([u64; 4]),
    Add(usize, usize),
    Sub(usize, usize),
    Mul(usize, usize),
    Inv(usize),
}

#[derive(Default)]
struct Builder {
    /// The Cairo function's arguments: (name, number of u384 values), in input order.
    args: Vec<(String, usize)>,
    nodes: Vec<Node>,
    consts: Vec<Option<Fq>>,
    dedup: HashMap<Node, usize>,
}

thread_local! {
    static B: RefCell<Builder> = RefCell::new(Builder::default());
}

/// A traced base-field value: an index into the current circuit's gate list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sym(usize);

fn push(n: Node, c: Option<Fq>) -> Sym {
    B.with(|b| {
        let mut b = b.borrow_mut();
        if let Some(&i) = b.dedup.get(&n) {
            return Sym(i);
        }
        let i = b.nodes.len();
        b.nodes.push(n);
        b.consts.push(c);
        b.dedup.insert(n, i);
        Sym(i)
    })
}

fn konst_of(s: Sym) -> Option<Fq> {
    B.with(|b| b.borrow().consts[s.0])
}

impl Fe for Sym {
    fn add(&self, o: &Self) -> Self {
        match (konst_of(*self), konst_of(*o)) {
            (Some(a), Some(b)) => Sym::konst(a + b),
            (Some(a), _) if a.is_zero() => *o,
            (_, Some(b)) if b.is_zero() => *self,
            _ => {
                let (a, b) = if self.0 <= o.0 { (self.0, o.0) } else { (o.0, self.0) };
                push(Node::Add(a, b), None)
            }
        }
    }
    fn sub(&self, o: &Self) -> Self {
        match (konst_of(*self), konst_of(*o)) {
            (Some(a), Some(b)) => Sym::konst(a - b),
            (_, Some(b)) if b.is_zero() => *self,
            _ if self == o => Sym::konst(Fq::zero()),
            _ => push(Node::Sub(self.0, o.0), None),
        }
    }
    fn mul(&self, o: &Self) -> Self {
        match (konst_of(*self), konst_of(*o)) {
            (Some(a), Some(b)) => Sym::konst(a * b),
            (Some(a), _) if a.is_zero() => *self,
            (_, Some(b)) if b.is_zero() => *o,
            (Some(a), _) if a.is_one() => *o,
            (_, Some(b)) if b.is_one() => *self,
            _ => {
                let (a, b) = if self.0 <= o.0 { (self.0, o.0) } else { (o.0, self.0) };
                push(Node::Mul(a, b), None)
            }
        }
    }
    fn inv(&self) -> Self {
        match konst_of(*self) {
            Some(a) => Sym::konst(a.inverse_checked()),
            None => push(Node::Inv(self.0), None),
        }
    }
    fn konst(c: Fq) -> Self {
        push(Node::Const(c.into_bigint().0), Some(c))
    }
}

trait InverseChecked {
    fn inverse_checked(&self) -> Fq;
}
impl InverseChecked for Fq {
    fn inverse_checked(&self) -> Fq {
        ark_ff::Field::inverse(self).expect("constant inverse of zero in a traced circuit")
    }
}

/// One traced circuit: its inputs and outputs.
pub struct Circuit {
    /// Its Cairo function's name.
    pub name: String,
    /// Its doc comment.
    pub doc: String,
    args: Vec<(String, usize)>,
    nodes: Vec<Node>,
    inputs: Vec<Sym>,
    outputs: Vec<Sym>,
}

/// Starts a fresh trace of a function taking one `ins: Span<u384>` and returns its `n` inputs.
pub fn begin(n: usize) -> Vec<Sym> {
    begin_args(&[("ins", n)])
}

/// Starts a fresh trace of a function taking one Span<u384> argument per (name, length) and
/// returns all their inputs in order: callers pass the spans they hold instead of copying them
/// into one array (each copied value costs Cairo steps).
pub fn begin_args(args: &[(&str, usize)]) -> Vec<Sym> {
    B.with(|b| {
        *b.borrow_mut() =
            Builder { args: args.iter().map(|(n, l)| (n.to_string(), *l)).collect(), ..Builder::default() }
    });
    let n = args.iter().map(|a| a.1).sum();
    (0..n).map(|i| push(Node::Input(i), None)).collect()
}

/// Ends the trace started by [`begin`] or [`begin_args`].
pub fn finish(name: &str, doc: &str, inputs: Vec<Sym>, outputs: Vec<Sym>) -> Circuit {
    let b = B.with(|b| std::mem::take(&mut *b.borrow_mut()));
    Circuit { name: name.to_string(), doc: doc.to_string(), args: b.args, nodes: b.nodes, inputs, outputs }
}

/// A u384 literal (four 96-bit limbs).
pub fn u384_literal(x: &Fq) -> String {
    let limbs = fq_limbs(x);
    format!("u384 {{ limb0: {:#x}, limb1: {:#x}, limb2: {:#x}, limb3: {:#x} }}", limbs[0], limbs[1], limbs[2], limbs[3])
}

/// The four 96-bit limbs of a base-field element, least significant first.
pub fn fq_limbs(x: &Fq) -> [u128; 4] {
    le_bytes_limbs(&x.into_bigint().to_bytes_le())
}

/// Four 96-bit limbs of a little-endian number of at most 48 bytes.
pub fn le_bytes_limbs(bytes: &[u8]) -> [u128; 4] {
    let mut limbs = [0u128; 4];
    for (i, l) in limbs.iter_mut().enumerate() {
        for (j, b) in bytes.iter().skip(12 * i).take(12).enumerate() {
            *l |= (*b as u128) << (8 * j);
        }
    }
    limbs
}

impl Circuit {
    /// Counts of (add/sub, mul, inverse) gates reachable from the outputs.
    pub fn gate_counts(&self) -> (usize, usize, usize) {
        let live = self.live();
        let mut c = (0, 0, 0);
        for (i, n) in self.nodes.iter().enumerate() {
            if !live[i] {
                continue;
            }
            match n {
                Node::Add(..) | Node::Sub(..) => c.0 += 1,
                Node::Mul(..) => c.1 += 1,
                Node::Inv(..) => c.2 += 1,
                _ => {}
            }
        }
        c
    }

    fn live(&self) -> Vec<bool> {
        let mut live = vec![false; self.nodes.len()];
        let mut stack: Vec<usize> = self.outputs.iter().map(|s| s.0).collect();
        while let Some(i) = stack.pop() {
            if live[i] {
                continue;
            }
            live[i] = true;
            match self.nodes[i] {
                Node::Add(a, b) | Node::Sub(a, b) | Node::Mul(a, b) => {
                    stack.push(a);
                    stack.push(b);
                }
                Node::Inv(a) => stack.push(a),
                _ => {}
            }
        }
        live
    }

    /// Cairo source: `fn NAME(ins: Span<u384>) -> Array<u384>` (the outputs in order). Panics in
    /// Cairo if an inverse gate meets zero.
    pub fn emit(&self) -> String {
        assert!(self.outputs.len() <= 16, "{}: a Cairo circuit has at most 16 outputs", self.name);
        let live = self.live();
        // Circuit inputs: live caller inputs in order, then live constants.
        let mut input_no: HashMap<usize, usize> = HashMap::new();
        let mut feed: Vec<String> = Vec::new();
        let arg_of: Vec<(&str, usize)> =
            self.args.iter().flat_map(|(n, l)| (0..*l).map(move |k| (n.as_str(), k))).collect();
        for (k, s) in self.inputs.iter().enumerate() {
            if live[s.0] && !input_no.contains_key(&s.0) {
                input_no.insert(s.0, feed.len());
                let (arg, at) = arg_of[k];
                feed.push(format!("*{arg}.at({at})"));
            }
        }
        for (i, n) in self.nodes.iter().enumerate() {
            if let Node::Const(limbs) = n
                && live[i]
            {
                input_no.insert(i, feed.len());
                let c = Fq::from_bigint(ark_ff::BigInt(*limbs)).expect("canonical constant");
                feed.push(u384_literal(&c));
            }
        }
        let name_of = |i: usize| -> String {
            match input_no.get(&i) {
                Some(k) => format!("in{k}"),
                None => format!("t{i}"),
            }
        };
        let mut s = String::new();
        writeln!(s, "/// {}", self.doc).unwrap();
        let (adds, muls, invs) = self.gate_counts();
        writeln!(
            s,
            "/// {} inputs ({} caller values), {} add/sub, {} mul, {} inverse gates.",
            feed.len(),
            self.inputs.len(),
            adds,
            muls,
            invs
        )
        .unwrap();
        let params: Vec<String> = self.args.iter().map(|(n, _)| format!("{n}: Span<u384>")).collect();
        writeln!(s, "pub fn {}({}) -> Array<u384> {{", self.name, params.join(", ")).unwrap();
        for (n, l) in &self.args {
            writeln!(s, "    assert({n}.len() == {l}, 'circuit input count');").unwrap();
        }
        for k in 0..feed.len() {
            writeln!(s, "    let in{k} = CircuitElement::<CircuitInput<{k}>> {{}};").unwrap();
        }
        for (i, n) in self.nodes.iter().enumerate() {
            if !live[i] {
                continue;
            }
            let expr = match *n {
                Node::Add(a, b) => format!("circuit_add({}, {})", name_of(a), name_of(b)),
                Node::Sub(a, b) => format!("circuit_sub({}, {})", name_of(a), name_of(b)),
                Node::Mul(a, b) => format!("circuit_mul({}, {})", name_of(a), name_of(b)),
                Node::Inv(a) => format!("circuit_inverse({})", name_of(a)),
                _ => continue,
            };
            writeln!(s, "    let t{i} = {expr};").unwrap();
        }
        // Distinct output elements (a tuple may not repeat one).
        let mut outs: Vec<usize> = Vec::new();
        for o in &self.outputs {
            if !outs.contains(&o.0) {
                outs.push(o.0);
            }
        }
        let tuple: Vec<String> = outs.iter().map(|&i| name_of(i)).collect();
        let tuple = if tuple.len() == 1 { format!("({},)", tuple[0]) } else { format!("({})", tuple.join(", ")) };
        writeln!(s, "    let outputs = match {tuple}").unwrap();
        writeln!(s, "        .new_inputs()").unwrap();
        for f in &feed {
            writeln!(s, "        .next({f})").unwrap();
        }
        writeln!(s, "        .done()").unwrap();
        writeln!(s, "        .eval(bn254_modulus()) {{").unwrap();
        writeln!(s, "        Result::Ok(outputs) => outputs,").unwrap();
        writeln!(s, "        Result::Err(_) => core::panic_with_felt252('circuit: no inverse'),").unwrap();
        writeln!(s, "    }};").unwrap();
        writeln!(s, "    array![").unwrap();
        for o in &self.outputs {
            writeln!(s, "        outputs.get_output({}),", name_of(o.0)).unwrap();
        }
        writeln!(s, "    ]").unwrap();
        writeln!(s, "}}").unwrap();
        s
    }
}
