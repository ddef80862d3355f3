"""Runs an exported ONNX file with onnxruntime, for tests/onnx.rs: an ONNX runtime independent
of this program. Checks the file with onnx.checker (full check, shapes inferred), feeds it
the images of a raw file (count x 784 bytes) as float32 [N, 1, 28, 28] scaled by 1/255, once as
one batch and once image by image (the batch dimension is symbolic), and prints one JSON
object: the softmax probabilities, the metadata, the opset, the input and output shapes.

    python tests/support/onnx_run.py model.onnx images.bin   # needs onnx, onnxruntime, numpy
"""

import json
import sys

import numpy as np
import onnx
import onnxruntime


def softmax(logits):
    exps = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exps / exps.sum(axis=1, keepdims=True)


def shape(value):
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def main():
    path, images = sys.argv[1], sys.argv[2]
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    pixels = np.fromfile(images, dtype=np.uint8).reshape(-1, 1, 28, 28).astype(np.float32) / 255.0
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    (batch_logits,) = session.run(["logits"], {"pixels": pixels})
    single = np.concatenate([session.run(["logits"], {"pixels": image[None]})[0] for image in pixels])
    print(json.dumps({
        "probabilities": softmax(batch_logits.astype(np.float64)).tolist(),
        "batch_vs_single": float(np.abs(batch_logits - single).max()),
        "metadata": {p.key: p.value for p in model.metadata_props},
        "opset": [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")],
        "input": [[i.name, shape(i)] for i in model.graph.input],
        "output": [[o.name, shape(o)] for o in model.graph.output],
        "onnxruntime": onnxruntime.__version__,
    }))


if __name__ == "__main__":
    main()
