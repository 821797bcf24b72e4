using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DeepSharp.Kernels;

/// <summary>
/// Shape of a 2-D convolution (NCHW, PyTorch semantics). <see cref="PadH"/>/<see cref="PadW"/> pad the
/// top/left and, unless <see cref="PadBottom"/>/<see cref="PadRight"/> are set, also the bottom/right
/// (PyTorch's <c>padding='same'</c> with an even effective kernel pads one more on the bottom/right:
/// see <see cref="Same"/>).
/// </summary>
internal readonly record struct Conv2dGeometry(int N, int InC, int H, int W, int OutC, int KernelH, int KernelW,
    int StrideH, int StrideW, int PadH, int PadW, int DilationH, int DilationW, int Groups)
{
    private readonly int? _padBottom;
    private readonly int? _padRight;

    /// <summary>Rows of zeros above the input (= <see cref="PadH"/>).</summary>
    public int PadTop => PadH;

    /// <summary>Columns of zeros left of the input (= <see cref="PadW"/>).</summary>
    public int PadLeft => PadW;

    /// <summary>Rows of zeros below the input; defaults to <see cref="PadH"/>.</summary>
    public int PadBottom { get => _padBottom ?? PadH; init => _padBottom = value; }

    /// <summary>Columns of zeros right of the input; defaults to <see cref="PadW"/>.</summary>
    public int PadRight { get => _padRight ?? PadW; init => _padRight = value; }

    /// <summary>floor((H + padTop + padBottom − dH·(kH−1) − 1) / sH) + 1, as PyTorch.</summary>
    public int OutH => OutSize(H, PadTop + PadBottom, KernelH, StrideH, DilationH);

    /// <summary>floor((W + padLeft + padRight − dW·(kW−1) − 1) / sW) + 1, as PyTorch.</summary>
    public int OutW => OutSize(W, PadLeft + PadRight, KernelW, StrideW, DilationW);

    /// <summary>Input channels per group.</summary>
    public int InCPerGroup => InC / Groups;

    /// <summary>Output channels per group.</summary>
    public int OutCPerGroup => OutC / Groups;

    /// <summary>Elements of the input [N, InC, H, W].</summary>
    public int InputLength => N * InC * H * W;

    /// <summary>Elements of the weight [OutC, InC/Groups, kH, kW].</summary>
    public int WeightLength => OutC * InCPerGroup * KernelH * KernelW;

    /// <summary>Elements of the output [N, OutC, OutH, OutW].</summary>
    public int OutputLength => N * OutC * OutH * OutW;

    /// <summary>A 1×1, stride-1, unpadded conv: the input image already is the [C, H·W] column matrix.</summary>
    internal bool IsPointwise => KernelH == 1 && KernelW == 1 && StrideH == 1 && StrideW == 1
        && PadTop == 0 && PadBottom == 0 && PadLeft == 0 && PadRight == 0;

    /// <summary>
    /// PyTorch's <c>padding='same'</c> (stride 1 only): total padding d·(k−1) per dimension, the smaller half
    /// on the top/left and the rest on the bottom/right.
    /// </summary>
    public static Conv2dGeometry Same(int n, int inC, int h, int w, int outC, int kernelH, int kernelW,
        int dilationH = 1, int dilationW = 1, int groups = 1)
    {
        int totalH = dilationH * (kernelH - 1), totalW = dilationW * (kernelW - 1);
        return new Conv2dGeometry(n, inC, h, w, outC, kernelH, kernelW, 1, 1, totalH / 2, totalW / 2,
            dilationH, dilationW, groups)
        { PadBottom = totalH - totalH / 2, PadRight = totalW - totalW / 2 };
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming <paramref name="op"/> and the values when the geometry is invalid.</summary>
    public void Validate(string op)
    {
        if (N < 0 || InC < 1 || H < 1 || W < 1 || OutC < 1)
            Throw(op, $"sizes must be positive (N ≥ 0), got N={N}, in_channels={InC}, H={H}, W={W}, out_channels={OutC}");
        if (KernelH < 1 || KernelW < 1)
            Throw(op, $"kernel size must be positive, got ({KernelH}, {KernelW})");
        if (StrideH < 1 || StrideW < 1)
            Throw(op, $"stride must be positive, got ({StrideH}, {StrideW})");
        if (DilationH < 1 || DilationW < 1)
            Throw(op, $"dilation must be positive, got ({DilationH}, {DilationW})");
        if (PadTop < 0 || PadBottom < 0 || PadLeft < 0 || PadRight < 0)
            Throw(op, $"padding must be non-negative, got top={PadTop}, bottom={PadBottom}, left={PadLeft}, right={PadRight}");
        if (Groups < 1)
            Throw(op, $"groups must be positive, got {Groups}");
        if (InC % Groups != 0)
            Throw(op, $"in_channels ({InC}) must be divisible by groups ({Groups})");
        if (OutC % Groups != 0)
            Throw(op, $"out_channels ({OutC}) must be divisible by groups ({Groups})");
        if (OutH < 1 || OutW < 1)
            Throw(op, $"calculated output size ({OutH}x{OutW}) is too small: input ({H}x{W}), kernel ({KernelH}x{KernelW}), " +
                      $"stride ({StrideH}, {StrideW}), padding (top={PadTop}, bottom={PadBottom}, left={PadLeft}, right={PadRight}), " +
                      $"dilation ({DilationH}, {DilationW})");
        long inLen = (long)N * InC * H * W;
        long outLen = (long)N * OutC * OutH * OutW;
        long colLen = (long)InC * KernelH * KernelW * OutW;
        if (inLen > int.MaxValue || outLen > int.MaxValue || colLen > int.MaxValue)
            Throw(op, $"tensor too large: input {inLen} elements, output {outLen} elements");
    }

    private static int OutSize(int size, int totalPad, int kernel, int stride, int dilation)
    {
        if (stride < 1) return 0;
        long num = (long)size + totalPad - (long)dilation * (kernel - 1) - 1;
        return num < 0 ? 0 : (int)(num / stride + 1);
    }

    private static void Throw(string op, string message) => throw new ArgumentException($"{op}: {message}");
}

/// <summary>
/// 2-D convolution over contiguous NCHW spans (PyTorch semantics): im2col + <see cref="Gemm"/>, with 1×1
/// stride-1 unpadded convs fed to the GEMM directly. Work is spread over <see cref="KernelSettings.NumThreads"/>
/// by (image, output-row tile); every worker owns a pooled column buffer. Depthwise convs (one input
/// channel per group) take the direct kernels in <see cref="Conv2dDepthwise"/>, and 3×3 stride-1 convs with
/// at least 8 channels Winograd F(2×2, 3×3) in <see cref="Conv2dWinograd"/>.
/// </summary>
internal static unsafe class Conv2dKernels
{
    /// <summary>output[N,O,OH,OW] = conv(input[N,C,H,W], weight[O,C/groups,kH,kW]) + bias[O] (bias may be empty).</summary>
    public static void Forward<T>(Conv2dGeometry g, ReadOnlySpan<T> input, ReadOnlySpan<T> weight,
        ReadOnlySpan<T> bias, Span<T> output)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        const string op = "conv2d";
        g.Validate(op);
        CheckLength(op, nameof(input), input.Length, g.InputLength);
        CheckLength(op, nameof(weight), weight.Length, g.WeightLength);
        if (!bias.IsEmpty) CheckLength(op, nameof(bias), bias.Length, g.OutC);
        CheckLength(op, nameof(output), output.Length, g.OutputLength);
        if (g.N == 0) return;
        if (Conv2dDepthwise.Applies(g))
        {
            Conv2dDepthwise.Forward(g, input, weight, bias, output);
            return;
        }
        if (Conv2dWinograd.Applies(g))
        {
            Conv2dWinograd.Forward(g, input, weight, bias, output);
            return;
        }

        var plan = Plan.Create<T>(g, splitRows: true);
        if (plan.Workers == 1)
        {
            ForwardWorker(g, plan, input, weight, bias, output, 0);
            return;
        }
        fixed (T* pi = input, pw = weight, pb = bias, po = output)
        {
            nint ip = (nint)pi, wp = (nint)pw, bp = (nint)pb, op2 = (nint)po;
            int il = input.Length, wl = weight.Length, bl = bias.Length, ol = output.Length;
            KernelParallel.For(0, plan.Workers, w => ForwardWorker(g, plan,
                new ReadOnlySpan<T>((void*)ip, il), new ReadOnlySpan<T>((void*)wp, wl),
                new ReadOnlySpan<T>((void*)bp, bl), new Span<T>((void*)op2, ol), w));
        }
    }

    /// <summary>gradInput[N,C,H,W] = conv-transpose of gradOutput[N,O,OH,OW] with weight (overwritten).</summary>
    public static void BackwardInput<T>(Conv2dGeometry g, ReadOnlySpan<T> gradOutput, ReadOnlySpan<T> weight,
        Span<T> gradInput)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        const string op = "conv2d backward (input)";
        g.Validate(op);
        CheckLength(op, nameof(gradOutput), gradOutput.Length, g.OutputLength);
        CheckLength(op, nameof(weight), weight.Length, g.WeightLength);
        CheckLength(op, nameof(gradInput), gradInput.Length, g.InputLength);
        if (g.N == 0) return;
        if (Conv2dDepthwise.Applies(g))
        {
            Conv2dDepthwise.BackwardInput(g, gradOutput, weight, gradInput);
            return;
        }
        if (Conv2dWinograd.Applies(g))
        {
            Conv2dWinograd.BackwardInput(g, gradOutput, weight, gradInput);
            return;
        }

        // col2im tiles of one image overlap in gradInput, so work is split by image only.
        var plan = Plan.Create<T>(g, splitRows: false);
        if (plan.Workers == 1)
        {
            BackwardInputWorker(g, plan, gradOutput, weight, gradInput, 0);
            return;
        }
        fixed (T* pg = gradOutput, pw = weight, pi = gradInput)
        {
            nint gp = (nint)pg, wp = (nint)pw, ip = (nint)pi;
            int gl = gradOutput.Length, wl = weight.Length, il = gradInput.Length;
            KernelParallel.For(0, plan.Workers, w => BackwardInputWorker(g, plan,
                new ReadOnlySpan<T>((void*)gp, gl), new ReadOnlySpan<T>((void*)wp, wl),
                new Span<T>((void*)ip, il), w));
        }
    }

    /// <summary>gradWeight[O,C/groups,kH,kW] = Σₙ gradOutputₙ · colsₙᵀ (overwritten).</summary>
    public static void BackwardWeight<T>(Conv2dGeometry g, ReadOnlySpan<T> input, ReadOnlySpan<T> gradOutput,
        Span<T> gradWeight)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        const string op = "conv2d backward (weight)";
        g.Validate(op);
        CheckLength(op, nameof(input), input.Length, g.InputLength);
        CheckLength(op, nameof(gradOutput), gradOutput.Length, g.OutputLength);
        CheckLength(op, nameof(gradWeight), gradWeight.Length, g.WeightLength);
        gradWeight.Clear();
        if (g.N == 0) return;
        if (Conv2dDepthwise.Applies(g))
        {
            Conv2dDepthwise.BackwardWeight(g, input, gradOutput, gradWeight);
            return;
        }
        if (Conv2dWinograd.Applies(g))
        {
            Conv2dWinograd.BackwardWeight(g, input, gradOutput, gradWeight);
            return;
        }

        // Each worker accumulates the transposed gradient dWᵀ = cols·dYᵀ ([groups][C/groups·kH·kW][O/groups]): the big
        // column matrix is then the GEMM's A, read in place, and only the small dY is packed (the dW = dY·colsᵀ form
        // packs the transposed column matrix). The transposes are summed into gradWeight in worker order
        // (parts follow the shape, not the thread count: the same bits with any number of threads).
        var plan = Plan.Create<T>(g, splitRows: true, parts: KernelSettings.ReductionParts(gradWeight.Length));
        int wlen = gradWeight.Length;
        T[] partial = ArrayPool<T>.Shared.Rent(plan.Workers * wlen);
        try
        {
            partial.AsSpan(0, plan.Workers * wlen).Clear();
            if (plan.Workers == 1)
            {
                BackwardWeightWorker(g, plan, input, gradOutput, partial.AsSpan(0, wlen), 0);
            }
            else
            {
                fixed (T* pi = input, pg = gradOutput, pp = partial)
                {
                    nint ip = (nint)pi, gp = (nint)pg, pq = (nint)pp;
                    int il = input.Length, gl = gradOutput.Length;
                    KernelParallel.For(0, plan.Workers, w =>
                        BackwardWeightWorker(g, plan, new ReadOnlySpan<T>((void*)ip, il),
                            new ReadOnlySpan<T>((void*)gp, gl), new Span<T>((void*)pq, plan.Workers * wlen).Slice(w * wlen, wlen), w));
                }
            }
            int og = g.OutCPerGroup, kdim = g.InCPerGroup * g.KernelH * g.KernelW;
            for (int w = 0; w < plan.Workers; w++)
            {
                ReadOnlySpan<T> t = partial.AsSpan(w * wlen, wlen);
                for (int gr = 0; gr < g.Groups; gr++)
                {
                    int b0 = gr * og * kdim;
                    for (int o = 0; o < og; o++)
                    {
                        Span<T> row = gradWeight.Slice(b0 + o * kdim, kdim);
                        for (int kk = 0; kk < kdim; kk++) row[kk] += t[b0 + kk * og + o];
                    }
                }
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(partial);
        }
    }

    /// <summary>gradBias[O] = Σ over batch and output pixels of gradOutput[N,O,OH,OW] (overwritten).</summary>
    public static void BackwardBias<T>(Conv2dGeometry g, ReadOnlySpan<T> gradOutput, Span<T> gradBias)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        const string op = "conv2d backward (bias)";
        g.Validate(op);
        CheckLength(op, nameof(gradOutput), gradOutput.Length, g.OutputLength);
        CheckLength(op, nameof(gradBias), gradBias.Length, g.OutC);
        int plane = g.OutH * g.OutW;
        // Per channel: the plane sums of every image, added in image order (the same bits for any thread count).
        // Planes are short (H·W), so the sum is an inline vector loop rather than one library call per plane.
        long work = (long)g.N * g.OutC * plane;
        int workers = KernelParallel.WorkersFor(work, g.OutC, KernelSettings.ConvBiasParallelMinWork);
        if (workers == 1)
        {
            BiasChannels(g, gradOutput, gradBias, 0, g.OutC);
            return;
        }
        fixed (T* pg = gradOutput, pb = gradBias)
        {
            nint gp = (nint)pg, bp = (nint)pb;
            int gl = gradOutput.Length, bl = gradBias.Length, oc = g.OutC;
            KernelParallel.For(0, workers, w => BiasChannels(g, new ReadOnlySpan<T>((void*)gp, gl), new Span<T>((void*)bp, bl),
                (int)((long)oc * w / workers), (int)((long)oc * (w + 1) / workers)));
        }
    }

    private static void BiasChannels<T>(in Conv2dGeometry g, ReadOnlySpan<T> gradOutput, Span<T> gradBias, int o0, int o1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int plane = g.OutH * g.OutW;
        if (typeof(T) == typeof(float))
        {
            // Float32 adds in float64 and rounds once, as the Sum and Linear bias kernels do.
            var gf = MemoryMarshal.Cast<T, float>(gradOutput);
            var bf = MemoryMarshal.Cast<T, float>(gradBias);
            for (int o = o0; o < o1; o++)
            {
                double sd = 0;
                for (int n = 0; n < g.N; n++) sd += ReduceKernels.SumWidened(gf.Slice((n * g.OutC + o) * plane, plane));
                bf[o] = (float)sd;
            }
            return;
        }
        for (int o = o0; o < o1; o++)
        {
            T s = T.Zero;
            for (int n = 0; n < g.N; n++) s += PlaneSum(gradOutput.Slice((n * g.OutC + o) * plane, plane));
            gradBias[o] = s;
        }
    }

    private static T PlaneSum<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T r = ref MemoryMarshal.GetReference(x);
        int i = 0, n = x.Length;
        T s = T.Zero;
        if (KernelSettings.UseAvx2Fma && n >= 2 * Vector256<T>.Count)
        {
            Vector256<T> a0 = Vector256<T>.Zero, a1 = Vector256<T>.Zero;
            int w = Vector256<T>.Count;
            for (; i <= n - 2 * w; i += 2 * w)
            {
                a0 += Vector256.LoadUnsafe(ref r, (nuint)i);
                a1 += Vector256.LoadUnsafe(ref r, (nuint)(i + w));
            }
            s = Vector256.Sum(a0 + a1);
        }
        else if (Vector128.IsHardwareAccelerated && n >= 2 * Vector128<T>.Count)
        {
            Vector128<T> a0 = Vector128<T>.Zero, a1 = Vector128<T>.Zero;
            int w = Vector128<T>.Count;
            for (; i <= n - 2 * w; i += 2 * w)
            {
                a0 += Vector128.LoadUnsafe(ref r, (nuint)i);
                a1 += Vector128.LoadUnsafe(ref r, (nuint)(i + w));
            }
            s = Vector128.Sum(a0 + a1);
        }
        for (; i < n; i++) s += Unsafe.Add(ref r, i);
        return s;
    }

    // ---------------------------------------------------------------- workers

    /// <summary>
    /// The column matrix [C·kH·kW, rows·OW] of output rows [oh0, oh0+rows) of one image: the image itself for a
    /// pointwise conv (no copy, row stride H·W), else im2col into <paramref name="colsArr"/>. <paramref name="ldb"/> is
    /// its row stride and <paramref name="groupStride"/> the offset between groups.
    /// </summary>
    private static ReadOnlySpan<T> Columns<T>(in Conv2dGeometry g, in Plan plan, ReadOnlySpan<T> img, T[]? colsArr,
        int oh0, int rows, out int ldb, out int groupStride)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int ncols = rows * g.OutW;
        if (colsArr is null)
        {
            ldb = g.H * g.W;
            groupStride = g.InCPerGroup * ldb;
            return img.Slice(oh0 * g.OutW);
        }
        Span<T> c = colsArr.AsSpan(0, plan.ColRows * ncols);
        Im2Col(g, img, oh0, rows, c);
        ldb = ncols;
        groupStride = g.InCPerGroup * g.KernelH * g.KernelW * ncols;
        return c;
    }

    private static void ForwardWorker<T>(Conv2dGeometry g, Plan plan, ReadOnlySpan<T> input, ReadOnlySpan<T> weight,
        ReadOnlySpan<T> bias, Span<T> output, int worker)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int inPlane = g.H * g.W, ohow = g.OutH * g.OutW;
        int cg = g.InCPerGroup, og = g.OutCPerGroup, kdim = cg * g.KernelH * g.KernelW;
        T[]? colsArr = g.IsPointwise ? null : ArrayPool<T>.Shared.Rent(plan.ColRows * plan.TileRows * g.OutW);
        try
        {
            for (int item = worker; item < plan.Items; item += plan.Workers)
            {
                int n = item / plan.Tiles, oh0 = (item % plan.Tiles) * plan.TileRows;
                int rows = Math.Min(plan.TileRows, g.OutH - oh0);
                int ncols = rows * g.OutW, colOff = oh0 * g.OutW;
                ReadOnlySpan<T> img = input.Slice(n * g.InC * inPlane, g.InC * inPlane);
                Span<T> outImg = output.Slice(n * g.OutC * ohow, g.OutC * ohow);

                var cols = Columns(g, plan, img, colsArr, oh0, rows, out int ldb, out int groupStride);

                T beta = T.Zero;
                if (!bias.IsEmpty)
                {
                    for (int o = 0; o < g.OutC; o++) outImg.Slice(o * ohow + colOff, ncols).Fill(bias[o]);
                    beta = T.One;
                }
                for (int gr = 0; gr < g.Groups; gr++)
                {
                    Gemm.Compute(false, false, og, ncols, kdim, T.One,
                        weight.Slice(gr * og * kdim, og * kdim), kdim,
                        cols.Slice(gr * groupStride, (kdim - 1) * ldb + ncols), ldb,
                        beta, outImg.Slice(gr * og * ohow + colOff, (og - 1) * ohow + ncols), ohow);
                }
            }
        }
        finally
        {
            if (colsArr is not null) ArrayPool<T>.Shared.Return(colsArr);
        }
    }

    private static void BackwardInputWorker<T>(Conv2dGeometry g, Plan plan, ReadOnlySpan<T> gradOutput,
        ReadOnlySpan<T> weight, Span<T> gradInput, int worker)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int inPlane = g.H * g.W, ohow = g.OutH * g.OutW;
        int cg = g.InCPerGroup, og = g.OutCPerGroup, kdim = cg * g.KernelH * g.KernelW;
        T[]? colsArr = g.IsPointwise ? null : ArrayPool<T>.Shared.Rent(plan.ColRows * plan.TileRows * g.OutW);
        try
        {
            for (int n = worker; n < g.N; n += plan.Workers)
            {
                ReadOnlySpan<T> dy = gradOutput.Slice(n * g.OutC * ohow, g.OutC * ohow);
                Span<T> dx = gradInput.Slice(n * g.InC * inPlane, g.InC * inPlane);
                if (colsArr is null)
                {
                    // dX_g[Cg, HW] = W_gᵀ · dY_g
                    for (int gr = 0; gr < g.Groups; gr++)
                        Gemm.Compute(true, false, cg, ohow, og, T.One,
                            weight.Slice(gr * og * cg, og * cg), cg,
                            dy.Slice(gr * og * ohow, og * ohow), ohow,
                            T.Zero, dx.Slice(gr * cg * inPlane, cg * inPlane), inPlane);
                    continue;
                }
                dx.Clear();
                for (int oh0 = 0; oh0 < g.OutH; oh0 += plan.TileRows)
                {
                    int rows = Math.Min(plan.TileRows, g.OutH - oh0);
                    int ncols = rows * g.OutW, colOff = oh0 * g.OutW;
                    Span<T> dcols = colsArr.AsSpan(0, plan.ColRows * ncols);
                    for (int gr = 0; gr < g.Groups; gr++)
                        Gemm.Compute(true, false, kdim, ncols, og, T.One,
                            weight.Slice(gr * og * kdim, og * kdim), kdim,
                            dy.Slice(gr * og * ohow + colOff, (og - 1) * ohow + ncols), ohow,
                            T.Zero, dcols.Slice(gr * kdim * ncols, kdim * ncols), ncols);
                    Col2ImAdd(g, dcols, oh0, rows, dx);
                }
            }
        }
        finally
        {
            if (colsArr is not null) ArrayPool<T>.Shared.Return(colsArr);
        }
    }

    private static void BackwardWeightWorker<T>(Conv2dGeometry g, Plan plan, ReadOnlySpan<T> input,
        ReadOnlySpan<T> gradOutput, Span<T> gradWeightT, int worker)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int inPlane = g.H * g.W, ohow = g.OutH * g.OutW;
        int cg = g.InCPerGroup, og = g.OutCPerGroup, kdim = cg * g.KernelH * g.KernelW;
        T[]? colsArr = g.IsPointwise ? null : ArrayPool<T>.Shared.Rent(plan.ColRows * plan.TileRows * g.OutW);
        try
        {
            for (int item = worker; item < plan.Items; item += plan.Workers)
            {
                int n = item / plan.Tiles, oh0 = (item % plan.Tiles) * plan.TileRows;
                int rows = Math.Min(plan.TileRows, g.OutH - oh0);
                int ncols = rows * g.OutW, colOff = oh0 * g.OutW;
                ReadOnlySpan<T> img = input.Slice(n * g.InC * inPlane, g.InC * inPlane);
                ReadOnlySpan<T> dy = gradOutput.Slice(n * g.OutC * ohow, g.OutC * ohow);

                var cols = Columns(g, plan, img, colsArr, oh0, rows, out int ldb, out int groupStride);
                // dWᵀ_g[Kdim, Og] += cols_g[Kdim, ncols] · dY_g[Og, ncols]ᵀ
                for (int gr = 0; gr < g.Groups; gr++)
                    Gemm.Compute(false, true, kdim, og, ncols, T.One,
                        cols.Slice(gr * groupStride, (kdim - 1) * ldb + ncols), ldb,
                        dy.Slice(gr * og * ohow + colOff, (og - 1) * ohow + ncols), ohow,
                        T.One, gradWeightT.Slice(gr * og * kdim, og * kdim), og);
            }
        }
        finally
        {
            if (colsArr is not null) ArrayPool<T>.Shared.Return(colsArr);
        }
    }

    // ---------------------------------------------------------------- planning

    /// <summary>How a call is cut: output rows per tile, tiles per image, work items and workers.</summary>
    private readonly record struct Plan(int TileRows, int Tiles, int Items, int Workers, int ColRows)
    {
        // parts > 0: a reduction over the batch cut into that many parts (workers) in place of the thread count.
        public static Plan Create<T>(in Conv2dGeometry g, bool splitRows, int parts = 0) where T : unmanaged
        {
            int colRows = g.InC * g.KernelH * g.KernelW;
            int tileRows = g.OutH;
            if (!g.IsPointwise)
            {
                long perRow = (long)colRows * g.OutW * Unsafe.SizeOf<T>();
                int maxRows = (int)Math.Clamp(KernelSettings.ConvColumnTileBytes / perRow, 1, g.OutH);
                tileRows = CeilDiv(g.OutH, CeilDiv(g.OutH, maxRows));   // balanced: no small leftover tile
            }
            long macs = (long)g.N * g.OutC * g.OutH * g.OutW * g.InCPerGroup * g.KernelH * g.KernelW;
            int threads = parts > 0 && macs >= KernelSettings.ConvParallelMinMacs ? parts : KernelParallel.WorkersFor(macs, int.MaxValue, KernelSettings.ConvParallelMinMacs);
            if (splitRows && threads > 1 && (long)g.N * CeilDiv(g.OutH, tileRows) < threads)
            {
                // Too few images to keep every thread busy: cut each image into more row tiles.
                int perImage = CeilDiv(threads, g.N);
                tileRows = Math.Max(1, Math.Min(tileRows, CeilDiv(g.OutH, perImage)));
            }
            int tiles = splitRows ? CeilDiv(g.OutH, tileRows) : 1;
            int items = g.N * tiles;
            return new Plan(tileRows, tiles, items, Math.Max(1, Math.Min(threads, items)), colRows);
        }
    }

    private static int CeilDiv(int a, int b) => (a + b - 1) / b;

    private static void CheckLength(string op, string name, int actual, int expected)
    {
        if (actual != expected)
            throw new ArgumentException($"{op}: {name} has {actual} elements, expected {expected}", name);
    }

    /// <summary>The outputs o in [lo, hi) with 0 ≤ o·stride + offset &lt; inSize, clamped to [0, outSize).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (int Lo, int Hi) ValidRange(int outSize, int inSize, int stride, int offset)
    {
        int lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
        int rem = inSize - offset;
        int hi = rem <= 0 ? 0 : (rem + stride - 1) / stride;
        lo = Math.Min(lo, outSize);
        hi = Math.Clamp(hi, lo, outSize);
        return (lo, hi);
    }

    // ---------------------------------------------------------------- im2col / col2im

    /// <summary>
    /// cols[C·kH·kW, rows·OW] for output rows [oh0, oh0+rows) of one image [C, H, W]; row (c, ki, kj) holds
    /// input[c, oh·sH − padTop + ki·dH, ow·sW − padLeft + kj·dW] (zero outside the image).
    /// </summary>
    internal static void Im2Col<T>(in Conv2dGeometry g, ReadOnlySpan<T> img, int oh0, int rows, Span<T> cols)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int h = g.H, w = g.W, ow = g.OutW, sh = g.StrideH, sw = g.StrideW;
        int ncols = rows * ow;
        ref T src0 = ref MemoryMarshal.GetReference(img);
        ref T dst0 = ref MemoryMarshal.GetReference(cols);
        int row = 0;
        for (int c = 0; c < g.InC; c++)
        {
            int planeOff = c * h * w;
            for (int ki = 0; ki < g.KernelH; ki++)
            {
                int ihOff = ki * g.DilationH - g.PadTop;
                for (int kj = 0; kj < g.KernelW; kj++, row++)
                {
                    int iwOff = kj * g.DilationW - g.PadLeft;
                    var (lo, hi) = ValidRange(ow, w, sw, iwOff);
                    Span<T> dstRow = cols.Slice(row * ncols, ncols);
                    for (int r = 0; r < rows; r++)
                    {
                        int ih = (oh0 + r) * sh + ihOff;
                        Span<T> dst = dstRow.Slice(r * ow, ow);
                        if ((uint)ih >= (uint)h || lo >= hi)
                        {
                            dst.Clear();
                            continue;
                        }
                        if (lo > 0) dst.Slice(0, lo).Clear();
                        if (hi < ow) dst.Slice(hi).Clear();
                        int srcOff = planeOff + ih * w + iwOff;
                        if (sw == 1)
                        {
                            img.Slice(srcOff + lo, hi - lo).CopyTo(dst.Slice(lo));
                        }
                        else
                        {
                            ref T s = ref Unsafe.Add(ref src0, srcOff);
                            ref T d = ref Unsafe.Add(ref dst0, row * ncols + r * ow);
                            for (int o = lo; o < hi; o++) Unsafe.Add(ref d, o) = Unsafe.Add(ref s, o * sw);
                        }
                    }
                }
            }
        }
    }

    /// <summary>The adjoint of <see cref="Im2Col{T}"/>: adds cols[C·kH·kW, rows·OW] back into img [C, H, W].</summary>
    internal static void Col2ImAdd<T>(in Conv2dGeometry g, ReadOnlySpan<T> cols, int oh0, int rows, Span<T> img)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int h = g.H, w = g.W, ow = g.OutW, sh = g.StrideH, sw = g.StrideW;
        int ncols = rows * ow;
        ref T src0 = ref MemoryMarshal.GetReference(cols);
        ref T dst0 = ref MemoryMarshal.GetReference(img);
        int row = 0;
        for (int c = 0; c < g.InC; c++)
        {
            int planeOff = c * h * w;
            for (int ki = 0; ki < g.KernelH; ki++)
            {
                int ihOff = ki * g.DilationH - g.PadTop;
                for (int kj = 0; kj < g.KernelW; kj++, row++)
                {
                    int iwOff = kj * g.DilationW - g.PadLeft;
                    var (lo, hi) = ValidRange(ow, w, sw, iwOff);
                    if (lo >= hi) continue;
                    for (int r = 0; r < rows; r++)
                    {
                        int ih = (oh0 + r) * sh + ihOff;
                        if ((uint)ih >= (uint)h) continue;
                        int dstOff = planeOff + ih * w + iwOff;
                        int srcOff = row * ncols + r * ow;
                        if (sw == 1)
                        {
                            // Rows are short (one output row): an inline vector loop, not a TensorPrimitives call
                            // per row (its per-call cost made col2im 10× slower than the copy in Im2Col).
                            _ = img.Slice(dstOff + lo, hi - lo);
                            _ = cols.Slice(srcOff + lo, hi - lo);
                            AddTo(ref Unsafe.Add(ref dst0, dstOff + lo), ref Unsafe.Add(ref src0, srcOff + lo), hi - lo);
                        }
                        else
                        {
                            ref T s = ref Unsafe.Add(ref src0, srcOff);
                            ref T d = ref Unsafe.Add(ref dst0, dstOff);
                            for (int o = lo; o < hi; o++) Unsafe.Add(ref d, o * sw) += Unsafe.Add(ref s, o);
                        }
                    }
                }
            }
        }
    }

    /// <summary>d[i] += s[i] for i &lt; n (bounds checked by the caller).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddTo<T>(ref T d, ref T s, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        if (KernelSettings.UseAvx2Fma)
        {
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
                (Vector256.LoadUnsafe(ref d, (nuint)i) + Vector256.LoadUnsafe(ref s, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            for (; i <= n - Vector128<T>.Count; i += Vector128<T>.Count)
                (Vector128.LoadUnsafe(ref d, (nuint)i) + Vector128.LoadUnsafe(ref s, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref d, i) += Unsafe.Add(ref s, i);
    }
}
