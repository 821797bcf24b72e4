using DeepSharp.NN;

namespace DeepSharp.Tests.Ops;

using static V;

/// <summary>Hand-worked values of the tensor functions of issue 14 (sorting, scans, rounding, norms, einsum, padding,
/// interpolation, fold), in float32 and float64. PyTorchReferenceTests compares the same ops with recorded PyTorch output.</summary>
[TestFixture]
public class TensorFunctionValueTests
{
    [Test]
    public void Log1pExpm1AndErfinv([Values(DType.Float32, DType.Float64)] DType dt)
    {
        Equal(T(dt, 0, 1, -0.5).Log1p(), [0, Math.Log(2), Math.Log(0.5)]);
        Equal(T(dt, 0, 1, -1).Expm1(), [0, Math.E - 1, 1 / Math.E - 1]);
        // Small arguments keep full relative precision (log(1 + 1e-10) rounded would lose 6 digits).
        Assert.That(T(DType.Float64, 1e-10).Log1p().Item(), Is.EqualTo(9.9999999995e-11).Within(1e-24));
        Assert.That(T(DType.Float64, 1e-10).Expm1().Item(), Is.EqualTo(1.00000000005e-10).Within(1e-24));
        Equal(T(dt, 0, 0.5, -0.5).Erfinv(), [0, 0.4769362762044699, -0.4769362762044699], dt == DType.Float32 ? 1e-6 : 1e-14);
        var edges = T(dt, 1, -1, 1.5).Erfinv().Double().ToArray<double>();
        Assert.That(edges[0], Is.EqualTo(double.PositiveInfinity));
        Assert.That(edges[1], Is.EqualTo(double.NegativeInfinity));
        Assert.That(edges[2], Is.NaN);
        // erf(erfinv(y)) = y to double precision across the range.
        var y = Tensor.Linspace(-0.999, 0.999, 41, DType.Float64);
        Assert.That(y.Erfinv().Erf().AllClose(y, 0, 1e-15), Is.True);
    }

    [Test]
    public void RoundingHasPyTorchsValuesAndZeroGradient([Values(DType.Float32, DType.Float64)] DType dt)
    {
        var x = T(dt, 0.5, 1.5, 2.5, -0.5, -1.7, 2.4);
        Equal(x.Floor(), [0, 1, 2, -1, -2, 2]);
        Equal(x.Ceil(), [1, 2, 3, -0.0, -1, 3]);
        Equal(x.Round(), [0, 2, 2, -0.0, -2, 2]);   // half to even
        Equal(x.Trunc(), [0, 1, 2, 0, -1, 2]);
        Equal(T(dt, 1.2345, -2.5678).Round(2), [1.23, -2.57], dt == DType.Float32 ? 1e-6 : 1e-12);
        foreach (var f in new Func<Tensor, Tensor>[] { t => t.Floor(), t => t.Ceil(), t => t.Round(), t => t.Trunc() })
            Assert.That(Grad(f, x), Is.All.EqualTo(0.0));
    }

    [Test]
    public void NanAndInfinity([Values(DType.Float32, DType.Float64)] DType dt)
    {
        var x = T(dt, 1, double.NaN, double.PositiveInfinity, double.NegativeInfinity);
        Assert.That(x.IsNan().ToArray<bool>(), Is.EqualTo(new[] { false, true, false, false }));
        Assert.That(x.IsInf().ToArray<bool>(), Is.EqualTo(new[] { false, false, true, true }));
        Assert.That(x.IsFinite().ToArray<bool>(), Is.EqualTo(new[] { true, false, false, false }));
        Equal(x.NanToNum(0, 5, -6), [1, 0, 5, -6]);
        double max = dt == DType.Float32 ? float.MaxValue : double.MaxValue;
        Assert.That(V.Values(x.NanToNum())[2], Is.EqualTo(max));
        Assert.That(Grad(t => t.NanToNum(), x), Is.EqualTo(new[] { 1.0, 0, 0, 0 }));
        Assert.That(Tensor.FromArray(new long[] { 1, 2 }).IsFinite().ToArray<bool>(), Is.EqualTo(new[] { true, true }));
    }

    [Test]
    public void LerpHypotAtan2([Values(DType.Float32, DType.Float64)] DType dt)
    {
        Equal(T(dt, 0, 10).Lerp(T(dt, 10, 20), 0.25), [2.5, 12.5]);
        Equal(T(dt, 0, 10).Lerp(T(dt, 10, 20), T(dt, 0.5, 1)), [5, 20]);
        Equal(T(dt, 3, 5).Hypot(T(dt, 4, 12)), [5, 13]);
        Equal(T(dt, 1, 1, -1).Atan2(T(dt, 1, -1, 0)), [Math.PI / 4, 3 * Math.PI / 4, -Math.PI / 2]);
    }

    [Test]
    public void ScansAndProducts([Values(DType.Float32, DType.Float64)] DType dt)
    {
        var x = T(dt, [1, 2, 3, 4, 5, 6], 2, 3);
        Equal(x.Cumsum(1), [1, 3, 6, 4, 9, 15], [2, 3]);
        Equal(x.Cumsum(-2), [1, 2, 3, 5, 7, 9], [2, 3]);
        Equal(x.Cumprod(1), [1, 2, 6, 4, 20, 120], [2, 3]);
        Equal(x.Prod(), [720], []);
        Equal(x.Prod(0), [4, 10, 18], [3]);
        Equal(x.Prod(1, keepDim: true), [6, 120], [2, 1]);
        // Gradients at zeros are the products of the other factors (no division by x).
        var z = T(dt, 2, 0, 3, 0);
        Assert.That(Grad(t => t.Prod(), z), Is.EqualTo(new double[] { 0, 0, 0, 0 }));
        var one = T(dt, 2, 0, 3);
        Assert.That(Grad(t => t.Prod(), one), Is.EqualTo(new double[] { 0, 6, 0 }));
        // d/dx Σ cumprod(2, 0, 3) = [1 + 0 + 0, 2 + 2·3, 0].
        Assert.That(Grad(t => t.Cumprod(0), one), Is.EqualTo(new double[] { 1, 8, 0 }));
        Assert.That(Grad(t => t.Cumsum(0), one), Is.EqualTo(new double[] { 3, 2, 1 }));
    }

    [Test]
    public void FlipRollRepeat([Values(DType.Float32, DType.Float64)] DType dt)
    {
        var x = T(dt, [1, 2, 3, 4, 5, 6], 2, 3);
        Equal(x.Flip(1), [3, 2, 1, 6, 5, 4], [2, 3]);
        Equal(x.Flip(0, 1), [6, 5, 4, 3, 2, 1], [2, 3]);
        Equal(x.T.Flip(0), [3, 6, 2, 5, 1, 4], [3, 2]);
        Equal(x.Roll(1, 1), [3, 1, 2, 6, 4, 5], [2, 3]);
        Equal(x.Roll([-1]), [2, 3, 4, 5, 6, 1], [2, 3]);
        Equal(T(dt, 1, 2).Repeat(2, 2), [1, 2, 1, 2, 1, 2, 1, 2], [2, 4]);
        Equal(x.Repeat(1, 2), [1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6], [2, 6]);
        Equal(T(dt, 1, 2).RepeatInterleave(2), [1, 1, 2, 2]);
        Equal(x.RepeatInterleave(Tensor.FromArray(new long[] { 2, 1 }), 0), [1, 2, 3, 1, 2, 3, 4, 5, 6], [3, 3]);
        Assert.That(Tensor.FromArray(new long[] { 1, 2, 3 }).Flip(0).ToArray<long>(), Is.EqualTo(new long[] { 3, 2, 1 }));
    }

    [Test]
    public void TrianglesDiagOuter([Values(DType.Float32, DType.Float64)] DType dt)
    {
        var x = T(dt, [1, 2, 3, 4, 5, 6, 7, 8, 9], 3, 3);
        Equal(x.Tril(), [1, 0, 0, 4, 5, 0, 7, 8, 9], [3, 3]);
        Equal(x.Triu(1), [0, 2, 3, 0, 0, 6, 0, 0, 0], [3, 3]);
        Equal(x.Tril(-1), [0, 0, 0, 4, 0, 0, 7, 8, 0], [3, 3]);
        Equal(x.Diag(), [1, 5, 9]);
        Equal(x.Diag(1), [2, 6]);
        Equal(x.Diag(-2), [7]);
        Equal(T(dt, 1, 2).Diag(1), [0, 1, 0, 0, 0, 2, 0, 0, 0], [3, 3]);
        Equal(T(dt, 1, 2).Diag(-1), [0, 0, 0, 1, 0, 0, 0, 2, 0], [3, 3]);
        Equal(T(dt, 1, 2).Outer(T(dt, 3, 4, 5)), [3, 4, 5, 6, 8, 10], [2, 3]);
    }

    [Test]
    public void SortTopKArgSort([Values(DType.Float32, DType.Float64)] DType dt)
    {
        var x = T(dt, [3, 1, 2, 1, double.NaN, 0], 2, 3);
        var (v, i) = x.Sort(1);
        Equal(v[0], [1, 2, 3]);
        Assert.That(i.ToArray<long>(), Is.EqualTo(new long[] { 1, 2, 0, 2, 0, 1 }));
        Assert.That(V.Values(v[1])[2], Is.NaN, "NaN sorts last ascending");
        var (vd, id) = x.Sort(1, descending: true);
        Assert.That(V.Values(vd[1])[0], Is.NaN, "NaN sorts first descending");
        Assert.That(id.ToArray<long>(), Is.EqualTo(new long[] { 0, 2, 1, 1, 0, 2 }));
        // Stable: equal elements keep their order in both directions.
        var ties = T(dt, 2, 1, 2, 1);
        Assert.That(ties.ArgSort(stable: true).ToArray<long>(), Is.EqualTo(new long[] { 1, 3, 0, 2 }));
        Assert.That(ties.ArgSort(descending: true, stable: true).ToArray<long>(), Is.EqualTo(new long[] { 0, 2, 1, 3 }));
        var (tv, ti) = T(dt, 5, 1, 4, 2).TopK(2);
        Equal(tv, [5, 4]);
        Assert.That(ti.ToArray<long>(), Is.EqualTo(new long[] { 0, 2 }));
        Assert.That(ti.DType, Is.EqualTo(DType.Int64));
        Equal(T(dt, 5, 1, 4, 2).TopK(2, largest: false).Values, [1, 2]);
        Assert.That(Grad(t => t.TopK(2).Values, T(dt, 5, 1, 4, 2)), Is.EqualTo(new double[] { 1, 0, 1, 0 }));
    }

    [Test]
    public void Multinomial()
    {
        var probs = Tensor.FromArray(new double[] { 0, 1, 0, 3 });
        var s = probs.Multinomial(1000, replacement: true, new Generator(7)).ToArray<long>();
        Assert.That(s.All(v => v is 1 or 3), Is.True, "zero-weight categories are never drawn");
        Assert.That(s.Count(v => v == 3) / 1000.0, Is.EqualTo(0.75).Within(0.05));
        var again = probs.Multinomial(1000, replacement: true, new Generator(7)).ToArray<long>();
        Assert.That(again, Is.EqualTo(s), "same seed, same samples");
        var rows = Tensor.FromArray(new float[,] { { 1, 1, 1, 1 }, { 0, 2, 1, 0 } });
        var without = rows.Multinomial(2, generator: new Generator(1));
        Assert.That(without.Shape, Is.EqualTo(new[] { 2, 2 }));
        var r1 = without[1].ToArray<long>();
        Assert.That(r1.OrderBy(v => v), Is.EqualTo(new long[] { 1, 2 }), "without replacement: each category once");
        var all = rows[0].Multinomial(4, generator: new Generator(3)).ToArray<long>();
        Assert.That(all.OrderBy(v => v), Is.EqualTo(new long[] { 0, 1, 2, 3 }));
    }

    [Test]
    public void Norms([Values(DType.Float32, DType.Float64)] DType dt)
    {
        var x = T(dt, [3, -4, 0, 0], 2, 2);
        Equal(x.Norm(), [5], []);
        Equal(x.Norm(2, 1), [5, 0]);
        Equal(x.Norm(1, 1, keepDim: true), [7, 0], [2, 1]);
        Equal(x.Norm(double.PositiveInfinity), [4], []);
        Equal(x.Norm(double.NegativeInfinity, 1), [3, 0]);
        Equal(x.Norm(0), [2], []);
        Equal(x.Norm(3, 1), [Math.Pow(91, 1 / 3.0), 0], dt == DType.Float32 ? 1e-5 : 1e-12);
        // At a zero vector the gradient is 0 (PyTorch masks it), never NaN.
        Assert.That(Grad(t => t.Norm(2, 1), x), Is.EqualTo(new[] { 0.6, -0.8, 0, 0 }).Within(1e-6));
        Assert.That(Grad(t => t.Norm(3, 1), x).Skip(2), Is.All.EqualTo(0.0));
        Assert.That(Grad(t => t.Norm(), T(dt, 0, 0)), Is.All.EqualTo(0.0));
    }

    [Test]
    public void Einsum([Values(DType.Float32, DType.Float64)] DType dt)
    {
        var a = T(dt, [1, 2, 3, 4], 2, 2);
        var b = T(dt, [5, 6, 7, 8], 2, 2);
        Equal(Tensor.Einsum("ij,jk->ik", a, b), [19, 22, 43, 50], [2, 2]);
        Equal(Tensor.Einsum("ij,kj->ik", a, b), [17, 23, 39, 53], [2, 2]);
        Equal(Tensor.Einsum("ii", a), [5], []);
        Equal(Tensor.Einsum("ij->ji", a), [1, 3, 2, 4], [2, 2]);
        Equal(Tensor.Einsum("ij->j", a), [4, 6]);
        Equal(Tensor.Einsum("i,j->ij", T(dt, 1, 2), T(dt, 3, 4)), [3, 4, 6, 8], [2, 2]);
        Equal(Tensor.Einsum("bij,bjk->bik", a.Unsqueeze(0), b.Unsqueeze(0)), [19, 22, 43, 50], [1, 2, 2]);
        Equal(Tensor.Einsum("ij,ij->", a, b), [70], []);
    }

    [Test]
    public void Pad([Values(DType.Float32, DType.Float64)] DType dt)
    {
        var x = T(dt, [1, 2, 3, 4, 5, 6], 1, 2, 3);
        Equal(F.Pad(x, [1, 1]), [0, 1, 2, 3, 0, 0, 4, 5, 6, 0], [1, 2, 5]);
        Equal(F.Pad(x, [0, 0, 1, 0], value: 9), [9, 9, 9, 1, 2, 3, 4, 5, 6], [1, 3, 3]);
        Equal(F.Pad(x, [-1, 0]), [2, 3, 5, 6], [1, 2, 2]);
        Equal(F.Pad(x, [2, 1], "reflect"), [3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5], [1, 2, 6]);
        Equal(F.Pad(x, [2, 1], "replicate"), [1, 1, 1, 2, 3, 3, 4, 4, 4, 5, 6, 6], [1, 2, 6]);
        Equal(F.Pad(x, [2, 1], "circular"), [2, 3, 1, 2, 3, 1, 5, 6, 4, 5, 6, 4], [1, 2, 6]);
    }

    [Test]
    public void Interpolate([Values(DType.Float32, DType.Float64)] DType dt)
    {
        var x = T(dt, [1, 2, 3, 4], 1, 1, 2, 2);
        Equal(F.Interpolate(x, scaleFactor: [2]), [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4], [1, 1, 4, 4]);
        Equal(F.Interpolate(x, [3, 3], mode: "bilinear", alignCorners: true), [1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4], [1, 1, 3, 3]);
        // align_corners=False, 2 → 4: source positions −0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped index 1).
        Equal(F.Interpolate(T(dt, [1, 3], 1, 1, 2), [4], mode: "linear"), [1, 1.5, 2.5, 3], [1, 1, 4]);
    }

    [Test]
    public void NormalizeUnfoldFold([Values(DType.Float32, DType.Float64)] DType dt)
    {
        Equal(F.Normalize(T(dt, [3, 4, 0, 0], 2, 2), dim: 1), [0.6, 0.8, 0, 0], [2, 2]);
        var x = T(dt, [1, 2, 3, 4, 5, 6, 7, 8, 9], 1, 1, 3, 3);
        var cols = F.Unfold(x, 2);
        Equal(cols, [1, 2, 4, 5, 2, 3, 5, 6, 4, 5, 7, 8, 5, 6, 8, 9], [1, 4, 4]);
        // Fold sums overlapping blocks: the centre pixel is in all four 2×2 blocks.
        Equal(F.Fold(cols, (3, 3), 2), [1, 4, 3, 8, 20, 12, 7, 16, 9], [1, 1, 3, 3]);
        Equal(F.Unfold(x[0], 3, padding: 1, stride: 2).Narrow(0, 4, 1), [1, 3, 7, 9], [1, 4]);
    }
}

/// <summary>The Torch.X spellings give the same results as the Tensor methods.</summary>
[TestFixture]
public class TorchFormsTests
{
    [Test]
    public void TorchFormsForwardToTheTensorMethods()
    {
        var x = Tensor.FromArray(new double[] { 0.3, -1.2, 2.5, 0.5, -0.7, 1.1 }, 2, 3);
        var pos = x.Abs() * 0.3;
        void Same(Tensor a, Tensor b) => Assert.That(a.Equal(b), Is.True);
        Same(Torch.Log1p(pos), pos.Log1p());
        Same(Torch.Expm1(x), x.Expm1());
        Same(Torch.Erfinv(pos), pos.Erfinv());
        Same(Torch.Floor(x), x.Floor());
        Same(Torch.Ceil(x), x.Ceil());
        Same(Torch.Round(x), x.Round());
        Same(Torch.Round(x, 1), x.Round(1));
        Same(Torch.Trunc(x), x.Trunc());
        Same(Torch.IsNan(x), x.IsNan());
        Same(Torch.IsInf(x), x.IsInf());
        Same(Torch.IsFinite(x), x.IsFinite());
        Same(Torch.NanToNum(x), x.NanToNum());
        Same(Torch.Lerp(x, pos, 0.25), x.Lerp(pos, 0.25));
        Same(Torch.Lerp(x, pos, pos), x.Lerp(pos, pos));
        Same(Torch.Hypot(x, pos), x.Hypot(pos));
        Same(Torch.Atan2(x, pos), x.Atan2(pos));
        Same(Torch.Cumsum(x, 1), x.Cumsum(1));
        Same(Torch.Cumprod(x, 0), x.Cumprod(0));
        Same(Torch.Prod(x), x.Prod());
        Same(Torch.Prod(x, 1, true), x.Prod(1, true));
        Same(Torch.Norm(x, 3, [1]), x.Norm(3, [1]));
        Same(Torch.Sort(x, 0, true).Values, x.Sort(0, true).Values);
        Same(Torch.ArgSort(x), x.ArgSort());
        Same(Torch.TopK(x, 2).Indices, x.TopK(2).Indices);
        Same(Torch.Multinomial(pos, 2, false, new Generator(5)), pos.Multinomial(2, false, new Generator(5)));
        Same(Torch.Einsum("ij->j", x), Tensor.Einsum("ij->j", x));
        Same(Torch.Outer(x[0], x[1]), x[0].Outer(x[1]));
        Same(Torch.Diag(x, 1), x.Diag(1));
        Same(Torch.Tril(x), x.Tril());
        Same(Torch.Triu(x, -1), x.Triu(-1));
        Same(Torch.Flip(x, 1), x.Flip(1));
        Same(Torch.Roll(x, [1], [1]), x.Roll([1], [1]));
        Same(Torch.RepeatInterleave(x, 2, 0), x.RepeatInterleave(2, 0));
    }
}
