"""Fold blockwise-int8 DequantizeLinear weights to fp32 initializers, then
simplify the graph for tract (the same file goes to LiteRT and onnxruntime
in tools/bench-faces, so every runtime runs the same graph):

- a BatchNormalization right after a Conv is folded into its weights (tract
  fuses it into a 1x1 convolution but runs it as a separate pass after a
  depthwise one);
- PRelu becomes Max(x, a*x) (or Min for slopes >= 1, or relu(x) + a*min(x, 0)
  for mixed slopes), the same numbers bit for bit: tract-tflite has no PRELU
  and read the file's GREATER + SELECT_V2, which took a third of SFace's
  time.
"""
import collections
import sys
import numpy as np
import onnx
from onnx import helper, numpy_helper

def fold(src, dst):
    model = onnx.load(src)
    g = model.graph
    fold_dequantize(g)
    fold_constant_reshapes(g)
    fold_batch_norms(g)
    rewrite_prelus(g)
    prune(g)
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

def fold_dequantize(g):
    """Blockwise-int8 weights become fp32 weights."""
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

def prune(g):
    """Drops the weights nothing uses any more, and inputs that are weights."""
    used = {i for n in g.node for i in n.input} | {o.name for o in g.output}
    live = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(live)
    names = {i.name for i in g.initializer} | {o for n in g.node for o in n.output}
    real_inputs = [i for i in g.input if i.name not in names and i.name in used]
    del g.input[:]
    g.input.extend(real_inputs)

def fold_constant_reshapes(g):
    """Reshapes of weights (SFace reshapes each convolution's) become weights."""
    inits = {i.name: i for i in g.initializer}
    keep = []
    for node in g.node:
        if node.op_type != "Reshape" or not all(i in inits for i in node.input):
            keep.append(node)
            continue
        data = numpy_helper.to_array(inits[node.input[0]])
        shape = [d if d != 0 else data.shape[k] for k, d in enumerate(numpy_helper.to_array(inits[node.input[1]]))]
        folded = numpy_helper.from_array(data.reshape(shape), node.output[0])
        g.initializer.append(folded)
        inits[node.output[0]] = folded
    del g.node[:]
    g.node.extend(keep)

def fold_batch_norms(g):
    inits = {i.name: i for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    uses = collections.Counter(i for n in g.node for i in n.input)
    keep = []
    for node in g.node:
        conv = producer.get(node.input[0]) if node.input else None
        if (node.op_type != "BatchNormalization" or conv is None or conv.op_type != "Conv"
                or uses[node.input[0]] != 1 or not all(i in inits for i in node.input[1:] + conv.input[1:])):
            keep.append(node)
            continue
        gamma, beta, mean, var = (numpy_helper.to_array(inits[i]).astype(np.float64) for i in node.input[1:5])
        eps = next((a.f for a in node.attribute if a.name == "epsilon"), 1e-5)
        scale = gamma / np.sqrt(var + eps)
        w = numpy_helper.to_array(inits[conv.input[1]]).astype(np.float64)
        b = numpy_helper.to_array(inits[conv.input[2]]).astype(np.float64) if len(conv.input) > 2 else np.zeros_like(mean)
        w = w * scale.reshape(-1, *[1] * (w.ndim - 1))
        b = (b - mean) * scale + beta
        wname, bname = conv.output[0] + "_folded_w", conv.output[0] + "_folded_b"
        g.initializer.append(numpy_helper.from_array(w.astype(np.float32), wname))
        g.initializer.append(numpy_helper.from_array(b.astype(np.float32), bname))
        conv.input[:] = [conv.input[0], wname, bname]
        conv.output[0] = node.output[0]
    del g.node[:]
    g.node.extend(keep)

def rewrite_prelus(g):
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    zero = "prelu_zero"
    nodes = []
    for node in g.node:
        if node.op_type != "PRelu" or node.input[1] not in inits:
            nodes.append(node)
            continue
        (x, a), y, p = node.input, node.output[0], node.name or node.output[0]
        slope = inits[a]
        if (slope <= 1).all() or (slope >= 1).all():
            pick = "Max" if (slope <= 1).all() else "Min"
            nodes += [helper.make_node("Mul", [x, a], [p + "_ax"]), helper.make_node(pick, [x, p + "_ax"], [y])]
        else:
            if zero not in inits:
                g.initializer.append(numpy_helper.from_array(np.zeros((), np.float32), zero))
                inits[zero] = None
            nodes += [helper.make_node("Max", [x, zero], [p + "_pos"]),
                      helper.make_node("Min", [x, zero], [p + "_neg"]),
                      helper.make_node("Mul", [p + "_neg", a], [p + "_aneg"]),
                      helper.make_node("Add", [p + "_pos", p + "_aneg"], [y])]
    del g.node[:]
    g.node.extend(nodes)

fold(sys.argv[1], sys.argv[2])
