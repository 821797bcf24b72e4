using DeepSharp.NN;

namespace DeepSharp.Tests.Ops;

/// <summary>
/// Float32 meeting Float64 promotes as PyTorch does (<c>float32 + float64 → float64</c>; a 0-d tensor does not widen a
/// tensor with dimensions), and each gradient comes back in its own input's dtype: the Float64 input's gradient is
/// gradchecked numerically, the Float32 input's gradient has dtype Float32 and matches the all-Float64 computation
/// to float32 precision. Matrix products and convolutions refuse mixed dtypes with a named error, as PyTorch.
/// </summary>
[TestFixture]
public class TypePromotionTests
{
    private static readonly (string Name, Func<Tensor, Tensor, Tensor> F)[] Binary =
    [
        ("Add", (a, b) => a + b),
        ("Sub", (a, b) => a - b),
        ("Mul", (a, b) => a * b),
        ("Div", (a, b) => a / b),
        ("Pow", (a, b) => a.Abs().Pow(b)),
        ("Maximum", Tensor.Maximum),
        ("Minimum", Tensor.Minimum),
        ("Atan2", (a, b) => a.Atan2(b)),
        ("Hypot", (a, b) => a.Hypot(b)),
        ("Remainder", (a, b) => a.Remainder(b)),
        ("Where", (a, b) => Tensor.Where(a.Gt(0.0), a, b)),
        ("Cat", (a, b) => Tensor.Cat([a, b], 1)),
        ("Stack", (a, b) => Tensor.Stack([a, b])),
        ("Outer", (a, b) => a.Flatten().Outer(b.Flatten())),
        ("Broadcast Mul", (a, b) => a.Narrow(0, 0, 1) * b),
    ];

    public static IEnumerable<TestCaseData> BinaryCases() => Binary.Select(c => new TestCaseData(c.Name).SetName("Promotes_" + c.Name.Replace(' ', '_')));

    private static Func<Tensor, Tensor, Tensor> Op(string name) => Binary.Single(c => c.Name == name).F;

    private static (Tensor A32, Tensor B64) Inputs(long seed)
    {
        var gen = new Generator(seed);
        // Values kept away from 0 and from each other (Maximum/Minimum ties, Remainder jumps, Pow's base at 0).
        var a = (Tensor.Rand([3, 4], DType.Float64, gen) + 0.5) * Tensor.FromArray(new[] { 1.0, -1.0, 1.0, -1.0 });
        var b = (Tensor.Rand([3, 4], DType.Float64, gen) + 1.7) * Tensor.FromArray(new[] { -1.0, 1.0, 1.0, -1.0 });
        return (a.To(DType.Float32), b);
    }

    [TestCaseSource(nameof(BinaryCases))]
    public void Values_are_the_float64_computation(string name)
    {
        var f = Op(name);
        var (a32, b64) = Inputs(1);
        var y = f(a32, b64);
        Assert.That(y.DType, Is.EqualTo(DType.Float64), "float32 with float64 computes in float64");
        var expected = f(a32.To(DType.Float64), b64);
        Assert.That(y.Shape, Is.EqualTo(expected.Shape));
        Assert.That(y.ToArray<double>(), Is.EqualTo(expected.ToArray<double>()), "the float32 operand converts exactly");
        var reversed = f(b64, a32);
        Assert.That(reversed.DType, Is.EqualTo(DType.Float64));
        Assert.That(reversed.ToArray<double>(), Is.EqualTo(f(b64, a32.To(DType.Float64)).ToArray<double>()));
    }

    [TestCaseSource(nameof(BinaryCases))]
    public void Gradients_keep_each_inputs_dtype(string name)
    {
        var f = Op(name);
        var (a, b) = Inputs(2);
        var a32 = a.Detach().RequiresGrad_();
        var b64 = b.Detach().RequiresGrad_();
        var w = Tensor.Randn(f(a, b).Shape, DType.Float64, new Generator(3));
        (f(a32, b64) * w).Sum().Backward();
        Assert.That(a32.Grad!.DType, Is.EqualTo(DType.Float32), "the float32 input's gradient is float32 (PyTorch's engine casts it)");
        Assert.That(b64.Grad!.DType, Is.EqualTo(DType.Float64));

        // The same computation all in float64.
        var a64 = a.To(DType.Float64).RequiresGrad_();
        var b64r = b.Detach().RequiresGrad_();
        (f(a64, b64r) * w).Sum().Backward();
        var ga = a32.Grad.ToArray<float>();
        var ga64 = a64.Grad!.ToArray<double>();
        for (int i = 0; i < ga.Length; i++)
            Assert.That(ga[i], Is.EqualTo(ga64[i]).Within(1e-6 * Math.Max(1, Math.Abs(ga64[i]))), $"{name}: grad of the float32 input at {i}");
        // Backward formulas may evaluate a function of the float32 input in float32 (Pow's log(a), Atan2's a² + b²
        // with a float32 a), as PyTorch's do: float32 agreement here, and the numerical check below in float64.
        var gb = b64.Grad.ToArray<double>();
        var gb64 = b64r.Grad!.ToArray<double>();
        for (int i = 0; i < gb.Length; i++)
            Assert.That(gb[i], Is.EqualTo(gb64[i]).Within(1e-6 * Math.Max(1, Math.Abs(gb64[i]))), $"{name}: grad of the float64 input at {i}");

        // The float64 input's gradient, numerically, with the float32 operand as a constant.
        var aConst = a.Detach();
        GradCheck.Check(x => f(aConst, x[0]) * w, [b.Detach().RequiresGrad_()]);
        GradCheck.Check(x => f(x[0], aConst) * w, [b.Detach().RequiresGrad_()]);
    }

    [TestCaseSource(nameof(BinaryCases))]
    public void Second_order_gradients_flow_through_the_promotion(string name)
    {
        var f = Op(name);
        var (a, b) = Inputs(4);
        var aConst = a.Detach();
        GradCheck.GradGradCheck(x => f(aConst, x[0]), [b.Detach().RequiresGrad_()]);
    }

    [Test]
    public void Float32_grad_through_a_longer_graph_and_accumulation()
    {
        var x = Tensor.FromArray(new[] { 1f, 2f, 3f }).RequiresGrad_();
        var s = Tensor.FromArray(new[] { 0.5, 0.25, 2.0 }).RequiresGrad_();
        var y = (x * s).Exp().Sum() + (x / s).Sum() + (x * x).Sum();   // x used three times, twice promoted
        y.Backward();
        Assert.That(x.Grad!.DType, Is.EqualTo(DType.Float32));
        var xv = new[] { 1.0, 2, 3 };
        var sv = new[] { 0.5, 0.25, 2.0 };
        var expected = xv.Select((v, i) => sv[i] * Math.Exp(v * sv[i]) + 1 / sv[i] + 2 * v).ToArray();
        Assert.That(x.Grad.ToArray<float>().Select(v => (double)v), Is.EqualTo(expected).Within(1e-5).Percent);
        Assert.That(s.Grad!.DType, Is.EqualTo(DType.Float64));
        var gs = xv.Select((v, i) => v * Math.Exp(v * sv[i]) - v / (sv[i] * sv[i])).ToArray();
        Assert.That(s.Grad.ToArray<double>(), Is.EqualTo(gs).Within(1e-12));
    }

    [Test]
    public void Zero_dim_tensor_does_not_widen_a_tensor_with_dimensions()
    {
        var a = Tensor.FromArray(new[] { 1f, 2f });
        var s64 = Tensor.Scalar(0.5, DType.Float64);
        Assert.That((a + s64).DType, Is.EqualTo(DType.Float32), "torch: randn(2) + tensor(0.5, dtype=float64) is float32");
        Assert.That((s64 * a).ToArray<float>(), Is.EqualTo(new[] { 0.5f, 1f }));
        Assert.That((Tensor.Scalar(1f) + Tensor.FromArray(new[] { 1.0 })).DType, Is.EqualTo(DType.Float64));
        Assert.That((Tensor.Scalar(1f) + s64).DType, Is.EqualTo(DType.Float64), "two 0-d tensors: the wider dtype");
        var x = Tensor.FromArray(new[] { 1.0, 2.0 }).RequiresGrad_();
        var s32 = Tensor.Scalar(3f).RequiresGrad_();
        (x * s32).Sum().Backward();
        Assert.That(s32.Grad!.DType, Is.EqualTo(DType.Float32));
        Assert.That(s32.Grad.Item(), Is.EqualTo(3.0));
    }

    [Test]
    public void Integers_still_promote_to_the_float_operand()
    {
        var i = Tensor.FromArray(new[] { 1L, 2L });
        Assert.That((i + Tensor.FromArray(new[] { 0.5f, 0.5f })).DType, Is.EqualTo(DType.Float32));
        Assert.That((i * Tensor.FromArray(new[] { 0.5, 0.5 })).DType, Is.EqualTo(DType.Float64));
        Assert.That(Tensor.Cat([i, Tensor.FromArray(new[] { 0.5f })]).ToArray<float>(), Is.EqualTo(new[] { 1f, 2f, 0.5f }));
        Assert.That(Tensor.Where(Tensor.FromArray(new[] { true, false }), i, Tensor.FromArray(new[] { 0.5, 0.5 })).ToArray<double>(), Is.EqualTo(new[] { 1.0, 0.5 }));
    }

    [Test]
    public void Comparisons_compare_in_the_promoted_dtype()
    {
        var a = Tensor.FromArray(new[] { 0.1f, 1f });
        var b = Tensor.FromArray(new[] { 0.1, 1.0 });
        // 0.1f is not 0.1: compared in float64, as PyTorch.
        Assert.That(a.Eq(b).ToArray<bool>(), Is.EqualTo(new[] { false, true }));
        Assert.That((a > b).ToArray<bool>(), Is.EqualTo(new[] { (double)0.1f > 0.1, false }));
    }

    [Test]
    public void In_place_ops_cast_into_the_destination()
    {
        var a = Tensor.FromArray(new[] { 1f, 2f });
        a.Add_(Tensor.FromArray(new[] { 0.5, 0.25 }));
        Assert.That(a.DType, Is.EqualTo(DType.Float32));
        Assert.That(a.ToArray<float>(), Is.EqualTo(new[] { 1.5f, 2.25f }));
        var d = Tensor.FromArray(new[] { 1.0, 2.0 });
        d.Mul_(Tensor.FromArray(new[] { 0.1f, 2f }));
        Assert.That(d.ToArray<double>(), Is.EqualTo(new[] { (double)0.1f, 4.0 }));
        var b = Tensor.FromArray(new[] { 3.0, 4.0 }).RequiresGrad_();
        var y = Tensor.FromArray(new[] { 1f, 1f }).RequiresGrad_() * 1.0;
        y.Mul_(b);
        y.Sum().Backward();
        Assert.That(b.Grad!.DType, Is.EqualTo(DType.Float64));
        Assert.That(b.Grad.ToArray<double>(), Is.EqualTo(new[] { 1.0, 1.0 }));
    }

    [Test]
    public void Matrix_products_and_convolutions_refuse_mixed_dtypes()
    {
        var f = Tensor.Ones(2, 3);
        var d = Tensor.Ones([3, 2], DType.Float64);
        const string Msg = "expected both tensors to have the same dtype, but got Float32 and Float64";
        Assert.That(Assert.Throws<ArgumentException>(() => f.MatMul(d))!.Message, Does.StartWith("MatMul:").And.Contain(Msg));
        Assert.That(Assert.Throws<ArgumentException>(() => new Linear(3, 2).Forward(Tensor.Ones([4, 3], DType.Float64)))!.Message,
            Does.StartWith("Linear:").And.Contain("Float64 and Float32"));
        Assert.That(Assert.Throws<ArgumentException>(() => new Conv2d(1, 1, 1).Forward(Tensor.Ones([1, 1, 2, 2], DType.Float64)))!.Message,
            Does.StartWith("Conv2d:").And.Contain("Float64 and Float32"));
        Assert.That(Assert.Throws<ArgumentException>(() => f.Lerp(d.T, 0.5))!.Message, Does.StartWith("Lerp:").And.Contain(Msg),
            "torch.lerp refuses mixed dtypes too");
    }
}
