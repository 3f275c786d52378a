#!/usr/bin/env python3
"""Writes models/src/doctor/probe.onnx: the tiny graph `img23d doctor` runs on each execution
provider to see whether it starts and computes (y = x + [0.5, 1.5, 2.5, 3.5], x and y float
[1, 4]). The graph is embedded in the binary (include_bytes!), so the doctor needs no model
files. Usage: python3 tools/gen_doctor_probe.py   (needs the `onnx` package)
"""
import os

import onnx
from onnx import TensorProto, helper, numpy_helper
import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "models", "src", "doctor", "probe.onnx")


def main():
    bias = numpy_helper.from_array(np.array([[0.5, 1.5, 2.5, 3.5]], dtype=np.float32), "bias")
    node = helper.make_node("Add", ["x", "bias"], ["y"], name="probe_add")
    graph = helper.make_graph(
        [node],
        "img23d_doctor_probe",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="img23d tools/gen_doctor_probe.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, OUT)
    print(f"wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
