#!/usr/bin/env python3
"""Exports a tiny GPT-style model to ONNX with onnx.helper (no PyTorch needed): 2 pre-norm
transformer layers, d = 64, 16 tokens, one causal self-attention head each (Q·Kᵀ and A·V are
products of two activations), a GELU MLP of width 256, a final LayerNorm and a 64-way head.
The input is the [16, 64] sequence of token + position embeddings. Weights are random (seeded).

Usage: script/tiny_gpt.py OUT_DIR   → OUT_DIR/tiny_gpt.onnx, OUT_DIR/tiny_gpt.input.json
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

T, D, F, V, LAYERS = 16, 64, 256, 64, 2
rng = np.random.default_rng(7)
nodes, inits = [], []


def w(name, *shape, scale=None):
    scale = scale if scale is not None else 1.0 / np.sqrt(shape[0])
    inits.append(numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name))
    return name


def const(name, arr):
    inits.append(numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name))
    return name


def op(kind, inputs, out, **attrs):
    nodes.append(helper.make_node(kind, inputs, [out], name=f"{kind}_{out}", **attrs))
    return out


def layer_norm(x, name):
    g = const(f"{name}_g", 1.0 + 0.1 * rng.standard_normal(D))
    b = const(f"{name}_b", 0.1 * rng.standard_normal(D))
    return op("LayerNormalization", [x, g, b], f"{name}_out", axis=-1, epsilon=1e-5)


mask = const("causal_mask", np.triu(np.full((T, T), -20.0), 1))
scale = const("attn_scale", 1.0 / np.sqrt(D))
x = "tokens"
for l in range(LAYERS):
    p = f"l{l}"
    h = layer_norm(x, f"{p}_ln1")
    q = op("MatMul", [h, w(f"{p}_wq", D, D)], f"{p}_q")
    k = op("MatMul", [h, w(f"{p}_wk", D, D)], f"{p}_k")
    v = op("MatMul", [h, w(f"{p}_wv", D, D)], f"{p}_v")
    kt = op("Transpose", [k], f"{p}_kt", perm=[1, 0])
    s = op("MatMul", [q, kt], f"{p}_scores")
    s = op("Mul", [s, scale], f"{p}_scaled")
    s = op("Add", [s, mask], f"{p}_masked")
    a = op("Softmax", [s], f"{p}_attn", axis=-1)
    o = op("MatMul", [a, v], f"{p}_av")
    o = op("MatMul", [o, w(f"{p}_wo", D, D)], f"{p}_o")
    x = op("Add", [x, o], f"{p}_res1")
    h = layer_norm(x, f"{p}_ln2")
    u = op("Gemm", [h, w(f"{p}_w1", D, F), const(f"{p}_b1", 0.02 * rng.standard_normal(F))], f"{p}_up")
    u = op("Gelu", [u], f"{p}_gelu")
    u = op("Gemm", [u, w(f"{p}_w2", F, D), const(f"{p}_b2", 0.02 * rng.standard_normal(D))], f"{p}_down")
    x = op("Add", [x, u], f"{p}_res2")
h = layer_norm(x, "ln_f")
op("MatMul", [h, w("head", D, V)], "logits")

graph = helper.make_graph(
    nodes, "tiny_gpt", [helper.make_tensor_value_info("tokens", TensorProto.FLOAT, [T, D])],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [T, V])], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
model.ir_version = 9
onnx.checker.check_model(model)
out = sys.argv[1] if len(sys.argv) > 1 else "."
os.makedirs(out, exist_ok=True)
onnx.save(model, os.path.join(out, "tiny_gpt.onnx"))
samples = [(rng.standard_normal((T, D)) * 0.8).ravel().tolist() for _ in range(4)]
with open(os.path.join(out, "tiny_gpt.input.json"), "w") as f:
    json.dump({"input_data": samples}, f)
print(f"wrote {out}/tiny_gpt.onnx ({sum(i.ByteSize() for i in inits) // 1024} KiB of weights) and tiny_gpt.input.json (4 samples)")
