using DeepSharp.Kernels;

namespace DeepSharp.Tests;

/// <summary>Element-wise kernels split over threads: every element computed once, the same bits as one thread,
/// lengths that do not divide into whole vectors or chunks, and mismatched lengths rejected.</summary>
[TestFixture, Category("Kernels")]
public class ElementwiseParallelTests
{
    private int _threads, _min;
    [SetUp] public void Save() { _threads = KernelSettings.NumThreads; _min = KernelSettings.ElementwiseMinElements; }
    [TearDown] public void Restore() { KernelSettings.NumThreads = _threads; KernelSettings.ElementwiseMinElements = _min; }

    private static float[] Random(int n, int seed)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 4 - 2);
        return a;
    }

    [TestCase(1), TestCase(2), TestCase(3)]
    public void UnaryAndBinaryKernels_HaveTheBitsOfOneThread(int threads)
    {
        KernelSettings.ElementwiseMinElements = 64;   // small spans split, so chunk edges fall inside vectors
        foreach (int n in new[] { 0, 1, 63, 64, 65, 1001, 4099 })
        {
            var x = Random(n, n); var g = Random(n, n + 1);
            KernelSettings.NumThreads = 1;
            var exp1 = new float[n]; ElementwiseParallel.Unary<float, ExpOp>(x, exp1);
            var add1 = new float[n]; ElementwiseParallel.Binary<float, AddOp>(x, g, add1);
            var relu1 = new float[n]; ElementwiseParallel.Run<float>(x, g, relu1, ActivationKernels.ReluBackward);
            KernelSettings.NumThreads = threads;
            var exp = Enumerable.Repeat(float.NaN, n).ToArray(); ElementwiseParallel.Unary<float, ExpOp>(x, exp);
            var add = Enumerable.Repeat(float.NaN, n).ToArray(); ElementwiseParallel.Binary<float, AddOp>(x, g, add);
            var relu = Enumerable.Repeat(float.NaN, n).ToArray(); ElementwiseParallel.Run<float>(x, g, relu, ActivationKernels.ReluBackward);
            Assert.That(exp, Is.EqualTo(exp1), $"exp, n = {n}");
            Assert.That(add, Is.EqualTo(add1), $"add, n = {n}");
            Assert.That(relu, Is.EqualTo(relu1), $"relu backward, n = {n}");
            for (int i = 0; i < n; i++)
            {
                Assert.That(add[i], Is.EqualTo(x[i] + g[i]), $"add[{i}], n = {n}");
                Assert.That(relu[i], Is.EqualTo(x[i] > 0 ? g[i] : 0f), $"relu backward[{i}], n = {n}");
            }
        }
    }

    [Test]
    public void TensorOps_TakeTheSplitPathWithTheSameValues()
    {
        KernelSettings.ElementwiseMinElements = 64;
        KernelSettings.NumThreads = 2;
        var x = Tensor.FromArray(Random(3001, 5), 3001);
        var y = Tensor.FromArray(Random(3001, 6), 3001);
        var xs = x.ToArray<float>(); var ys = y.ToArray<float>();
        var sum = (x + y).ToArray<float>();
        var relu = x.Relu().ToArray<float>();
        for (int i = 0; i < xs.Length; i++)
        {
            Assert.That(sum[i], Is.EqualTo(xs[i] + ys[i]), $"x + y at {i}");
            Assert.That(relu[i], Is.EqualTo(Math.Max(xs[i], 0f)), $"relu at {i}");
        }
    }

    [Test]
    public void MismatchedLengths_AreRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => ElementwiseParallel.Unary<float, ExpOp>(new float[5], new float[4]));
        Assert.That(ex!.Message, Does.Contain("5").And.Contain("4"));
        ex = Assert.Throws<ArgumentException>(() => ElementwiseParallel.Binary<float, AddOp>(new float[5], new float[5], new float[6]));
        Assert.That(ex!.Message, Does.Contain("6"));
    }
}
