"""Fold blockwise-int8 DequantizeLinear weights to fp32 initializers."""
import sys
import numpy as np
import onnx
from onnx import numpy_helper

def fold(src, dst):
    model = onnx.load(src)
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    keep = []
    for node in g.node:
        if node.op_type != "DequantizeLinear" or not all(n in inits for n in node.input):
            keep.append(node)
            continue
        attrs = {a.name: a.i for a in node.attribute}
        q = numpy_helper.to_array(inits[node.input[0]]).astype(np.float32)
        scale = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
        zp = numpy_helper.to_array(inits[node.input[2]]).astype(np.float32) if len(node.input) > 2 else np.zeros_like(scale)
        axis = attrs.get("axis", 1) % q.ndim
        block = attrs.get("block_size", 0)
        if block:
            scale = np.repeat(scale, block, axis=axis).take(range(q.shape[axis]), axis=axis)
            zp = np.repeat(zp, block, axis=axis).take(range(q.shape[axis]), axis=axis)
        elif scale.ndim == 1 and scale.size > 1:
            shape = [1] * q.ndim; shape[axis] = -1
            scale = scale.reshape(shape); zp = zp.reshape(shape)
        w = ((q - zp) * scale).astype(np.float32)
        g.initializer.append(numpy_helper.from_array(w, node.output[0]))
    del g.node[:]
    g.node.extend(keep)
    used = {i for n in g.node for i in n.input} | {o.name for o in g.output}
    live = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(live)
    names = {i.name for i in g.initializer} | {o for n in g.node for o in n.output}
    real_inputs = [i for i in g.input if i.name not in names and i.name in used]
    del g.input[:]
    g.input.extend(real_inputs)
    # Shapes are re-inferred by the runtime: the detector takes any input
    # size (multiples of 32), so the picture's height and width are left
    # open and the shapes the exporter wrote are dropped.
    del g.value_info[:]
    for i in g.input:
        for d, name in zip(i.type.tensor_type.shape.dim[2:], ("height", "width")):
            d.dim_param = name
    for o in g.output:
        for d in o.type.tensor_type.shape.dim:
            d.ClearField("dim_value")
    onnx.checker.check_model(model)
    onnx.save(model, dst)

fold(sys.argv[1], sys.argv[2])
