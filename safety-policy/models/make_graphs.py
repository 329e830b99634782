"""Writes the frame-policy graphs next to this script (run: python3 make_graphs.py).

- flash/model.onnx: the photosensitivity graph. Input `frames` N x 3 x H x W
  float sRGB in 0..1 plus the thresholds `min_change` and `max_darker` ([1]
  each); outputs `rise` and `fall` (N-1 each): the fraction of the frame whose
  relative luminance (WCAG: linearised sRGB, 0.2126 R + 0.7152 G + 0.0722 B)
  rose / fell by at least `min_change` from one frame to the next, counting
  only pixels whose darker side is below `max_darker`.
- test-classifier/model.onnx: a stand-in with the classifier slot's interface
  (`images` N x 3 x H x W float RGB -> `scores` N x 2) and known behaviour:
  label 0 `red_dominant` and label 1 `blue_dominant` are near 1 only for
  strongly red / blue frames. Tests use it; production uses the operator's
  model (docs/SAFETY.md).

Deterministic: the same onnx version writes the same bytes.
"""

import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
HERE = os.path.dirname(os.path.abspath(__file__))


def const(name, value):
    return numpy_helper.from_array(np.asarray(value), name)


def flash_graph():
    f = TensorProto.FLOAT
    nodes = [
        # sRGB -> linear light, the piecewise WCAG formula.
        helper.make_node("LessOrEqual", ["frames", "knee"], ["low"]),
        helper.make_node("Div", ["frames", "d1292"], ["lin_low"]),
        helper.make_node("Add", ["frames", "a055"], ["shifted"]),
        helper.make_node("Div", ["shifted", "d1055"], ["scaled"]),
        helper.make_node("Pow", ["scaled", "gamma"], ["lin_high"]),
        helper.make_node("Where", ["low", "lin_low", "lin_high"], ["linear"]),
        # Relative luminance per pixel: N x 1 x H x W.
        helper.make_node("Conv", ["linear", "weights"], ["lum"]),
        # Frame t and t+1, side by side: (N-1) x 1 x H x W each.
        helper.make_node("Slice", ["lum", "s0", "e_last", "axis0"], ["before"]),
        helper.make_node("Slice", ["lum", "s1", "e_end", "axis0"], ["after"]),
        helper.make_node("Sub", ["after", "before"], ["delta"]),
        helper.make_node("Min", ["before", "after"], ["darker"]),
        helper.make_node("Less", ["darker", "max_darker"], ["dark_enough"]),
        helper.make_node("Neg", ["min_change"], ["neg_change"]),
        helper.make_node("GreaterOrEqual", ["delta", "min_change"], ["up_big"]),
        helper.make_node("LessOrEqual", ["delta", "neg_change"], ["down_big"]),
        helper.make_node("And", ["up_big", "dark_enough"], ["up"]),
        helper.make_node("And", ["down_big", "dark_enough"], ["down"]),
        helper.make_node("Cast", ["up"], ["up_f"], to=f),
        helper.make_node("Cast", ["down"], ["down_f"], to=f),
        helper.make_node("ReduceMean", ["up_f"], ["rise"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("ReduceMean", ["down_f"], ["fall"], axes=[1, 2, 3], keepdims=0),
    ]
    inits = [
        const("knee", np.float32(0.04045)),
        const("d1292", np.float32(12.92)),
        const("a055", np.float32(0.055)),
        const("d1055", np.float32(1.055)),
        const("gamma", np.float32(2.4)),
        const("weights", np.array([0.2126, 0.7152, 0.0722], np.float32).reshape(1, 3, 1, 1)),
        const("s0", np.array([0], np.int64)),
        const("s1", np.array([1], np.int64)),
        const("e_last", np.array([-1], np.int64)),
        const("e_end", np.array([np.iinfo(np.int64).max], np.int64)),
        const("axis0", np.array([0], np.int64)),
    ]
    graph = helper.make_graph(
        nodes,
        "flash",
        [
            helper.make_tensor_value_info("frames", f, ["N", 3, "H", "W"]),
            helper.make_tensor_value_info("min_change", f, [1]),
            helper.make_tensor_value_info("max_darker", f, [1]),
        ],
        [
            helper.make_tensor_value_info("rise", f, ["T"]),
            helper.make_tensor_value_info("fall", f, ["T"]),
        ],
        inits,
    )
    return graph


def classifier_graph():
    f = TensorProto.FLOAT
    # score = sigmoid(20 * (C - other two / 2) - 16): ~0.98 for a pure
    # colour, < 0.01 for anything merely tinted.
    w = np.array([[20.0, -10.0], [-10.0, -10.0], [-10.0, 20.0]], np.float32)
    b = np.array([-16.0, -16.0], np.float32)
    nodes = [
        helper.make_node("GlobalAveragePool", ["images"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["means"], axis=1),
        helper.make_node("Gemm", ["means", "w", "b"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["scores"]),
    ]
    graph = helper.make_graph(
        nodes,
        "test-classifier",
        [helper.make_tensor_value_info("images", f, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("scores", f, ["N", 2])],
        [const("w", w), const("b", b)],
    )
    return graph


def save(graph, name):
    model = helper.make_model(
        graph,
        producer_name="dreamreel make_graphs.py",
        opset_imports=[helper.make_opsetid("", OPSET)],
    )
    # ONNX Runtime 1.17+ reads IR 9; keep it there so older runtimes load it too.
    model.ir_version = 9
    onnx.checker.check_model(model, full_check=True)
    out = os.path.join(HERE, name)
    os.makedirs(out, exist_ok=True)
    onnx.save(model, os.path.join(out, "model.onnx"))


def self_check():
    import onnxruntime as ort

    flash = ort.InferenceSession(os.path.join(HERE, "flash", "model.onnx"))
    frames = np.zeros((4, 3, 8, 8), np.float32)
    frames[1] = frames[3] = 1.0
    rise, fall = flash.run(
        None,
        {
            "frames": frames,
            "min_change": np.array([0.1], np.float32),
            "max_darker": np.array([0.8], np.float32),
        },
    )
    assert rise.tolist() == [1.0, 0.0, 1.0] and fall.tolist() == [0.0, 1.0, 0.0], (rise, fall)
    classifier = ort.InferenceSession(os.path.join(HERE, "test-classifier", "model.onnx"))
    images = np.zeros((2, 3, 4, 4), np.float32)
    images[0, 0] = 1.0
    images[1] = 0.5
    (scores,) = classifier.run(None, {"images": images})
    assert scores[0, 0] > 0.95 and scores[0, 1] < 0.01 and scores[1].max() < 0.01, scores


if __name__ == "__main__":
    save(flash_graph(), "flash")
    save(classifier_graph(), "test-classifier")
    self_check()
    print("wrote flash/model.onnx and test-classifier/model.onnx")
