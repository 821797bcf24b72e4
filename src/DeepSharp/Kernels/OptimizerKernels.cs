using System.Numerics;
using System.Runtime.InteropServices;

namespace DeepSharp.Kernels;

/// <summary>
/// Fused single-pass update loops over contiguous spans (SIMD body with <see cref="Vector{T}"/>, scalar tail).
/// Each follows the operation order of PyTorch's single-tensor implementation element by element.
/// </summary>
internal static class OptimizerKernels
{
    /// <summary>SGD: g ← ±g (+ wd·p); with momentum b ← first ? g : μ·b + (1−τ)·g, g ← nesterov ? g + μ·b : b; p ← p − lr·g.</summary>
    public static void Sgd<T>(Span<T> p, ReadOnlySpan<T> g, Span<T> buf, T lr, T wd, T momentum, T dampening,
        bool nesterov, bool maximize, bool firstStep) where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool useWd = wd != T.Zero, useMomentum = momentum != T.Zero;
        T sign = maximize ? -T.One : T.One, oneMinusDamp = T.One - dampening, negLr = -lr;
        int i = 0;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            var pv = MemoryMarshal.Cast<T, Vector<T>>(p);
            var gv = MemoryMarshal.Cast<T, Vector<T>>(g);
            var bv = useMomentum ? MemoryMarshal.Cast<T, Vector<T>>(buf) : default;
            Vector<T> vSign = new(sign), vWd = new(wd), vMom = new(momentum), vDamp = new(oneMinusDamp), vNegLr = new(negLr);
            for (int k = 0; k < pv.Length; k++)
            {
                var x = gv[k] * vSign;
                if (useWd) x += vWd * pv[k];
                if (useMomentum)
                {
                    var b = firstStep ? x : bv[k] * vMom + vDamp * x;
                    bv[k] = b;
                    x = nesterov ? x + vMom * b : b;
                }
                pv[k] += vNegLr * x;
            }
            i = pv.Length * Vector<T>.Count;
        }
        for (; i < p.Length; i++)
        {
            T x = g[i] * sign;
            if (useWd) x += wd * p[i];
            if (useMomentum)
            {
                T b = firstStep ? x : buf[i] * momentum + oneMinusDamp * x;
                buf[i] = b;
                x = nesterov ? x + momentum * b : b;
            }
            p[i] += negLr * x;
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
        // Large parameters are split over the kernel threads: the update is element-wise and memory-bound (seven
        // streams), so each part gives the same bits as one pass and two cores move more bytes than one.
        int n = p.Length, parts = KernelParallel.WorkersFor(n, n / (KernelSettings.OptimizerMinElements / 2), KernelSettings.OptimizerMinElements);
        if (parts <= 1)
        {
            AdamRange(p, g, m, v, vmax, amsgrad, l2, decay, oneMinusBeta1, beta2, oneMinusBeta2, negStepSize, bc2Sqrt, eps, maximize);
            return;
        }
        fixed (T* pp = p, pg = g, pm = m, pv = v, px = vmax)
        {
            // One reusable job per thread and element type: the step allocates nothing (its delegate is cached).
            var job = AdamJob<T>.ForThisThread;
            job.Set((nint)pp, (nint)pg, (nint)pm, (nint)pv, (nint)px, n, parts,
                amsgrad, l2, decay, oneMinusBeta1, beta2, oneMinusBeta2, negStepSize, bc2Sqrt, eps, maximize);
            KernelParallel.For(0, job.Parts, job.Body);
        }
    }

    private sealed unsafe class AdamJob<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        [ThreadStatic] private static AdamJob<T>? t_job;
        public static AdamJob<T> ForThisThread => t_job ??= new AdamJob<T>();

        private nint _p, _g, _m, _v, _x;
        private int _n;
        private bool _amsgrad, _maximize;
        private T _l2, _decay, _w1, _b2, _w2, _step, _bc2, _eps;
        public int Parts { get; private set; }
        public Action<int> Body { get; }

        private AdamJob() => Body = Run;

        public void Set(nint p, nint g, nint m, nint v, nint x, int n, int parts, bool amsgrad, T l2, T decay, T w1, T b2,
            T w2, T step, T bc2, T eps, bool maximize)
        {
            (_p, _g, _m, _v, _x, _n, Parts, _amsgrad) = (p, g, m, v, x, n, parts, amsgrad);
            (_l2, _decay, _w1, _b2, _w2, _step, _bc2, _eps, _maximize) = (l2, decay, w1, b2, w2, step, bc2, eps, maximize);
        }

        private void Run(int part)
        {
            // Part boundaries on whole 16-element blocks, so the vector loop covers every part but the last fully.
            int i0 = (int)((long)_n * part / Parts) & ~15, i1 = part == Parts - 1 ? _n : (int)((long)_n * (part + 1) / Parts) & ~15;
            int len = i1 - i0;
            AdamRange(new Span<T>((T*)_p + i0, len), new ReadOnlySpan<T>((T*)_g + i0, len), new Span<T>((T*)_m + i0, len),
                new Span<T>((T*)_v + i0, len), _amsgrad ? new Span<T>((T*)_x + i0, len) : default, _amsgrad,
                _l2, _decay, _w1, _b2, _w2, _step, _bc2, _eps, _maximize);
        }
    }

    private static void AdamRange<T>(Span<T> p, ReadOnlySpan<T> g, Span<T> m, Span<T> v, Span<T> vmax, bool amsgrad,
        T l2, T decay, T oneMinusBeta1, T beta2, T oneMinusBeta2, T negStepSize, T bc2Sqrt, T eps, bool maximize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool useL2 = l2 != T.Zero, useDecay = decay != T.One;
        T sign = maximize ? -T.One : T.One;
        int i = 0;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            var pv = MemoryMarshal.Cast<T, Vector<T>>(p);
            var gv = MemoryMarshal.Cast<T, Vector<T>>(g);
            var mv = MemoryMarshal.Cast<T, Vector<T>>(m);
            var vv = MemoryMarshal.Cast<T, Vector<T>>(v);
            var xv = amsgrad ? MemoryMarshal.Cast<T, Vector<T>>(vmax) : default;
            Vector<T> vSign = new(sign), vL2 = new(l2), vDecay = new(decay), vW1 = new(oneMinusBeta1), vB2 = new(beta2),
                vW2 = new(oneMinusBeta2), vStep = new(negStepSize), vBc2 = new(bc2Sqrt), vEps = new(eps);
            for (int k = 0; k < pv.Length; k++)
            {
                var x = gv[k] * vSign;
                var pk = pv[k];
                if (useL2) x += vL2 * pk;
                if (useDecay) pk *= vDecay;
                var mk = mv[k];
                mk += vW1 * (x - mk);
                mv[k] = mk;
                var vk = vv[k] * vB2 + vW2 * (x * x);
                vv[k] = vk;
                if (amsgrad) { vk = Vector.Max(xv[k], vk); xv[k] = vk; }
                var denom = Vector.SquareRoot(vk) / vBc2 + vEps;
                pv[k] = pk + vStep * (mk / denom);
            }
            i = pv.Length * Vector<T>.Count;
        }
        for (; i < p.Length; i++)
        {
            T x = g[i] * sign;
            T pk = p[i];
            if (useL2) x += l2 * pk;
            if (useDecay) pk *= decay;
            T mk = m[i];
            mk += oneMinusBeta1 * (x - mk);
            m[i] = mk;
            T vk = v[i] * beta2 + oneMinusBeta2 * (x * x);
            v[i] = vk;
            if (amsgrad) { vk = T.Max(vmax[i], vk); vmax[i] = vk; }
            T denom = T.Sqrt(vk) / bc2Sqrt + eps;
            p[i] = pk + negStepSize * (mk / denom);
        }
    }

    /// <summary>
    /// RMSprop: g ← ±g (+ wd·p); s ← s·α + (1−α)·g²; centered: ḡ ← lerp(ḡ, g, 1−α), avg ← √(s − ḡ²) + eps, else
    /// avg ← √s + eps; momentum: b ← μ·b + g/avg, p ← p − lr·b; else p ← p − lr·g/avg.
    /// </summary>
    public static void RmsProp<T>(Span<T> p, ReadOnlySpan<T> g, Span<T> sq, Span<T> gAvg, Span<T> buf, T lr, T alpha,
        T eps, T wd, T momentum, bool centered, bool maximize) where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool useWd = wd != T.Zero, useMomentum = momentum > T.Zero;
        T sign = maximize ? -T.One : T.One, oneMinusAlpha = T.One - alpha, negLr = -lr;
        int i = 0;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            var pv = MemoryMarshal.Cast<T, Vector<T>>(p);
            var gv = MemoryMarshal.Cast<T, Vector<T>>(g);
            var sv = MemoryMarshal.Cast<T, Vector<T>>(sq);
            var av = centered ? MemoryMarshal.Cast<T, Vector<T>>(gAvg) : default;
            var bv = useMomentum ? MemoryMarshal.Cast<T, Vector<T>>(buf) : default;
            Vector<T> vSign = new(sign), vWd = new(wd), vAlpha = new(alpha), vOma = new(oneMinusAlpha), vEps = new(eps),
                vMom = new(momentum), vNegLr = new(negLr);
            for (int k = 0; k < pv.Length; k++)
            {
                var x = gv[k] * vSign;
                if (useWd) x += vWd * pv[k];
                var s = sv[k] * vAlpha + vOma * (x * x);
                sv[k] = s;
                Vector<T> avg;
                if (centered)
                {
                    var a = av[k];
                    a += vOma * (x - a);
                    av[k] = a;
                    avg = Vector.SquareRoot(s - a * a) + vEps;
                }
                else avg = Vector.SquareRoot(s) + vEps;
                if (useMomentum)
                {
                    var b = bv[k] * vMom + x / avg;
                    bv[k] = b;
                    pv[k] += vNegLr * b;
                }
                else pv[k] += vNegLr * (x / avg);
            }
            i = pv.Length * Vector<T>.Count;
        }
        for (; i < p.Length; i++)
        {
            T x = g[i] * sign;
            if (useWd) x += wd * p[i];
            T s = sq[i] * alpha + oneMinusAlpha * (x * x);
            sq[i] = s;
            T avg;
            if (centered)
            {
                T a = gAvg[i];
                a += oneMinusAlpha * (x - a);
                gAvg[i] = a;
                avg = T.Sqrt(s - a * a) + eps;
            }
            else avg = T.Sqrt(s) + eps;
            if (useMomentum)
            {
                T b = buf[i] * momentum + x / avg;
                buf[i] = b;
                p[i] += negLr * b;
            }
            else p[i] += negLr * (x / avg);
        }
    }
}
