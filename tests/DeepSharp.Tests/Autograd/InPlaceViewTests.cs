namespace DeepSharp.Tests;

/// <summary>In-place ops on views of tensors that take part in autograd (PyTorch's CopySlices): gradients checked
/// against finite differences, including views made before the in-place op and in-place ops on the base.</summary>
[TestFixture]
public class InPlaceViewTests
{
    private static Tensor X(int seed, params int[] shape) => Tensor.Randn(shape, DType.Float64, new Generator(seed)).RequiresGrad_();

    [Test]
    public void MultiplyingASliceInPlace()
    {
        var x = X(1, 3, 4);
        GradCheck.Check(t =>
        {
            var y = t * 2;
            y.Narrow(0, 1, 1).Mul_(3);
            return (y * y.Sin()).Sum();
        }, x);
        GradCheck.GradGradCheck(ts =>
        {
            var y = ts[0] * 2;
            y.Narrow(1, 0, 2).Mul_(ts[0].Narrow(1, 2, 2));
            return (y * y).Sum();
        }, [x]);
    }

    [Test]
    public void ValuesAndGradientsMatchTheOutOfPlaceComputation()
    {
        var x = X(2, 3, 4);
        var y = x * 2;
        y.Narrow(0, 1, 1).Mul_(3);
        (y * y).Sum().Backward();
        var g1 = x.Grad!.ToArray<double>();
        Assert.That(y.GradFn!.Name, Is.EqualTo("CopySlices"));

        var x2 = x.Detach().RequiresGrad_();
        var z = x2 * 2;
        var factor = Tensor.FromArray(new double[] { 1, 3, 1 }).View(3, 1);
        var expected = z * factor;
        (expected * expected).Sum().Backward();
        Assert.That(y.ToArray<double>(), Is.EqualTo(expected.ToArray<double>()));
        Assert.That(g1, Is.EqualTo(x2.Grad!.ToArray<double>()).Within(1e-12));
    }

    [Test]
    public void CopyingATensorThatRequiresGradIntoAConstant()
    {
        var w = X(3, 2, 3);
        GradCheck.Check(t =>
        {
            var y = Tensor.Zeros([4, 3], DType.Float64);      // no grad until the copy
            y.Narrow(0, 1, 2).Copy_(t);
            return (y * y.Exp()).Sum();
        }, w);
    }

    [Test]
    public void CopyIntoASliceOfAnIntermediate()
    {
        var x = X(4, 3, 5);
        var w = X(5, 3, 2);
        GradCheck.Check(ts =>
        {
            var y = ts[0].Sin();                              // saves its input, not y (Exp would save y: PyTorch then refuses the backward)
            y.Narrow(1, 1, 2).Copy_(ts[1]);
            return (y * y.Sin()).Sum();
        }, [x, w]);
    }

    [Test]
    public void FillingASliceCutsItsGradient()
    {
        var x = X(6, 4, 3);
        var y = x * 1;
        y.Narrow(0, 1, 2).Fill_(0);
        (y * y).Sum().Backward();
        var g = x.Grad!.ToArray<double>();
        var xs = x.ToArray<double>();
        for (int i = 0; i < 12; i++)
            Assert.That(g[i], Is.EqualTo(i / 3 is 1 or 2 ? 0.0 : 2 * xs[i]).Within(1e-12), $"element {i}");
        GradCheck.Check(t => { var z = t.Sin(); z.Narrow(1, 2, 1).Fill_(0.5); return (z * z.Exp()).Sum(); }, x.Detach().RequiresGrad_());
    }

    [Test]
    public void AViewMadeBeforeTheInPlaceOpSeesTheNewValues()
    {
        var x = X(7, 4, 3);
        GradCheck.Check(t =>
        {
            var y = t * 1.5;
            var a = y.Narrow(0, 0, 2);                        // overlaps b in row 1
            var b = y.Narrow(0, 1, 2);
            b.Mul_(t.Narrow(0, 1, 2).Sin());
            return (a * a).Sum() + y.Sum();
        }, x);
        var x2 = X(7, 4, 3);
        var y2 = x2 * 1.5;
        var a2 = y2.Narrow(0, 0, 2);
        y2.Narrow(0, 1, 2).Mul_(2);
        Assert.That(a2.GradFn!.Name, Is.EqualTo("AsStridedBackward"));
        Assert.That(a2.ToArray<double>()[3..], Is.EqualTo((x2.Narrow(0, 1, 1) * 3).ToArray<double>()).Within(1e-15));
    }

    [Test]
    public void InPlaceOnTheBaseUpdatesItsViews()
    {
        var x = X(8, 3, 3);
        GradCheck.Check(t =>
        {
            var y = t.Cos();                                  // saves t, not y
            var v = y.T;
            y.Mul_(t);
            return (v * v).Sum();
        }, x);
    }

    [Test]
    public void ViewOfAView()
    {
        var x = X(9, 2, 3, 4);
        GradCheck.Check(t =>
        {
            var y = t * t;
            var v = y.Select(0, 1).Narrow(1, 1, 2);           // [3, 2] view of a view
            v.Add_(t.Select(0, 0).Narrow(1, 0, 2));
            return (y * y).Sum();
        }, x);
    }

    [Test]
    public void AViewOfALeafThatRequiresGradIsRejected()
    {
        var x = X(10, 3);
        var e = Assert.Throws<InvalidOperationException>(() => x.Narrow(0, 0, 2).Mul_(2));
        Assert.That(e!.Message, Does.Contain("Mul_").And.Contain("view of a leaf"));
    }

    [Test]
    public void AnExpandedViewIsRejected()
    {
        var y = X(11, 1, 3) * 1;
        var e = Assert.Throws<InvalidOperationException>(() => y.Expand(4, 3).Add_(Tensor.Ones([4, 3], DType.Float64)));
        Assert.That(e!.Message, Does.Contain("single memory location"));
    }

    [Test]
    public void UnderNoGradNothingIsRecorded()
    {
        var y = X(12, 3, 3) * 1;
        var fn = y.GradFn;
        using (Autograd.NoGrad()) y.Narrow(0, 0, 1).Mul_(0);
        Assert.That(y.GradFn, Is.SameAs(fn));
        Assert.That(y.ToArray<double>()[..3], Is.All.EqualTo(0.0));
    }

    [Test]
    public void ModifyingAnOutputThatWasSavedIsReportedAsInPyTorch()
    {
        var x = X(13, 3, 4);
        var y = x.Exp();                                      // ExpBackward saves y
        y.Narrow(0, 0, 1).Mul_(2);
        var e = Assert.Throws<InvalidOperationException>(() => y.Sum().Backward());
        Assert.That(e!.Message, Does.Contain("modified by an in-place operation"));
    }
}
