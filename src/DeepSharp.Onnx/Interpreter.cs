using DeepSharp.NN;

namespace DeepSharp.Onnx;

// Runs one ONNX node with DeepSharp ops (differentiable for float tensors); Int64 tensors (shape arithmetic in
// PyTorch's exports) are computed on arrays.
internal static class Interpreter
{
    public static Tensor[] Run(OnnxNode n, Tensor?[] ins, bool training)
    {
        if (n.Domain is not ("" or "ai.onnx"))
            throw Unsupported(n, $"domain '{n.Domain}'");
        Tensor X() => ins[0] ?? throw new ArgumentException("missing input 0");
        switch (n.OpType)
        {
            case "Identity": return [X()];
            case "Dropout": return [X()];
            case "Constant": return [Constant(n)];
            case "Relu": return [X().Relu()];
            case "Tanh": return [X().Tanh()];
            case "Sigmoid": return [X().Sigmoid()];
            case "Exp": return [X().Exp()];
            case "Log": return [X().Log()];
            case "Sqrt": return [X().Sqrt()];
            case "Reciprocal": return [1.0 / X()];
            case "Neg": return [X().DType == DType.Int64 ? Ints(X().Shape, Longs(X()).Select(v => -v).ToArray()) : -X()];
            case "Abs": return [X().Abs()];
            case "Erf": return [X().Erf()];
            case "LeakyRelu": return [X().LeakyRelu(n.Float("alpha", 0.01f))];
            case "Softmax": return [X().Softmax((int)n.Int("axis", -1))];
            case "LogSoftmax": return [X().LogSoftmax((int)n.Int("axis", -1))];
            case "Add": return [Binary(ins, (a, b) => a + b, (a, b) => a + b)];
            case "Sub": return [Binary(ins, (a, b) => a - b, (a, b) => a - b)];
            case "Mul": return [Binary(ins, (a, b) => a * b, (a, b) => a * b)];
            case "Div": return [Binary(ins, (a, b) => a / b, (a, b) => a / b)];
            case "Pow": return [ins[1]!.NumEl == 1 ? X().Pow(Scalar(ins[1]!)) : X().Pow(ins[1]!.To(X().DType))];
            case "Max": return [Tensor.Maximum(ins[0]!, ins[1]!)];
            case "Min": return [Tensor.Minimum(ins[0]!, ins[1]!)];
            case "Equal": return [ins[0]!.Eq(ins[1]!)];
            case "Where": return [Tensor.Where(ins[0]!, ins[1]!, ins[2]!)];
            case "MatMul": return [ins[0]!.MatMul(ins[1]!)];
            case "Gemm": return [Gemm(n, ins)];
            case "Conv": return [Conv(n, ins)];
            case "BatchNormalization":
                return [X().BatchNorm(ins[3], ins[4], ins[1], ins[2], training: false, eps: n.Float("epsilon", 1e-5f))];
            case "LayerNormalization":
            {
                int axis = (int)n.Int("axis", -1);
                if (axis < 0) axis += X().Dim;
                return [X().LayerNorm(X().Shape[axis..], ins[1], ins.Length > 2 ? ins[2] : null, n.Float("epsilon", 1e-5f))];
            }
            case "MaxPool": return [Pool(n, X(), max: true)];
            case "AveragePool": return [Pool(n, X(), max: false)];
            case "GlobalAveragePool": return [X().AdaptiveAvgPool2d(1, 1)];
            case "Flatten":
            {
                int axis = (int)n.Int("axis", 1);
                if (axis < 0) axis += X().Dim;
                int outer = X().Shape[..axis].Aggregate(1, (p, d) => p * d);
                return [X().Reshape(outer, -1)];
            }
            case "Reshape":
            {
                var shape = Longs(ins[1]!);
                if (n.Int("allowzero", 0) != 0) throw Unsupported(n, "allowzero=1");
                var target = shape.Select((d, i) => d == 0 ? X().Shape[i] : (int)d).ToArray();
                return [X().Reshape(target)];
            }
            case "Transpose":
            {
                var perm = n.Ints("perm") is { } p ? p.Select(v => (int)v).ToArray() : Enumerable.Range(0, X().Dim).Reverse().ToArray();
                return [X().Permute(perm)];
            }
            case "Unsqueeze":
            {
                var axes = Longs(ins[1]!);
                int rank = X().Dim + axes.Length;
                var x = X();
                foreach (var a in axes.Select(a => a < 0 ? a + rank : a).Order()) x = x.Unsqueeze((int)a);
                return [x];
            }
            case "Squeeze":
            {
                var x = X();
                if (ins.Length < 2 || ins[1] is null) return [x.Squeeze()];
                foreach (var a in Longs(ins[1]!).Select(a => a < 0 ? a + x.Dim : a).OrderDescending()) x = x.Squeeze((int)a);
                return [x];
            }
            case "Concat":
            {
                int axis = (int)n.Int("axis", 0);
                return [Tensor.Cat([.. ins.Where(t => t is not null).Select(t => t!)], axis)];
            }
            case "Slice": return [Slice(n, ins)];
            case "Expand":
            {
                var x = X();
                var shape = Longs(ins[1]!).Select(v => (int)v).ToArray();
                int rank = Math.Max(shape.Length, x.Dim);
                var target = new int[rank];
                for (int i = 0; i < rank; i++)
                {
                    int a = i - (rank - x.Dim) >= 0 ? x.Shape[i - (rank - x.Dim)] : 1;
                    int b = i - (rank - shape.Length) >= 0 ? shape[i - (rank - shape.Length)] : 1;
                    target[i] = a == 1 ? b : a;
                }
                return [x.Expand(target)];
            }
            case "Gather": return [Gather(n, X(), ins[1]!)];
            case "Shape":
            {
                var shape = X().Shape.Select(d => (long)d).ToArray();
                int start = (int)n.Int("start", 0), end = (int)n.Int("end", shape.Length);
                if (start < 0) start += shape.Length;
                if (end < 0) end += shape.Length;
                start = Math.Clamp(start, 0, shape.Length);
                end = Math.Clamp(end, start, shape.Length);
                return [Tensor.FromArray(shape[start..end], end - start)];
            }
            case "Cast":
            {
                var to = n.Int("to", 1) switch
                {
                    OnnxType.Float => DType.Float32, OnnxType.Double => DType.Float64, OnnxType.Int64 or OnnxType.Int32 => DType.Int64,
                    OnnxType.Bool => DType.Bool, var t => throw Unsupported(n, $"cast to {OnnxType.Name((int)t)}"),
                };
                return [X().DType == to ? X() : X().To(to)];
            }
            case "ConstantOfShape":
            {
                var shape = Longs(X()).Select(v => (int)v).ToArray();
                var value = n.Attr("value")?.T?.ToTensor() ?? Tensor.Zeros([1], DType.Float32);
                return [Tensor.Full(shape, value.To(DType.Float64).Reshape(-1).ToArray<double>()[0], value.DType)];
            }
            case "ReduceMean":
            case "ReduceSum":
            {
                var axes = n.Ints("axes") ?? (ins.Length > 1 && ins[1] is not null ? Longs(ins[1]!) : null);
                bool keep = n.Int("keepdims", 1) != 0;
                int[]? dims = axes is null || axes.Length == 0 ? null : [.. axes.Select(a => (int)a)];
                if (dims is null && n.OpType == "ReduceSum" && n.Int("noop_with_empty_axes", 0) != 0) return [X()];
                return [n.OpType == "ReduceMean" ? X().Mean(dims ?? [.. Enumerable.Range(0, X().Dim)], keep) : X().Sum(dims ?? [.. Enumerable.Range(0, X().Dim)], keep)];
            }
            default:
                throw Unsupported(n, null);
        }
    }

    private static NotSupportedException Unsupported(OnnxNode n, string? what) =>
        new($"Onnx.Load: node '{n.Name}' uses ONNX op '{n.OpType}'{(what is null ? "" : $" with {what}")}, which DeepSharp.Onnx cannot run.");

    private static long[] Longs(Tensor t) => t.DType == DType.Int64 ? t.Contiguous().ToArray<long>() : t.To(DType.Int64).Contiguous().ToArray<long>();

    private static double Scalar(Tensor t) => t.To(DType.Float64).Reshape(-1).ToArray<double>()[0];

    private static Tensor Ints(int[] shape, long[] data) => shape.Length == 0 ? Tensor.FromArray(data, 1).Reshape() : Tensor.FromArray(data, shape);

    private static Tensor Binary(Tensor?[] ins, Func<Tensor, Tensor, Tensor> f, Func<long, long, long> g)
    {
        Tensor a = ins[0]!, b = ins[1]!;
        if (a.DType != DType.Int64 || b.DType != DType.Int64) return f(a, b);
        // Shape arithmetic: same shapes or one side a single value.
        long[] x = Longs(a), y = Longs(b);
        if (x.Length != y.Length && x.Length != 1 && y.Length != 1)
            throw new ArgumentException($"integer broadcasting of [{string.Join(", ", a.Shape)}] and [{string.Join(", ", b.Shape)}] is not supported");
        int len = Math.Max(x.Length, y.Length);
        var r = new long[len];
        for (int i = 0; i < len; i++) r[i] = g(x[x.Length == 1 ? 0 : i], y[y.Length == 1 ? 0 : i]);
        return Ints(a.NumEl >= b.NumEl && a.Dim >= b.Dim ? a.Shape : b.Shape, r);
    }

    private static Tensor Constant(OnnxNode n)
    {
        if (n.Attr("value") is { T: { } t }) return t.ToTensor();
        if (n.Attr("value_float") is { } f) return Tensor.Scalar(f.F);
        if (n.Attr("value_floats") is { } fs) return Tensor.FromArray(fs.Floats, fs.Floats.Length);
        if (n.Attr("value_int") is { } i) return Ints([], [i.I]);
        if (n.Attr("value_ints") is { } ii) return Tensor.FromArray(ii.Ints, ii.Ints.Length);
        throw Unsupported(n, "a value kind other than a tensor, float(s) or int(s)");
    }

    private static Tensor Gemm(OnnxNode n, Tensor?[] ins)
    {
        var a = ins[0]!; var b = ins[1]!; var c = ins.Length > 2 ? ins[2] : null;
        double alpha = n.Float("alpha", 1), beta = n.Float("beta", 1);
        bool transA = n.Int("transA", 0) != 0, transB = n.Int("transB", 0) != 0;
        if (!transA && transB && alpha == 1 && beta == 1 && (c is null || c.Dim == 1))
            return F.Linear(a, b, c);
        var y = (transA ? a.T : a).MatMul(transB ? b.T : b);
        if (alpha != 1) y = y * alpha;
        if (c is not null) y = y + (beta == 1 ? c : c * beta);
        return y;
    }

    private static Tensor Conv(OnnxNode n, Tensor?[] ins)
    {
        if (n.Attr("auto_pad") is { S: var ap } && ap is not ("" or "NOTSET")) throw Unsupported(n, $"auto_pad={ap}");
        var x = ins[0]!; var w = ins[1]!; var b = ins.Length > 2 ? ins[2] : null;
        if (w.Dim != 4) throw Unsupported(n, $"a {w.Dim - 2}-D kernel (only 2-D convolutions are supported)");
        var pads = n.Ints("pads") ?? [0, 0, 0, 0];
        var strides = n.Ints("strides") ?? [1, 1];
        var dil = n.Ints("dilations") ?? [1, 1];
        if (pads[0] != pads[2] || pads[1] != pads[3]) throw Unsupported(n, $"asymmetric pads [{string.Join(", ", pads)}]");
        return F.Conv2d(x, w, b, ((int)strides[0], (int)strides[1]), ((int)pads[0], (int)pads[1]), ((int)dil[0], (int)dil[1]), (int)n.Int("group", 1));
    }

    private static Tensor Pool(OnnxNode n, Tensor x, bool max)
    {
        if (n.Attr("auto_pad") is { S: var ap } && ap is not ("" or "NOTSET")) throw Unsupported(n, $"auto_pad={ap}");
        var k = n.Ints("kernel_shape") ?? throw Unsupported(n, "no kernel_shape");
        if (k.Length != 2) throw Unsupported(n, $"a {k.Length}-D window (only 2-D pooling is supported)");
        var s = n.Ints("strides") ?? [1, 1];
        var p = n.Ints("pads") ?? [0, 0, 0, 0];
        var d = n.Ints("dilations") ?? [1, 1];
        if (p[0] != p[2] || p[1] != p[3]) throw Unsupported(n, $"asymmetric pads [{string.Join(", ", p)}]");
        bool ceil = n.Int("ceil_mode", 0) != 0;
        if (max)
            return x.MaxPool2d(((int)k[0], (int)k[1]), ((int)s[0], (int)s[1]), ((int)p[0], (int)p[1]), ((int)d[0], (int)d[1]), ceil);
        if (k[0] != k[1] || s[0] != s[1] || p[0] != p[1] || d.Any(v => v != 1)) throw Unsupported(n, "a non-square or dilated window");
        return x.AvgPool2d((int)k[0], (int)s[0], (int)p[0], ceil, n.Int("count_include_pad", 0) != 0);
    }

    private static Tensor Slice(OnnxNode n, Tensor?[] ins)
    {
        var x = ins[0]!;
        var starts = Longs(ins[1]!); var ends = Longs(ins[2]!);
        var axes = ins.Length > 3 && ins[3] is not null ? Longs(ins[3]!) : [.. Enumerable.Range(0, starts.Length).Select(i => (long)i)];
        var steps = ins.Length > 4 && ins[4] is not null ? Longs(ins[4]!) : [.. Enumerable.Repeat(1L, starts.Length)];
        for (int i = 0; i < starts.Length; i++)
        {
            if (steps[i] <= 0) throw Unsupported(n, $"step {steps[i]}");
            int axis = (int)(axes[i] < 0 ? axes[i] + x.Dim : axes[i]);
            int size = x.Shape[axis];
            int Clamp(long v) => (int)Math.Clamp(v < 0 ? v + size : v, 0, size);
            x = x.Slice(axis, Clamp(starts[i]), Clamp(ends[i]), (int)steps[i]);
        }
        return x;
    }

    private static Tensor Gather(OnnxNode n, Tensor data, Tensor indices)
    {
        int axis = (int)n.Int("axis", 0);
        if (axis < 0) axis += data.Dim;
        int size = data.Shape[axis];
        var idx = Longs(indices).Select(i => i < 0 ? i + size : i).ToArray();
        var flat = Tensor.FromArray(idx, idx.Length);
        int[] shape = [.. data.Shape[..axis], .. indices.Shape, .. data.Shape[(axis + 1)..]];
        if (data.DType == DType.Int64)
        {
            if (data.Dim != 1) throw Unsupported(n, "integer data of rank > 1");
            var values = Longs(data);
            return Ints(shape, [.. idx.Select(i => values[i])]);
        }
        return data.IndexSelect(axis, flat).Reshape(shape);
    }
}
