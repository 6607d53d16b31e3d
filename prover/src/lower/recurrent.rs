//! Recurrent layers, LSTM and GRU, unrolled over their fixed sequence length. A step is ONNX's
//! equations written with what the builder already proves: the input sequence times the input
//! weights is one matmul for every step and gate at once; the previous hidden state times the
//! recurrence weights is one matmul a step; the gate functions are lookup tables (gates that use
//! the same function share one); the gate products are elementwise products of two activations.
//! A missing initial state is zero, so the first step's recurrence terms fold away.

use super::{Builder, FTensor, Func, LowerError, UnaryFn, Value, numel, strides};

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Cell {
    Lstm,
    Gru,
}

impl Cell {
    /// Gate blocks in W and R: LSTM's i, o, f, c; GRU's z, r, h.
    fn gates(self) -> usize {
        match self {
            Cell::Lstm => 4,
            Cell::Gru => 3,
        }
    }

    /// ONNX's default `activations` for one direction: LSTM's f, g, h; GRU's f, g.
    fn default_functions(self) -> &'static [&'static str] {
        match self {
            Cell::Lstm => &["Sigmoid", "Tanh", "Tanh"],
            Cell::Gru => &["Sigmoid", "Tanh"],
        }
    }
}

/// A gate function that the `activations` attribute names.
#[derive(Clone, Debug)]
enum Activation {
    /// A lookup (or a ReLU).
    Func(Func),
    /// `α·x + β`.
    Affine { alpha: f64, beta: f64 },
    /// `α·tanh(β·x)`.
    ScaledTanh { alpha: f64, beta: f64 },
    /// `x` for `x ≥ 0`, `α·x` below.
    LeakyRelu { alpha: f64 },
}

impl Activation {
    /// The function `name` names; its α and β are taken from the attribute lists in order, by the
    /// functions that have them (as onnxruntime reads them), or are the operator's defaults.
    fn parse(
        name: &str,
        alphas: &mut impl Iterator<Item = f64>,
        betas: &mut impl Iterator<Item = f64>,
    ) -> Result<Activation, String> {
        let table = |g| Activation::Func(Func::Table(g));
        Ok(match name.to_ascii_lowercase().as_str() {
            "sigmoid" => table(UnaryFn::Sigmoid),
            "tanh" => table(UnaryFn::Tanh),
            "relu" => Activation::Func(Func::Relu),
            "softsign" => table(UnaryFn::Softsign),
            "softplus" => table(UnaryFn::Softplus),
            "hardsigmoid" => {
                table(UnaryFn::HardSigmoid { alpha: alphas.next().unwrap_or(0.2), beta: betas.next().unwrap_or(0.5) })
            }
            "elu" => table(UnaryFn::Elu { alpha: alphas.next().unwrap_or(1.0) }),
            "leakyrelu" => Activation::LeakyRelu { alpha: alphas.next().unwrap_or(0.01) },
            "affine" => Activation::Affine { alpha: alphas.next().unwrap_or(1.0), beta: betas.next().unwrap_or(0.0) },
            "scaledtanh" => {
                Activation::ScaledTanh { alpha: alphas.next().unwrap_or(1.0), beta: betas.next().unwrap_or(1.0) }
            }
            _ => {
                return Err(format!(
                    "activation {name:?} is not supported (Sigmoid, Tanh, Relu, Softsign, Softplus, HardSigmoid, Elu, \
                     LeakyRelu, Affine, ScaledTanh are)"
                ));
            }
        })
    }
}

/// What one direction of the layer reads: its weights transposed for `x·Wᵀ`, its biases, its
/// initial state and its peepholes.
struct Direction {
    reverse: bool,
    wt: FTensor,
    rt: FTensor,
    /// `Wb + Rb` per gate, except GRU's `Rbh` under `linear_before_reset` (kept in `rbh`).
    bias: FTensor,
    /// GRU's `Rbh` when `linear_before_reset` (zero without B); `None` otherwise.
    rbh: Option<FTensor>,
    h0: Option<Value>,
    c0: Option<Value>,
    /// LSTM's peepholes i, o, f (each `[hidden]`).
    peep: Option<[FTensor; 3]>,
    functions: Vec<Activation>,
}

impl Builder<'_> {
    fn attr_strings(&self, name: &str) -> Result<Option<Vec<String>>, LowerError> {
        self.node.get_attr_opt_vec::<String>(name).map_err(|e| self.err(format!("attribute {name}: {e}")))
    }

    fn attr_floats(&self, name: &str) -> Result<Vec<f64>, LowerError> {
        let v = self.node.get_attr_opt_vec::<f32>(name).map_err(|e| self.err(format!("attribute {name}: {e}")))?;
        Ok(v.unwrap_or_default().into_iter().map(f64::from).collect())
    }

    /// Columns `[from, to)` of a 2-D value.
    fn columns(&mut self, v: &Value, from: usize, to: usize) -> Value {
        let (r, c) = (v.shape()[0], v.shape()[1]);
        let w = to - from;
        let map: Vec<Option<usize>> = (0..r * w).map(|o| Some(o / w * c + from + o % w)).collect();
        self.moved(v, &[r, w], &map)
    }

    fn activation(&mut self, v: Value, a: &Activation) -> Result<Value, LowerError> {
        match (a, v) {
            (Activation::Func(f), v) => self.func_of(v, f.clone()),
            (Activation::Affine { alpha, beta }, v) => self.affine(v, *alpha, *beta),
            (Activation::ScaledTanh { alpha, beta }, v) => {
                let x = self.affine(v, *beta, 0.0)?;
                let t = self.activation(x, &Activation::Func(Func::Table(UnaryFn::Tanh)))?;
                self.affine(t, *alpha, 0.0)
            }
            (Activation::LeakyRelu { alpha }, v) => self.leaky(v, &FTensor::scalar(*alpha)),
        }
    }

    /// A gate's pre-activation, clipped to `[−clip, clip]` when the layer asks for it, through
    /// its function.
    fn gate(&mut self, z: Value, clip: Option<f64>, f: &Activation) -> Result<Value, LowerError> {
        let z = match clip {
            Some(c) => self.activation(z, &Activation::Func(Func::Clip { lo: -c, hi: c }))?,
            None => z,
        };
        self.activation(z, f)
    }

    /// `a + b`, where a missing `b` is zero.
    fn plus(&mut self, a: Value, b: Option<Value>) -> Result<Value, LowerError> {
        match b {
            Some(b) => self.add_values(a, b),
            None => Ok(a),
        }
    }

    /// The `[batch, hidden]` slice of direction `d` of an initial state (`[dirs, batch, hidden]`,
    /// or `[batch, dirs, hidden]` under layout 1).
    fn initial_state(&mut self, v: &Value, d: usize, dims: [usize; 3], batch_first: bool) -> Value {
        let [dirs, batch, hidden] = dims;
        let map: Vec<Option<usize>> = (0..batch * hidden)
            .map(|o| {
                let (b, k) = (o / hidden, o % hidden);
                Some(if batch_first { (b * dirs + d) * hidden + k } else { (d * batch + b) * hidden + k })
            })
            .collect();
        self.moved(v, &[batch, hidden], &map)
    }

    /// LSTM and GRU: every input, attribute and output of the ONNX operator, for a fixed
    /// sequence length.
    pub(super) fn recurrent(&mut self, cell: Cell) -> Result<Vec<Value>, LowerError> {
        let g = cell.gates();
        let w = self.const_input(1, "W")?;
        let r = self.const_input(2, "R")?;
        if w.shape.len() != 3 || r.shape.len() != 3 {
            return Err(self.err(format!("W and R must be 3-D; their shapes are {:?} and {:?}", w.shape, r.shape)));
        }
        let (dirs, gh, input_size) = (w.shape[0], w.shape[1], w.shape[2]);
        let hidden = gh / g;
        if gh != g * hidden || hidden == 0 || r.shape != [dirs, gh, hidden] {
            return Err(
                self.err(format!("W {:?} and R {:?} do not hold {g} gates of one hidden size", w.shape, r.shape))
            );
        }
        if let Some(h) = self.attr_i("hidden_size")?
            && h as usize != hidden
        {
            return Err(self.err(format!("hidden_size is {h} but W and R have {hidden}")));
        }
        let direction = self.attr_s("direction")?.unwrap_or_else(|| "forward".into());
        let passes: &[bool] = match direction.as_str() {
            "forward" => &[false],
            "reverse" => &[true],
            "bidirectional" => &[false, true],
            other => return Err(self.err(format!("direction {other:?} is not forward, reverse or bidirectional"))),
        };
        if passes.len() != dirs {
            return Err(
                self.err(format!("direction {direction} needs {} directions in W; it has {dirs}", passes.len()))
            );
        }
        let batch_first = match self.attr_i("layout")?.unwrap_or(0) {
            0 => false,
            1 => true,
            l => return Err(self.err(format!("layout {l} is not 0 or 1"))),
        };
        let x = self.input(0)?;
        let xs = x.shape().to_vec();
        if xs.len() != 3 || xs[2] != input_size {
            return Err(self.err(format!("X has shape {xs:?}; a 3-D sequence of {input_size} features is expected")));
        }
        let (seq, batch) = if batch_first { (xs[1], xs[0]) } else { (xs[0], xs[1]) };
        if seq == 0 || batch == 0 {
            return Err(self.err(format!("X has shape {xs:?}: an empty sequence or batch")));
        }
        if let Some(lens) = self.opt_input(4)? {
            let Value::Const(lens) = lens else {
                return Err(self.err("sequence_lens must be a constant of the model"));
            };
            if lens.data.iter().any(|&l| l as usize != seq) {
                return Err(self.err(format!(
                    "sequence_lens {:?} is shorter than the sequence ({seq}): padded sequences are not supported",
                    lens.data
                )));
            }
        }
        let clip = match self.attr_f("clip")? {
            Some(c) if c > 0.0 => Some(c as f64),
            Some(c) => return Err(self.err(format!("clip {c} is not positive"))),
            None => None,
        };
        // Coupled gates: the spec does not write out their equations, and neither reference we
        // test against (tract, the onnx package's evaluator) reads the attribute.
        if cell == Cell::Lstm && self.attr_i("input_forget")?.unwrap_or(0) != 0 {
            return Err(self.err("input_forget = 1 (coupled input and forget gates) is not supported"));
        }
        let linear_before_reset = cell == Cell::Gru && self.attr_i("linear_before_reset")?.unwrap_or(0) != 0;
        let names = self.attr_strings("activations")?;
        let per_dir = cell.default_functions().len();
        let names: Vec<String> = match names {
            Some(n) if n.len() == per_dir * dirs => n,
            Some(n) => {
                return Err(self.err(format!(
                    "activations names {} functions; {} expected ({per_dir} per direction)",
                    n.len(),
                    per_dir * dirs
                )));
            }
            None => (0..dirs).flat_map(|_| cell.default_functions().iter().map(|s| s.to_string())).collect(),
        };
        let (alphas, betas) = (self.attr_floats("activation_alpha")?, self.attr_floats("activation_beta")?);
        let (mut alphas, mut betas) = (alphas.into_iter(), betas.into_iter());
        let functions: Vec<Activation> = names
            .iter()
            .map(|n| Activation::parse(n, &mut alphas, &mut betas))
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))?;
        let bias = match self.opt_input(3)? {
            None => None,
            Some(Value::Const(b)) if b.shape == [dirs, 2 * gh] => Some(b),
            Some(b) => {
                return Err(self.err(format!(
                    "B must be a constant of shape {:?}; it is {:?}",
                    [dirs, 2 * gh],
                    b.shape()
                )));
            }
        };
        let state_shape = if batch_first { vec![batch, dirs, hidden] } else { vec![dirs, batch, hidden] };
        let state = |b: &Self, i: usize, what: &str| -> Result<Option<Value>, LowerError> {
            match b.opt_input(i)? {
                Some(v) if v.shape() != state_shape => {
                    Err(b.err(format!("{what} has shape {:?}; {state_shape:?} expected", v.shape())))
                }
                v => Ok(v),
            }
        };
        let h0 = state(self, 5, "initial_h")?;
        let (c0, peep) = match cell {
            Cell::Lstm => {
                let c0 = state(self, 6, "initial_c")?;
                let peep = match self.opt_input(7)? {
                    None => None,
                    Some(Value::Const(p)) if p.shape == [dirs, 3 * hidden] => Some(p),
                    Some(p) => {
                        return Err(self.err(format!(
                            "P must be a constant of shape {:?}; it is {:?}",
                            [dirs, 3 * hidden],
                            p.shape()
                        )));
                    }
                };
                (c0, peep)
            }
            Cell::Gru => (None, None),
        };

        // X as [seq·batch, input], time-major.
        let x = if batch_first { self.transposed(x, &[1, 0, 2])? } else { x };
        let x = self.reshaped(x, &[seq * batch, input_size]);

        let mut ys = vec![];
        let mut finals = vec![];
        let zeros = vec![0.0; gh];
        for (d, &reverse) in passes.iter().enumerate() {
            let wd = FTensor {
                shape: vec![gh, input_size],
                data: w.data[d * gh * input_size..(d + 1) * gh * input_size].to_vec(),
            };
            let rd = FTensor { shape: vec![gh, hidden], data: r.data[d * gh * hidden..(d + 1) * gh * hidden].to_vec() };
            let (wb, rb) = match &bias {
                Some(b) => (&b.data[d * 2 * gh..d * 2 * gh + gh], &b.data[d * 2 * gh + gh..(d + 1) * 2 * gh]),
                None => (&zeros[..], &zeros[..]),
            };
            // Under linear_before_reset, Rbh is added inside the reset gate's product instead.
            let bsum =
                (0..gh).map(|k| wb[k] + if linear_before_reset && k >= 2 * hidden { 0.0 } else { rb[k] }).collect();
            let rbh = linear_before_reset.then(|| FTensor { shape: vec![hidden], data: rb[2 * hidden..].to_vec() });
            let dims = [dirs, batch, hidden];
            let dir = Direction {
                reverse,
                wt: Self::transpose_const(&wd),
                rt: Self::transpose_const(&rd),
                bias: FTensor { shape: vec![gh], data: bsum },
                rbh,
                h0: h0.as_ref().map(|v| self.initial_state(v, d, dims, batch_first)),
                c0: c0.as_ref().map(|v| self.initial_state(v, d, dims, batch_first)),
                peep: peep.as_ref().map(|p| {
                    let block = |k: usize| (d * 3 + k) * hidden;
                    [0, 1, 2].map(|k| FTensor { shape: vec![hidden], data: p.data[block(k)..block(k + 1)].to_vec() })
                }),
                functions: functions[d * per_dir..(d + 1) * per_dir].to_vec(),
            };
            let (hs, h, c) = self.unroll(cell, &dir, &x, seq, batch, hidden, clip)?;
            ys.push(hs);
            finals.push((h, c));
        }

        // Y: [seq, dirs, batch, hidden] (layout 1: [batch, seq, dirs, hidden]); Y_h and Y_c:
        // [dirs, batch, hidden] (layout 1: [batch, dirs, hidden]).
        let y_shape = if batch_first { vec![batch, seq, dirs, hidden] } else { vec![seq, dirs, batch, hidden] };
        let ys_strides = strides(&y_shape);
        let mut parts = vec![];
        for (d, hs) in ys.into_iter().enumerate() {
            for (t, h) in hs.into_iter().enumerate() {
                let mut map = vec![None; numel(&y_shape)];
                for i in 0..batch * hidden {
                    let (b, k) = (i / hidden, i % hidden);
                    let at = if batch_first { [b, t, d, k] } else { [t, d, b, k] };
                    map[at.iter().zip(&ys_strides).map(|(a, s)| a * s).sum::<usize>()] = Some(i);
                }
                parts.push((h, map));
            }
        }
        let wanted = |i: usize| self.node.output.get(i).is_some_and(|n| !n.is_empty());
        let unused = || Value::Const(FTensor::scalar(0.0));
        let y = if wanted(0) { self.assemble(parts, &y_shape)? } else { unused() };
        let mut outs = vec![y];
        let state_strides = strides(&state_shape);
        for which in 0..if cell == Cell::Lstm { 2 } else { 1 } {
            if !wanted(1 + which) {
                outs.push(unused());
                continue;
            }
            let mut parts = vec![];
            for (d, (h, c)) in finals.iter().enumerate() {
                let v = if which == 0 { h.clone() } else { c.clone().expect("an LSTM has a cell state") };
                let mut map = vec![None; numel(&state_shape)];
                for i in 0..batch * hidden {
                    let (b, k) = (i / hidden, i % hidden);
                    let at = if batch_first { [b, d, k] } else { [d, b, k] };
                    map[at.iter().zip(&state_strides).map(|(a, s)| a * s).sum::<usize>()] = Some(i);
                }
                parts.push((v, map));
            }
            outs.push(self.assemble(parts, &state_shape)?);
        }
        Ok(outs)
    }

    /// One direction over the sequence: the hidden state at each time (in time order), and the
    /// final hidden and (LSTM) cell states.
    #[allow(clippy::too_many_arguments)]
    fn unroll(
        &mut self,
        cell: Cell,
        dir: &Direction,
        x: &Value,
        seq: usize,
        batch: usize,
        hidden: usize,
        clip: Option<f64>,
    ) -> Result<(Vec<Value>, Value, Option<Value>), LowerError> {
        let gh = cell.gates() * hidden;
        let xw = self.product(x.clone(), Value::Const(dir.wt.clone()))?;
        let xw = self.add_values(xw, Value::Const(dir.bias.clone()))?;
        let (mut h, mut c) = (dir.h0.clone(), dir.c0.clone());
        let mut hs: Vec<Option<Value>> = vec![None; seq];
        let f = &dir.functions;
        for step in 0..seq {
            let t = if dir.reverse { seq - 1 - step } else { step };
            let map: Vec<Option<usize>> = (0..batch * gh).map(|o| Some(t * batch * gh + o)).collect();
            let zx = self.moved(&xw, &[batch, gh], &map);
            let next = match cell {
                Cell::Lstm => {
                    let hr = match &h {
                        Some(h) => Some(self.product(h.clone(), Value::Const(dir.rt.clone()))?),
                        None => None,
                    };
                    let z = self.plus(zx, hr)?;
                    // Peephole terms P ⊙ C of the previous cell state (the output gate's reads
                    // the new one).
                    let peep = |b: &mut Self, k: usize, c: &Option<Value>| -> Result<Option<Value>, LowerError> {
                        match (&dir.peep, c) {
                            (Some(p), Some(c)) => b.mul_values(Value::Const(p[k].clone()), c.clone()).map(Some),
                            _ => Ok(None),
                        }
                    };
                    let (i, o, fg) = if dir.peep.is_none() {
                        // i, o, f are the first three blocks: one lookup for the three.
                        let zs = self.columns(&z, 0, 3 * hidden);
                        let s = self.gate(zs, clip, &f[0])?;
                        (
                            self.columns(&s, 0, hidden),
                            Some(self.columns(&s, hidden, 2 * hidden)),
                            self.columns(&s, 2 * hidden, 3 * hidden),
                        )
                    } else {
                        let zi = self.columns(&z, 0, hidden);
                        let pi = peep(self, 0, &c)?;
                        let zi = self.plus(zi, pi)?;
                        let i = self.gate(zi, clip, &f[0])?;
                        let zf = self.columns(&z, 2 * hidden, 3 * hidden);
                        let pf = peep(self, 2, &c)?;
                        let zf = self.plus(zf, pf)?;
                        let fg = self.gate(zf, clip, &f[0])?;
                        (i, None, fg)
                    };
                    let zc = self.columns(&z, 3 * hidden, 4 * hidden);
                    let cand = self.gate(zc, clip, &f[1])?;
                    let ic = self.mul_values(i, cand)?;
                    let fc = match &c {
                        Some(c) => Some(self.mul_values(fg, c.clone())?),
                        None => None,
                    };
                    let c_new = self.plus(ic, fc)?;
                    let o = match o {
                        Some(o) => o,
                        None => {
                            let zo = self.columns(&z, hidden, 2 * hidden);
                            let po = peep(self, 1, &Some(c_new.clone()))?;
                            let zo = self.plus(zo, po)?;
                            self.gate(zo, clip, &f[0])?
                        }
                    };
                    let hc = self.activation(c_new.clone(), &f[2])?;
                    c = Some(c_new);
                    self.mul_values(o, hc)?
                }
                Cell::Gru => {
                    let zr_x = self.columns(&zx, 0, 2 * hidden);
                    let zh_x = self.columns(&zx, 2 * hidden, 3 * hidden);
                    // H·Rᵀ for z and r, and for h under linear_before_reset.
                    let width = if dir.rbh.is_some() { 3 * hidden } else { 2 * hidden };
                    let hr = match &h {
                        Some(h) => {
                            let rt = FTensor {
                                shape: vec![hidden, width],
                                data: (0..hidden * width).map(|o| dir.rt.data[o / width * gh + o % width]).collect(),
                            };
                            Some(self.product(h.clone(), Value::Const(rt))?)
                        }
                        None => None,
                    };
                    let hr_zr = hr.as_ref().map(|v| self.columns(v, 0, 2 * hidden));
                    let zr = self.plus(zr_x, hr_zr)?;
                    let s = self.gate(zr, clip, &f[0])?;
                    let (zg, rg) = (self.columns(&s, 0, hidden), self.columns(&s, hidden, 2 * hidden));
                    let zh = match &dir.rbh {
                        // g(Xt·Whᵀ + rt ⊙ (Ht−1·Rhᵀ + Rbh) + Wbh)
                        Some(rbh) => {
                            let hh = hr.as_ref().map(|v| self.columns(v, 2 * hidden, 3 * hidden));
                            let hh = self.plus(Value::Const(rbh.clone()), hh)?;
                            let rh = self.mul_values(rg, hh)?;
                            self.add_values(zh_x, rh)?
                        }
                        // g(Xt·Whᵀ + (rt ⊙ Ht−1)·Rhᵀ + Rbh + Wbh)
                        None => match &h {
                            Some(h) => {
                                let rh = self.mul_values(rg, h.clone())?;
                                let rht = FTensor {
                                    shape: vec![hidden, hidden],
                                    data: (0..hidden * hidden)
                                        .map(|o| dir.rt.data[o / hidden * gh + 2 * hidden + o % hidden])
                                        .collect(),
                                };
                                let p = self.product(rh, Value::Const(rht))?;
                                self.add_values(zh_x, p)?
                            }
                            None => zh_x,
                        },
                    };
                    let cand = self.gate(zh, clip, &f[1])?;
                    // (1 − z) ⊙ h̃ + z ⊙ Ht−1
                    let omz = self.affine(zg.clone(), -1.0, 1.0)?;
                    let keep = self.mul_values(omz, cand)?;
                    let carry = match &h {
                        Some(h) => Some(self.mul_values(zg, h.clone())?),
                        None => None,
                    };
                    self.plus(keep, carry)?
                }
            };
            hs[t] = Some(next.clone());
            h = Some(next);
        }
        let hs: Vec<Value> = hs.into_iter().map(|v| v.expect("every step ran")).collect();
        let h = h.ok_or_else(|| self.err("the sequence is empty"))?;
        Ok((hs, h, c))
    }
}
