using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeepSharp.Kernels;

/// <summary>
/// Element-wise transcendental kernels over spans and their backward helpers.
/// <para>Conventions: every kernel takes inputs as <see cref="ReadOnlySpan{T}"/> and writes a <see cref="Span{T}"/> of the
/// same length; an output may be the very same memory as an input (in place) but must not partially overlap one.</para>
/// <para>float runs hand-written SIMD code: a Vector256 path with FMA when <see cref="KernelSettings.UseAvx2Fma"/>, else a
/// portable Vector128 path (tails are computed through a padded vector, so every element gets the same result whatever
/// its position). The float exp has ≤ ~3e-7 relative error, overflows to +∞ above ln(float.MaxValue), flushes to 0 below
/// the denormal range (denormal results are produced in between) and propagates NaN. double favours accuracy
/// (gradient checks run in double): <see cref="TensorPrimitives"/> or <see cref="Math"/> per element, and
/// <see cref="ScalarMath.Erf(double)"/> for the exact GELU. Other types use the generic scalar path.</para>
/// </summary>
internal static class VectorMath
{
    internal const double SqrtTwoOverPi = 0.79788456080286535587989211986876;
    internal const double GeluTanhCoeff = 0.044715;
    internal const double InvSqrt2 = 0.70710678118654752440084436210485;
    internal const double InvSqrt2Pi = 0.39894228040143267793994605993438;

    // ---------------------------------------------------------------------------------------------------------------
    // Public kernels
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>y = e^x.</summary>
    public static void Exp<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckUnary(x, y);
        if (typeof(T) == typeof(float)) { Unary<ExpOp>(AsFloat(x), AsFloat(y)); return; }
        TensorPrimitives.Exp(x, y);
    }

    /// <summary>y = tanh(x).</summary>
    public static void Tanh<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckUnary(x, y);
        if (typeof(T) == typeof(float)) { Unary<TanhOp>(AsFloat(x), AsFloat(y)); return; }
        for (int i = 0; i < x.Length; i++) y[i] = T.Tanh(x[i]);
    }

    /// <summary>y = 1 / (1 + e^(−x)).</summary>
    public static void Sigmoid<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckUnary(x, y);
        if (typeof(T) == typeof(float)) { Unary<SigmoidOp>(AsFloat(x), AsFloat(y)); return; }
        for (int i = 0; i < x.Length; i++) y[i] = T.One / (T.One + T.Exp(-x[i]));
    }

    /// <summary>Exact GELU: y = ½·x·(1 + erf(x/√2)). −∞ gives NaN (as the formula, like PyTorch), +∞ gives +∞.</summary>
    public static void GeluErf<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckUnary(x, y);
        if (typeof(T) == typeof(float)) { Unary<GeluErfOp>(AsFloat(x), AsFloat(y)); return; }
        T half = T.CreateChecked(0.5), c = T.CreateChecked(InvSqrt2);
        for (int i = 0; i < x.Length; i++) { T v = x[i]; y[i] = half * v * (T.One + ScalarMath.Erf(v * c)); }
    }

    /// <summary>tanh-approximated GELU: y = ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).</summary>
    public static void GeluTanh<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckUnary(x, y);
        if (typeof(T) == typeof(float)) { Unary<GeluTanhOp>(AsFloat(x), AsFloat(y)); return; }
        T half = T.CreateChecked(0.5), k = T.CreateChecked(SqrtTwoOverPi), c = T.CreateChecked(GeluTanhCoeff);
        for (int i = 0; i < x.Length; i++)
        {
            T v = x[i];
            y[i] = half * v * (T.One + T.Tanh(k * (v + c * v * v * v)));
        }
    }

    /// <summary>Backward of exp given its output: dx = dy·y.</summary>
    public static void ExpBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckBinary(y, dy, dx);
        TensorPrimitives.Multiply(dy, y, dx);
    }

    /// <summary>Backward of tanh given its output: dx = dy·(1 − y²).</summary>
    public static void TanhBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckBinary(y, dy, dx);
        int i = 0;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            ref T ry = ref MemoryMarshal.GetReference(y);
            ref T rdy = ref MemoryMarshal.GetReference(dy);
            ref T rdx = ref MemoryMarshal.GetReference(dx);
            var one = Vector<T>.One;
            for (; i <= y.Length - Vector<T>.Count; i += Vector<T>.Count)
            {
                var vy = Vector.LoadUnsafe(ref ry, (nuint)i);
                (Vector.LoadUnsafe(ref rdy, (nuint)i) * (one - vy * vy)).StoreUnsafe(ref rdx, (nuint)i);
            }
        }
        for (; i < y.Length; i++) dx[i] = dy[i] * (T.One - y[i] * y[i]);
    }

    /// <summary>Backward of sigmoid given its output: dx = dy·y·(1 − y).</summary>
    public static void SigmoidBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckBinary(y, dy, dx);
        int i = 0;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            ref T ry = ref MemoryMarshal.GetReference(y);
            ref T rdy = ref MemoryMarshal.GetReference(dy);
            ref T rdx = ref MemoryMarshal.GetReference(dx);
            var one = Vector<T>.One;
            for (; i <= y.Length - Vector<T>.Count; i += Vector<T>.Count)
            {
                var vy = Vector.LoadUnsafe(ref ry, (nuint)i);
                (Vector.LoadUnsafe(ref rdy, (nuint)i) * vy * (one - vy)).StoreUnsafe(ref rdx, (nuint)i);
            }
        }
        for (; i < y.Length; i++) dx[i] = dy[i] * y[i] * (T.One - y[i]);
    }

    /// <summary>Backward of the exact GELU given its input: dx = dy·(½(1 + erf(x/√2)) + x·e^(−x²/2)/√(2π)).</summary>
    public static void GeluErfBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckBinary(x, dy, dx);
        if (typeof(T) == typeof(float)) { Binary<GeluErfBackwardOp>(AsFloat(x), AsFloat(dy), AsFloat(dx)); return; }
        T half = T.CreateChecked(0.5), c = T.CreateChecked(InvSqrt2), p = T.CreateChecked(InvSqrt2Pi);
        for (int i = 0; i < x.Length; i++)
        {
            T v = x[i];
            T cdf = half * (T.One + ScalarMath.Erf(v * c));
            dx[i] = dy[i] * (cdf + v * p * T.Exp(-half * v * v));
        }
    }

    /// <summary>Backward of the tanh GELU given its input:
    /// dx = dy·(½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715·x²)), t = tanh(√(2/π)(x + 0.044715x³)).</summary>
    public static void GeluTanhBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckBinary(x, dy, dx);
        if (typeof(T) == typeof(float)) { Binary<GeluTanhBackwardOp>(AsFloat(x), AsFloat(dy), AsFloat(dx)); return; }
        T half = T.CreateChecked(0.5), k = T.CreateChecked(SqrtTwoOverPi), c = T.CreateChecked(GeluTanhCoeff);
        T c3 = T.CreateChecked(3 * GeluTanhCoeff);
        for (int i = 0; i < x.Length; i++)
        {
            T v = x[i];
            T t = T.Tanh(k * (v + c * v * v * v));
            dx[i] = dy[i] * (half * (T.One + t) + half * v * (T.One - t * t) * k * (T.One + c3 * v * v));
        }
    }

    /// <summary>SiLU: y = x·σ(x) = x / (1 + e^(−x)).</summary>
    public static void Silu<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckUnary(x, y);
        if (typeof(T) == typeof(float)) { Unary<SiluOp>(AsFloat(x), AsFloat(y)); return; }
        for (int i = 0; i < x.Length; i++) y[i] = x[i] / (T.One + T.Exp(-x[i]));
    }

    /// <summary>Backward of SiLU given its input: dx = dy·σ(x)·(1 + x·(1 − σ(x))).</summary>
    public static void SiluBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckBinary(x, dy, dx);
        if (typeof(T) == typeof(float)) { Binary<SiluBackwardOp>(AsFloat(x), AsFloat(dy), AsFloat(dx)); return; }
        for (int i = 0; i < x.Length; i++)
        {
            T v = x[i], sg = T.One / (T.One + T.Exp(-v));
            dx[i] = dy[i] * sg * (T.One + v * (T.One - sg));
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Fused helpers for the softmax / loss kernels
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Returns Σ e^(x[i] − shift); when <paramref name="y"/> is non-empty also stores y[i] = e^(x[i] − shift)
    /// (y may be x itself). float uses the SIMD exp; other types use T.Exp.
    /// </summary>
    internal static T ExpShiftSum<T>(ReadOnlySpan<T> x, T shift, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
            return (T)(object)ExpShiftSumFloat(AsFloat(x), (float)(object)shift, AsFloat(y));
        if (typeof(T) == typeof(double) && !y.IsEmpty)
        {
            TensorPrimitives.Subtract(x, shift, y);
            TensorPrimitives.Exp(y, y);
            return TensorPrimitives.Sum<T>(y);
        }
        T sum = T.Zero;
        if (y.IsEmpty) for (int i = 0; i < x.Length; i++) sum += T.Exp(x[i] - shift);
        else for (int i = 0; i < x.Length; i++) { T e = T.Exp(x[i] - shift); y[i] = e; sum += e; }
        return sum;
    }

    private static float ExpShiftSumFloat(ReadOnlySpan<float> x, float shift, Span<float> y)
    {
        bool store = !y.IsEmpty;
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        int n = x.Length, i = 0;
        if (KernelSettings.UseAvx2Fma)
        {
            var s = Vector256.Create(shift);
            Vector256<float> acc0 = default, acc1 = default;
            for (; i <= n - 16; i += 16)
            {
                var e0 = Exp256(Vector256.LoadUnsafe(ref rx, (nuint)i) - s);
                var e1 = Exp256(Vector256.LoadUnsafe(ref rx, (nuint)(i + 8)) - s);
                if (store) { e0.StoreUnsafe(ref ry, (nuint)i); e1.StoreUnsafe(ref ry, (nuint)(i + 8)); }
                acc0 += e0; acc1 += e1;
            }
            for (; i <= n - 8; i += 8)
            {
                var e0 = Exp256(Vector256.LoadUnsafe(ref rx, (nuint)i) - s);
                if (store) e0.StoreUnsafe(ref ry, (nuint)i);
                acc0 += e0;
            }
            if (i < n)
            {
                int rem = n - i;
                Span<float> buf = stackalloc float[8];
                buf.Fill(float.NegativeInfinity);
                x.Slice(i, rem).CopyTo(buf);
                var e0 = Exp256(Vector256.Create((ReadOnlySpan<float>)buf) - s); // padded lanes: e^(−∞) = 0
                if (store) { e0.CopyTo(buf); buf[..rem].CopyTo(y.Slice(i)); }
                acc0 += e0;
            }
            return Vector256.Sum(acc0 + acc1);
        }
        else
        {
            var s = Vector128.Create(shift);
            Vector128<float> acc0 = default, acc1 = default;
            for (; i <= n - 8; i += 8)
            {
                var e0 = Exp128(Vector128.LoadUnsafe(ref rx, (nuint)i) - s);
                var e1 = Exp128(Vector128.LoadUnsafe(ref rx, (nuint)(i + 4)) - s);
                if (store) { e0.StoreUnsafe(ref ry, (nuint)i); e1.StoreUnsafe(ref ry, (nuint)(i + 4)); }
                acc0 += e0; acc1 += e1;
            }
            for (; i <= n - 4; i += 4)
            {
                var e0 = Exp128(Vector128.LoadUnsafe(ref rx, (nuint)i) - s);
                if (store) e0.StoreUnsafe(ref ry, (nuint)i);
                acc0 += e0;
            }
            if (i < n)
            {
                int rem = n - i;
                Span<float> buf = stackalloc float[4];
                buf.Fill(float.NegativeInfinity);
                x.Slice(i, rem).CopyTo(buf);
                var e0 = Exp128(Vector128.Create((ReadOnlySpan<float>)buf) - s);
                if (store) { e0.CopyTo(buf); buf[..rem].CopyTo(y.Slice(i)); }
                acc0 += e0;
            }
            return Vector128.Sum(acc0 + acc1);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // float SIMD cores
    // ---------------------------------------------------------------------------------------------------------------

    // exp: x = n·ln2 + r, |r| ≤ ln2/2 (Cody–Waite split of ln2 so n·C1 is exact), e^r by a degree-7 minimax-style
    // polynomial 1 + r + r²·P(r), and 2^n applied as two factors 2^(n>>1)·2^(n−(n>>1)) so that results in the
    // denormal range are produced and +∞ appears exactly when the true result exceeds float.MaxValue.
    private const float ExpLo = -104f;   // e^−104 < half the smallest denormal: result 0
    private const float ExpHi = 89f;     // e^89 > float.MaxValue: result +∞
    private const float Log2E = 1.44269504088896341f;
    private const float Ln2Hi = 0.693359375f;        // 355/512: n·Ln2Hi is exact for |n| ≤ 2^15
    private const float Ln2Lo = -2.12194440e-4f;     // ln2 − Ln2Hi
    private const float P0 = 1.9875691500E-4f, P1 = 1.3981999507E-3f, P2 = 8.3334519073E-3f;
    private const float P3 = 4.1665795894E-2f, P4 = 1.6666665459E-1f, P5 = 5.0000001201E-1f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fma256(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        Fma.IsSupported ? Fma.MultiplyAdd(a, b, c) : a * b + c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Fma128(Vector128<float> a, Vector128<float> b, Vector128<float> c) =>
        Vector128.MultiplyAddEstimate(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Exp256(Vector256<float> x)
    {
        var xc = Vector256.MinNative(Vector256.MaxNative(x, Vector256.Create(ExpLo)), Vector256.Create(ExpHi));
        var fx = Vector256.Round(xc * Vector256.Create(Log2E));
        var r = Fma256(fx, Vector256.Create(-Ln2Hi), xc);
        r = Fma256(fx, Vector256.Create(-Ln2Lo), r);
        var p = Fma256(Vector256.Create(P0), r, Vector256.Create(P1));
        p = Fma256(p, r, Vector256.Create(P2));
        p = Fma256(p, r, Vector256.Create(P3));
        p = Fma256(p, r, Vector256.Create(P4));
        p = Fma256(p, r, Vector256.Create(P5));
        p = Fma256(p, r * r, r + Vector256<float>.One);
        var n = Vector256.ConvertToInt32(fx);
        var n1 = Vector256.ShiftRightArithmetic(n, 1);
        var n2 = n - n1;
        var bias = Vector256.Create(127);
        var s1 = Vector256.ShiftLeft(n1 + bias, 23).AsSingle();
        var s2 = Vector256.ShiftLeft(n2 + bias, 23).AsSingle();
        var res = p * s1 * s2;
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), res, x); // NaN in, NaN out
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> Exp128(Vector128<float> x)
    {
        var xc = Vector128.MinNative(Vector128.MaxNative(x, Vector128.Create(ExpLo)), Vector128.Create(ExpHi));
        var fx = Vector128.Round(xc * Vector128.Create(Log2E));
        // Without a fused multiply-add n·Ln2Hi is still exact, so the split keeps r accurate.
        var r = xc - fx * Vector128.Create(Ln2Hi);
        r = r - fx * Vector128.Create(Ln2Lo);
        var p = Fma128(Vector128.Create(P0), r, Vector128.Create(P1));
        p = Fma128(p, r, Vector128.Create(P2));
        p = Fma128(p, r, Vector128.Create(P3));
        p = Fma128(p, r, Vector128.Create(P4));
        p = Fma128(p, r, Vector128.Create(P5));
        p = Fma128(p, r * r, r + Vector128<float>.One);
        var n = Vector128.ConvertToInt32(fx);
        var n1 = Vector128.ShiftRightArithmetic(n, 1);
        var n2 = n - n1;
        var bias = Vector128.Create(127);
        var s1 = Vector128.ShiftLeft(n1 + bias, 23).AsSingle();
        var s2 = Vector128.ShiftLeft(n2 + bias, 23).AsSingle();
        var res = p * s1 * s2;
        return Vector128.ConditionalSelect(Vector128.Equals(x, x), res, x);
    }

    // tanh: |x| < 0.625 → x + x³·Q(x²) (odd polynomial, keeps relative accuracy near 0);
    // otherwise sign(x)·(1 − 2/(e^(2|x|) + 1)), which saturates to ±1 without overflow trouble.
    private const float T0 = -5.70498872745E-3f, T1 = 2.06390887954E-2f, T2 = -5.37397155531E-2f;
    private const float T3 = 1.33314422036E-1f, T4 = -3.33332819422E-1f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Tanh256(Vector256<float> x)
    {
        var ax = Vector256.Abs(x);
        var s = x * x;
        var q = Fma256(Vector256.Create(T0), s, Vector256.Create(T1));
        q = Fma256(q, s, Vector256.Create(T2));
        q = Fma256(q, s, Vector256.Create(T3));
        q = Fma256(q, s, Vector256.Create(T4));
        var small = Fma256(q * s, x, x);
        var e = Exp256(ax + ax);
        var big = Vector256<float>.One - Vector256.Create(2f) / (e + Vector256<float>.One);
        big = Vector256.CopySign(big, x);
        var res = Vector256.ConditionalSelect(Vector256.LessThan(ax, Vector256.Create(0.625f)), small, big);
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), res, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> Tanh128(Vector128<float> x)
    {
        var ax = Vector128.Abs(x);
        var s = x * x;
        var q = Fma128(Vector128.Create(T0), s, Vector128.Create(T1));
        q = Fma128(q, s, Vector128.Create(T2));
        q = Fma128(q, s, Vector128.Create(T3));
        q = Fma128(q, s, Vector128.Create(T4));
        var small = Fma128(q * s, x, x);
        var e = Exp128(ax + ax);
        var big = Vector128<float>.One - Vector128.Create(2f) / (e + Vector128<float>.One);
        big = Vector128.CopySign(big, x);
        var res = Vector128.ConditionalSelect(Vector128.LessThan(ax, Vector128.Create(0.625f)), small, big);
        return Vector128.ConditionalSelect(Vector128.Equals(x, x), res, x);
    }

    // erf for float: erf(z) ≈ z·P(z²)/Q(z²) on z clamped to [−4, 4] (erf(±4) rounds to ±1 in float);
    // max absolute error a few 1e-7 (rational minimax fit).
    private const float EA1 = -1.60960333262415e-02f, EA3 = -2.95459980854025e-03f, EA5 = -7.34990630326855e-04f;
    private const float EA7 = -5.69250639462346e-05f, EA9 = -2.10102402082508e-06f, EA11 = 2.77068142495902e-08f;
    private const float EA13 = -2.72614225801306e-10f;
    private const float EB0 = -1.42647390514189e-02f, EB2 = -7.37332916720468e-03f, EB4 = -1.68282697438203e-03f;
    private const float EB6 = -2.13374055278905e-04f, EB8 = -1.45660718464996e-05f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Erf256(Vector256<float> z)
    {
        var zc = Vector256.MinNative(Vector256.MaxNative(z, Vector256.Create(-4f)), Vector256.Create(4f));
        var z2 = zc * zc;
        var p = Fma256(z2, Vector256.Create(EA13), Vector256.Create(EA11));
        p = Fma256(z2, p, Vector256.Create(EA9));
        p = Fma256(z2, p, Vector256.Create(EA7));
        p = Fma256(z2, p, Vector256.Create(EA5));
        p = Fma256(z2, p, Vector256.Create(EA3));
        p = Fma256(z2, p, Vector256.Create(EA1));
        var q = Fma256(z2, Vector256.Create(EB8), Vector256.Create(EB6));
        q = Fma256(z2, q, Vector256.Create(EB4));
        q = Fma256(z2, q, Vector256.Create(EB2));
        q = Fma256(z2, q, Vector256.Create(EB0));
        var res = zc * p / q;
        return Vector256.ConditionalSelect(Vector256.Equals(z, z), res, z);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> Erf128(Vector128<float> z)
    {
        var zc = Vector128.MinNative(Vector128.MaxNative(z, Vector128.Create(-4f)), Vector128.Create(4f));
        var z2 = zc * zc;
        var p = Fma128(z2, Vector128.Create(EA13), Vector128.Create(EA11));
        p = Fma128(z2, p, Vector128.Create(EA9));
        p = Fma128(z2, p, Vector128.Create(EA7));
        p = Fma128(z2, p, Vector128.Create(EA5));
        p = Fma128(z2, p, Vector128.Create(EA3));
        p = Fma128(z2, p, Vector128.Create(EA1));
        var q = Fma128(z2, Vector128.Create(EB8), Vector128.Create(EB6));
        q = Fma128(z2, q, Vector128.Create(EB4));
        q = Fma128(z2, q, Vector128.Create(EB2));
        q = Fma128(z2, q, Vector128.Create(EB0));
        var res = zc * p / q;
        return Vector128.ConditionalSelect(Vector128.Equals(z, z), res, z);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Operator structs and drivers (the JIT specialises the drivers per struct, so the cores inline)
    // ---------------------------------------------------------------------------------------------------------------

    private interface IUnaryOp
    {
        static abstract Vector256<float> Op(Vector256<float> x);
        static abstract Vector128<float> Op(Vector128<float> x);
    }

    private interface IBinaryOp
    {
        static abstract Vector256<float> Op(Vector256<float> x, Vector256<float> dy);
        static abstract Vector128<float> Op(Vector128<float> x, Vector128<float> dy);
    }

    private readonly struct ExpOp : IUnaryOp
    {
        public static Vector256<float> Op(Vector256<float> x) => Exp256(x);
        public static Vector128<float> Op(Vector128<float> x) => Exp128(x);
    }

    private readonly struct TanhOp : IUnaryOp
    {
        public static Vector256<float> Op(Vector256<float> x) => Tanh256(x);
        public static Vector128<float> Op(Vector128<float> x) => Tanh128(x);
    }

    private readonly struct SigmoidOp : IUnaryOp
    {
        public static Vector256<float> Op(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + Exp256(-x));
        public static Vector128<float> Op(Vector128<float> x) => Vector128<float>.One / (Vector128<float>.One + Exp128(-x));
    }

    private readonly struct SiluOp : IUnaryOp
    {
        public static Vector256<float> Op(Vector256<float> x) => x / (Vector256<float>.One + Exp256(-x));
        public static Vector128<float> Op(Vector128<float> x) => x / (Vector128<float>.One + Exp128(-x));
    }

    private readonly struct SiluBackwardOp : IBinaryOp
    {
        public static Vector256<float> Op(Vector256<float> x, Vector256<float> dy)
        {
            var sg = Vector256<float>.One / (Vector256<float>.One + Exp256(-x));
            return dy * sg * Fma256(x, Vector256<float>.One - sg, Vector256<float>.One);
        }

        public static Vector128<float> Op(Vector128<float> x, Vector128<float> dy)
        {
            var sg = Vector128<float>.One / (Vector128<float>.One + Exp128(-x));
            return dy * sg * Fma128(x, Vector128<float>.One - sg, Vector128<float>.One);
        }
    }

    private readonly struct GeluErfOp : IUnaryOp
    {
        public static Vector256<float> Op(Vector256<float> x)
        {
            var h = x * Vector256.Create(0.5f);
            return Fma256(h, Erf256(x * Vector256.Create((float)InvSqrt2)), h);
        }

        public static Vector128<float> Op(Vector128<float> x)
        {
            var h = x * Vector128.Create(0.5f);
            return Fma128(h, Erf128(x * Vector128.Create((float)InvSqrt2)), h);
        }
    }

    // ½x(1 + tanh(u)) = x·σ(2u) = x / (1 + e^(−2u)), u = √(2/π)·x·(1 + 0.044715x²).
    private readonly struct GeluTanhOp : IUnaryOp
    {
        public static Vector256<float> Op(Vector256<float> x)
        {
            var m2u = x * Fma256(x * x, Vector256.Create((float)(-2 * SqrtTwoOverPi * GeluTanhCoeff)), Vector256.Create((float)(-2 * SqrtTwoOverPi)));
            return x / (Vector256<float>.One + Exp256(m2u));
        }

        public static Vector128<float> Op(Vector128<float> x)
        {
            var m2u = x * Fma128(x * x, Vector128.Create((float)(-2 * SqrtTwoOverPi * GeluTanhCoeff)), Vector128.Create((float)(-2 * SqrtTwoOverPi)));
            return x / (Vector128<float>.One + Exp128(m2u));
        }
    }

    private readonly struct GeluErfBackwardOp : IBinaryOp
    {
        public static Vector256<float> Op(Vector256<float> x, Vector256<float> dy)
        {
            var cdf = Fma256(Vector256.Create(0.5f), Erf256(x * Vector256.Create((float)InvSqrt2)), Vector256.Create(0.5f));
            var pdf = Exp256(x * x * Vector256.Create(-0.5f)) * Vector256.Create((float)InvSqrt2Pi);
            return dy * Fma256(x, pdf, cdf);
        }

        public static Vector128<float> Op(Vector128<float> x, Vector128<float> dy)
        {
            var cdf = Fma128(Vector128.Create(0.5f), Erf128(x * Vector128.Create((float)InvSqrt2)), Vector128.Create(0.5f));
            var pdf = Exp128(x * x * Vector128.Create(-0.5f)) * Vector128.Create((float)InvSqrt2Pi);
            return dy * Fma128(x, pdf, cdf);
        }
    }

    // With s = σ(2u): ½(1 + tanh u) = s and ½(1 − tanh²u) = 2s(1 − s), so
    // d/dx = s + 2x·s(1 − s)·√(2/π)(1 + 3·0.044715x²).
    private readonly struct GeluTanhBackwardOp : IBinaryOp
    {
        public static Vector256<float> Op(Vector256<float> x, Vector256<float> dy)
        {
            var x2 = x * x;
            var m2u = x * Fma256(x2, Vector256.Create((float)(-2 * SqrtTwoOverPi * GeluTanhCoeff)), Vector256.Create((float)(-2 * SqrtTwoOverPi)));
            var s = Vector256<float>.One / (Vector256<float>.One + Exp256(m2u));
            var du = Fma256(x2, Vector256.Create((float)(2 * SqrtTwoOverPi * 3 * GeluTanhCoeff)), Vector256.Create((float)(2 * SqrtTwoOverPi)));
            return dy * Fma256(x * s * (Vector256<float>.One - s), du, s);
        }

        public static Vector128<float> Op(Vector128<float> x, Vector128<float> dy)
        {
            var x2 = x * x;
            var m2u = x * Fma128(x2, Vector128.Create((float)(-2 * SqrtTwoOverPi * GeluTanhCoeff)), Vector128.Create((float)(-2 * SqrtTwoOverPi)));
            var s = Vector128<float>.One / (Vector128<float>.One + Exp128(m2u));
            var du = Fma128(x2, Vector128.Create((float)(2 * SqrtTwoOverPi * 3 * GeluTanhCoeff)), Vector128.Create((float)(2 * SqrtTwoOverPi)));
            return dy * Fma128(x * s * (Vector128<float>.One - s), du, s);
        }
    }

    private static void Unary<TOp>(ReadOnlySpan<float> x, Span<float> y) where TOp : struct, IUnaryOp
    {
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        int n = x.Length, i = 0;
        if (KernelSettings.UseAvx2Fma)
        {
            for (; i <= n - 16; i += 16)
            {
                var a = TOp.Op(Vector256.LoadUnsafe(ref rx, (nuint)i));
                var b = TOp.Op(Vector256.LoadUnsafe(ref rx, (nuint)(i + 8)));
                a.StoreUnsafe(ref ry, (nuint)i);
                b.StoreUnsafe(ref ry, (nuint)(i + 8));
            }
            for (; i <= n - 8; i += 8) TOp.Op(Vector256.LoadUnsafe(ref rx, (nuint)i)).StoreUnsafe(ref ry, (nuint)i);
            if (i < n)
            {
                Span<float> buf = stackalloc float[8];
                buf.Clear();
                x[i..].CopyTo(buf);
                TOp.Op(Vector256.Create((ReadOnlySpan<float>)buf)).CopyTo(buf);
                buf[..(n - i)].CopyTo(y[i..]);
            }
        }
        else
        {
            for (; i <= n - 4; i += 4) TOp.Op(Vector128.LoadUnsafe(ref rx, (nuint)i)).StoreUnsafe(ref ry, (nuint)i);
            if (i < n)
            {
                Span<float> buf = stackalloc float[4];
                buf.Clear();
                x[i..].CopyTo(buf);
                TOp.Op(Vector128.Create((ReadOnlySpan<float>)buf)).CopyTo(buf);
                buf[..(n - i)].CopyTo(y[i..]);
            }
        }
    }

    private static void Binary<TOp>(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx) where TOp : struct, IBinaryOp
    {
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float rdy = ref MemoryMarshal.GetReference(dy);
        ref float rdx = ref MemoryMarshal.GetReference(dx);
        int n = x.Length, i = 0;
        if (KernelSettings.UseAvx2Fma)
        {
            for (; i <= n - 8; i += 8)
                TOp.Op(Vector256.LoadUnsafe(ref rx, (nuint)i), Vector256.LoadUnsafe(ref rdy, (nuint)i)).StoreUnsafe(ref rdx, (nuint)i);
            if (i < n)
            {
                Span<float> bx = stackalloc float[8], bd = stackalloc float[8];
                bx.Clear(); bd.Clear();
                x[i..].CopyTo(bx); dy[i..].CopyTo(bd);
                TOp.Op(Vector256.Create((ReadOnlySpan<float>)bx), Vector256.Create((ReadOnlySpan<float>)bd)).CopyTo(bx);
                bx[..(n - i)].CopyTo(dx[i..]);
            }
        }
        else
        {
            for (; i <= n - 4; i += 4)
                TOp.Op(Vector128.LoadUnsafe(ref rx, (nuint)i), Vector128.LoadUnsafe(ref rdy, (nuint)i)).StoreUnsafe(ref rdx, (nuint)i);
            if (i < n)
            {
                Span<float> bx = stackalloc float[4], bd = stackalloc float[4];
                bx.Clear(); bd.Clear();
                x[i..].CopyTo(bx); dy[i..].CopyTo(bd);
                TOp.Op(Vector128.Create((ReadOnlySpan<float>)bx), Vector128.Create((ReadOnlySpan<float>)bd)).CopyTo(bx);
                bx[..(n - i)].CopyTo(dx[i..]);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ReadOnlySpan<float> AsFloat<T>(ReadOnlySpan<T> s) where T : unmanaged => MemoryMarshal.Cast<T, float>(s);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Span<float> AsFloat<T>(Span<T> s) where T : unmanaged => MemoryMarshal.Cast<T, float>(s);

    private static void CheckUnary<T>(ReadOnlySpan<T> x, Span<T> y)
    {
        if (y.Length != x.Length) throw new ArgumentException($"Output length {y.Length} does not match input length {x.Length}.", nameof(y));
    }

    private static void CheckBinary<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx)
    {
        if (dy.Length != x.Length) throw new ArgumentException($"Gradient length {dy.Length} does not match input length {x.Length}.", nameof(dy));
        if (dx.Length != x.Length) throw new ArgumentException($"Output length {dx.Length} does not match input length {x.Length}.", nameof(dx));
    }
}
