"""Writes the `onnx` package's node test cases of the operator families that issue #31 added
(LSTM, GRU, Resize, Where, Quantize/DequantizeLinear, QLinearMatMul, the comparisons and logic)
to a directory, as the package's own backend-test-tools would write them:
DIR/test_NAME/model.onnx and DIR/test_NAME/test_data_set_K/{input,output}_J.pb.

usage: python3 script/onnx-node-tests.py DIR
"""

import os
import shutil
import sys
import warnings

import numpy as np
from onnx import TensorProto, numpy_helper
from onnx.backend.test.case import node

FAMILIES = (
    "lstm", "gru", "resize", "where", "quantizelinear", "dequantizelinear", "qlinearmatmul",
    "greater", "less", "not", "and", "or", "xor",
)


def tensor(v, name: str) -> TensorProto:
    if isinstance(v, TensorProto):
        return v
    if isinstance(v, np.generic):  # a scale or zero point given as a numpy scalar
        v = np.asarray(v)
    if not isinstance(v, np.ndarray):
        raise TypeError(f"{name} is not a tensor")
    return numpy_helper.from_array(v, name)


def main(out: str) -> None:
    # Collecting runs every case's numpy reference, some of which overflow on purpose.
    warnings.simplefilter("ignore")
    cases = [c for c in node.collect_testcases(None) if c.name.removeprefix("test_").startswith(FAMILIES)]
    written = 0
    for case in cases:
        d = os.path.join(out, case.name)
        os.makedirs(d, exist_ok=True)
        try:
            for k, (inputs, outputs) in enumerate(case.data_sets):
                data = os.path.join(d, f"test_data_set_{k}")
                os.makedirs(data, exist_ok=True)
                for prefix, values, decl in (("input", inputs, case.model.graph.input),
                                             ("output", outputs, case.model.graph.output)):
                    for j, v in enumerate(values):
                        with open(os.path.join(data, f"{prefix}_{j}.pb"), "wb") as f:
                            f.write(tensor(v, decl[j].name).SerializeToString())
        except TypeError:
            shutil.rmtree(d)  # sequences and optionals: not tensors
            continue
        with open(os.path.join(d, "model.onnx"), "wb") as f:
            f.write(case.model.SerializeToString())
        written += 1
    print(f"{written} node test models written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
