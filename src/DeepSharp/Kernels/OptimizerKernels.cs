using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DeepSharp.Kernels;

/// <summary>
/// Fused single-pass update loops over contiguous spans. Each optimizer's element update is written once, over
/// <see cref="Vector{T}"/> lanes, following the operation order of PyTorch's single-tensor implementation element by
/// element; <see cref="Drive"/> runs it over the whole vectors and then once over a zero-padded copy of the tail
/// (lane-wise IEEE arithmetic, so the tail gets the bits a scalar loop would give).
/// </summary>
internal static class OptimizerKernels
{
    /// <summary>SGD: g ← ±g (+ wd·p); with momentum b ← first ? g : μ·b + (1−τ)·g, g ← nesterov ? g + μ·b : b; p ← p − lr·g.</summary>
    public static void Sgd<T>(Span<T> p, ReadOnlySpan<T> g, Span<T> buf, T lr, T wd, T momentum, T dampening,
        bool nesterov, bool maximize, bool firstStep) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var u = new SgdUpdate<T>(maximize ? -T.One : T.One, wd, momentum, T.One - dampening, -lr, wd != T.Zero,
            momentum != T.Zero, nesterov, firstStep);
        Drive(p, g, u.UseMomentum ? buf : default, default, default, u);
    }

    private readonly struct SgdUpdate<T>(T sign, T wd, T momentum, T oneMinusDamp, T negLr, bool useWd, bool useMomentum,
        bool nesterov, bool firstStep) : IVectorUpdate<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly Vector<T> _sign = new(sign), _wd = new(wd), _mom = new(momentum), _damp = new(oneMinusDamp), _negLr = new(negLr);
        public bool UseMomentum => useMomentum;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply(ref Vector<T> p, Vector<T> g, ref Vector<T> buf, ref Vector<T> unused1, ref Vector<T> unused2)
        {
            var x = g * _sign;
            if (useWd) x += _wd * p;
            if (useMomentum)
            {
                var b = firstStep ? x : buf * _mom + _damp * x;
                buf = b;
                x = nesterov ? x + _mom * b : b;
            }
            p += _negLr * x;
        }
    }

    /// <summary>
    /// Adam/AdamW: g ← ±g (+ wd·p for Adam); p ← p·decay (AdamW); m ← lerp(m, g, 1−β1); v ← v·β2 + (1−β2)·g²;
    /// (AMSGrad: vmax ← max(vmax, v), used below instead of v); p ← p − stepSize · m / (√v / √bc2 + eps).
    /// </summary>
    public static unsafe void Adam<T>(Span<T> p, ReadOnlySpan<T> g, Span<T> m, Span<T> v, Span<T> vmax, bool amsgrad,
        T l2, T decay, T oneMinusBeta1, T beta2, T oneMinusBeta2, T negStepSize, T bc2Sqrt, T eps, bool maximize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var u = new AdamUpdate<T>(maximize ? -T.One : T.One, l2, decay, oneMinusBeta1, beta2, oneMinusBeta2, negStepSize,
            bc2Sqrt, eps, l2 != T.Zero, decay != T.One, amsgrad);
        // Large parameters are split over the kernel threads: the update is element-wise and memory-bound (seven
        // streams), so each part gives the same bits as one pass and two cores move more bytes than one.
        int n = p.Length, parts = KernelParallel.WorkersFor(n, n / (KernelSettings.OptimizerMinElements / 2), KernelSettings.OptimizerMinElements);
        if (parts <= 1)
        {
            Drive(p, g, m, v, amsgrad ? vmax : default, u);
            return;
        }
        fixed (T* pp = p, pg = g, pm = m, pv = v, px = vmax)
        {
            // One reusable job per thread and element type: the step allocates nothing (its delegate is cached).
            var job = AdamJob<T>.ForThisThread;
            job.Set((nint)pp, (nint)pg, (nint)pm, (nint)pv, (nint)px, n, parts, u);
            KernelParallel.For(0, job.Parts, job.Body);
        }
    }

    private readonly struct AdamUpdate<T>(T sign, T l2, T decay, T oneMinusBeta1, T beta2, T oneMinusBeta2, T negStepSize,
        T bc2Sqrt, T eps, bool useL2, bool useDecay, bool amsgrad) : IVectorUpdate<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly Vector<T> _sign = new(sign), _l2 = new(l2), _decay = new(decay), _w1 = new(oneMinusBeta1), _b2 = new(beta2),
            _w2 = new(oneMinusBeta2), _step = new(negStepSize), _bc2 = new(bc2Sqrt), _eps = new(eps);
        public bool AmsGrad => amsgrad;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply(ref Vector<T> p, Vector<T> g, ref Vector<T> m, ref Vector<T> v, ref Vector<T> vmax)
        {
            var x = g * _sign;
            var pk = p;
            if (useL2) x += _l2 * pk;
            if (useDecay) pk *= _decay;
            var mk = m;
            mk += _w1 * (x - mk);
            m = mk;
            var vk = v * _b2 + _w2 * (x * x);
            v = vk;
            if (amsgrad) { vk = Vector.Max(vmax, vk); vmax = vk; }
            var denom = Vector.SquareRoot(vk) / _bc2 + _eps;
            p = pk + _step * (mk / denom);
        }
    }

    private sealed unsafe class AdamJob<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        [ThreadStatic] private static AdamJob<T>? t_job;
        public static AdamJob<T> ForThisThread => t_job ??= new AdamJob<T>();

        private nint _p, _g, _m, _v, _x;
        private int _n;
        private AdamUpdate<T> _u;
        public int Parts { get; private set; }
        public Action<int> Body { get; }

        private AdamJob() => Body = Run;

        public void Set(nint p, nint g, nint m, nint v, nint x, int n, int parts, AdamUpdate<T> u) =>
            (_p, _g, _m, _v, _x, _n, Parts, _u) = (p, g, m, v, x, n, parts, u);

        private void Run(int part)
        {
            // Part boundaries on whole 16-element blocks, so the vector loop covers every part but the last fully.
            int i0 = (int)((long)_n * part / Parts) & ~15, i1 = part == Parts - 1 ? _n : (int)((long)_n * (part + 1) / Parts) & ~15;
            int len = i1 - i0;
            Drive(new Span<T>((T*)_p + i0, len), new ReadOnlySpan<T>((T*)_g + i0, len), new Span<T>((T*)_m + i0, len),
                new Span<T>((T*)_v + i0, len), _u.AmsGrad ? new Span<T>((T*)_x + i0, len) : default, _u);
        }
    }

    /// <summary>
    /// RMSprop: g ← ±g (+ wd·p); s ← s·α + (1−α)·g²; centered: ḡ ← lerp(ḡ, g, 1−α), avg ← √(s − ḡ²) + eps, else
    /// avg ← √s + eps; momentum: b ← μ·b + g/avg, p ← p − lr·b; else p ← p − lr·g/avg.
    /// </summary>
    public static void RmsProp<T>(Span<T> p, ReadOnlySpan<T> g, Span<T> sq, Span<T> gAvg, Span<T> buf, T lr, T alpha,
        T eps, T wd, T momentum, bool centered, bool maximize) where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool useMomentum = momentum > T.Zero;
        var u = new RmsPropUpdate<T>(maximize ? -T.One : T.One, wd, alpha, T.One - alpha, eps, momentum, -lr, wd != T.Zero,
            useMomentum, centered);
        Drive(p, g, sq, centered ? gAvg : default, useMomentum ? buf : default, u);
    }

    private readonly struct RmsPropUpdate<T>(T sign, T wd, T alpha, T oneMinusAlpha, T eps, T momentum, T negLr, bool useWd,
        bool useMomentum, bool centered) : IVectorUpdate<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly Vector<T> _sign = new(sign), _wd = new(wd), _alpha = new(alpha), _oma = new(oneMinusAlpha), _eps = new(eps),
            _mom = new(momentum), _negLr = new(negLr);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply(ref Vector<T> p, Vector<T> g, ref Vector<T> sq, ref Vector<T> gAvg, ref Vector<T> buf)
        {
            var x = g * _sign;
            if (useWd) x += _wd * p;
            var s = sq * _alpha + _oma * (x * x);
            sq = s;
            Vector<T> avg;
            if (centered)
            {
                var a = gAvg;
                a += _oma * (x - a);
                gAvg = a;
                avg = Vector.SquareRoot(s - a * a) + _eps;
            }
            else avg = Vector.SquareRoot(s) + _eps;
            if (useMomentum)
            {
                var b = buf * _mom + x / avg;
                buf = b;
                p += _negLr * b;
            }
            else p += _negLr * (x / avg);
        }
    }

    /// <summary>One element update over vector lanes: the parameter, its gradient and up to three state buffers.</summary>
    private interface IVectorUpdate<T> where T : unmanaged
    {
        void Apply(ref Vector<T> p, Vector<T> g, ref Vector<T> s0, ref Vector<T> s1, ref Vector<T> s2);
    }

    /// <summary>
    /// Runs <paramref name="u"/> over p, g and the state spans s0–s2 (each p's length, or empty when the update does not
    /// use it): whole vectors in place, then the tail through zero-padded vectors whose first lanes are written back.
    /// </summary>
    private static void Drive<T, U>(Span<T> p, ReadOnlySpan<T> g, Span<T> s0, Span<T> s1, Span<T> s2, U u)
        where T : unmanaged, IFloatingPointIeee754<T> where U : struct, IVectorUpdate<T>
    {
        var pv = MemoryMarshal.Cast<T, Vector<T>>(p);
        var gv = MemoryMarshal.Cast<T, Vector<T>>(g);
        var v0 = MemoryMarshal.Cast<T, Vector<T>>(s0);
        var v1 = MemoryMarshal.Cast<T, Vector<T>>(s1);
        var v2 = MemoryMarshal.Cast<T, Vector<T>>(s2);
        bool has0 = !s0.IsEmpty, has1 = !s1.IsEmpty, has2 = !s2.IsEmpty;
        Vector<T> unused = default;
        for (int k = 0; k < pv.Length; k++)
        {
            u.Apply(ref pv[k], gv[k], ref has0 ? ref v0[k] : ref unused, ref has1 ? ref v1[k] : ref unused,
                ref has2 ? ref v2[k] : ref unused);
        }
        int start = pv.Length * Vector<T>.Count, r = p.Length - start;
        if (r == 0) return;
        Span<T> lanes = stackalloc T[Vector<T>.Count];
        var tp = Pad(p[start..], lanes);
        var tg = Pad(g[start..], lanes);
        var t0 = has0 ? Pad(s0[start..], lanes) : default;
        var t1 = has1 ? Pad(s1[start..], lanes) : default;
        var t2 = has2 ? Pad(s2[start..], lanes) : default;
        u.Apply(ref tp, tg, ref t0, ref t1, ref t2);
        Unpad(tp, lanes, p[start..]);
        if (has0) Unpad(t0, lanes, s0[start..]);
        if (has1) Unpad(t1, lanes, s1[start..]);
        if (has2) Unpad(t2, lanes, s2[start..]);
    }

    private static Vector<T> Pad<T>(ReadOnlySpan<T> tail, Span<T> lanes) where T : unmanaged
    {
        lanes.Clear();
        tail.CopyTo(lanes);
        return new Vector<T>(lanes);
    }

    private static void Unpad<T>(Vector<T> v, Span<T> lanes, Span<T> tail) where T : unmanaged
    {
        v.CopyTo(lanes);
        lanes[..tail.Length].CopyTo(tail);
    }
}
