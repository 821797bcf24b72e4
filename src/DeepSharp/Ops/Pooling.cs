using DeepSharp.Kernels;

namespace DeepSharp;

// 2-D pooling (max, average, adaptive average) over [N, C, H, W] or unbatched [C, H, W] inputs.
public sealed partial class Tensor
{
    /// <summary>Max pooling (<c>max_pool2d</c>); stride defaults to the kernel size.</summary>
    public Tensor MaxPool2d(int kernelSize, int? stride = null, int padding = 0, int dilation = 1, bool ceilMode = false) =>
        MaxPool2d((kernelSize, kernelSize), stride is { } s ? (s, s) : null, (padding, padding), (dilation, dilation), ceilMode);

    /// <summary>Max pooling with separate height/width parameters.</summary>
    public Tensor MaxPool2d((int H, int W) kernelSize, (int H, int W)? stride, (int H, int W) padding, (int H, int W) dilation, bool ceilMode = false)
    {
        if (Dim == 3) return Unsqueeze(0).MaxPool2d(kernelSize, stride, padding, dilation, ceilMode).Squeeze(0);
        var g = PoolGeometry("MaxPool2d", kernelSize, stride, padding, dilation, ceilMode, true, 0);
        g.Validate("MaxPool2d");
        var x = Contiguous();
        var result = Empty([g.N, g.C, g.OutH, g.OutW], DType, zeroed: false);
        // The argmax indices are private to the backward closure: rent them, and return them when the node
        // drops its closure (or at once when nothing is recorded).
        int count = g.OutputLength;
        var indices = System.Buffers.ArrayPool<int>.Shared.Rent(count);
        if (DType == DType.Float32) PoolKernels.MaxPool2dForward(g, x.ReadSpan<float>(), result.Span<float>(), indices.AsSpan(0, count));
        else PoolKernels.MaxPool2dForward(g, x.ReadSpan<double>(), result.Span<double>(), indices.AsSpan(0, count));
        var inputShape = _shape;
        var output = Node.Record(result, "MaxPool2DWithIndicesBackward", [this], gradOut =>
        {
            if (GradMode.IsEnabled) return [MaxUnpoolOp(g, gradOut, indices.AsSpan(0, count).ToArray())];
            var dy = gradOut.Contiguous();
            var dx = Empty(inputShape, DType, zeroed: true);
            if (DType == DType.Float32) PoolKernels.MaxPool2dBackward(g, dy.ReadSpan<float>(), indices.AsSpan(0, count), dx.Span<float>());
            else PoolKernels.MaxPool2dBackward(g, dy.ReadSpan<double>(), indices.AsSpan(0, count), dx.Span<double>());
            return [dx];
        });
        if (output._gradFn is { } node) node.OnRelease(() => System.Buffers.ArrayPool<int>.Shared.Return(indices));
        else System.Buffers.ArrayPool<int>.Shared.Return(indices);
        return output;
    }

    /// <summary>Average pooling (<c>avg_pool2d</c>); stride defaults to the kernel size.</summary>
    public Tensor AvgPool2d(int kernelSize, int? stride = null, int padding = 0, bool ceilMode = false, bool countIncludePad = true, int? divisorOverride = null)
    {
        if (Dim == 3) return Unsqueeze(0).AvgPool2d(kernelSize, stride, padding, ceilMode, countIncludePad, divisorOverride).Squeeze(0);
        if (divisorOverride is <= 0) throw new ArgumentException($"AvgPool2d: divisor must be positive, got {divisorOverride}.");
        var g = PoolGeometry("AvgPool2d", (kernelSize, kernelSize), stride is { } s ? (s, s) : null, (padding, padding), (1, 1), ceilMode, countIncludePad, divisorOverride ?? 0);
        g.ValidateAvg("AvgPool2d");
        var x = Contiguous();
        var result = Empty([g.N, g.C, g.OutH, g.OutW], DType, zeroed: false);
        if (DType == DType.Float32) PoolKernels.AvgPool2dForward(g, x.ReadSpan<float>(), result.Span<float>());
        else PoolKernels.AvgPool2dForward(g, x.ReadSpan<double>(), result.Span<double>());
        var inputShape = _shape;
        return Node.Record(result, "AvgPool2DBackward", [this], gradOut =>
        {
            if (GradMode.IsEnabled) return [AvgPoolBackwardOp(g, gradOut)];
            var dy = gradOut.Contiguous();
            var dx = Empty(inputShape, DType, zeroed: true);
            if (DType == DType.Float32) PoolKernels.AvgPool2dBackward(g, dy.ReadSpan<float>(), dx.Span<float>());
            else PoolKernels.AvgPool2dBackward(g, dy.ReadSpan<double>(), dx.Span<double>());
            return [dx];
        });
    }

    /// <summary>Adaptive average pooling to an output size (<c>adaptive_avg_pool2d</c>); (1, 1) is global average pooling.</summary>
    public Tensor AdaptiveAvgPool2d(int outputH, int outputW)
    {
        if (Dim == 3) return Unsqueeze(0).AdaptiveAvgPool2d(outputH, outputW).Squeeze(0);
        if (Dim != 4) throw new ArgumentException($"AdaptiveAvgPool2d: expected a 3-D or 4-D input, got shape {ShapeUtil.Format(_shape)}.");
        CheckFloating("AdaptiveAvgPool2d");
        var g = new AdaptivePool2dGeometry(_shape[0], _shape[1], _shape[2], _shape[3], outputH, outputW);
        g.Validate("AdaptiveAvgPool2d");
        var x = Contiguous();
        var result = Empty([g.N, g.C, outputH, outputW], DType, zeroed: false);
        if (DType == DType.Float32) PoolKernels.AdaptiveAvgPool2dForward(g, x.ReadSpan<float>(), result.Span<float>());
        else PoolKernels.AdaptiveAvgPool2dForward(g, x.ReadSpan<double>(), result.Span<double>());
        var inputShape = _shape;
        return Node.Record(result, "AdaptiveAvgPool2DBackward", [this], gradOut =>
        {
            if (GradMode.IsEnabled) return [AdaptiveAvgPoolBackwardOp(g, gradOut)];
            var dy = gradOut.Contiguous();
            var dx = Empty(inputShape, DType, zeroed: true);
            if (DType == DType.Float32) PoolKernels.AdaptiveAvgPool2dBackward(g, dy.ReadSpan<float>(), dx.Span<float>());
            else PoolKernels.AdaptiveAvgPool2dBackward(g, dy.ReadSpan<double>(), dx.Span<double>());
            return [dx];
        });
    }

    private Pool2dGeometry PoolGeometry(string op, (int H, int W) kernel, (int H, int W)? stride, (int H, int W) padding, (int H, int W) dilation,
        bool ceilMode, bool countIncludePad, int divisor)
    {
        if (Dim != 4) throw new ArgumentException($"{op}: expected a 3-D or 4-D input [N, C, H, W], got shape {ShapeUtil.Format(_shape)}.");
        CheckFloating(op);
        var s = stride ?? kernel;
        return new Pool2dGeometry(_shape[0], _shape[1], _shape[2], _shape[3], kernel.H, kernel.W, s.H, s.W,
            padding.H, padding.W, dilation.H, dilation.W, ceilMode, countIncludePad, divisor);
    }
}
