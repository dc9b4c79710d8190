"""The reference runtimes on the box's own inputs, for tools/bench-faces.

Reads DIR/manifest.json (written by tools/bench/faces.rs): a list of
{"model": "detector"|"embedder", "input": "in-N.f32", "shape": [...]}. Runs
each input through LiteRT (the .tflite file the box runs) and onnxruntime
(the fp32 ONNX it was made from), one thread each as the box runs tract,
and writes each output as DIR/out-N.<runtime>.<output name>.f32 and the
timings (ms per inference, every repeat) to DIR/reference.json.
"""
import json
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from ai_edge_litert.interpreter import Interpreter

FILES = {"detector": "face_detector", "embedder": "face_embedder"}


def litert(path):
    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]["index"]
    outs = interpreter.get_output_details()

    def run(x):
        interpreter.set_tensor(inp, x)
        interpreter.invoke()
        return {o["name"].removesuffix(".0").split(":")[0]: interpreter.get_tensor(o["index"]) for o in outs}

    return run


def onnxruntime(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    names = [o.name for o in session.get_outputs()]
    return lambda x: dict(zip(names, session.run(None, {name: x})))


def main():
    work, models, repeats = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    manifest = json.loads((work / "manifest.json").read_text())
    runtimes = {}
    for model, stem in FILES.items():
        runtimes[("litert", model)] = litert(models / f"{stem}.tflite")
        runtimes[("onnxruntime", model)] = onnxruntime(models / f"{stem}.onnx")
    timings = {}
    for n, item in enumerate(manifest):
        x = np.fromfile(work / item["input"], dtype="<f4").reshape(item["shape"])
        for runtime in ("litert", "onnxruntime"):
            run = runtimes[(runtime, item["model"])]
            outputs = run(x)  # also the warm-up
            for name, value in outputs.items():
                np.asarray(value, dtype="<f4").tofile(work / f"out-{n}.{runtime}.{name}.f32")
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                run(x)
                times.append((time.perf_counter() - start) * 1e3)
            timings.setdefault(f"{runtime}.{item['model']}", []).extend(times)
    (work / "reference.json").write_text(json.dumps(timings))


main()
