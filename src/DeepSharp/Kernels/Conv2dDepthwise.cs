using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DeepSharp.Kernels;

/// <summary>
/// Direct kernels for depthwise convolutions (groups &gt; 1, one input channel per group, any channel
/// multiplier), where im2col + GEMM would run one tiny GEMM per channel. Each output plane is a sum of
/// shifted, scaled input rows (vectorised with <see cref="TensorPrimitives"/> for stride 1).
/// Work is spread over (image, channel) planes.
/// </summary>
internal static unsafe class Conv2dDepthwise
{
    /// <summary>Whether <see cref="Conv2dKernels"/> routes this geometry here.</summary>
    public static bool Applies(in Conv2dGeometry g) => g.Groups > 1 && g.InCPerGroup == 1;

    public static void Forward<T>(Conv2dGeometry g, ReadOnlySpan<T> input, ReadOnlySpan<T> weight,
        ReadOnlySpan<T> bias, Span<T> output)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int planes = g.N * g.InC;
        int workers = Workers(g, planes);
        if (workers == 1)
        {
            ForwardPlanes(g, input, weight, bias, output, 0, planes);
            return;
        }
        fixed (T* pi = input, pw = weight, pb = bias, po = output)
        {
            nint ip = (nint)pi, wp = (nint)pw, bp = (nint)pb, op = (nint)po;
            int il = input.Length, wl = weight.Length, bl = bias.Length, ol = output.Length;
            KernelParallel.For(0, workers, w => ForwardPlanes(g, new ReadOnlySpan<T>((void*)ip, il),
                new ReadOnlySpan<T>((void*)wp, wl), new ReadOnlySpan<T>((void*)bp, bl), new Span<T>((void*)op, ol),
                (int)((long)planes * w / workers), (int)((long)planes * (w + 1) / workers)));
        }
    }

    public static void BackwardInput<T>(Conv2dGeometry g, ReadOnlySpan<T> gradOutput, ReadOnlySpan<T> weight,
        Span<T> gradInput)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int planes = g.N * g.InC;
        int workers = Workers(g, planes);
        if (workers == 1)
        {
            BackwardInputPlanes(g, gradOutput, weight, gradInput, 0, planes);
            return;
        }
        fixed (T* pg = gradOutput, pw = weight, pi = gradInput)
        {
            nint gp = (nint)pg, wp = (nint)pw, ip = (nint)pi;
            int gl = gradOutput.Length, wl = weight.Length, il = gradInput.Length;
            KernelParallel.For(0, workers, w => BackwardInputPlanes(g, new ReadOnlySpan<T>((void*)gp, gl),
                new ReadOnlySpan<T>((void*)wp, wl), new Span<T>((void*)ip, il),
                (int)((long)planes * w / workers), (int)((long)planes * (w + 1) / workers)));
        }
    }

    /// <summary>gradWeight must be cleared by the caller; split by channel so workers own disjoint rows.</summary>
    public static void BackwardWeight<T>(Conv2dGeometry g, ReadOnlySpan<T> input, ReadOnlySpan<T> gradOutput,
        Span<T> gradWeight)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int channels = g.InC;
        int workers = Workers(g, channels);
        if (workers == 1)
        {
            BackwardWeightChannels(g, input, gradOutput, gradWeight, 0, channels);
            return;
        }
        fixed (T* pi = input, pg = gradOutput, pw = gradWeight)
        {
            nint ip = (nint)pi, gp = (nint)pg, wp = (nint)pw;
            int il = input.Length, gl = gradOutput.Length, wl = gradWeight.Length;
            KernelParallel.For(0, workers, w => BackwardWeightChannels(g, new ReadOnlySpan<T>((void*)ip, il),
                new ReadOnlySpan<T>((void*)gp, gl), new Span<T>((void*)wp, wl),
                (int)((long)channels * w / workers), (int)((long)channels * (w + 1) / workers)));
        }
    }

    private static int Workers(in Conv2dGeometry g, int units)
    {
        long macs = (long)g.N * g.OutC * g.OutH * g.OutW * g.KernelH * g.KernelW;
        return KernelParallel.WorkersFor(macs, units, KernelSettings.ConvParallelMinMacs / 4);
    }

    /// <summary>Planes p = n·C + c in [p0, p1): output channels c·mult … c·mult + mult − 1 of image n.</summary>
    private static void ForwardPlanes<T>(in Conv2dGeometry g, ReadOnlySpan<T> input, ReadOnlySpan<T> weight,
        ReadOnlySpan<T> bias, Span<T> output, int p0, int p1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int inPlane = g.H * g.W, ohow = g.OutH * g.OutW, mult = g.OutCPerGroup, kk = g.KernelH * g.KernelW;
        for (int p = p0; p < p1; p++)
        {
            int n = p / g.InC, c = p % g.InC;
            ReadOnlySpan<T> src = input.Slice(p * inPlane, inPlane);
            for (int m = 0; m < mult; m++)
            {
                int o = c * mult + m;
                Span<T> dst = output.Slice((n * g.OutC + o) * ohow, ohow);
                dst.Fill(bias.IsEmpty ? T.Zero : bias[o]);
                ReadOnlySpan<T> wk = weight.Slice(o * kk, kk);
                for (int ki = 0; ki < g.KernelH; ki++)
                for (int kj = 0; kj < g.KernelW; kj++)
                {
                    T wv = wk[ki * g.KernelW + kj];
                    int ihOff = ki * g.DilationH - g.PadTop, iwOff = kj * g.DilationW - g.PadLeft;
                    var (lo, hi) = Conv2dKernels.ValidRange(g.OutW, g.W, g.StrideW, iwOff);
                    var (ylo, yhi) = Conv2dKernels.ValidRange(g.OutH, g.H, g.StrideH, ihOff);
                    if (lo >= hi) continue;
                    for (int y = ylo; y < yhi; y++)
                    {
                        int srcOff = (y * g.StrideH + ihOff) * g.W + iwOff;
                        Span<T> d = dst.Slice(y * g.OutW + lo, hi - lo);
                        if (g.StrideW == 1)
                        {
                            TensorPrimitives.MultiplyAdd(src.Slice(srcOff + lo, hi - lo), wv, d, d);
                        }
                        else
                        {
                            ref T s = ref Unsafe.Add(ref MemoryMarshal.GetReference(src), srcOff);
                            for (int x = lo; x < hi; x++) d[x - lo] += wv * Unsafe.Add(ref s, x * g.StrideW);
                        }
                    }
                }
            }
        }
    }

    private static void BackwardInputPlanes<T>(in Conv2dGeometry g, ReadOnlySpan<T> gradOutput, ReadOnlySpan<T> weight,
        Span<T> gradInput, int p0, int p1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int inPlane = g.H * g.W, ohow = g.OutH * g.OutW, mult = g.OutCPerGroup, kk = g.KernelH * g.KernelW;
        for (int p = p0; p < p1; p++)
        {
            int n = p / g.InC, c = p % g.InC;
            Span<T> dx = gradInput.Slice(p * inPlane, inPlane);
            dx.Clear();
            for (int m = 0; m < mult; m++)
            {
                int o = c * mult + m;
                ReadOnlySpan<T> dy = gradOutput.Slice((n * g.OutC + o) * ohow, ohow);
                ReadOnlySpan<T> wk = weight.Slice(o * kk, kk);
                for (int ki = 0; ki < g.KernelH; ki++)
                for (int kj = 0; kj < g.KernelW; kj++)
                {
                    T wv = wk[ki * g.KernelW + kj];
                    int ihOff = ki * g.DilationH - g.PadTop, iwOff = kj * g.DilationW - g.PadLeft;
                    var (lo, hi) = Conv2dKernels.ValidRange(g.OutW, g.W, g.StrideW, iwOff);
                    var (ylo, yhi) = Conv2dKernels.ValidRange(g.OutH, g.H, g.StrideH, ihOff);
                    if (lo >= hi) continue;
                    for (int y = ylo; y < yhi; y++)
                    {
                        int dstOff = (y * g.StrideH + ihOff) * g.W + iwOff;
                        ReadOnlySpan<T> s = dy.Slice(y * g.OutW + lo, hi - lo);
                        if (g.StrideW == 1)
                        {
                            Span<T> d = dx.Slice(dstOff + lo, hi - lo);
                            TensorPrimitives.MultiplyAdd(s, wv, d, d);
                        }
                        else
                        {
                            ref T d = ref Unsafe.Add(ref MemoryMarshal.GetReference(dx), dstOff);
                            for (int x = lo; x < hi; x++) Unsafe.Add(ref d, x * g.StrideW) += wv * s[x - lo];
                        }
                    }
                }
            }
        }
    }

    private static void BackwardWeightChannels<T>(in Conv2dGeometry g, ReadOnlySpan<T> input, ReadOnlySpan<T> gradOutput,
        Span<T> gradWeight, int c0, int c1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int inPlane = g.H * g.W, ohow = g.OutH * g.OutW, mult = g.OutCPerGroup, kk = g.KernelH * g.KernelW;
        T[]? gather = g.StrideW == 1 ? null : ArrayPool<T>.Shared.Rent(g.OutW);
        try
        {
            for (int c = c0; c < c1; c++)
            for (int m = 0; m < mult; m++)
            {
                int o = c * mult + m;
                Span<T> dw = gradWeight.Slice(o * kk, kk);
                for (int n = 0; n < g.N; n++)
                {
                    ReadOnlySpan<T> src = input.Slice((n * g.InC + c) * inPlane, inPlane);
                    ReadOnlySpan<T> dy = gradOutput.Slice((n * g.OutC + o) * ohow, ohow);
                    for (int ki = 0; ki < g.KernelH; ki++)
                    for (int kj = 0; kj < g.KernelW; kj++)
                    {
                        int ihOff = ki * g.DilationH - g.PadTop, iwOff = kj * g.DilationW - g.PadLeft;
                        var (lo, hi) = Conv2dKernels.ValidRange(g.OutW, g.W, g.StrideW, iwOff);
                        var (ylo, yhi) = Conv2dKernels.ValidRange(g.OutH, g.H, g.StrideH, ihOff);
                        if (lo >= hi) continue;
                        T acc = T.Zero;
                        for (int y = ylo; y < yhi; y++)
                        {
                            int srcOff = (y * g.StrideH + ihOff) * g.W + iwOff;
                            ReadOnlySpan<T> d = dy.Slice(y * g.OutW + lo, hi - lo);
                            if (g.StrideW == 1)
                            {
                                acc += TensorPrimitives.Dot(d, src.Slice(srcOff + lo, hi - lo));
                            }
                            else
                            {
                                Span<T> tmp = gather.AsSpan(0, hi - lo);
                                for (int x = lo; x < hi; x++) tmp[x - lo] = src[srcOff + x * g.StrideW];
                                acc += TensorPrimitives.Dot(d, tmp);
                            }
                        }
                        dw[ki * g.KernelW + kj] += acc;
                    }
                }
            }
        }
        finally
        {
            if (gather is not null) ArrayPool<T>.Shared.Return(gather);
        }
    }
}
