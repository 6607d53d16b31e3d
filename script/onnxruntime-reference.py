"""onnxruntime's float output for the operator tests (prover/tests/it/operators.rs).

Reads requests from stdin, one JSON object a line: {"model": PATH, "input": [numbers]} (the
model's one input, flattened, in its element type), and answers each with one line:
{"output": [numbers]} (every graph output flattened, concatenated in the graph's order) or
{"error": TEXT}. One process serves a whole test binary: onnxruntime's import is its start-up.
"""

import json
import sys

import numpy as np
import onnxruntime as ort

DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(int16)": np.int16,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(bool)": np.bool_,
}


def run(request):
    options = ort.SessionOptions()
    # The float semantics of the graph as written: no fusions that change rounding.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(request["model"], options, providers=["CPUExecutionProvider"])
    (arg,) = session.get_inputs()
    if any(not isinstance(d, int) for d in arg.shape):
        raise ValueError(f"input {arg.name} has a symbolic shape {arg.shape}")
    if arg.type not in DTYPES:
        raise ValueError(f"input {arg.name} has element type {arg.type}")
    x = np.asarray(request["input"], dtype=np.float64)
    if arg.type == "tensor(bool)":
        x = x != 0
    elif arg.type not in ("tensor(float)", "tensor(double)"):
        x = np.rint(x)
    x = x.astype(DTYPES[arg.type]).reshape(arg.shape)
    outputs = session.run(None, {arg.name: x})
    return np.concatenate([np.asarray(o, dtype=np.float64).ravel() for o in outputs]).tolist()


for line in sys.stdin:
    try:
        answer = {"output": run(json.loads(line))}
    except Exception as e:  # noqa: BLE001 - every failure goes back to the test, named
        answer = {"error": f"{type(e).__name__}: {e}"}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
