//! Calibration and quantization: the float program becomes the quantized graph (fixed point,
//! power-of-two scales), which `execute` runs on integers to produce the trace the prover proves.
//!
//! A value `v` at scale `s` is the integer `round(v·2^s)`. Products add scales; every
//! materialization requantizes `z + 2^(k−1) = 2^k·q + r` (`r` split into limbs of at most
//! `lookup_bits` bits) and sends `q` through a lookup table (signed range, ReLU or Clip).

#![warn(missing_docs)]

use serde::{Deserialize, Serialize};

use crate::ir::{
    FloatProgram, Func, Kind, Lookup, Node, NodeId, Overflow, QStep, QuantGraph, Requant, Role, SegId, Segment, Step,
    Trace, Visibility, eval_node, log_len, padded_positions, place,
};
use crate::lookup::{Table, TableKind};

/// Slot width of a quantized input value (signed): calibration puts the largest sample at
/// `2^(lookup_bits − 2)`, so this leaves 8× headroom or more.
pub const INPUT_BITS: u32 = 16;

/// How a model is quantized (`zkml compile`'s options).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct QuantConfig {
    /// Signed activations live in `[−2^(b−1), 2^(b−1))`; calibration aims at a quarter of it.
    pub lookup_bits: u32,
    /// Bits of a quantized weight (signed).
    pub weight_bits: u32,
    /// What a wrapped proof reveals of the input.
    pub input_visibility: Visibility,
    /// What a wrapped proof reveals of the output (not `Private`).
    pub output_visibility: Visibility,
}

impl Default for QuantConfig {
    fn default() -> Self {
        QuantConfig {
            lookup_bits: 12,
            weight_bits: 12,
            input_visibility: Visibility::Public,
            output_visibility: Visibility::Public,
        }
    }
}

/// Why a model cannot be quantized as asked.
#[derive(Debug, thiserror::Error)]
pub enum QuantError {
    /// `lookup_bits` outside 6..=14.
    #[error("--lookup-bits must be between 6 and 14 (got {0})")]
    LookupBits(u32),
    /// `weight_bits` outside 2..=24.
    #[error("--weight-bits must be between 2 and 24 (got {0})")]
    WeightBits(u32),
    /// A constant too large for the scale its use needs (the node's ONNX name).
    #[error("constant of node {0:?} is too large to quantize at the scale its use requires")]
    ConstRange(String),
    /// A sum of terms whose scales differ too much (the node's ONNX name).
    #[error("node {0:?} combines scales too far apart")]
    ScaleGap(String),
    /// No calibration input.
    #[error("calibration needs at least one input")]
    NoSamples,
    /// An output that depends on the padding, which the layout cannot fix.
    #[error(
        "the model output depends on padding values (a Clip above zero feeding a product of activations): not supported yet"
    )]
    OutputPadding,
    /// `output_visibility` private, refused.
    #[error(
        "--output-visibility private is refused: a wrapped proof would then say nothing about the output (only that the model \
         produced some output), so no verifier could rely on the result. Use --output-visibility hashed: the proof then \
         publishes a salted Poseidon commitment to the output and reveals nothing else"
    )]
    PrivateOutput,
}

impl QuantConfig {
    /// Refuses settings no model can be compiled with; `quantize` and `pipeline::compile` call it
    /// first.
    pub fn check(&self) -> Result<(), QuantError> {
        if !(6..=14).contains(&self.lookup_bits) {
            return Err(QuantError::LookupBits(self.lookup_bits));
        }
        if !(2..=24).contains(&self.weight_bits) {
            return Err(QuantError::WeightBits(self.weight_bits));
        }
        if self.output_visibility == Visibility::Private {
            return Err(QuantError::PrivateOutput);
        }
        Ok(())
    }
}

/// Why an input cannot be run through the quantized model.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// An input of another length than the model's.
    #[error("the input has {got} values; the model expects {expected} (shape {shape:?})")]
    InputLength {
        /// Its values.
        got: usize,
        /// The model's input values.
        expected: usize,
        /// The model's input shape.
        shape: Vec<usize>,
    },
    /// NaN or an infinity.
    #[error("input value {value} is not a finite number")]
    InputValue {
        /// The value.
        value: f64,
    },
    /// A value too large for the input's slots at its scale.
    #[error(
        "input value {value} does not fit {INPUT_BITS} bits at scale 2^{scale}: the input is far outside the calibration range"
    )]
    InputRange {
        /// The value.
        value: f64,
        /// The input's scale.
        scale: i32,
    },
    /// Integer overflow in a node.
    #[error(transparent)]
    Overflow(#[from] Overflow),
    /// An intermediate tensor outside its table's domain: the input is outside what calibration
    /// covered.
    #[error(
        "values of tensor {tensor:?} (node {node:?}) range over [{min}, {max}] but the quantized range (--lookup-bits) allows [{lo}, {hi}]; \
         calibrate on inputs that cover this range or compile with a larger --lookup-bits"
    )]
    OutOfRange {
        /// The tensor.
        tensor: String,
        /// Its ONNX node.
        node: String,
        /// Its smallest value.
        min: i64,
        /// Its largest value.
        max: i64,
        /// The smallest allowed.
        lo: i64,
        /// The largest allowed.
        hi: i64,
    },
}

/// Float statistics of a program on sample inputs.
pub struct Calibration {
    /// The largest |input value|.
    pub input_max: f64,
    /// Each materialization's largest |z| (what it rescales).
    pub z_max: Vec<f64>,
    /// Each materialization's largest |f(z)| (the output range of a function table).
    pub y_max: Vec<f64>,
    /// Float outputs of the program for each sample (logical order).
    pub outputs: Vec<Vec<f64>>,
}

/// Runs the float program; returns the output and each materialization's max |z| and max |f(z)|.
pub fn run_float(p: &FloatProgram, input: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut nodes: Vec<Vec<f64>> = Vec::with_capacity(p.nodes.len());
    let mut segs: Vec<Vec<f64>> = p.seg_shape.iter().map(|s| vec![0.0; 1 << log_len(s)]).collect();
    for (pos, &x) in padded_positions(&p.input_shape).into_iter().zip(input) {
        segs[0][pos] = x;
    }
    let mut z_max = vec![0.0f64; p.materials.len()];
    let mut y_max = vec![0.0f64; p.materials.len()];
    for step in &p.steps {
        match *step {
            Step::Eval(id) => {
                let v = eval_node(&p.nodes[id], &nodes, &segs).expect("float arithmetic does not overflow");
                nodes.push(v);
            }
            Step::Materialize(m) => {
                let mat = &p.materials[m];
                let z = &nodes[mat.z];
                z_max[m] = z.iter().fold(0.0f64, |a, x| a.max(x.abs()));
                segs[mat.seg] = z.iter().map(|&x| mat.func.apply(x)).collect();
                // Over the logical positions only: a padded zero may map to ±∞ (log, reciprocal).
                let y = &segs[mat.seg];
                y_max[m] = padded_positions(&p.seg_shape[mat.seg])
                    .into_iter()
                    .map(|i| y[i].abs())
                    .filter(|v| v.is_finite())
                    .fold(0.0, f64::max);
            }
        }
    }
    let out = padded_positions(&p.output_shape).into_iter().map(|i| segs[p.output][i]).collect();
    (out, z_max, y_max)
}

/// Runs the float program on every sample and gathers the ranges quantization scales by.
pub fn calibrate(p: &FloatProgram, samples: &[Vec<f64>]) -> Result<Calibration, QuantError> {
    if samples.is_empty() {
        return Err(QuantError::NoSamples);
    }
    let mut cal = Calibration {
        input_max: 0.0,
        z_max: vec![0.0; p.materials.len()],
        y_max: vec![0.0; p.materials.len()],
        outputs: vec![],
    };
    for s in samples {
        cal.input_max = s.iter().fold(cal.input_max, |a, x| a.max(x.abs()));
        let (out, zm, ym) = run_float(p, s);
        for (a, b) in cal.z_max.iter_mut().zip(zm) {
            *a = a.max(b);
        }
        for (a, b) in cal.y_max.iter_mut().zip(ym) {
            *a = a.max(b);
        }
        cal.outputs.push(out);
    }
    Ok(cal)
}

/// The scale that puts `max` at a quarter of the signed lookup range.
fn activation_scale(max: f64, lookup_bits: u32) -> i32 {
    if max <= 0.0 || !max.is_finite() {
        return lookup_bits as i32 - 2;
    }
    (libm::log2((1u64 << (lookup_bits - 2)) as f64 / max).floor() as i32).clamp(-24, 30)
}

fn magnitude_scale(max: f64, bits: u32) -> i32 {
    if max <= 0.0 || !max.is_finite() {
        return 0;
    }
    (libm::log2(((1u64 << (bits - 1)) - 1) as f64 / max).floor() as i32).clamp(-24, 30)
}

/// `2^k`, exactly (`f64::powi` does not promise to be exact, nor the same everywhere).
pub fn pow2(k: i32) -> f64 {
    libm::scalbn(1.0, k)
}

fn quant(v: f64, s: i32) -> Option<i64> {
    let x = (v * pow2(s)).round();
    (x.abs() < pow2(62)).then_some(x as i64)
}

struct Quantizer<'a> {
    p: &'a FloatProgram,
    cfg: QuantConfig,
    nodes: Vec<Node<i64>>,
    scale: Vec<i32>,
    /// Whether a node is zero at every padded position, whatever the input.
    pad_zero: Vec<bool>,
    segments: Vec<Segment>,
    segmap: Vec<SegId>,
    steps: Vec<QStep>,
    requants: Vec<Requant>,
    lookups: Vec<Lookup>,
    tables: Vec<Table>,
}

/// The quantized graph of a float program, at the scales its calibration gives.
pub fn quantize(p: &FloatProgram, cal: &Calibration, cfg: QuantConfig) -> Result<QuantGraph, QuantError> {
    cfg.check()?;
    let input_scale = activation_scale(cal.input_max, cfg.lookup_bits);
    let mut q = Quantizer {
        p,
        cfg,
        nodes: Vec::with_capacity(p.nodes.len()),
        scale: Vec::with_capacity(p.nodes.len()),
        pad_zero: Vec::with_capacity(p.nodes.len()),
        segments: vec![Segment {
            name: p.seg_origin[0].clone(),
            role: Role::Input,
            log_len: log_len(&p.seg_shape[0]),
            shape: p.seg_shape[0].clone(),
            pad: Some(0),
            bits: INPUT_BITS,
            signed: true,
            scale: input_scale,
        }],
        segmap: vec![0; p.seg_shape.len()],
        steps: vec![],
        requants: vec![],
        lookups: vec![],
        tables: vec![],
    };
    for step in &p.steps {
        match *step {
            Step::Eval(id) => q.eval(id)?,
            Step::Materialize(m) => q.materialize(m, cal.z_max[m], cal.y_max[m]),
        }
    }
    let output = q.segmap[p.output];
    q.segments[output].role = Role::Output;
    if q.segments[output].pad.is_none() {
        return Err(QuantError::OutputPadding);
    }
    // One multiplicity segment per table, wide enough for every lookup into it.
    let mut table_mults = vec![];
    for (t, table) in q.tables.iter().enumerate() {
        let count: usize = q.lookups.iter().filter(|l| l.table == t).map(|l| q.segments[l.input].len()).sum();
        // Exactly wide enough for the largest possible count: a larger multiplicity cannot be sent.
        let bits = (usize::BITS - count.leading_zeros()).max(1);
        q.segments.push(Segment {
            name: format!("multiplicities of table {t} ({:?}, {} bits)", table.kind, table.bits),
            role: Role::Multiplicity,
            log_len: table.bits,
            shape: vec![table.len()],
            pad: None,
            bits,
            signed: false,
            scale: 0,
        });
        table_mults.push(q.segments.len() - 1);
    }
    Ok(QuantGraph {
        nodes: q.nodes,
        steps: q.steps,
        requants: q.requants,
        lookups: q.lookups,
        tables: q.tables,
        table_mults,
        segments: q.segments,
        input: 0,
        output,
        input_shape: p.input_shape.clone(),
        output_shape: p.output_shape.clone(),
        lookup_bits: cfg.lookup_bits,
        ops: p.ops.clone(),
        input_visibility: cfg.input_visibility,
        output_visibility: cfg.output_visibility,
    })
}

impl Quantizer<'_> {
    fn push(&mut self, id: NodeId, kind: Kind<i64>, scale: i32) {
        let f = &self.p.nodes[id];
        debug_assert_eq!(self.nodes.len(), id);
        let pad_zero = match &kind {
            Kind::Segment(s) => self.segments[*s].pad == Some(0),
            Kind::Const(_) | Kind::Sparse { .. } => true,
            Kind::Lin(t) => t.iter().all(|(n, _)| self.pad_zero[*n]),
            Kind::MatMul { l, r, .. } => self.pad_zero[*l] && self.pad_zero[*r],
            Kind::Hadamard(a, b) => self.pad_zero[*a] || self.pad_zero[*b],
        };
        self.nodes.push(Node { kind, log_len: f.log_len, origin: f.origin.clone() });
        self.scale.push(scale);
        self.pad_zero.push(pad_zero);
    }

    fn is_const(&self, id: NodeId) -> bool {
        matches!(self.p.nodes[id].kind, Kind::Const(_))
    }

    /// Constants are quantized when their consumer fixes the scale they need.
    fn set_const(&mut self, id: NodeId, scale: Option<i32>) -> Result<i32, QuantError> {
        let Kind::Const(v) = &self.p.nodes[id].kind else { unreachable!("only constants are set") };
        let max = v.iter().fold(0.0f64, |a, x| a.max(x.abs()));
        let s = scale.unwrap_or_else(|| magnitude_scale(max, self.cfg.weight_bits));
        let data = v
            .iter()
            .map(|&x| quant(x, s))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| QuantError::ConstRange(self.p.nodes[id].origin.clone()))?;
        self.nodes[id].kind = Kind::Const(data);
        self.scale[id] = s;
        Ok(s)
    }

    fn operand_scale(&mut self, id: NodeId) -> Result<i32, QuantError> {
        if self.is_const(id) { self.set_const(id, None) } else { Ok(self.scale[id]) }
    }

    fn eval(&mut self, id: NodeId) -> Result<(), QuantError> {
        let origin = &self.p.nodes[id].origin;
        match &self.p.nodes[id].kind {
            Kind::Segment(fs) => {
                let s = self.segmap[*fs];
                let scale = self.segments[s].scale;
                self.push(id, Kind::Segment(s), scale);
            }
            Kind::Const(_) => self.push(id, Kind::Const(vec![]), 0),
            Kind::Lin(terms) => {
                let scale =
                    terms.iter().filter(|(t, _)| !self.is_const(*t)).map(|(t, _)| self.scale[*t]).max().unwrap_or(0);
                let mut qt = vec![];
                for &(t, c) in terms {
                    let st = if self.is_const(t) { self.set_const(t, Some(scale))? } else { self.scale[t] };
                    let gap = (scale - st) as u32;
                    let coef = (gap < 40).then(|| c as i64 * (1i64 << gap)).filter(|_| c.fract() == 0.0);
                    qt.push((t, coef.ok_or_else(|| QuantError::ScaleGap(origin.clone()))?));
                }
                self.push(id, Kind::Lin(qt), scale);
            }
            &Kind::MatMul { l, r, a, b, c } => {
                let s = self.operand_scale(l)? + self.operand_scale(r)?;
                self.push(id, Kind::MatMul { l, r, a, b, c }, s);
            }
            Kind::Sparse { src, entries } => {
                let integral = entries.iter().all(|e| e.2.fract() == 0.0);
                let sc = if integral {
                    0
                } else {
                    let max = entries.iter().fold(0.0f64, |a, e| a.max(e.2.abs()));
                    let cap = magnitude_scale(max, self.cfg.weight_bits);
                    (0..=cap).find(|&s| entries.iter().all(|e| (e.2 * pow2(s)).fract() == 0.0)).unwrap_or(cap)
                };
                let qe = entries
                    .iter()
                    .map(|&(o, i, c)| quant(c, sc).map(|q| (o, i, q)))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| QuantError::ConstRange(origin.clone()))?;
                let s = self.scale[*src] + sc;
                self.push(id, Kind::Sparse { src: *src, entries: qe }, s);
            }
            &Kind::Hadamard(a, b) => {
                let s = self.operand_scale(a)? + self.operand_scale(b)?;
                self.push(id, Kind::Hadamard(a, b), s);
            }
        }
        self.steps.push(QStep::Eval(id));
        Ok(())
    }

    fn table(&mut self, kind: TableKind, bits: u32) -> usize {
        let t = Table { kind, bits };
        match self.tables.iter().position(|x| *x == t) {
            Some(i) => i,
            None => {
                self.tables.push(t);
                self.tables.len() - 1
            }
        }
    }

    /// An advice segment of `bits`-bit values: the packing slot is exactly that wide, which is
    /// the range check (decoding natively, bit decomposition in the wrap circuit).
    fn segment(
        &mut self,
        name: String,
        shape: &[usize],
        pad: Option<i64>,
        bits: u32,
        signed: bool,
        scale: i32,
    ) -> SegId {
        let log_len = log_len(shape);
        self.segments.push(Segment {
            name,
            role: Role::Advice,
            log_len,
            shape: shape.to_vec(),
            pad,
            bits,
            signed,
            scale,
        });
        self.segments.len() - 1
    }

    fn materialize(&mut self, m: usize, z_max: f64, y_max: f64) {
        let mat = &self.p.materials[m];
        let origin = self.p.seg_origin[mat.seg].clone();
        let node_origin = self.p.nodes[mat.z].origin.clone();
        let shape = self.p.seg_shape[mat.seg].clone();
        let z_pad_zero = self.pad_zero[mat.z];
        let bits = self.cfg.lookup_bits;
        let sz = self.scale[mat.z];
        // Exact values stay exact when they fit half the lookup range with room to spare;
        // otherwise (a max of operands of very different ranges) they are rounded like any other.
        let fits = z_max * pow2(sz) < (1u64 << (bits - 2)) as f64 * 2.0;
        let keep = mat.keep_scale && fits && !matches!(mat.func, Func::Table(_));
        let target = if keep { sz } else { sz.min(activation_scale(z_max, bits)) };
        let shift = (sz - target) as u32;
        let offset = if shift > 0 { 1i64 << (shift - 1) } else { 0 };
        // With z zero on the padding, each padded position requantizes `offset` alone.
        let pad = |v: i64| z_pad_zero.then_some(v);
        let q = self.segment(format!("{origin} (quotient)"), &shape, pad(offset >> shift), bits, true, target);
        let mut limbs = vec![];
        let mut done = 0;
        while done < shift {
            let w = (shift - done).min(bits);
            let limb_pad = (offset >> done) & ((1 << w) - 1);
            let seg = self.segment(
                format!("{origin} (remainder bits {done}..{})", done + w),
                &shape,
                pad(limb_pad),
                w,
                false,
                0,
            );
            limbs.push((seg, w));
            done += w;
        }
        self.requants.push(Requant { z: mat.z, offset, shift, q, limbs, origin: node_origin.clone() });
        self.steps.push(QStep::Requant(self.requants.len() - 1));
        let kind = match &mat.func {
            Func::Identity => None,
            Func::Relu => Some(TableKind::Relu),
            Func::Clip { lo, hi } => {
                let bound = |v: f64| quant(v, target).unwrap_or(if v > 0.0 { i64::MAX } else { i64::MIN });
                Some(TableKind::Clip { lo: bound(*lo), hi: bound(*hi) })
            }
            Func::Table(g) => {
                Some(TableKind::Func { g: *g, in_scale: target, out_scale: activation_scale(y_max, bits) })
            }
        };
        let out_scale = match &kind {
            Some(TableKind::Func { out_scale, .. }) => *out_scale,
            _ => target,
        };
        let out = kind.map(|kind| {
            let table = self.table(kind, bits);
            let t = self.tables[table].clone();
            let y = self.segment(origin.clone(), &shape, pad(t.f(offset >> shift)), bits, true, out_scale);
            self.lookups.push(Lookup { table, input: q, output: y, origin: node_origin });
            self.steps.push(QStep::Lookup(self.lookups.len() - 1));
            y
        });
        self.segmap[mat.seg] = out.unwrap_or(q);
    }
}

impl QuantGraph {
    /// The input's logical values.
    pub fn input_len(&self) -> usize {
        self.input_shape.iter().product()
    }

    /// The input as integers at its scale; refuses one of the wrong length, not finite, or
    /// outside the input's slots.
    pub fn quantize_input(&self, input: &[f64]) -> Result<Vec<i64>, ExecError> {
        if input.len() != self.input_len() {
            return Err(ExecError::InputLength {
                got: input.len(),
                expected: self.input_len(),
                shape: self.input_shape.clone(),
            });
        }
        let scale = self.segments[self.input].scale;
        input
            .iter()
            .map(|&v| {
                if !v.is_finite() {
                    return Err(ExecError::InputValue { value: v });
                }
                quant(v, scale)
                    .filter(|q| q.unsigned_abs() < 1 << (INPUT_BITS - 1))
                    .ok_or(ExecError::InputRange { value: v, scale })
            })
            .collect()
    }

    /// Logical output values (integers at the output scale).
    pub fn output_of(&self, seg_values: &[i64]) -> Vec<i64> {
        padded_positions(&self.output_shape).into_iter().map(|p| seg_values[p]).collect()
    }

    /// Output integers back to floats.
    pub fn dequantize_output(&self, q: &[i64]) -> Vec<f64> {
        self.dequantize(self.output, q)
    }

    /// Input integers back to floats.
    pub fn dequantize_input(&self, q: &[i64]) -> Vec<f64> {
        self.dequantize(self.input, q)
    }

    fn dequantize(&self, seg: SegId, q: &[i64]) -> Vec<f64> {
        let s = self.segments[seg].scale;
        q.iter().map(|&v| v as f64 * pow2(-s)).collect()
    }

    /// Runs the model on integers: every node's and segment's values, the trace the prover
    /// proves; refuses an input whose values leave the ranges calibration fixed.
    pub fn execute(&self, input: &[f64]) -> Result<Trace, ExecError> {
        let q_in = self.quantize_input(input)?;
        let mut segs: Vec<Vec<i64>> = self.segments.iter().map(|s| vec![0; s.len()]).collect();
        segs[self.input] = place(&self.input_shape, self.segments[self.input].log_len, q_in);
        let mut nodes: Vec<Vec<i64>> = Vec::with_capacity(self.nodes.len());
        for step in &self.steps {
            match *step {
                QStep::Eval(id) => nodes.push(eval_node(&self.nodes[id], &nodes, &segs)?),
                QStep::Requant(i) => {
                    let r = &self.requants[i];
                    let of = || Overflow { origin: r.origin.clone() };
                    let mut q = Vec::with_capacity(nodes[r.z].len());
                    let mut rem = vec![Vec::with_capacity(nodes[r.z].len()); r.limbs.len()];
                    for &z in &nodes[r.z] {
                        let v = z.checked_add(r.offset).ok_or_else(of)?;
                        q.push(v >> r.shift);
                        let mut rest = v & ((1i64 << r.shift) - 1);
                        for (limb, &(_, w)) in rem.iter_mut().zip(&r.limbs) {
                            limb.push(rest & ((1 << w) - 1));
                            rest >>= w;
                        }
                    }
                    let (min, max) = q.iter().fold((i64::MAX, i64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
                    let half = 1i64 << (self.lookup_bits - 1);
                    if min < -half || max >= half {
                        return Err(ExecError::OutOfRange {
                            tensor: self.segments[r.q].name.clone(),
                            node: r.origin.clone(),
                            min,
                            max,
                            lo: -half,
                            hi: half - 1,
                        });
                    }
                    segs[r.q] = q;
                    for (&(s, _), v) in r.limbs.iter().zip(rem) {
                        segs[s] = v;
                    }
                }
                QStep::Lookup(i) => {
                    let l = &self.lookups[i];
                    let t = &self.tables[l.table];
                    // Quotients were range-checked when requantized; the table spans that range.
                    let hits: Vec<usize> = segs[l.input].iter().map(|&x| t.index(x).expect("in range")).collect();
                    segs[l.output] = segs[l.input].iter().map(|&x| t.f(x)).collect();
                    let counts = &mut segs[self.table_mults[l.table]];
                    for i in hits {
                        counts[i] += 1;
                    }
                }
            }
        }
        Ok(Trace { nodes, segments: segs })
    }
}
