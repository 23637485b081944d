"""Test-time augmentation on an exported Fashion-MNIST model (issue 10: is TTA a lever?).

Runs the ONNX model nascent exported (model/model.onnx of a study's output folder) with
onnxruntime over the 10,000 test images of Debian's dataset-fashion-mnist, plain, flipped,
plain+flip averaged, and ten views (plain and flipped, unshifted and shifted one pixel up,
down, left and right) averaged. The normalisation is the training split's mean and std, as
nascent normalises (it takes them from its 54,000 training images; the full 60,000 differ in
the fourth digit).

    ~/.cache/nascent/torch-venv/bin/python tta.py PATH/TO/model.onnx
"""
import gzip
import sys

import numpy as np
import onnxruntime as ort

DATA = "/usr/share/datasets/fashion-mnist/"


def images(name):
    raw = gzip.open(DATA + name).read()
    return np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32) / 255


def labels(name):
    return np.frombuffer(gzip.open(DATA + name).read(), np.uint8, offset=8)


def softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def main(path):
    train = images("train-images-idx3-ubyte.gz")
    mean, std = train.mean(), train.std()
    x = (images("t10k-images-idx3-ubyte.gz") - mean) / std
    y = labels("t10k-labels-idx1-ubyte.gz")
    session = ort.InferenceSession(path)
    name = session.get_inputs()[0].name

    def run(v):  # the export takes one image at a time
        return softmax(np.concatenate([session.run(None, {name: v[i : i + 1]})[0] for i in range(len(v))]))

    def flip(v):
        return v[..., ::-1].copy()

    def shift(v, dy, dx):
        p = np.pad(v, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=float(-mean / std))
        return p[:, :, 1 + dy : 29 + dy, 1 + dx : 29 + dx].copy()

    acc = lambda p: 100.0 * (p.argmax(1) == y).mean()
    plain, flipped = run(x), run(flip(x))
    ten = plain + flipped
    for dy, dx in [(1, 0), (-1, 0), (0, 1), (0, -1)]:
        v = shift(x, dy, dx)
        ten = ten + run(v) + run(flip(v))
    print(f"model {path}")
    print(f"plain {acc(plain):.2f}  flipped {acc(flipped):.2f}  plain+flip {acc(plain + flipped):.2f}  ten views {acc(ten):.2f}")


if __name__ == "__main__":
    main(sys.argv[1])
