#!/usr/bin/env python3
"""Exports the smallest model the tests run a key ceremony on: a Gemm (4 inputs, 2 outputs) and
a Relu. Compiled at 6 bits (lookup and weights) its wrap circuit needs a ptau of power 13, so a
snarkjs test ceremony of that power is made in seconds.

Usage: script/tiny_gemm.py OUT_DIR   → OUT_DIR/tiny_gemm.onnx, OUT_DIR/tiny_gemm.input.json
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

w = np.array([[0.5, -0.25, 0.125, 1.0], [-0.5, 0.75, 0.25, -1.0]], dtype=np.float32)
b = np.array([0.1, -0.1], dtype=np.float32)
graph = helper.make_graph(
    [helper.make_node("Gemm", ["input", "w", "b"], ["g"], transB=1), helper.make_node("Relu", ["g"], ["out"])],
    "tiny_gemm", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 4])],
    [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 2])],
    [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
onnx.checker.check_model(model)
out = sys.argv[1] if len(sys.argv) > 1 else "."
os.makedirs(out, exist_ok=True)
onnx.save(model, os.path.join(out, "tiny_gemm.onnx"))
with open(os.path.join(out, "tiny_gemm.input.json"), "w") as f:
    json.dump({"input_data": [[0.5, -0.5, 0.25, 1.0]]}, f)
print(f"wrote {out}/tiny_gemm.onnx and tiny_gemm.input.json (1 sample)")
