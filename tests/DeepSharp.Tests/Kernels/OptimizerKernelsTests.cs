using System.Numerics;
using DeepSharp.Kernels;
using FsCheck;
using FsCheck.Fluent;
using PropertyAttribute = FsCheck.NUnit.PropertyAttribute;

namespace DeepSharp.Tests.Kernels;

/// <summary>
/// The optimizer update kernels (one vector update per optimizer, a zero-padded tail) against the scalar loops they
/// replaced, written here as the reference: the same bits for every length, vector remainders included, every flag
/// combination, float and double.
/// </summary>
[TestFixture, Category("Kernels")]
public class OptimizerKernelsTests
{
    private static FsCheck.Property ForAll<T>(Gen<T> gen, Action<T> body) => Prop.ForAll(Arb.From(gen), body);

    private static readonly Gen<(int N, int Seed, int Flags)> Case =
        from n in Gen.Choose(0, 70) from seed in Gen.Choose(0, 100000) from flags in Gen.Choose(0, 15) select (n, seed, flags);

    private static T[] Values<T>(int n, int seed, double lo, double hi) where T : IFloatingPointIeee754<T>
    {
        var r = new Random(seed);
        var a = new T[n];
        for (int i = 0; i < n; i++) a[i] = T.CreateTruncating(lo + (hi - lo) * r.NextDouble());
        return a;
    }

    private static void AssertBits<T>(T[] actual, T[] expected, string what) where T : IFloatingPointIeee754<T>
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length));
        for (int i = 0; i < actual.Length; i++)
            Assert.That(double.CreateTruncating(actual[i]), Is.EqualTo(double.CreateTruncating(expected[i])), $"{what}[{i}] of {actual.Length}");
    }

    // ---- the scalar references (the former tail loops, element by element) ----

    private static void SgdRef<T>(T[] p, T[] g, T[] buf, T lr, T wd, T momentum, T dampening, bool nesterov, bool maximize, bool firstStep)
        where T : IFloatingPointIeee754<T>
    {
        bool useWd = wd != T.Zero, useMomentum = momentum != T.Zero;
        T sign = maximize ? -T.One : T.One, oneMinusDamp = T.One - dampening, negLr = -lr;
        for (int i = 0; i < p.Length; i++)
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

    private static void AdamRef<T>(T[] p, T[] g, T[] m, T[] v, T[] vmax, bool amsgrad, T l2, T decay, T oneMinusBeta1, T beta2,
        T oneMinusBeta2, T negStepSize, T bc2Sqrt, T eps, bool maximize) where T : IFloatingPointIeee754<T>
    {
        bool useL2 = l2 != T.Zero, useDecay = decay != T.One;
        T sign = maximize ? -T.One : T.One;
        for (int i = 0; i < p.Length; i++)
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

    private static void RmsPropRef<T>(T[] p, T[] g, T[] sq, T[] gAvg, T[] buf, T lr, T alpha, T eps, T wd, T momentum, bool centered, bool maximize)
        where T : IFloatingPointIeee754<T>
    {
        bool useWd = wd != T.Zero, useMomentum = momentum > T.Zero;
        T sign = maximize ? -T.One : T.One, oneMinusAlpha = T.One - alpha, negLr = -lr;
        for (int i = 0; i < p.Length; i++)
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

    // ---- the checks ----

    private static void CheckSgd<T>(int n, int seed, int flags) where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool nesterov = (flags & 1) != 0, maximize = (flags & 2) != 0, first = (flags & 4) != 0, momentum = (flags & 8) != 0;
        T lr = T.CreateTruncating(0.03), wd = T.CreateTruncating((flags & 3) == 1 ? 0.0 : 0.01);
        T mom = T.CreateTruncating(momentum ? 0.9 : 0.0), damp = T.CreateTruncating(0.1);
        var p = Values<T>(n, seed, -1, 1); var g = Values<T>(n, seed + 1, -2, 2); var b = Values<T>(n, seed + 2, -1, 1);
        var (p2, b2) = ((T[])p.Clone(), (T[])b.Clone());
        OptimizerKernels.Sgd<T>(p, g, b, lr, wd, mom, damp, nesterov, maximize, first);
        SgdRef(p2, g, b2, lr, wd, mom, damp, nesterov, maximize, first);
        AssertBits(p, p2, "p"); AssertBits(b, b2, "buf");
    }

    private static void CheckAdam<T>(int n, int seed, int flags) where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool amsgrad = (flags & 1) != 0, maximize = (flags & 2) != 0, l2 = (flags & 4) != 0, decay = (flags & 8) != 0;
        var p = Values<T>(n, seed, -1, 1); var g = Values<T>(n, seed + 1, -2, 2);
        var m = Values<T>(n, seed + 2, -0.5, 0.5); var v = Values<T>(n, seed + 3, 0, 0.3); var x = Values<T>(n, seed + 4, 0, 0.3);
        var (p2, m2, v2, x2) = ((T[])p.Clone(), (T[])m.Clone(), (T[])v.Clone(), (T[])x.Clone());
        T c(double d) => T.CreateTruncating(d);
        OptimizerKernels.Adam<T>(p, g, m, v, amsgrad ? x : default, amsgrad, c(l2 ? 0.01 : 0), c(decay ? 0.999 : 1), c(0.1), c(0.999),
            c(0.001), c(-0.0013), c(0.031), c(1e-8), maximize);
        AdamRef(p2, g, m2, v2, x2, amsgrad, c(l2 ? 0.01 : 0), c(decay ? 0.999 : 1), c(0.1), c(0.999), c(0.001), c(-0.0013), c(0.031), c(1e-8), maximize);
        AssertBits(p, p2, "p"); AssertBits(m, m2, "m"); AssertBits(v, v2, "v"); AssertBits(x, x2, "vmax");
    }

    private static void CheckRmsProp<T>(int n, int seed, int flags) where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool centered = (flags & 1) != 0, maximize = (flags & 2) != 0, wd = (flags & 4) != 0, momentum = (flags & 8) != 0;
        var p = Values<T>(n, seed, -1, 1); var g = Values<T>(n, seed + 1, -2, 2);
        var sq = Values<T>(n, seed + 2, 1, 2); var a = Values<T>(n, seed + 3, -0.5, 0.5); var b = Values<T>(n, seed + 4, -0.1, 0.1);
        var (p2, sq2, a2, b2) = ((T[])p.Clone(), (T[])sq.Clone(), (T[])a.Clone(), (T[])b.Clone());
        T c(double d) => T.CreateTruncating(d);
        OptimizerKernels.RmsProp<T>(p, g, sq, centered ? a : default, momentum ? b : default, c(0.01), c(0.99), c(1e-8),
            c(wd ? 0.01 : 0), c(momentum ? 0.9 : 0), centered, maximize);
        RmsPropRef(p2, g, sq2, a2, b2, c(0.01), c(0.99), c(1e-8), c(wd ? 0.01 : 0), c(momentum ? 0.9 : 0), centered, maximize);
        AssertBits(p, p2, "p"); AssertBits(sq, sq2, "sq"); AssertBits(a, a2, "gAvg"); AssertBits(b, b2, "buf");
    }

    [Property(MaxTest = 60)]
    public FsCheck.Property Sgd_BitIdenticalToScalar() => ForAll(Case, c => { CheckSgd<float>(c.N, c.Seed, c.Flags); CheckSgd<double>(c.N, c.Seed, c.Flags); });

    [Property(MaxTest = 60)]
    public FsCheck.Property Adam_BitIdenticalToScalar() => ForAll(Case, c => { CheckAdam<float>(c.N, c.Seed, c.Flags); CheckAdam<double>(c.N, c.Seed, c.Flags); });

    [Property(MaxTest = 60)]
    public FsCheck.Property RmsProp_BitIdenticalToScalar() => ForAll(Case, c => { CheckRmsProp<float>(c.N, c.Seed, c.Flags); CheckRmsProp<double>(c.N, c.Seed, c.Flags); });

    [Test]
    public void EveryTailLength_AllFlags()
    {
        // Every remainder modulo the widest vector (16 floats with AVX-512) and every flag combination, deterministically.
        for (int n = 0; n <= 33; n++)
            for (int flags = 0; flags < 16; flags++)
            {
                CheckSgd<float>(n, n * 31 + flags, flags); CheckSgd<double>(n, n * 31 + flags, flags);
                CheckAdam<float>(n, n * 31 + flags, flags); CheckAdam<double>(n, n * 31 + flags, flags);
                CheckRmsProp<float>(n, n * 31 + flags, flags); CheckRmsProp<double>(n, n * 31 + flags, flags);
            }
    }

    [Test]
    public void Adam_SplitOverThreads_BitIdenticalToScalar([Values(0, 1, 5)] int flags)
    {
        // Above OptimizerMinElements the update is split into parts on 16-element boundaries; an odd length ends in a tail.
        int n = KernelSettings.OptimizerMinElements * 2 + 13;
        CheckAdam<float>(n, 7, flags);
        CheckAdam<double>(n, 8, flags);
    }
}
