
namespace DeepSharp.Tests;

[TestFixture]
public class EngineTests
{
    private static Tensor D(params double[] v) => Tensor.FromArray(v).RequiresGrad_();

    [Test]
    public void ChainRuleOnSmallExpression()
    {
        // f = sum(x * y + exp(x)); df/dx = y + exp(x), df/dy = x
        var x = D(1, 2);
        var y = D(3, -1);
        (x * y + x.Exp()).Sum().Backward();
        Assert.That(x.Grad!.ToArray<double>(), Is.EqualTo(new[] { 3 + Math.E, -1 + Math.Exp(2) }).Within(1e-12));
        Assert.That(y.Grad!.ToArray<double>(), Is.EqualTo(new[] { 1.0, 2.0 }).Within(1e-12));
    }

    [Test]
    public void GradientsAccumulateUntilZeroed()
    {
        var x = D(2);
        (x * x).Sum().Backward();
        (x * x).Sum().Backward();
        Assert.That(x.Grad!.Item(), Is.EqualTo(8.0));
    }

    [Test]
    public void DeepChainDoesNotOverflowTheStack()
    {
        var x = D(1.0);
        var y = x;
        for (int i = 0; i < 10_000; i++) y = y * 1.0001;
        y.Sum().Backward();
        Assert.That(x.Grad!.Item(), Is.EqualTo(Math.Pow(1.0001, 10_000)).Within(1e-9));
    }

    [Test]
    public void SecondBackwardWithoutRetainGraphThrows()
    {
        var x = D(1, 2);
        var loss = x.Exp().Sum();
        loss.Backward();
        var ex = Assert.Throws<InvalidOperationException>(() => loss.Backward());
        Assert.That(ex!.Message, Does.Contain("second time"));
    }

    [Test]
    public void RetainGraphAllowsSecondBackward()
    {
        var x = D(1, 2);
        var loss = x.Exp().Sum();
        loss.Backward(retainGraph: true);
        loss.Backward();
        Assert.That(x.Grad!.ToArray<double>(), Is.EqualTo(new[] { 2 * Math.E, 2 * Math.Exp(2) }).Within(1e-12));
    }

    [Test]
    public void ModifyingASavedTensorInPlaceIsDetected()
    {
        var w = D(1, 2);
        var a = Tensor.FromArray(new[] { 3.0, 4.0 });
        var y = (w * a).Sum();
        a.Mul_(2.0);
        var ex = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.That(ex!.Message, Does.Contain("MulBackward").And.Contain("in-place"));
    }

    [Test]
    public void NoGradRecordsNothing()
    {
        var x = D(1, 2);
        Tensor y;
        using (Autograd.NoGrad()) y = x * 2.0;
        Assert.That(y.RequiresGrad, Is.False);
        Assert.That(y.GradFn, Is.Null);
        Assert.That(Autograd.IsGradEnabled, Is.True);
    }

    [Test]
    public async Task NoGradFlowsWithAsyncCodeAndDoesNotLeakToOtherThreads()
    {
        var x = D(1, 2);
        bool otherThreadEnabled = false;
        using var inScope = new ManualResetEventSlim();
        using var read = new ManualResetEventSlim();
        // A thread that already runs elsewhere is not affected by this scope.
        var thread = new Thread(() => { inScope.Wait(); otherThreadEnabled = Autograd.IsGradEnabled; read.Set(); });
        thread.Start();
        using (Autograd.NoGrad())
        {
            inScope.Set();
            await Task.Yield();
            Assert.That((x * 2.0).RequiresGrad, Is.False);
            Assert.That(await Task.Run(() => Autograd.IsGradEnabled), Is.False, "tasks started in the scope inherit it");
            read.Wait();
        }
        thread.Join();
        Assert.That(otherThreadEnabled, Is.True);
        Assert.That((x * 2.0).RequiresGrad, Is.True);
    }

    [Test]
    public void HigherOrderGradient()
    {
        // y = x³ → dy/dx = 3x², d²y/dx² = 6x
        var x = D(2.0);
        var y = x.Pow(3).Sum();
        var g = Autograd.Grad(y, x, createGraph: true);
        Assert.That(g.Item(), Is.EqualTo(12.0).Within(1e-12));
        var g2 = Autograd.Grad(g.Sum(), x);
        Assert.That(g2.Item(), Is.EqualTo(12.0).Within(1e-12));
    }

    [Test]
    public void GradWithRespectToAnIntermediateRunsNothingBelowIt()
    {
        var x = D(0.5, 1.0);
        var y = x.Exp();
        var z = (y * 2.0).Sum();
        var g = Autograd.Grad(z, y);
        Assert.That(g.ToArray<double>(), Is.EqualTo(new[] { 2.0, 2.0 }));
        Assert.That(x.Grad, Is.Null);
        // The Exp node below y was neither run nor released: backward through it still works.
        y.Sum().Backward();
        Assert.That(x.Grad!.ToArray<double>(), Is.EqualTo(new[] { Math.Exp(0.5), Math.Exp(1.0) }).Within(1e-12));
    }

    [Test]
    public void GradFnNamesAndLeafFlags()
    {
        var x = D(1, 2);
        var y = x * x;
        Assert.That(x.IsLeaf, Is.True);
        Assert.That(y.IsLeaf, Is.False);
        Assert.That(y.GradFn!.Name, Is.EqualTo("MulBackward"));
        Assert.That(y.Detach().RequiresGrad, Is.False);
    }

    [Test]
    public void InPlaceOnLeafThatRequiresGradThrows()
    {
        var x = D(1, 2);
        Assert.Throws<InvalidOperationException>(() => x.Add_(1.0));
        using (Autograd.NoGrad()) x.Add_(1.0);
        Assert.That(x.ToArray<double>(), Is.EqualTo(new[] { 2.0, 3.0 }));
    }

    [Test]
    public void InPlaceOnNonLeafRebasesHistory()
    {
        var x = D(1, 2);
        var y = x * 3.0;
        y.Mul_(x); // y = 3x², dy/dx = 6x
        y.Sum().Backward();
        Assert.That(x.Grad!.ToArray<double>(), Is.EqualTo(new[] { 6.0, 12.0 }).Within(1e-12));
    }

    [Test]
    public void BroadcastGradientIsSummedToInputShape()
    {
        var a = Tensor.Ones([2, 3], DType.Float64).RequiresGrad_();
        var b = Tensor.FromArray(new[] { 1.0, 2.0, 3.0 }).RequiresGrad_();
        (a * b).Sum().Backward();
        Assert.That(b.Grad!.ToArray<double>(), Is.EqualTo(new[] { 2.0, 2.0, 2.0 }));
        Assert.That(a.Grad!.ToArray<double>(), Is.EqualTo(new[] { 1.0, 2.0, 3.0, 1.0, 2.0, 3.0 }));
    }

    [Test]
    public void GradCheckPassesOnCompositeAndReportsMismatch()
    {
        var gen = new Generator(1);
        var a = Tensor.Randn([3, 4], DType.Float64, gen).RequiresGrad_();
        var b = Tensor.Randn([4, 2], DType.Float64, gen).RequiresGrad_();
        Assert.That(GradCheck.Check(xs => xs[0].MatMul(xs[1]).Tanh().Softmax(-1).Sum(0), [a, b]).Passed, Is.True);
        var wrong = GradCheck.Check(xs => WrongSquare(xs[0]), [a], raiseException: false);
        Assert.That(wrong.Passed, Is.False);
        Assert.That(wrong.Message, Does.Contain("input 0").And.Contain("analytic").And.Contain("numeric"));
    }

    // x² with a deliberately wrong backward (3x instead of 2x), to show a failing report.
    private static Tensor WrongSquare(Tensor x)
    {
        var y = (x * x).Detach();
        return Node.Record(y, "WrongBackward", [x], g => [g * x * 3.0], x);
    }
}
