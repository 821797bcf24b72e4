using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeepSharp.Kernels;

/// <summary>
/// Shape of MaxPool2d / AvgPool2d over NCHW input (PyTorch semantics). Dilation applies to max pooling only
/// (average pooling requires 1); <see cref="CountIncludePad"/> and <see cref="DivisorOverride"/> (0 = none)
/// apply to average pooling only.
/// </summary>
internal readonly record struct Pool2dGeometry(int N, int C, int H, int W, int KernelH, int KernelW,
    int StrideH, int StrideW, int PadH = 0, int PadW = 0, int DilationH = 1, int DilationW = 1,
    bool CeilMode = false, bool CountIncludePad = true, int DivisorOverride = 0)
{
    /// <summary>PyTorch's pooling_output_shape for the height.</summary>
    public int OutH => OutSize(H, KernelH, PadH, StrideH, DilationH, CeilMode);

    /// <summary>PyTorch's pooling_output_shape for the width.</summary>
    public int OutW => OutSize(W, KernelW, PadW, StrideW, DilationW, CeilMode);

    /// <summary>Elements of the input [N, C, H, W].</summary>
    public int InputLength => N * C * H * W;

    /// <summary>Elements of the output (and of the max-pool indices) [N, C, OutH, OutW].</summary>
    public int OutputLength => N * C * OutH * OutW;

    /// <summary>Throws <see cref="ArgumentException"/> naming <paramref name="op"/> and the values when the geometry is invalid.</summary>
    public void Validate(string op)
    {
        if (N < 0 || C < 1 || H < 1 || W < 1)
            Throw(op, $"sizes must be positive (N ≥ 0), got N={N}, C={C}, H={H}, W={W}");
        if (KernelH < 1 || KernelW < 1)
            Throw(op, $"kernel size should be greater than zero, but got kH: {KernelH} kW: {KernelW}");
        if (StrideH < 1 || StrideW < 1)
            Throw(op, $"stride should be greater than zero, but got dH: {StrideH} dW: {StrideW}");
        if (DilationH < 1 || DilationW < 1)
            Throw(op, $"dilation should be greater than zero, but got dilationH: {DilationH} dilationW: {DilationW}");
        if (PadH < 0 || PadW < 0)
            Throw(op, $"pad must be non-negative, but got padH = {PadH}, padW = {PadW}");
        if (KernelW / 2 < PadW || KernelH / 2 < PadH)
            Throw(op, $"pad should be smaller than or equal to half of kernel size, but got padW = {PadW}, padH = {PadH}, kW = {KernelW}, kH = {KernelH}");
        if (OutH < 1 || OutW < 1)
            Throw(op, $"Given input size: ({C}x{H}x{W}). Calculated output size: ({C}x{OutH}x{OutW}). Output size is too small " +
                      $"(kernel ({KernelH}, {KernelW}), stride ({StrideH}, {StrideW}), padding ({PadH}, {PadW}), dilation ({DilationH}, {DilationW}), ceil_mode={CeilMode})");
        if ((long)N * C * H * W > int.MaxValue || (long)N * C * OutH * OutW > int.MaxValue)
            Throw(op, $"tensor too large: N={N}, C={C}, H={H}, W={W}");
    }

    /// <summary>Validation for average pooling: also dilation 1 and a non-zero divisor.</summary>
    public void ValidateAvg(string op)
    {
        if (DilationH != 1 || DilationW != 1)
            Throw(op, $"dilation must be 1 for average pooling, got ({DilationH}, {DilationW})");
        if (DivisorOverride < 0)
            Throw(op, $"divisor must be positive (0 for none), got {DivisorOverride}");
        Validate(op);
    }

    private static int OutSize(int size, int kernel, int pad, int stride, int dilation, bool ceil)
    {
        if (stride < 1) return 0;
        long num = (long)size + 2L * pad - (long)dilation * (kernel - 1) - 1 + (ceil ? stride - 1 : 0);
        long o = FloorDiv(num, stride) + 1;
        if (ceil && (o - 1) * stride >= (long)size + pad) o--;   // the last window must start inside the image
        return (int)Math.Clamp(o, 0, int.MaxValue);
    }

    private static long FloorDiv(long a, long b) => a >= 0 ? a / b : -((-a + b - 1) / b);

    private static void Throw(string op, string message) => throw new ArgumentException($"{op}: {message}");
}

/// <summary>Shape of AdaptiveAvgPool2d: input [N, C, H, W] to output [N, C, OutH, OutW].</summary>
internal readonly record struct AdaptivePool2dGeometry(int N, int C, int H, int W, int OutH, int OutW)
{
    /// <summary>Elements of the input.</summary>
    public int InputLength => N * C * H * W;

    /// <summary>Elements of the output.</summary>
    public int OutputLength => N * C * OutH * OutW;

    /// <summary>Throws <see cref="ArgumentException"/> naming <paramref name="op"/> and the values when the geometry is invalid.</summary>
    public void Validate(string op)
    {
        if (N < 0 || C < 1 || H < 1 || W < 1)
            throw new ArgumentException($"{op}: input sizes must be positive (N ≥ 0), got N={N}, C={C}, H={H}, W={W}");
        if (OutH < 1 || OutW < 1)
            throw new ArgumentException($"{op}: output size must be positive, got ({OutH}, {OutW})");
        if ((long)N * C * H * W > int.MaxValue || (long)N * C * OutH * OutW > int.MaxValue)
            throw new ArgumentException($"{op}: tensor too large: N={N}, C={C}, H={H}, W={W}, output ({OutH}, {OutW})");
    }

    /// <summary>floor(i·inSize/outSize), as PyTorch's start_index.</summary>
    public static int Start(int i, int outSize, int inSize) => (int)((long)i * inSize / outSize);

    /// <summary>ceil((i+1)·inSize/outSize), as PyTorch's end_index.</summary>
    public static int End(int i, int outSize, int inSize) => (int)(((long)(i + 1) * inSize + outSize - 1) / outSize);
}

/// <summary>
/// Max, average and adaptive-average 2-D pooling over contiguous NCHW spans (PyTorch semantics). Planes
/// (n, c) are spread over <see cref="KernelSettings.NumThreads"/> when the work is large enough.
/// Backward passes overwrite the input gradient.
/// </summary>
internal static unsafe class PoolKernels
{
    // ---------------------------------------------------------------- MaxPool2d

    /// <summary>
    /// output[N,C,OH,OW] = max over each window (padding counts as −∞, NaN propagates);
    /// indices[N,C,OH,OW] = flat index ih·W + iw of the max within its input plane (−1 for a window that,
    /// through dilation, covers only padding; its output is −∞).
    /// </summary>
    public static void MaxPool2dForward<T>(Pool2dGeometry g, ReadOnlySpan<T> input, Span<T> output, Span<int> indices)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        const string op = "max_pool2d";
        g.Validate(op);
        CheckLength(op, nameof(input), input.Length, g.InputLength);
        CheckLength(op, nameof(output), output.Length, g.OutputLength);
        CheckLength(op, nameof(indices), indices.Length, g.OutputLength);
        int planes = g.N * g.C;
        int workers = Workers(planes, (long)g.OutputLength * g.KernelH * g.KernelW);
        if (workers == 1)
        {
            MaxForwardPlanes(g, input, output, indices, 0, planes);
            return;
        }
        fixed (T* pi = input, po = output)
        fixed (int* px = indices)
        {
            nint ip = (nint)pi, op2 = (nint)po, xp = (nint)px;
            int il = input.Length, ol = output.Length;
            KernelParallel.For(0, workers, w =>
            {
                var (p0, p1) = Range(planes, workers, w);
                MaxForwardPlanes(g, new ReadOnlySpan<T>((void*)ip, il), new Span<T>((void*)op2, ol),
                    new Span<int>((void*)xp, ol), p0, p1);
            });
        }
    }

    /// <summary>gradInput[N,C,H,W] = scatter-add of gradOutput to the argmax positions in indices (overwritten).</summary>
    public static void MaxPool2dBackward<T>(Pool2dGeometry g, ReadOnlySpan<T> gradOutput, ReadOnlySpan<int> indices,
        Span<T> gradInput)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        const string op = "max_pool2d backward";
        g.Validate(op);
        CheckLength(op, nameof(gradOutput), gradOutput.Length, g.OutputLength);
        CheckLength(op, nameof(indices), indices.Length, g.OutputLength);
        CheckLength(op, nameof(gradInput), gradInput.Length, g.InputLength);
        int planes = g.N * g.C;
        int workers = Workers(planes, g.OutputLength + (long)g.InputLength);
        if (workers == 1)
        {
            MaxBackwardPlanes(g, gradOutput, indices, gradInput, 0, planes);
            return;
        }
        fixed (T* pg = gradOutput, pi = gradInput)
        fixed (int* px = indices)
        {
            nint gp = (nint)pg, ip = (nint)pi, xp = (nint)px;
            int gl = gradOutput.Length, il = gradInput.Length;
            KernelParallel.For(0, workers, w =>
            {
                var (p0, p1) = Range(planes, workers, w);
                MaxBackwardPlanes(g, new ReadOnlySpan<T>((void*)gp, gl), new ReadOnlySpan<int>((void*)xp, gl),
                    new Span<T>((void*)ip, il), p0, p1);
            });
        }
    }

    private static void MaxForwardPlanes<T>(in Pool2dGeometry g, ReadOnlySpan<T> input, Span<T> output, Span<int> indices,
        int p0, int p1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (g.KernelH == 2 && g.KernelW == 2 && g.StrideH == 2 && g.StrideW == 2 && g.PadH == 0 && g.PadW == 0
            && g.DilationH == 1 && g.DilationW == 1 && 2 * g.OutH <= g.H && 2 * g.OutW <= g.W)
        {
            if (typeof(T) == typeof(float) && KernelSettings.UseAvx2Fma)
                MaxForwardPlanes2x2Avx(g, MemoryMarshal.Cast<T, float>(input), MemoryMarshal.Cast<T, float>(output), indices, p0, p1);
            else
                MaxForwardPlanes2x2(g, input, output, indices, p0, p1);
            return;
        }
        int h = g.H, w = g.W, oh = g.OutH, ow = g.OutW, inPlane = h * w, outPlane = oh * ow;
        int dh = g.DilationH, dw = g.DilationW;
        for (int p = p0; p < p1; p++)
        {
            ref T src = ref MemoryMarshal.GetReference(input.Slice(p * inPlane, inPlane));
            Span<T> dst = output.Slice(p * outPlane, outPlane);
            Span<int> idx = indices.Slice(p * outPlane, outPlane);
            for (int y = 0; y < oh; y++)
            {
                int ih0 = y * g.StrideH - g.PadH;
                int ih1 = Math.Min(ih0 + (g.KernelH - 1) * dh + 1, h);
                if (ih0 < 0) ih0 += (-ih0 + dh - 1) / dh * dh;
                for (int x = 0; x < ow; x++)
                {
                    int iw0 = x * g.StrideW - g.PadW;
                    int iw1 = Math.Min(iw0 + (g.KernelW - 1) * dw + 1, w);
                    if (iw0 < 0) iw0 += (-iw0 + dw - 1) / dw * dw;
                    // A window that (through dilation) touches only padding yields −∞ with index −1, which the
                    // backward pass skips (PyTorch reports an arbitrary index there).
                    int maxIndex = ih0 < ih1 && iw0 < iw1 ? ih0 * w + iw0 : -1;
                    T maxVal = T.NegativeInfinity;
                    for (int ih = ih0; ih < ih1; ih += dh)
                    {
                        int rowOff = ih * w;
                        for (int iw = iw0; iw < iw1; iw += dw)
                        {
                            T v = Unsafe.Add(ref src, rowOff + iw);
                            if (v > maxVal || T.IsNaN(v))
                            {
                                maxVal = v;
                                maxIndex = rowOff + iw;
                            }
                        }
                    }
                    dst[y * ow + x] = maxVal;
                    idx[y * ow + x] = maxIndex;
                }
            }
        }
    }

    /// <summary>The common 2×2, stride 2 window without padding: branch-free selects (the generic loop's
    /// data-dependent branches mispredict on activations, which are half zeros after a ReLU). Same semantics:
    /// scan order (0,0), (0,1), (1,0), (1,1); a later value wins only if strictly greater or NaN.</summary>
    private static void MaxForwardPlanes2x2<T>(in Pool2dGeometry g, ReadOnlySpan<T> input, Span<T> output, Span<int> indices,
        int p0, int p1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int h = g.H, w = g.W, oh = g.OutH, ow = g.OutW, inPlane = h * w, outPlane = oh * ow;
        for (int p = p0; p < p1; p++)
        {
            ref T src = ref MemoryMarshal.GetReference(input.Slice(p * inPlane, inPlane));
            ref T dst = ref MemoryMarshal.GetReference(output.Slice(p * outPlane, outPlane));
            ref int idx = ref MemoryMarshal.GetReference(indices.Slice(p * outPlane, outPlane));
            for (int y = 0; y < oh; y++)
            {
                int r0 = 2 * y * w, r1 = r0 + w, o = y * ow;
                for (int x = 0; x < ow; x++)
                {
                    int i0 = r0 + 2 * x, i2 = r1 + 2 * x;
                    T m = Unsafe.Add(ref src, i0);
                    int mi = i0;
                    T v = Unsafe.Add(ref src, i0 + 1);
                    bool t = v > m || T.IsNaN(v);
                    m = t ? v : m; mi = t ? i0 + 1 : mi;
                    v = Unsafe.Add(ref src, i2);
                    t = v > m || T.IsNaN(v);
                    m = t ? v : m; mi = t ? i2 : mi;
                    v = Unsafe.Add(ref src, i2 + 1);
                    t = v > m || T.IsNaN(v);
                    m = t ? v : m; mi = t ? i2 + 1 : mi;
                    Unsafe.Add(ref dst, o + x) = m;
                    Unsafe.Add(ref idx, o + x) = mi;
                }
            }
        }
    }

    /// <summary><see cref="MaxForwardPlanes2x2{T}"/> for float with AVX2, 8 windows at a time: the two input rows
    /// are split into even and odd columns (a permute per 8 inputs), then the four candidates of each window are
    /// compared in the same order with the same rule (strictly greater, or NaN), selecting values and indices
    /// with masks.</summary>
    private static void MaxForwardPlanes2x2Avx(in Pool2dGeometry g, ReadOnlySpan<float> input, Span<float> output,
        Span<int> indices, int p0, int p1)
    {
        int h = g.H, w = g.W, oh = g.OutH, ow = g.OutW, inPlane = h * w, outPlane = oh * ow;
        var evenOdd = Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7);
        var twoStep = Vector256.Create(0, 2, 4, 6, 8, 10, 12, 14);
        for (int p = p0; p < p1; p++)
        {
            ref float src = ref MemoryMarshal.GetReference(input.Slice(p * inPlane, inPlane));
            ref float dst = ref MemoryMarshal.GetReference(output.Slice(p * outPlane, outPlane));
            ref int idx = ref MemoryMarshal.GetReference(indices.Slice(p * outPlane, outPlane));
            for (int y = 0; y < oh; y++)
            {
                int r0 = 2 * y * w, r1 = r0 + w, o = y * ow;
                int x = 0;
                for (; x < ow && ow >= 8; x += 8)
                {
                    // A row whose width is not a multiple of 8 ends with a block overlapping the previous one
                    // (windows computed twice, same values) instead of a scalar tail; 2·ow ≤ w keeps it inside the row.
                    if (x + 8 > ow) x = ow - 8;
                    int i0 = r0 + 2 * x, i2 = r1 + 2 * x;
                    // a = columns 2x..2x+7, b = 2x+8..2x+15 of each row; after the permute the lower half holds
                    // the even columns and the upper half the odd ones.
                    var a0 = Avx2.PermuteVar8x32(Vector256.LoadUnsafe(ref src, (nuint)i0), evenOdd);
                    var b0 = Avx2.PermuteVar8x32(Vector256.LoadUnsafe(ref src, (nuint)(i0 + 8)), evenOdd);
                    var a1 = Avx2.PermuteVar8x32(Vector256.LoadUnsafe(ref src, (nuint)i2), evenOdd);
                    var b1 = Avx2.PermuteVar8x32(Vector256.LoadUnsafe(ref src, (nuint)(i2 + 8)), evenOdd);
                    var e0 = Vector256.Create(a0.GetLower(), b0.GetLower());   // (0,0) of 8 windows
                    var d0 = Vector256.Create(a0.GetUpper(), b0.GetUpper());   // (0,1)
                    var e1 = Vector256.Create(a1.GetLower(), b1.GetLower());   // (1,0)
                    var d1 = Vector256.Create(a1.GetUpper(), b1.GetUpper());   // (1,1)
                    var base0 = Vector256.Create(i0) + twoStep;
                    var base1 = Vector256.Create(i2) + twoStep;
                    var m = e0;
                    var mi = base0;
                    var t = Vector256.GreaterThan(d0, m) | ~Vector256.Equals(d0, d0);
                    m = Vector256.ConditionalSelect(t, d0, m); mi = Vector256.ConditionalSelect(t.AsInt32(), base0 + Vector256<int>.One, mi);
                    t = Vector256.GreaterThan(e1, m) | ~Vector256.Equals(e1, e1);
                    m = Vector256.ConditionalSelect(t, e1, m); mi = Vector256.ConditionalSelect(t.AsInt32(), base1, mi);
                    t = Vector256.GreaterThan(d1, m) | ~Vector256.Equals(d1, d1);
                    m = Vector256.ConditionalSelect(t, d1, m); mi = Vector256.ConditionalSelect(t.AsInt32(), base1 + Vector256<int>.One, mi);
                    m.StoreUnsafe(ref dst, (nuint)(o + x));
                    mi.StoreUnsafe(ref idx, (nuint)(o + x));
                }
                for (; x < ow; x++)
                {
                    int i0 = r0 + 2 * x, i2 = r1 + 2 * x;
                    float m = Unsafe.Add(ref src, i0);
                    int mi = i0;
                    float v = Unsafe.Add(ref src, i0 + 1);
                    if (v > m || float.IsNaN(v)) { m = v; mi = i0 + 1; }
                    v = Unsafe.Add(ref src, i2);
                    if (v > m || float.IsNaN(v)) { m = v; mi = i2; }
                    v = Unsafe.Add(ref src, i2 + 1);
                    if (v > m || float.IsNaN(v)) { m = v; mi = i2 + 1; }
                    Unsafe.Add(ref dst, o + x) = m;
                    Unsafe.Add(ref idx, o + x) = mi;
                }
            }
        }
    }

    private static void MaxBackwardPlanes<T>(in Pool2dGeometry g, ReadOnlySpan<T> gradOutput, ReadOnlySpan<int> indices,
        Span<T> gradInput, int p0, int p1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int inPlane = g.H * g.W, outPlane = g.OutH * g.OutW;
        for (int p = p0; p < p1; p++)
        {
            Span<T> dx = gradInput.Slice(p * inPlane, inPlane);
            dx.Clear();
            ReadOnlySpan<T> dy = gradOutput.Slice(p * outPlane, outPlane);
            ReadOnlySpan<int> idx = indices.Slice(p * outPlane, outPlane);
            for (int i = 0; i < outPlane; i++)
            {
                int k = idx[i];
                if ((uint)k < (uint)inPlane) dx[k] += dy[i];
            }
        }
    }

    // ---------------------------------------------------------------- AvgPool2d

    /// <summary>output[N,C,OH,OW] = window sum / divisor (PyTorch: count_include_pad, ceil_mode, divisor_override).</summary>
    public static void AvgPool2dForward<T>(Pool2dGeometry g, ReadOnlySpan<T> input, Span<T> output)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        const string op = "avg_pool2d";
        g.ValidateAvg(op);
        CheckLength(op, nameof(input), input.Length, g.InputLength);
        CheckLength(op, nameof(output), output.Length, g.OutputLength);
        Run(g.N * g.C, (long)g.OutputLength * g.KernelH * g.KernelW, input, output,
            new Windows(g), static (in Windows win, ReadOnlySpan<T> src, Span<T> dst, int p0, int p1) => win.Forward(src, dst, p0, p1));
    }

    /// <summary>gradInput[N,C,H,W] = Σ over windows containing it of gradOutput / divisor (overwritten).</summary>
    public static void AvgPool2dBackward<T>(Pool2dGeometry g, ReadOnlySpan<T> gradOutput, Span<T> gradInput)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        const string op = "avg_pool2d backward";
        g.ValidateAvg(op);
        CheckLength(op, nameof(gradOutput), gradOutput.Length, g.OutputLength);
        CheckLength(op, nameof(gradInput), gradInput.Length, g.InputLength);
        Run(g.N * g.C, (long)g.OutputLength * g.KernelH * g.KernelW, gradOutput, gradInput,
            new Windows(g), static (in Windows win, ReadOnlySpan<T> src, Span<T> dst, int p0, int p1) => win.Backward(src, dst, p0, p1));
    }

    // ---------------------------------------------------------------- AdaptiveAvgPool2d

    /// <summary>output[N,C,OH,OW]: mean over rows [floor(i·H/OH), ceil((i+1)·H/OH)) and likewise columns.</summary>
    public static void AdaptiveAvgPool2dForward<T>(AdaptivePool2dGeometry g, ReadOnlySpan<T> input, Span<T> output)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        const string op = "adaptive_avg_pool2d";
        g.Validate(op);
        CheckLength(op, nameof(input), input.Length, g.InputLength);
        CheckLength(op, nameof(output), output.Length, g.OutputLength);
        Run(g.N * g.C, g.InputLength + (long)g.OutputLength, input, output,
            new Windows(g), static (in Windows win, ReadOnlySpan<T> src, Span<T> dst, int p0, int p1) => win.Forward(src, dst, p0, p1));
    }

    /// <summary>gradInput[N,C,H,W] = Σ over windows containing it of gradOutput / window size (overwritten).</summary>
    public static void AdaptiveAvgPool2dBackward<T>(AdaptivePool2dGeometry g, ReadOnlySpan<T> gradOutput, Span<T> gradInput)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        const string op = "adaptive_avg_pool2d backward";
        g.Validate(op);
        CheckLength(op, nameof(gradOutput), gradOutput.Length, g.OutputLength);
        CheckLength(op, nameof(gradInput), gradInput.Length, g.InputLength);
        Run(g.N * g.C, g.InputLength + (long)g.OutputLength, gradOutput, gradInput,
            new Windows(g), static (in Windows win, ReadOnlySpan<T> src, Span<T> dst, int p0, int p1) => win.Backward(src, dst, p0, p1));
    }

    private delegate void PlaneBody<T>(in Windows win, ReadOnlySpan<T> src, Span<T> dst, int p0, int p1);

    /// <summary>Runs body over planes [0, planes), split over threads when the work is large enough.</summary>
    private static void Run<T>(int planes, long work, ReadOnlySpan<T> src, Span<T> dst, Windows win, PlaneBody<T> body)
        where T : unmanaged
    {
        int workers = Workers(planes, work);
        if (workers == 1)
        {
            body(win, src, dst, 0, planes);
            return;
        }
        fixed (T* ps = src, pd = dst)
        {
            nint sp = (nint)ps, dp = (nint)pd;
            int sl = src.Length, dl = dst.Length;
            KernelParallel.For(0, workers, w =>
            {
                var (p0, p1) = Range(planes, workers, w);
                body(win, new ReadOnlySpan<T>((void*)sp, sl), new Span<T>((void*)dp, dl), p0, p1);
            });
        }
    }

    /// <summary>
    /// The averaging windows of AvgPool2d (clamped, with PyTorch's divisor) or AdaptiveAvgPool2d, per output
    /// position; one definition serves forward and backward.
    /// </summary>
    private readonly struct Windows
    {
        private readonly int _h, _w, _oh, _ow;
        private readonly bool _adaptive;
        private readonly Pool2dGeometry _g;

        public Windows(Pool2dGeometry g)
        {
            _g = g;
            (_h, _w, _oh, _ow) = (g.H, g.W, g.OutH, g.OutW);
            _adaptive = false;
        }

        public Windows(AdaptivePool2dGeometry g)
        {
            _g = default;
            (_h, _w, _oh, _ow) = (g.H, g.W, g.OutH, g.OutW);
            _adaptive = true;
        }

        /// <summary>Rows [r0, r1), columns [c0, c1) of output (y, x) and its divisor; empty windows give r0 ≥ r1.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Window(int y, int x, out int r0, out int r1, out int c0, out int c1, out int divisor)
        {
            if (_adaptive)
            {
                r0 = AdaptivePool2dGeometry.Start(y, _oh, _h);
                r1 = AdaptivePool2dGeometry.End(y, _oh, _h);
                c0 = AdaptivePool2dGeometry.Start(x, _ow, _w);
                c1 = AdaptivePool2dGeometry.End(x, _ow, _w);
                divisor = (r1 - r0) * (c1 - c0);
                return;
            }
            // PyTorch's avg_pool2d: the window is clipped to the padded input for count_include_pad, then to the input.
            r0 = y * _g.StrideH - _g.PadH;
            r1 = Math.Min(r0 + _g.KernelH, _h + _g.PadH);
            c0 = x * _g.StrideW - _g.PadW;
            c1 = Math.Min(c0 + _g.KernelW, _w + _g.PadW);
            int poolSize = (r1 - r0) * (c1 - c0);
            r0 = Math.Max(r0, 0);
            r1 = Math.Min(r1, _h);
            c0 = Math.Max(c0, 0);
            c1 = Math.Min(c1, _w);
            divisor = _g.DivisorOverride != 0 ? _g.DivisorOverride
                : _g.CountIncludePad ? poolSize : (r1 - r0) * (c1 - c0);
        }

        public void Forward<T>(ReadOnlySpan<T> input, Span<T> output, int p0, int p1)
            where T : unmanaged, IFloatingPointIeee754<T>
        {
            int inPlane = _h * _w, outPlane = _oh * _ow;
            for (int p = p0; p < p1; p++)
            {
                ReadOnlySpan<T> plane = input.Slice(p * inPlane, inPlane);
                Span<T> outs = output.Slice(p * outPlane, outPlane);
                for (int y = 0; y < _oh; y++)
                {
                    for (int x = 0; x < _ow; x++)
                    {
                        Window(y, x, out int r0, out int r1, out int c0, out int c1, out int divisor);
                        if (r0 >= r1 || c0 >= c1)
                        {
                            outs[y * _ow + x] = T.Zero;
                            continue;
                        }
                        T sum = T.Zero;
                        for (int r = r0; r < r1; r++)
                        {
                            ReadOnlySpan<T> row = plane.Slice(r * _w + c0, c1 - c0);
                            for (int i = 0; i < row.Length; i++) sum += row[i];
                        }
                        outs[y * _ow + x] = sum / T.CreateTruncating(divisor);
                    }
                }
            }
        }

        public void Backward<T>(ReadOnlySpan<T> gradOutput, Span<T> gradInput, int p0, int p1)
            where T : unmanaged, IFloatingPointIeee754<T>
        {
            int inPlane = _h * _w, outPlane = _oh * _ow;
            for (int p = p0; p < p1; p++)
            {
                Span<T> plane = gradInput.Slice(p * inPlane, inPlane);
                ReadOnlySpan<T> outs = gradOutput.Slice(p * outPlane, outPlane);
                plane.Clear();
                for (int y = 0; y < _oh; y++)
                {
                    for (int x = 0; x < _ow; x++)
                    {
                        Window(y, x, out int r0, out int r1, out int c0, out int c1, out int divisor);
                        if (r0 >= r1 || c0 >= c1) continue;
                        T gv = outs[y * _ow + x] / T.CreateTruncating(divisor);
                        for (int r = r0; r < r1; r++)
                        {
                            Span<T> row = plane.Slice(r * _w + c0, c1 - c0);
                            for (int i = 0; i < row.Length; i++) row[i] += gv;
                        }
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    private static int Workers(int planes, long work) =>
        KernelParallel.WorkersFor(work, planes, KernelSettings.PoolParallelMinWork);

    private static (int P0, int P1) Range(int planes, int workers, int w) =>
        ((int)((long)planes * w / workers), (int)((long)planes * (w + 1) / workers));

    private static void CheckLength(string op, string name, int actual, int expected)
    {
        if (actual != expected)
            throw new ArgumentException($"{op}: {name} has {actual} elements, expected {expected}", name);
    }
}
