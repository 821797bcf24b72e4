using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeepSharp.Kernels;

// The tile transforms for float with AVX-512 (KernelSettings.UseAvx512): 16 tiles per vector, even and odd columns
// picked in registers with two-source permutes instead of through split rows, output stores masked at the row end.
// Each computes the same arithmetic per element as the generic transforms in Conv2dWinograd.cs, which dispatch here.
internal static unsafe partial class Conv2dWinograd
{
    /// <summary>Permute indices: the even / odd elements of two concatenated 16-float vectors.</summary>
    private static readonly Vector512<int> EvenLanes = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    private static readonly Vector512<int> OddLanes = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);

    /// <summary>
    /// <see cref="InputTransform{T}"/> for float with AVX-512, 16 tiles per vector. The four columns 2j..2j+3 of 16
    /// tiles come straight from the input rows: two pairs of loads (columns from 2j − padLeft and 2j − padLeft + 2),
    /// masked to the image so the padding reads as zero, then two-source permutes pick the even and odd columns.
    /// (Copying each row into a zero-padded slot first and loading from it at another offset stalled every load on
    /// store forwarding: a third of the transform's time.) The arithmetic per element is the other paths' (rows of
    /// Bᵀ first, then columns), so the values are the same.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InputTransform512(in Conv2dGeometry g, in Plan plan, ReadOnlySpan<float> input, int r0, int r1,
        float[] v)
    {
        int tx = plan.TX, ld = plan.Ld, c = g.InC, h = g.H, w = g.W, plane = h * w, blocks = (tx + 15) / 16;
        float[] masks = ArrayPool<float>.Shared.Rent(blocks * 4 * 16);
        try
        {
            fixed (float* pin = input, pv = v, pm = masks)
            {
                // Per block of 16 tiles, the lanes of its four loads that fall inside the row.
                for (int b = 0; b < blocks; b++)
                {
                    int c0 = 32 * b - g.PadLeft;
                    RowMask(c0, w).Store(pm + (4 * b + 0) * 16);
                    RowMask(c0 + 16, w).Store(pm + (4 * b + 1) * 16);
                    RowMask(c0 + 2, w).Store(pm + (4 * b + 2) * 16);
                    RowMask(c0 + 18, w).Store(pm + (4 * b + 3) * 16);
                }
                for (int ci = 0; ci < c; ci++)
                {
                    for (int r = r0; r < r1; r++)
                    {
                        int n = r / plan.TY, ty = r % plan.TY, t0 = (r - r0) * tx;
                        int y0 = 2 * ty - g.PadTop;
                        float* chan = pin + (long)(n * c + ci) * plane;
                        float* dst = pv + (long)ci * 16 * ld + t0;
                        for (int b = 0; b < blocks; b++)   // the last block may run past tx (see Plan.Ld)
                        {
                            float* m = pm + b * 64;
                            int c0 = 32 * b - g.PadLeft;
                            Columns(chan, y0, h, w, c0, m, out var e0, out var o0, out var f0, out var p0);
                            Columns(chan, y0 + 1, h, w, c0, m, out var e1, out var o1, out var f1, out var p1);
                            Columns(chan, y0 + 2, h, w, c0, m, out var e2, out var o2, out var f2, out var p2);
                            Columns(chan, y0 + 3, h, w, c0, m, out var e3, out var o3, out var f3, out var p3);
                            float* q = dst + 16 * b;
                            ColumnStage512(q, ld, 0, e0 - e2, o0 - o2, f0 - f2, p0 - p2);
                            ColumnStage512(q, ld, 4, e1 + e2, o1 + o2, f1 + f2, p1 + p2);
                            ColumnStage512(q, ld, 8, e2 - e1, o2 - o1, f2 - f1, p2 - p1);
                            ColumnStage512(q, ld, 12, e1 - e3, o1 - o3, f1 - f3, p1 - p3);
                        }
                    }
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(masks);
        }

        // Columns c0 + 2t + {0, 1, 2, 3} of input row iy for the 16 tiles t of a block (zero outside the image).
        // Masked-off lanes are not read, so c0 < 0 or a block past the row end never touches memory outside it.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Columns(float* chan, int iy, int h, int w, int c0, float* m,
            out Vector512<float> a, out Vector512<float> b, out Vector512<float> c2, out Vector512<float> d)
        {
            if ((uint)iy >= (uint)h)
            {
                a = b = c2 = d = Vector512<float>.Zero;
                return;
            }
            float* p = chan + (long)iy * w + c0;
            Vector512<float> lo = Avx512F.MaskLoad(p, Vector512.Load(m), Vector512<float>.Zero);
            Vector512<float> hi = Avx512F.MaskLoad(p + 16, Vector512.Load(m + 16), Vector512<float>.Zero);
            Vector512<float> lo2 = Avx512F.MaskLoad(p + 2, Vector512.Load(m + 32), Vector512<float>.Zero);
            Vector512<float> hi2 = Avx512F.MaskLoad(p + 18, Vector512.Load(m + 48), Vector512<float>.Zero);
            a = Avx512F.PermuteVar16x32x2(lo, EvenLanes, hi);
            b = Avx512F.PermuteVar16x32x2(lo, OddLanes, hi);
            c2 = Avx512F.PermuteVar16x32x2(lo2, EvenLanes, hi2);
            d = Avx512F.PermuteVar16x32x2(lo2, OddLanes, hi2);
        }
    }

    /// <summary>All-ones lanes k of a 16-float load from column <paramref name="col"/> where 0 ≤ col + k &lt; <paramref name="w"/>.</summary>
    private static Vector512<float> RowMask(int col, int w)
    {
        Vector512<int> cols = Vector512.Create(col) + Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        return (Vector512.GreaterThanOrEqual(cols, Vector512<int>.Zero) & Vector512.LessThan(cols, Vector512.Create(w))).AsSingle();
    }

    /// <summary><see cref="ColumnStage{T}(ref T, int, int, Vector256{T}, Vector256{T}, Vector256{T}, Vector256{T})"/> for 16 floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ColumnStage512(float* q, int xiStride, int xi0, Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d)
    {
        (a - c).Store(q + xi0 * xiStride);
        (b + c).Store(q + (xi0 + 1) * xiStride);
        (c - b).Store(q + (xi0 + 2) * xiStride);
        (b - d).Store(q + (xi0 + 3) * xiStride);
    }

    /// <summary>
    /// <see cref="OutputTransform{T}"/> for float with AVX-512: 16 tiles per vector, the two output columns of each
    /// tile interleaved with two-source permutes and stored with a mask that stops at OutW, so the narrow planes of
    /// small images (7 tiles per row at 14×14) are vectorised too. Same arithmetic per element as the other paths.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OutputTransform512(in Conv2dGeometry g, in Plan plan, float[] m, ReadOnlySpan<float> bias,
        Span<float> output, int r0, int r1)
    {
        int tx = plan.TX, ld = plan.Ld, o = g.OutC, oh = g.OutH, ow = g.OutW, plane = oh * ow;
        var lanes = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        var lowHalf = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        var highHalf = Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        fixed (float* pm = m, py = output)
        {
            for (int co = 0; co < o; co++)
            {
                var bv = Vector512.Create(bias.IsEmpty ? 0f : bias[co]);
                for (int r = r0; r < r1; r++)
                {
                    int n = r / plan.TY, ty = r % plan.TY, t0 = (r - r0) * tx;
                    bool secondRow = 2 * ty + 1 < oh;
                    float* src = pm + (long)co * 16 * ld + t0;
                    float* out0 = py + (long)(n * o + co) * plane + 2 * ty * ow;
                    float* out1 = out0 + ow;
                    for (int j = 0; j < tx; j += 16)   // reads up to 15 tiles past tx: inside the padded row (Plan.Ld)
                    {
                        float* q = src + j;
                        // Output columns 2j + l and 2j + 16 + l (l = 0..15) exist while below OutW.
                        var keepLo = Vector512.LessThan(lanes, Vector512.Create(ow - 2 * j)).AsSingle();
                        var keepHi = Vector512.LessThan(lanes, Vector512.Create(ow - 2 * j - 16)).AsSingle();
                        Vector512<float> m0 = Vector512.Load(q), m1 = Vector512.Load(q + ld), m2 = Vector512.Load(q + 2 * ld), m3 = Vector512.Load(q + 3 * ld);
                        Vector512<float> m4 = Vector512.Load(q + 4 * ld), m5 = Vector512.Load(q + 5 * ld), m6 = Vector512.Load(q + 6 * ld), m7 = Vector512.Load(q + 7 * ld);
                        Vector512<float> m8 = Vector512.Load(q + 8 * ld), m9 = Vector512.Load(q + 9 * ld), m10 = Vector512.Load(q + 10 * ld), m11 = Vector512.Load(q + 11 * ld);
                        var s0 = m0 + m4 + m8; var s1 = m1 + m5 + m9; var s2 = m2 + m6 + m10; var s3 = m3 + m7 + m11;
                        StorePairs(out0 + 2 * j, s0 + s1 + s2 + bv, s1 - s2 - s3 + bv, lowHalf, highHalf, keepLo, keepHi);
                        if (secondRow)
                        {
                            Vector512<float> m12 = Vector512.Load(q + 12 * ld), m13 = Vector512.Load(q + 13 * ld), m14 = Vector512.Load(q + 14 * ld), m15 = Vector512.Load(q + 15 * ld);
                            var u0 = m4 - m8 - m12; var u1 = m5 - m9 - m13; var u2 = m6 - m10 - m14; var u3 = m7 - m11 - m15;
                            StorePairs(out1 + 2 * j, u0 + u1 + u2 + bv, u1 - u2 - u3 + bv, lowHalf, highHalf, keepLo, keepHi);
                        }
                    }
                }
            }
        }

        // (left₀, right₀, left₁, right₁, …) for 16 tiles: 32 consecutive outputs, masked at the row end.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void StorePairs(float* dst, Vector512<float> left, Vector512<float> right, Vector512<int> lowHalf,
            Vector512<int> highHalf, Vector512<float> keepLo, Vector512<float> keepHi)
        {
            Avx512F.MaskStore(dst, keepLo, Avx512F.PermuteVar16x32x2(left, lowHalf, right));
            Avx512F.MaskStore(dst + 16, keepHi, Avx512F.PermuteVar16x32x2(left, highHalf, right));
        }
    }

    /// <summary>
    /// <see cref="GradOutputTransform{T}"/> for float with AVX-512: the two dY rows of a tile row loaded straight from
    /// the plane (masked at OutW, so columns past it read as zero), even and odd columns of 16 tiles picked with
    /// two-source permutes. Same arithmetic as the other paths.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GradOutputTransform512(in Conv2dGeometry g, in Plan plan, ReadOnlySpan<float> gradOutput,
        int r0, int r1, float[] dm)
    {
        int tx = plan.TX, ld = plan.Ld, o = g.OutC, oh = g.OutH, ow = g.OutW, plane = oh * ow, blocks = (tx + 15) / 16;
        float[] masks = ArrayPool<float>.Shared.Rent(blocks * 2 * 16);
        try
        {
            fixed (float* pg = gradOutput, pd = dm, pm = masks)
            {
                for (int b = 0; b < blocks; b++)
                {
                    RowMask(32 * b, ow).Store(pm + (2 * b + 0) * 16);
                    RowMask(32 * b + 16, ow).Store(pm + (2 * b + 1) * 16);
                }
                for (int co = 0; co < o; co++)
                {
                    for (int r = r0; r < r1; r++)
                    {
                        int n = r / plan.TY, ty = r % plan.TY, t0 = (r - r0) * tx;
                        float* chan = pg + (long)(n * o + co) * plane;
                        float* row0 = chan + (long)(2 * ty) * ow, row1 = row0 + ow;
                        bool has1 = 2 * ty + 1 < oh;   // an odd OutH leaves the last tile row half empty
                        float* dst = pd + (long)co * 16 * ld + t0;
                        for (int b = 0; b < blocks; b++)   // the last block may run past tx (see Plan.Ld)
                        {
                            Vector512<float> mlo = Vector512.Load(pm + 32 * b), mhi = Vector512.Load(pm + 32 * b + 16);
                            int c0 = 32 * b;
                            Vector512<float> lo0 = Avx512F.MaskLoad(row0 + c0, mlo, Vector512<float>.Zero);
                            Vector512<float> hi0 = Avx512F.MaskLoad(row0 + c0 + 16, mhi, Vector512<float>.Zero);
                            Vector512<float> lo1 = has1 ? Avx512F.MaskLoad(row1 + c0, mlo, Vector512<float>.Zero) : Vector512<float>.Zero;
                            Vector512<float> hi1 = has1 ? Avx512F.MaskLoad(row1 + c0 + 16, mhi, Vector512<float>.Zero) : Vector512<float>.Zero;
                            var a = Avx512F.PermuteVar16x32x2(lo0, EvenLanes, hi0);
                            var bb = Avx512F.PermuteVar16x32x2(lo0, OddLanes, hi0);
                            var c = Avx512F.PermuteVar16x32x2(lo1, EvenLanes, hi1);
                            var d = Avx512F.PermuteVar16x32x2(lo1, OddLanes, hi1);
                            float* q = dst + 16 * b;
                            RowOfDm512(q, ld, 0, a, bb);
                            RowOfDm512(q, ld, 4, a + c, bb + d);
                            RowOfDm512(q, ld, 8, a - c, bb - d);
                            RowOfDm512(q, ld, 12, -c, -d);
                        }
                    }
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(masks);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowOfDm512(float* q, int xiStride, int xi0, Vector512<float> x, Vector512<float> z)
    {
        x.Store(q + xi0 * xiStride);
        (x + z).Store(q + (xi0 + 1) * xiStride);
        (x - z).Store(q + (xi0 + 2) * xiStride);
        (-z).Store(q + (xi0 + 3) * xiStride);
    }
}
