namespace DeepSharp.Onnx;

// One converter per traced op: DeepSharp's op and attributes → ONNX (op set 17) nodes.
internal sealed partial class GraphBuilder
{
    internal const string SupportedOps =
        "Linear, Conv2d, BatchNorm (eval), LayerNorm, Relu, LeakyRelu, Gelu, Silu, Tanh, Sigmoid, Exp, Log, Sqrt, Rsqrt, Abs, Neg, Erf, " +
        "Softmax, LogSoftmax, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, View/Reshape/Flatten/Squeeze/Unsqueeze, Permute, Transpose, " +
        "Narrow/Slice/Select, Expand, Contiguous/Clone, Add, Sub, Mul, Div, Pow, Maximum, Minimum, MatMul, Embedding, Sum, Mean, Cat, " +
        "Where/MaskedFill, Eq/Ne/Gt/Ge/Lt/Le, To (Cast), " +
        "Dropout (eval), MultiheadAttention";

    private static readonly Dictionary<string, string> Unary = new()
    {
        ["ReluOp"] = "Relu", ["ExpOp"] = "Exp", ["LogOp"] = "Log", ["SqrtOp"] = "Sqrt", ["ReciprocalOp"] = "Reciprocal",
        ["AbsOp"] = "Abs", ["NegOp"] = "Neg", ["TanhOp"] = "Tanh", ["SigmoidOp"] = "Sigmoid", ["SignOp"] = "Sign", ["Erf"] = "Erf",
    };

    private static readonly Dictionary<string, string> Binary = new()
    {
        ["AddOp"] = "Add", ["SubOp"] = "Sub", ["MulOp"] = "Mul", ["DivOp"] = "Div", ["PowOp"] = "Pow", ["MaximumOp"] = "Max", ["MinimumOp"] = "Min",
    };

    private void Convert(TraceNode n, TraceNode? twin, string?[] ins, string output)
    {
        var a = n.Attributes;
        var x = n.Inputs.Length > 0 ? n.Inputs[0] : null;
        if (Unary.TryGetValue(n.Op, out var unary)) { Node(unary, [ins[0]], output); return; }
        if (Binary.TryGetValue(n.Op, out var binary))
        {
            if (ins.Length == 2) { Node(binary, [ins[0], ins[1]], output); return; }
            var c = ConstScalar((double)a[0]!, n.Output.DType);
            Node(binary, (bool)a[1]! ? [c, ins[0]] : [ins[0], c], output);
            return;
        }
        switch (n.Op)
        {
            case "Identity":
                Node("Identity", [ins[0]], output);
                return;
            case "Linear":
            {
                bool relu = (bool)a[0]!;
                var y = Node("Gemm", [ins[0], ins[1], ins[2]], relu ? null : output, OnnxAttribute.Int("transB", 1));
                if (relu) Node("Relu", [y], output);
                return;
            }
            case "Conv2d":
            {
                int[] v = [.. a.Take(8).Select(o => (int)o!)];
                var w = n.Inputs[1]!;
                Node("Conv", [ins[0], ins[1], ins[2]], output,
                    OnnxAttribute.IntList("kernel_shape", w.Shape[2], w.Shape[3]),
                    OnnxAttribute.IntList("strides", v[0], v[1]),
                    OnnxAttribute.IntList("pads", v[2], v[3], v[4], v[5]),
                    OnnxAttribute.IntList("dilations", v[6], v[7]),
                    OnnxAttribute.Int("group", (int)a[8]!));
                return;
            }
            case "BatchNorm":
            {
                if ((bool)a[0]!)
                    throw new NotSupportedException($"Onnx.Export: BatchNorm in {Where(n)} normalises with batch statistics (training mode or no running statistics); export needs running statistics in eval mode.");
                int c = x!.Shape[1];
                var scale = ins[3] ?? Const(Tensor.Ones([c], x.DType));
                var bias = ins[4] ?? Const(Tensor.Zeros([c], x.DType));
                bool relu = (bool)a[2]!, residual = ins[5] is not null;
                var y = Node("BatchNormalization", [ins[0], scale, bias, ins[1], ins[2]], residual || relu ? null : output,
                    OnnxAttribute.Float("epsilon", (float)(double)a[1]!));
                if (residual) y = Node("Add", [y, ins[5]], relu ? null : output);
                if (relu) Node("Relu", [y], output);
                return;
            }
            case "LayerNorm":
            {
                int k = (int)a[0]!;
                var normalized = x!.Shape[^k..];
                var scale = ins[1] ?? Const(Tensor.Ones(normalized, x.DType));
                Node("LayerNormalization", [ins[0], scale, ins[2]], output,
                    OnnxAttribute.Int("axis", -k), OnnxAttribute.Float("epsilon", (float)(double)a[1]!));
                return;
            }
            case "LeakyRelu":
                Node("LeakyRelu", [ins[0]], output, OnnxAttribute.Float("alpha", (float)(double)a[0]!));
                return;
            case "Softmax":
            case "LogSoftmax":
                Node(n.Op, [ins[0]], output, OnnxAttribute.Int("axis", (int)a[0]!));
                return;
            case "Gelu":
            {
                // Op set 17 has no Gelu: 0.5·x·(1 + erf(x/√2)), or with tanh 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
                var dt = x!.DType;
                string inner;
                if ((bool)a[0]!)
                {
                    var cube = Node("Mul", [ins[0], ConstScalar(0.044715, dt)]);
                    cube = Node("Mul", [Node("Mul", [cube, ins[0]]), ins[0]]);
                    inner = Node("Tanh", [Node("Mul", [Node("Add", [ins[0], cube]), ConstScalar(Math.Sqrt(2.0 / Math.PI), dt)])]);
                }
                else inner = Node("Erf", [Node("Mul", [ins[0], ConstScalar(1.0 / Math.Sqrt(2.0), dt)])]);
                var half = Node("Mul", [ins[0], ConstScalar(0.5, dt)]);
                Node("Mul", [half, Node("Add", [inner, ConstScalar(1.0, dt)])], output);
                return;
            }
            case "Silu":
                Node("Mul", [ins[0], Node("Sigmoid", [ins[0]])], output);
                return;
            case "FusedAttention":
            {
                // softmax(scale·Q·Kᵀ + mask (+ causal)) · V over [N, H, L, D] operands.
                var q = n.Inputs[0]!; var k = n.Inputs[1]!;
                int rank = k.Dim;
                var perm = Enumerable.Range(0, rank).Select(i => (long)i).ToArray();
                (perm[rank - 2], perm[rank - 1]) = (perm[rank - 1], perm[rank - 2]);
                var scores = Node("MatMul", [ins[0], Node("Transpose", [ins[1]], null, OnnxAttribute.IntList("perm", perm))]);
                scores = Node("Mul", [scores, ConstScalar((double)a[1]!, q.DType)]);
                if (ins[3] is not null) scores = Node("Add", [scores, ins[3]]);
                if ((bool)a[0]!) scores = Node("Add", [scores, Const(CausalMaskCache.Get(q.Shape[^2], k.Shape[^2], q.DType))]);
                Node("MatMul", [Node("Softmax", [scores], null, OnnxAttribute.Int("axis", -1)), ins[2]], output);
                return;
            }
            case "AttentionSoftmax":
            {
                var scaled = Node("Mul", [ins[0], ConstScalar((double)a[0]!, x!.DType)]);
                if (ins[1] is not null) scaled = Node("Add", [scaled, ins[1]]);
                Node("Softmax", [scaled], output, OnnxAttribute.Int("axis", -1));
                return;
            }
            case "MaxPool2d":
            {
                int[] v = [.. a.Take(8).Select(o => (int)o!)];
                Node("MaxPool", [ins[0]], output,
                    OnnxAttribute.IntList("kernel_shape", v[0], v[1]), OnnxAttribute.IntList("strides", v[2], v[3]),
                    OnnxAttribute.IntList("pads", v[4], v[5], v[4], v[5]), OnnxAttribute.IntList("dilations", v[6], v[7]),
                    OnnxAttribute.Int("ceil_mode", (bool)a[8]! ? 1 : 0));
                return;
            }
            case "AvgPool2d":
            {
                int[] v = [.. a.Take(6).Select(o => (int)o!)];
                if ((int)a[8]! != 0)
                    throw new NotSupportedException($"Onnx.Export: AvgPool2d with divisorOverride in {Where(n)} has no ONNX equivalent.");
                Node("AveragePool", [ins[0]], output,
                    OnnxAttribute.IntList("kernel_shape", v[0], v[1]), OnnxAttribute.IntList("strides", v[2], v[3]),
                    OnnxAttribute.IntList("pads", v[4], v[5], v[4], v[5]),
                    OnnxAttribute.Int("ceil_mode", (bool)a[6]! ? 1 : 0), OnnxAttribute.Int("count_include_pad", (bool)a[7]! ? 1 : 0));
                return;
            }
            case "AdaptiveAvgPool2d":
            {
                int oh = (int)a[0]!, ow = (int)a[1]!, h = x!.Shape[2], w = x.Shape[3];
                if (oh == 1 && ow == 1) { Node("GlobalAveragePool", [ins[0]], output); return; }
                if (h % oh != 0 || w % ow != 0)
                    throw new NotSupportedException($"Onnx.Export: AdaptiveAvgPool2d from {h}×{w} to {oh}×{ow} in {Where(n)} has uneven windows, which ONNX's AveragePool cannot express.");
                Node("AveragePool", [ins[0]], output, OnnxAttribute.IntList("kernel_shape", h / oh, w / ow), OnnxAttribute.IntList("strides", h / oh, w / ow));
                return;
            }
            case "Reshape":
            {
                var shape = Dynamic(n, twin, 0, -1, "Reshape");
                Node("Reshape", [ins[0], ConstInts(shape)], output);
                return;
            }
            case "Expand":
            {
                var shape = Dynamic(n, twin, 0, 1, "Expand", allowMany: true);
                Node("Expand", [ins[0], ConstInts(shape)], output);
                return;
            }
            case "Permute":
                Node("Transpose", [ins[0]], output, OnnxAttribute.IntList("perm", [.. ((int[])a[0]!).Select(v => (long)v)]));
                return;
            case "Transpose":
            {
                var perm = Enumerable.Range(0, x!.Dim).Select(i => (long)i).ToArray();
                int d0 = (int)a[0]!, d1 = (int)a[1]!;
                (perm[d0], perm[d1]) = (perm[d1], perm[d0]);
                Node("Transpose", [ins[0]], output, OnnxAttribute.IntList("perm", perm));
                return;
            }
            case "Slice":
            {
                int d = (int)a[0]!, s = (int)a[1]!, e = (int)a[2]!, step = (int)a[3]!;
                long end = e;
                if (twin is not null && (int)twin.Attributes[2]! != e)
                {
                    if ((int)twin.Attributes[1]! != s || e != x!.Shape[d])
                        throw new NotSupportedException($"Onnx.Export: a slice in {Where(n)} has bounds that depend on the batch size.");
                    end = long.MaxValue;
                }
                Node("Slice", [ins[0], ConstInts(s), ConstInts(end), ConstInts(d), ConstInts(step)], output);
                return;
            }
            case "MatMul":
                Node("MatMul", [ins[0], ins[1]], output);
                return;
            case "Embedding":
                Node("Gather", [ins[1], ins[0]], output, OnnxAttribute.Int("axis", 0));
                return;
            case "Sum":
            {
                var mask = (bool[])a[0]!;
                var axes = Enumerable.Range(0, mask.Length).Where(i => mask[i]).Select(i => (long)i).ToArray();
                Node("ReduceSum", [ins[0], ConstInts(axes)], output, OnnxAttribute.Int("keepdims", (bool)a[1]! ? 1 : 0));
                return;
            }
            case "Mean":
            {
                // Opset 17's ReduceMean takes its axes as an attribute (an input only from opset 18).
                var mask = (bool[])a[0]!;
                var axes = Enumerable.Range(0, mask.Length).Where(i => mask[i]).Select(i => (long)i).ToArray();
                Node("ReduceMean", [ins[0]], output, OnnxAttribute.IntList("axes", axes), OnnxAttribute.Int("keepdims", (bool)a[1]! ? 1 : 0));
                return;
            }
            case "Cast":
                Node("Cast", [ins[0]], output, OnnxAttribute.Int("to", OnnxType.Of((DType)a[0]!)));
                return;
            case "Eq": case "Gt": case "Ge": case "Lt": case "Le":
                Node(n.Op switch { "Eq" => "Equal", "Gt" => "Greater", "Ge" => "GreaterOrEqual", "Lt" => "Less", _ => "LessOrEqual" }, [ins[0], ins[1]], output);
                return;
            case "Ne":
                Node("Not", [Node("Equal", [ins[0], ins[1]])], output);
                return;
            case "Where":
                Node("Where", [n.Inputs[0]!.DType == DType.Bool ? ins[0] : Node("Cast", [ins[0]], null, OnnxAttribute.Int("to", OnnxType.Bool)), ins[1], ins[2]], output);
                return;
            case "Cat":
                Node("Concat", ins, output, OnnxAttribute.Int("axis", (int)a[0]!));
                return;
            default:
                throw new NotSupportedException($"Onnx.Export: op '{n.Op}' in {Where(n)} cannot be exported to ONNX: DeepSharp.Onnx does not support it. Supported: {SupportedOps}.");
        }
    }

    private string Where(TraceNode n) => $"module {Tracer.ModulePath(_module, n.Stack)}";

    /// <summary>A shape attribute with the sizes that follow the batch (they differ in the second trace) replaced by
    /// <paramref name="wildcard"/>.</summary>
    private long[] Dynamic(TraceNode n, TraceNode? twin, int index, long wildcard, string op, bool allowMany = false)
    {
        var shape = ((int[])n.Attributes[index]!).Select(v => (long)v).ToArray();
        if (twin is null) return shape;
        var other = (int[])twin.Attributes[index]!;
        if (other.Length != shape.Length)
            throw new NotSupportedException($"Onnx.Export: {op} in {Where(n)} gives a result of different rank for different batch sizes.");
        int changed = 0;
        for (int i = 0; i < shape.Length; i++)
            if (other[i] != shape[i]) { shape[i] = wildcard; changed++; }
        if (changed > 1 && !allowMany)
            throw new NotSupportedException($"Onnx.Export: {op} in {Where(n)} has {changed} sizes that depend on the batch size; ONNX's {op} can infer only one.");
        return shape;
    }
}
