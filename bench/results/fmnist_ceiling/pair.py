"""Issue 10: what does twice the 30-minute budget buy as an ensemble? Averages the softmax
probabilities of two exported Fashion-MNIST networks (model/model.onnx of two study runs, each
trained for a whole 30-minute budget) over the 10,000 test images, with onnxruntime, using the
data and normalisation of ../fmnist_tta/tta.py.

    ~/.cache/nascent/torch-venv/bin/python pair.py A/model.onnx B/model.onnx
"""
import os
import sys

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fmnist_tta"))
from tta import images, labels, softmax  # noqa: E402


def main(paths):
    train = images("train-images-idx3-ubyte.gz")
    mean, std = train.mean(), train.std()
    x = (images("t10k-images-idx3-ubyte.gz") - mean) / std
    y = labels("t10k-labels-idx1-ubyte.gz")
    total = 0
    for path in paths:
        session = ort.InferenceSession(path)
        name = session.get_inputs()[0].name
        p = softmax(np.concatenate([session.run(None, {name: x[i : i + 1]})[0] for i in range(len(x))]))
        print(f"{path}: {100.0 * (p.argmax(1) == y).mean():.2f}")
        total = total + p
    print(f"average of the {len(paths)}: {100.0 * (total.argmax(1) == y).mean():.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
