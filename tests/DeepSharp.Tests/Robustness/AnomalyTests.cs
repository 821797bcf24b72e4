using System.Runtime.CompilerServices;

namespace DeepSharp.Tests.Robustness;

/// <summary>
/// Anomaly mode: the first NaN made by an op's forward or backward throws an error naming the op and where the
/// graph built it; infinities pass (masked attention), and without anomaly mode NaN flows through silently, as in PyTorch.
/// </summary>
[TestFixture]
public class AnomalyTests
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Tensor BuildLogOfNegative(Tensor x) => (x - 2).Log();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Tensor BuildSqrtAtZero(Tensor x) => x.Sqrt().Sum();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Tensor BuildScaledSqrtAtZero(Tensor x) => (x.Sqrt() * Tensor.FromArray(new double[] { 0, 1 })).Sum();

    [Test]
    public void ForwardNaNNamesTheOpAndWhereItWasBuilt()
    {
        var x = Tensor.FromArray(new double[] { 1, 3 }).RequiresGrad_();
        using (Autograd.DetectAnomaly())
        {
            var ex = Assert.Throws<ArithmeticException>(() => BuildLogOfNegative(x));
            Assert.That(ex!.Message, Does.Contain("forward of LogBackward"));
            Assert.That(ex.Message, Does.Contain("NaN"));
            Assert.That(ex.Message, Does.Contain(nameof(BuildLogOfNegative)), "the creation trace names the method that built the op");
        }
    }

    [Test]
    public void BackwardNaNNamesTheOpAndWhereItWasBuilt()
    {
        var x = Tensor.FromArray(new double[] { 0, 4 }).RequiresGrad_();
        using (Autograd.DetectAnomaly())
        {
            var loss = BuildScaledSqrtAtZero(x);   // sqrt(0) = 0 is finite; its gradient 0 · 1/(2·sqrt(0)) is NaN
            Assert.That(loss.Item(), Is.EqualTo(2));
            var ex = Assert.Throws<ArithmeticException>(() => loss.Backward());
            Assert.That(ex!.Message, Does.Contain("SqrtBackward"));
            Assert.That(ex.Message, Does.Contain("gradient of its input 0"));
            Assert.That(ex.Message, Does.Contain(nameof(BuildScaledSqrtAtZero)));
        }
    }

    [Test]
    public void InfinitiesAreNotAnomaliesInForwardOrBackward()
    {
        // Attention masked by hand: −∞ scores, then softmax; and sqrt at 0 whose gradient is +∞ (PyTorch flags neither).
        var scores = Tensor.FromArray(new double[,] { { 1, 2, 3 }, { 4, 5, 6 } }).RequiresGrad_();
        var mask = Tensor.FromArray(new[,] { { false, true, true }, { false, false, true } });
        var x = Tensor.FromArray(new double[] { 0, 4 }).RequiresGrad_();
        using (Autograd.DetectAnomaly())
        {
            var p = scores.MaskedFill(mask, double.NegativeInfinity).Softmax(-1);
            (p * Tensor.FromArray(new double[] { 1, 2, 3 })).Sum().Backward();
            Assert.That(p.ToArray<double>()[0], Is.EqualTo(1));
            Assert.That(scores.Grad!.ToArray<double>().All(double.IsFinite));
            BuildSqrtAtZero(x).Backward();
            Assert.That(double.IsPositiveInfinity(x.Grad!.ToArray<double>()[0]));
        }
    }

    [Test]
    public void TheFirstBadOpIsReportedNotItsConsumers()
    {
        var x = Tensor.FromArray(new double[] { -1, 1 }).RequiresGrad_();
        using (Autograd.DetectAnomaly())
        {
            var ex = Assert.Throws<ArithmeticException>(() => (x.Log().Exp() * 2).Sum());
            Assert.That(ex!.Message, Does.Contain("LogBackward"));
            Assert.That(ex.Message, Does.Not.Contain("ExpBackward"));
        }
    }

    [Test]
    public void AnomalyInAModuleForwardIsCaughtThere()
    {
        var g = new Generator(1);
        var layer = new DeepSharp.NN.Linear(3, 2, dtype: DType.Float64, generator: g);
        var x = Tensor.FromArray(new double[,] { { 1, double.NaN, 0 } });
        using (Autograd.DetectAnomaly())
        {
            var ex = Assert.Throws<ArithmeticException>(() => layer.Forward(x));
            Assert.That(ex!.Message, Does.Contain("Anomaly"));
        }
    }

    [Test]
    public void WithoutAnomalyModeNaNPropagatesAndTheScopeRestores()
    {
        var x = Tensor.FromArray(new double[] { 0, 4 }).RequiresGrad_();
        using (Autograd.DetectAnomaly()) { }
        var loss = BuildSqrtAtZero(x);
        loss.Backward();
        Assert.That(double.IsPositiveInfinity(x.Grad!.ToArray<double>()[0]));
        Assert.That((Tensor.FromArray(new double[] { -1 }).RequiresGrad_().Log().Item()), Is.NaN);
    }

    [Test]
    public void AnomalyModeFlowsWithTheExecutionContext()
    {
        static bool ThrowsOnAnotherThread(bool suppressFlow)
        {
            bool threw = false;
            var body = () =>
            {
                try { _ = Tensor.FromArray(new double[] { -1 }).RequiresGrad_().Log(); }
                catch (ArithmeticException) { threw = true; }
            };
            Thread t;
            if (suppressFlow) using (ExecutionContext.SuppressFlow()) { t = new Thread(() => body()); t.Start(); }
            else { t = new Thread(() => body()); t.Start(); }
            t.Join();
            return threw;
        }
        Assert.That(ThrowsOnAnotherThread(suppressFlow: false), Is.False, "no anomaly scope anywhere yet");
        using (Autograd.DetectAnomaly())
        {
            // Like grad mode, the flag is async-local: threads and tasks started inside the scope inherit it…
            Assert.That(ThrowsOnAnotherThread(suppressFlow: false), Is.True);
            // …and a thread that does not capture this execution context does not.
            Assert.That(ThrowsOnAnotherThread(suppressFlow: true), Is.False);
        }
    }
}
