//! Resize: nearest, linear and cubic interpolation with every coordinate transformation mode,
//! antialias and tf_crop_and_resize, as fixed linear maps of the input.

use crate::onnx::FTensor;

use super::{Builder, LowerError, Value, numel, strides};

/// Resize's modes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Interpolation {
    Nearest,
    Linear,
    Cubic { a: f64, exclude_outside: bool },
}

impl Builder<'_> {
    /// Resize, `nearest` and `linear` modes at any scale, with every coordinate transformation
    /// but `tf_crop_and_resize`: each output element reads one input element (nearest: a
    /// gather) or a weighted sum of up to 2^rank neighbours (linear: a `Sparse` map whose weights
    /// are the products of each axis's two), indices clamped to the input as ONNX's edge padding
    /// does. Attributes that would change that (cubic, antialias, axes, a kept aspect ratio) are
    /// refused by name.
    pub(super) fn resize(&mut self) -> Result<Value, LowerError> {
        let v = self.input(0)?;
        let s = v.shape().to_vec();
        let mode = self.attr_s("mode")?.unwrap_or_else(|| "nearest".into());
        let interpolation = match mode.as_str() {
            "nearest" => Interpolation::Nearest,
            "linear" => Interpolation::Linear,
            "cubic" => Interpolation::Cubic {
                a: self.attr_f("cubic_coeff_a")?.map_or(-0.75, f64::from),
                exclude_outside: self.attr_i("exclude_outside")?.unwrap_or(0) != 0,
            },
            m => return Err(self.err(format!("mode {m:?} is not supported (nearest, linear and cubic are)"))),
        };
        let antialias = self.attr_i("antialias")?.unwrap_or(0) != 0;
        if antialias && interpolation == Interpolation::Nearest {
            return Err(self.err("attribute antialias applies to linear and cubic modes, not nearest"));
        }
        let axes: Vec<usize> = match self.attr_ints("axes")? {
            Some(a) => a.iter().map(|&x| self.axis(x, s.len())).collect::<Result<_, _>>()?,
            None => (0..s.len()).collect(),
        };
        let policy = self.attr_s("keep_aspect_ratio_policy")?.unwrap_or_else(|| "stretch".into());
        if !["stretch", "not_larger", "not_smaller"].contains(&policy.as_str()) {
            return Err(
                self.err(format!("keep_aspect_ratio_policy {policy:?} is not stretch, not_larger or not_smaller"))
            );
        }
        let default = if self.opset < 11 { "asymmetric" } else { "half_pixel" };
        let coord = self.attr_s("coordinate_transformation_mode")?.unwrap_or_else(|| default.into());
        let nearest = self.attr_s("nearest_mode")?.unwrap_or_else(|| "round_prefer_floor".into());
        // Opset 10: (X, scales); from 11: (X, roi, scales, sizes), an empty tensor for one not given.
        let floats = |i: usize| -> Result<Vec<f64>, LowerError> {
            match self.opt_input(i)? {
                Some(Value::Const(t)) => Ok(t.data),
                Some(Value::Act { .. }) => Err(self.err(format!("input #{i} must be a constant of the model"))),
                None => Ok(vec![]),
            }
        };
        let (scales, sizes) = if self.opset < 11 { (floats(1)?, vec![]) } else { (floats(2)?, floats(3)?) };
        // Scales or sizes given for `axes` only: the other axes keep theirs.
        let full = |given: Vec<f64>, keep: &dyn Fn(usize) -> f64| -> Result<Vec<f64>, LowerError> {
            if given.is_empty() {
                return Ok(given);
            }
            if given.len() != axes.len() {
                return Err(self.err(format!("{} scales or sizes for {} axes", given.len(), axes.len())));
            }
            let mut v: Vec<f64> = (0..s.len()).map(keep).collect();
            for (&d, g) in axes.iter().zip(given) {
                v[d] = g;
            }
            Ok(v)
        };
        let scales = full(scales, &|_| 1.0)?;
        let sizes = full(sizes, &|d| s[d] as f64)?;
        // tf_crop_and_resize's region: starts then ends, in units of the axis (default 0 and 1).
        let crop = coord == "tf_crop_and_resize";
        let roi = if crop && self.opset >= 11 { floats(1)? } else { vec![] };
        let (mut start, mut end) = (vec![0.0; s.len()], vec![1.0; s.len()]);
        if !roi.is_empty() {
            if roi.len() != 2 * axes.len() {
                return Err(self.err(format!("roi has {} values; {} expected", roi.len(), 2 * axes.len())));
            }
            for (k, &d) in axes.iter().enumerate() {
                (start[d], end[d]) = (roi[k], roi[axes.len() + k]);
            }
        }
        let (out, scale): (Vec<usize>, Vec<f64>) = if !sizes.is_empty() {
            if sizes.iter().any(|&x| x < 1.0) {
                return Err(self.err(format!("sizes {sizes:?} do not fit shape {s:?}")));
            }
            let ratio: Vec<f64> = sizes.iter().zip(&s).map(|(&o, &i)| o / i as f64).collect();
            if policy == "stretch" {
                (sizes.iter().map(|&x| x as usize).collect(), ratio)
            } else {
                // One scale for the listed axes, the smallest or largest ratio; sizes rounded
                // half up from it.
                let pick = axes.iter().map(|&d| ratio[d]);
                let k =
                    if policy == "not_larger" { pick.fold(f64::INFINITY, f64::min) } else { pick.fold(0.0, f64::max) };
                let scale: Vec<f64> = (0..s.len()).map(|d| if axes.contains(&d) { k } else { 1.0 }).collect();
                let out = (0..s.len())
                    .map(|d| if axes.contains(&d) { ((k * s[d] as f64) + 0.5).floor() as usize } else { s[d] })
                    .collect();
                (out, scale)
            }
        } else if scales.len() == s.len() && scales.iter().all(|&x| x > 0.0) {
            let len = |d: usize| (s[d] as f64 * (end[d] - start[d]) * scales[d]).floor() as usize;
            ((0..s.len()).map(|d| len(d).max(1)).collect(), scales)
        } else {
            return Err(self.err(format!("needs scales (one positive value per axis) or sizes; got {scales:?}")));
        };
        // Per axis and output coordinate: the input coordinate it samples (ONNX's formulas);
        // `None` outside the input, where tf_crop_and_resize writes its extrapolation value.
        let origin = |d: usize, x: usize| -> Result<Option<f64>, LowerError> {
            let (x, k, len_in, len_out) = (x as f64, scale[d], s[d] as f64, out[d] as f64);
            Ok(Some(match coord.as_str() {
                "half_pixel" => (x + 0.5) / k - 0.5,
                "half_pixel_symmetric" => {
                    let adjustment = len_out / (k * len_in);
                    len_in / 2.0 * (1.0 - adjustment) + (x + 0.5) / k - 0.5
                }
                "pytorch_half_pixel" if len_out > 1.0 => (x + 0.5) / k - 0.5,
                "pytorch_half_pixel" => 0.0,
                // The spec's length_resized is `scale·length_original`, fractional when scales
                // are given (as the onnx reference computes it; tract and onnxruntime use the
                // rounded output length).
                "align_corners" if k * len_in != 1.0 => x * (len_in - 1.0) / (k * len_in - 1.0),
                "align_corners" => 0.0,
                "asymmetric" => x / k,
                "tf_half_pixel_for_nn" => (x + 0.5) / k,
                "tf_crop_and_resize" => {
                    let (a, b) = (start[d], end[d]);
                    let o = if len_out > 1.0 {
                        a * (len_in - 1.0) + x * (b - a) * (len_in - 1.0) / (len_out - 1.0)
                    } else {
                        0.5 * (a + b) * (len_in - 1.0)
                    };
                    if o < 0.0 || o > len_in - 1.0 {
                        return Ok(None);
                    }
                    o
                }
                m => return Err(self.err(format!("coordinate_transformation_mode {m:?} is not supported"))),
            }))
        };
        let clamp = |d: usize, i: f64| i.clamp(0.0, (s[d] - 1) as f64) as usize;
        // Each axis's taps: (input index, weight) for every output coordinate.
        let mut taps: Vec<Vec<Vec<(usize, f64)>>> = vec![];
        for (d, &len_out) in out.iter().enumerate() {
            let mut axis = vec![];
            for x in 0..len_out {
                let Some(o) = origin(d, x)? else {
                    axis.push(vec![]);
                    continue;
                };
                axis.push(if interpolation != Interpolation::Nearest {
                    // The kernel (a triangle, or Keys' cubic with coefficient `a`) at the taps
                    // around `o`, as the onnx reference places them (an integer `o` is the right
                    // end of its interval); under antialias a downsampling axis widens it by
                    // 1/scale. Weights normalized; taps outside the input clamped to its edge,
                    // or with exclude_outside dropped.
                    let (kernel, radius, exclude_outside): (Box<dyn Fn(f64) -> f64>, f64, bool) = match interpolation {
                        Interpolation::Cubic { a, exclude_outside } => (
                            Box::new(move |t: f64| {
                                let t = t.abs();
                                if t <= 1.0 {
                                    ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0
                                } else if t < 2.0 {
                                    ((a * t - 5.0 * a) * t + 8.0 * a) * t - 4.0 * a
                                } else {
                                    0.0
                                }
                            }),
                            2.0,
                            exclude_outside,
                        ),
                        _ => (Box::new(|t: f64| (1.0 - t.abs()).max(0.0)), 1.0, false),
                    };
                    let sigma = if antialias { scale[d].min(1.0) } else { 1.0 };
                    let (lo, r) = if o.fract() == 0.0 { (o - 1.0, 1.0) } else { (o.floor(), o - o.floor()) };
                    let first = (-radius / sigma).floor() as i64 + 1;
                    let mut w: Vec<(f64, f64)> =
                        (first..2 - first).map(|i| (lo + i as f64, kernel(sigma * (i as f64 - r)))).collect();
                    if exclude_outside {
                        w.retain(|&(i, _)| i >= 0.0 && i < s[d] as f64);
                    }
                    let sum: f64 = w.iter().map(|t| t.1).sum();
                    w.into_iter().map(|(i, c)| (clamp(d, i), c / sum)).collect()
                } else {
                    let i = match nearest.as_str() {
                        "round_prefer_floor" if o.fract() == 0.5 => o.floor(),
                        "round_prefer_ceil" if o.fract() == 0.5 => o.ceil(),
                        "round_prefer_floor" | "round_prefer_ceil" => o.round(),
                        "floor" => o.floor(),
                        "ceil" => o.ceil(),
                        m => return Err(self.err(format!("nearest_mode {m:?} is not supported"))),
                    };
                    vec![(clamp(d, i), 1.0)]
                });
            }
            taps.push(axis);
        }
        // Outputs with no taps (outside a crop) get the extrapolation value.
        let extrapolation = self.attr_f("extrapolation_value")?.map_or(0.0, f64::from);
        let os = strides(&out);
        let outside = (0..numel(&out)).filter(|&o| (0..s.len()).any(|d| taps[d][o / os[d] % out[d]].is_empty()));
        let fill: Vec<usize> = if extrapolation != 0.0 { outside.collect() } else { vec![] };
        let resized = if interpolation == Interpolation::Nearest {
            let map = Self::coord_map(&out, &s, |d, x| taps[d][x].first().map(|t| t.0));
            self.moved(&v, &out, &map)
        } else {
            self.interpolated(v, &s, &out, &taps)?
        };
        if fill.is_empty() {
            return Ok(resized);
        }
        let mut c = vec![0.0; numel(&out)];
        fill.into_iter().for_each(|o| c[o] = extrapolation);
        self.add_values(resized, Value::Const(FTensor { shape: out, data: c }))
    }

    /// Each output of a linear or cubic Resize as its weighted sources: the products of each
    /// axis's taps, the weights of one source summed (clamping makes an edge tap repeat), zero
    /// weights dropped.
    pub(super) fn interpolated(
        &mut self,
        v: Value,
        s: &[usize],
        out: &[usize],
        taps: &[Vec<Vec<(usize, f64)>>],
    ) -> Result<Value, LowerError> {
        let (os, fs) = (strides(out), strides(s));
        let sources: Vec<Vec<(usize, f64)>> = (0..numel(out))
            .map(|o| {
                let mut acc: Vec<(usize, f64)> = vec![(0, 1.0)];
                for d in 0..s.len() {
                    let (x, stride) = (o / os[d] % out[d], fs[d]);
                    acc = acc
                        .iter()
                        .flat_map(|&(i, w)| taps[d][x].iter().map(move |&(j, c)| (i + j * stride, w * c)))
                        .collect();
                }
                let mut merged: std::collections::BTreeMap<usize, f64> = Default::default();
                for (i, w) in acc {
                    *merged.entry(i).or_default() += w;
                }
                merged.into_iter().filter(|&(_, w)| w != 0.0).collect()
            })
            .collect();
        self.linear_map(v, out, &sources)
    }
}
