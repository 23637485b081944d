"""Loads an ONNX model written by nascent, checks it with onnx's full checker, runs it in
onnxruntime and compares its output with nascent's.

usage: onnx_check.py MODEL.onnx INPUT.f32 EXPECTED.f32 N,C,H,W
Prints one JSON line: max_abs_diff, max_abs (of the expected output), shape, nodes, opset.
"""

import json
import sys

import numpy as np
import onnx
import onnxruntime as ort


def main() -> None:
    model_path, in_path, out_path, shape = sys.argv[1:5]
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    sess = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    x = np.fromfile(in_path, dtype="<f4").reshape([int(d) for d in shape.split(",")])
    (y,) = sess.run(["logits"], {"input": x})
    expected = np.fromfile(out_path, dtype="<f4").reshape(y.shape)
    print(
        json.dumps(
            {
                "max_abs_diff": float(np.abs(y - expected).max()),
                "max_abs": float(np.abs(expected).max()),
                "shape": list(y.shape),
                "nodes": len(model.graph.node),
                "opset": model.opset_import[0].version,
                "runtime": f"onnxruntime {ort.__version__}",
            }
        )
    )


if __name__ == "__main__":
    main()
