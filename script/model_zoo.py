#!/usr/bin/env python3
"""Writes the model zoo of issue #31: small models of the kinds users bring, with the operators
real exports use, written as exporters write them (onnx.helper; no PyTorch needed) and, for the
int8 ones, quantized by onnxruntime's own static quantizer (QDQ):

  int8_mlp         a float MLP through onnxruntime.quantization.quantize_static (QDQ, per channel)
  int8_cnn         Conv/Relu/MaxPool/Conv/GlobalAveragePool/Gemm, quantized the same way
  lstm_forecaster  an LSTM over 8 steps of 3 features, its last hidden state into a Gemm
  gru_classifier   a bidirectional GRU with linear_before_reset (as PyTorch exports GRUs)
  unet_block       Conv/Relu/MaxPool down, Conv/Relu, Resize (nearest x2) up, Concat skip, Conv
  llama_decoder    2 Llama-style layers, d = 64, 4 heads, 16 tokens: RMSNorm, rotary embeddings
                   (rotate_half by Slice/Neg/Concat), a causal mask of float32's minimum added to
                   the scores, batched MatMuls over heads, a SiLU-gated MLP, residuals, a head

For each NAME: OUT/NAME.onnx and OUT/NAME.input.json ({"input_data": [4 rows]}: the first is the
one proved, all four calibrate; the test compares the proof's output with onnxruntime's for it,
run at test time). Weights and inputs are seeded: a rerun writes the same files.

Usage: python3 script/model_zoo.py tests/data/zoo   (needs onnx and onnxruntime 1.23.2)
"""
import json
import os
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

OPSET = 17


class Graph:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits = [], []

    def w(self, name, *shape, scale=None):
        scale = scale if scale is not None else 1.0 / np.sqrt(shape[-1] if len(shape) > 1 else shape[0])
        return self.const(name, self.rng.standard_normal(shape) * scale)

    def const(self, name, arr, dtype=np.float32):
        self.inits.append(numpy_helper.from_array(np.asarray(arr, dtype=dtype), name))
        return name

    def ints(self, name, v):
        return self.const(name, v, np.int64)

    def op(self, kind, inputs, out, outputs=None, **attrs):
        self.nodes.append(helper.make_node(kind, inputs, outputs or [out], name=f"{kind}_{out}", **attrs))
        return out

    def model(self, name, input_shape, out, out_shape):
        g = helper.make_graph(
            self.nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, input_shape)],
            [helper.make_tensor_value_info(out, TensorProto.FLOAT, out_shape)], self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
        m.ir_version = 8
        onnx.checker.check_model(m)
        return m


def mlp():
    g = Graph(1)
    h = g.op("MatMul", ["input", g.w("w1", 16, 32)], "h1")
    h = g.op("Add", [h, g.w("b1", 32, scale=0.1)], "h1b")
    h = g.op("Relu", [h], "r1")
    h = g.op("MatMul", [h, g.w("w2", 32, 32)], "h2")
    h = g.op("Add", [h, g.w("b2", 32, scale=0.1)], "h2b")
    h = g.op("Relu", [h], "r2")
    h = g.op("Gemm", [h, g.w("w3", 32, 4), g.w("b3", 4, scale=0.1)], "out")
    return g.model("int8_mlp", [1, 16], "out", [1, 4]), [1, 16]


def cnn():
    g = Graph(2)
    h = g.op("Conv", ["input", g.w("c1", 4, 1, 3, 3, scale=0.4), g.w("c1b", 4, scale=0.1)], "c1o", pads=[1, 1, 1, 1])
    h = g.op("Relu", [h], "r1")
    h = g.op("MaxPool", [h], "p1", kernel_shape=[2, 2], strides=[2, 2])
    h = g.op("Conv", [h, g.w("c2", 8, 4, 3, 3, scale=0.2), g.w("c2b", 8, scale=0.1)], "c2o", pads=[1, 1, 1, 1])
    h = g.op("Relu", [h], "r2")
    h = g.op("GlobalAveragePool", [h], "gap")
    h = g.op("Flatten", [h], "flat")
    h = g.op("Gemm", [h, g.w("fc", 3, 8), g.w("fcb", 3, scale=0.1)], "out", transB=1)
    return g.model("int8_cnn", [1, 1, 8, 8], "out", [1, 3]), [1, 1, 8, 8]


def lstm():
    g = Graph(3)
    hidden = 8
    g.op("LSTM", ["input", g.w("W", 1, 4 * hidden, 3), g.w("R", 1, 4 * hidden, hidden), g.w("B", 1, 8 * hidden,
         scale=0.1)], "y", outputs=["", "yh"], hidden_size=hidden)
    h = g.op("Reshape", ["yh", g.ints("flat", [1, hidden])], "last")
    h = g.op("Gemm", [h, g.w("head", 1, hidden), g.w("head_b", 1, scale=0.1)], "out", transB=1)
    return g.model("lstm_forecaster", [8, 1, 3], "out", [1, 1]), [8, 1, 3]


def gru():
    g = Graph(4)
    hidden = 5
    g.op("GRU", ["input", g.w("W", 2, 3 * hidden, 4), g.w("R", 2, 3 * hidden, hidden), g.w("B", 2, 6 * hidden,
         scale=0.1)], "y", outputs=["", "yh"], hidden_size=hidden, direction="bidirectional", linear_before_reset=1)
    h = g.op("Transpose", ["yh"], "yt", perm=[1, 0, 2])
    h = g.op("Reshape", [h, g.ints("flat", [1, 2 * hidden])], "both")
    h = g.op("Gemm", [h, g.w("head", 3, 2 * hidden), g.w("head_b", 3, scale=0.1)], "out", transB=1)
    return g.model("gru_classifier", [6, 1, 4], "out", [1, 3]), [6, 1, 4]


def unet():
    g = Graph(5)
    pads = [1, 1, 1, 1]
    s1 = g.op("Conv", ["input", g.w("e1", 4, 2, 3, 3, scale=0.3), g.w("e1b", 4, scale=0.1)], "e1o", pads=pads)
    s1 = g.op("Relu", [s1], "skip")
    h = g.op("MaxPool", [s1], "down", kernel_shape=[2, 2], strides=[2, 2])
    h = g.op("Conv", [h, g.w("m", 8, 4, 3, 3, scale=0.2), g.w("mb", 8, scale=0.1)], "mo", pads=pads)
    h = g.op("Relu", [h], "mr")
    h = g.op("Resize", [h, "", g.const("scales", [1, 1, 2, 2])], "up", mode="nearest")
    h = g.op("Concat", [h, s1], "cat", axis=1)
    h = g.op("Conv", [h, g.w("d", 2, 12, 1, 1, scale=0.3), g.w("db", 2, scale=0.1)], "out")
    return g.model("unet_block", [1, 2, 8, 8], "out", [1, 2, 8, 8]), [1, 2, 8, 8]


def llama():
    g = Graph(6)
    T, D, H, F, V, LAYERS = 16, 64, 4, 128, 32, 2
    dh = D // H
    eps = g.const("eps", 1e-6)
    two = g.const("two", 2.0)
    one = g.const("one", 1.0)

    def rms_norm(x, name):
        sq = g.op("Pow", [x, two], f"{name}_sq")
        var = g.op("ReduceMean", [sq], f"{name}_var", axes=[-1], keepdims=1)
        ve = g.op("Add", [var, eps], f"{name}_ve")
        sd = g.op("Sqrt", [ve], f"{name}_sd")
        inv = g.op("Div", [one, sd], f"{name}_inv")
        n = g.op("Mul", [x, inv], f"{name}_n")
        return g.op("Mul", [n, g.const(f"{name}_w", 1.0 + 0.1 * g.rng.standard_normal(D))], f"{name}_out")

    # Rotary embeddings: cos/sin tables as the exporter leaves them (constants), [T, 1, dh].
    inv_freq = 1.0 / (10000 ** (np.arange(0, dh, 2) / dh))
    ang = np.outer(np.arange(T), inv_freq)
    ang = np.concatenate([ang, ang], axis=-1)[:, None, :]
    cos, sin = g.const("rope_cos", np.cos(ang)), g.const("rope_sin", np.sin(ang))
    half = [g.ints("h0", [0]), g.ints("h1", [dh // 2]), g.ints("h2", [dh]), g.ints("last", [-1])]

    def rope(x, name):
        x1 = g.op("Slice", [x, half[0], half[1], half[3]], f"{name}_x1")
        x2 = g.op("Slice", [x, half[1], half[2], half[3]], f"{name}_x2")
        n2 = g.op("Neg", [x2], f"{name}_n2")
        rot = g.op("Concat", [n2, x1], f"{name}_rot", axis=-1)
        a = g.op("Mul", [x, cos], f"{name}_c")
        b = g.op("Mul", [rot, sin], f"{name}_s")
        return g.op("Add", [a, b], f"{name}_out")

    heads = g.ints("heads", [T, H, dh])
    merged = g.ints("merged", [T, D])
    mask = g.const("causal_mask", np.triu(np.full((T, T), np.finfo(np.float32).min), 1))
    scale = g.const("attn_scale", 1.0 / np.sqrt(dh))
    x = "input"
    for l in range(LAYERS):
        p = f"l{l}"
        h = rms_norm(x, f"{p}_in")
        q = g.op("MatMul", [h, g.w(f"{p}_wq", D, D)], f"{p}_q")
        k = g.op("MatMul", [h, g.w(f"{p}_wk", D, D)], f"{p}_k")
        v = g.op("MatMul", [h, g.w(f"{p}_wv", D, D)], f"{p}_v")
        q = rope(g.op("Reshape", [q, heads], f"{p}_qh"), f"{p}_qr")
        k = rope(g.op("Reshape", [k, heads], f"{p}_kh"), f"{p}_kr")
        v = g.op("Reshape", [v, heads], f"{p}_vh")
        qt = g.op("Transpose", [q], f"{p}_qt", perm=[1, 0, 2])
        kt = g.op("Transpose", [k], f"{p}_kt", perm=[1, 2, 0])
        vt = g.op("Transpose", [v], f"{p}_vt", perm=[1, 0, 2])
        s = g.op("MatMul", [qt, kt], f"{p}_scores")
        s = g.op("Mul", [s, scale], f"{p}_scaled")
        s = g.op("Add", [s, mask], f"{p}_masked")
        a = g.op("Softmax", [s], f"{p}_attn", axis=-1)
        o = g.op("MatMul", [a, vt], f"{p}_av")
        o = g.op("Transpose", [o], f"{p}_ot", perm=[1, 0, 2])
        o = g.op("Reshape", [o, merged], f"{p}_om")
        o = g.op("MatMul", [o, g.w(f"{p}_wo", D, D)], f"{p}_o")
        x = g.op("Add", [x, o], f"{p}_res1")
        h = rms_norm(x, f"{p}_post")
        gate = g.op("MatMul", [h, g.w(f"{p}_wg", D, F)], f"{p}_gate")
        up = g.op("MatMul", [h, g.w(f"{p}_wu", D, F)], f"{p}_up")
        sg = g.op("Sigmoid", [gate], f"{p}_sig")
        silu = g.op("Mul", [gate, sg], f"{p}_silu")
        m = g.op("Mul", [silu, up], f"{p}_gated")
        m = g.op("MatMul", [m, g.w(f"{p}_wd", F, D)], f"{p}_down")
        x = g.op("Add", [x, m], f"{p}_res2")
    h = rms_norm(x, "final")
    g.op("MatMul", [h, g.w("lm_head", D, V)], "out")
    return g.model("llama_decoder", [T, D], "out", [T, V]), [T, D]


class Reader(CalibrationDataReader):
    def __init__(self, rows, shape):
        self.it = iter([{"input": np.asarray(r, np.float32).reshape(shape)} for r in rows])

    def get_next(self):
        return next(self.it, None)


def main(out):
    os.makedirs(out, exist_ok=True)
    for make, int8 in ((mlp, True), (cnn, True), (lstm, False), (gru, False), (unet, False), (llama, False)):
        model, shape = make()
        name = model.graph.name
        rng = np.random.default_rng(100 + len(name))
        rows = [rng.standard_normal(int(np.prod(shape))).astype(np.float32).tolist() for _ in range(4)]
        path = os.path.join(out, f"{name}.onnx")
        if int8:
            with tempfile.TemporaryDirectory() as tmp:
                fp = os.path.join(tmp, "float.onnx")
                onnx.save(model, fp)
                # onnxruntime's static quantizer, as its docs run it: QDQ, uint8 activations,
                # int8 weights per channel, calibrated on a few more rows than the test uses.
                cal = rows + [rng.standard_normal(int(np.prod(shape))).tolist() for _ in range(28)]
                quantize_static(fp, path, Reader(cal, shape), quant_format=QuantFormat.QDQ,
                                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)
        else:
            onnx.save(model, path)
        with open(os.path.join(out, f"{name}.input.json"), "w") as f:
            json.dump({"input_data": rows}, f)
        ops = sorted({n.op_type for n in onnx.load(path).graph.node})
        print(f"{name}: {', '.join(ops)}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
