using DeepSharp.NN;
using static DeepSharp.Tests.NN.NNTestUtil;

namespace DeepSharp.Tests.NN;

/// <summary>Conv2d, pooling layers and the ResNet basic block.</summary>
[TestFixture]
public class ConvolutionTests
{
    private static Tensor Arange(params int[] shape) => Tensor.Arange(ShapeNumel(shape), DType.Float64).Reshape(shape);
    private static int ShapeNumel(int[] shape) => shape.Aggregate(1, (a, b) => a * b);

    [Test]
    public void Conv2dValuesByHand()
    {
        var conv = new Conv2d(1, 1, 2, dtype: DType.Float64);
        using (Autograd.NoGrad()) { Init.Ones(conv.Weight); Init.Constant(conv.Bias!, 0.5); }
        // [[0 1 2] [3 4 5] [6 7 8]] with a 2×2 kernel of ones: window sums 8, 12, 20, 24.
        var y = conv.Forward(Arange(1, 1, 3, 3));
        Assert.That(y.Shape, Is.EqualTo(new[] { 1, 1, 2, 2 }));
        Assert.That(Values(y), Is.EqualTo(new[] { 8.5, 12.5, 20.5, 24.5 }));
        // Unbatched input.
        Assert.That(conv.Forward(Arange(1, 3, 3)).Shape, Is.EqualTo(new[] { 1, 2, 2 }));
    }

    [Test]
    public void Conv2dOutputShapes()
    {
        var x = Tensor.Zeros([2, 4, 9, 8], DType.Float64);
        Assert.That(new Conv2d(4, 6, 3, padding: 1, dtype: DType.Float64).Forward(x).Shape, Is.EqualTo(new[] { 2, 6, 9, 8 }));
        Assert.That(new Conv2d(4, 6, 3, stride: 2, padding: 1, dtype: DType.Float64).Forward(x).Shape, Is.EqualTo(new[] { 2, 6, 5, 4 }));
        Assert.That(new Conv2d(4, 6, 4, "same", dtype: DType.Float64).Forward(x).Shape, Is.EqualTo(new[] { 2, 6, 9, 8 }));
        Assert.That(new Conv2d(4, 6, 3, "same", dilation: 2, dtype: DType.Float64).Forward(x).Shape, Is.EqualTo(new[] { 2, 6, 9, 8 }));
        Assert.That(new Conv2d(4, 6, 3, "valid", dtype: DType.Float64).Forward(x).Shape, Is.EqualTo(new[] { 2, 6, 7, 6 }));
        Assert.That(new Conv2d(4, 8, (3, 1), padding: (1, 0), groups: 2, dtype: DType.Float64).Forward(x).Shape, Is.EqualTo(new[] { 2, 8, 9, 8 }));
        Assert.Throws<ArgumentException>(() => new Conv2d(4, 6, 3, "same", stride: 2));
        Assert.Throws<ArgumentException>(() => new Conv2d(4, 6, 3, groups: 4));
        Assert.Throws<ArgumentException>(() => new Conv2d(3, 6, 3).Forward(Tensor.Zeros(1, 4, 5, 5)));
    }

    [Test]
    public void Conv2dDefaultInitialisation()
    {
        var conv = new Conv2d(16, 32, 3, generator: new Generator(1));
        double bound = 1 / Math.Sqrt(16 * 9);
        var w = Values(conv.Weight);
        Assert.That(conv.Weight.Shape, Is.EqualTo(new[] { 32, 16, 3, 3 }));
        Assert.That(w.Max(Math.Abs), Is.LessThanOrEqualTo(bound).And.GreaterThan(0.99 * bound));
        Assert.That(Values(conv.Bias!).Max(Math.Abs), Is.LessThanOrEqualTo(bound));
        Assert.That(new Conv2d(8, 8, 3, groups: 4).Weight.Shape, Is.EqualTo(new[] { 8, 2, 3, 3 }));
    }

    [Test]
    public void ConvAndPoolRepr()
    {
        Assert.That(new Conv2d(3, 16, 3, padding: 1).ToString(), Is.EqualTo("Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"));
        Assert.That(new Conv2d(3, 16, 3, "same", bias: false).ToString(), Is.EqualTo("Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1), padding=same, bias=False)"));
        Assert.That(new Conv2d(4, 4, 3, stride: 2, dilation: 2, groups: 2).ToString(), Is.EqualTo("Conv2d(4, 4, kernel_size=(3, 3), stride=(2, 2), dilation=(2, 2), groups=2)"));
        Assert.That(new MaxPool2d(2).ToString(), Is.EqualTo("MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"));
        Assert.That(new AvgPool2d(3, 1, 1).ToString(), Is.EqualTo("AvgPool2d(kernel_size=3, stride=1, padding=1)"));
        Assert.That(new AdaptiveAvgPool2d(1).ToString(), Is.EqualTo("AdaptiveAvgPool2d(output_size=1)"));
        Assert.That(new AdaptiveAvgPool2d((2, 3)).ToString(), Is.EqualTo("AdaptiveAvgPool2d(output_size=(2, 3))"));
    }

    [Test]
    public void PoolingValuesByHand()
    {
        var x = Arange(1, 1, 4, 4); // rows 0..3, 4..7, 8..11, 12..15
        Assert.That(Values(new MaxPool2d(2).Forward(x)), Is.EqualTo(new[] { 5.0, 7, 13, 15 }));
        Assert.That(Values(new AvgPool2d(2).Forward(x)), Is.EqualTo(new[] { 2.5, 4.5, 10.5, 12.5 }));
        Assert.That(Values(new AdaptiveAvgPool2d(1).Forward(x)), Is.EqualTo(new[] { 7.5 }));
        Assert.That(new AdaptiveAvgPool2d((2, 1)).Forward(x).Shape, Is.EqualTo(new[] { 1, 1, 2, 1 }));
        Assert.That(Values(new MaxPool2d(3, stride: 1, padding: 1).Forward(x))[0], Is.EqualTo(5));
    }

    [Test]
    public void Conv2dGradCheckWithRespectToInputAndParameters()
    {
        var g = new Generator(3);
        foreach (var conv in new[]
                 {
                     new Conv2d(2, 3, 3, padding: 1, dtype: DType.Float64, generator: g),
                     new Conv2d(2, 2, 2, stride: 2, groups: 2, dtype: DType.Float64, generator: g),
                     new Conv2d(2, 2, 2, "same", dilation: 2, bias: false, dtype: DType.Float64, generator: g),
                 })
        {
            var x = RandnD(4, 1, 2, 4, 4);
            Check(xs => conv.Forward(xs[0]), [x, .. conv.Parameters()]);
        }
    }

    [Test]
    public void PoolingGradCheck()
    {
        var x = RandnD(5, 1, 2, 5, 5);
        Check(xs => new MaxPool2d(2, stride: 1).Forward(xs[0]), x);
        Check(xs => new AvgPool2d(3, stride: 2, padding: 1, countIncludePad: false).Forward(xs[0]), x);
        Check(xs => new AdaptiveAvgPool2d((2, 3)).Forward(xs[0]), x);
    }

    [Test]
    public void ResidualBlockWithIdentityShortcut()
    {
        var block = new ResidualBlock(4, 4, generator: new Generator(1));
        Assert.That(block.Downsample, Is.Null);
        var y = block.Forward(Tensor.Randn([2, 4, 6, 6], DType.Float32, new Generator(2)));
        Assert.That(y.Shape, Is.EqualTo(new[] { 2, 4, 6, 6 }));
        Assert.That(y.ToArray<float>().All(v => v >= 0), Is.True, "the block ends with a ReLU");
        Assert.That(block.NamedParameters().Select(p => p.Key), Is.EqualTo(new[] { "conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight", "bn2.bias" }));
    }

    [Test]
    public void ResidualBlockWithProjectionShortcut()
    {
        var block = new ResidualBlock(2, 3, stride: 2, dtype: DType.Float64, generator: new Generator(1));
        Assert.That(block.Downsample, Is.Not.Null);
        Assert.That(block.StateDict().Keys.Where(k => k.StartsWith("downsample", StringComparison.Ordinal)), Is.EqualTo(new[]
        {
            "downsample.0.weight", "downsample.1.weight", "downsample.1.bias",
            "downsample.1.running_mean", "downsample.1.running_var", "downsample.1.num_batches_tracked",
        }));
        var x = RandnD(2, 2, 2, 4, 4);
        Assert.That(block.Forward(x).Shape, Is.EqualTo(new[] { 2, 3, 2, 2 }));
        // Training mode (batch statistics) and evaluation mode (running statistics).
        Check(xs => block.Forward(xs[0]), [x, .. block.Parameters()]);
        block.Eval();
        Check(xs => block.Forward(xs[0]), [x, .. block.Parameters()]);
        Assert.That(block.ToString(), Does.StartWith("ResidualBlock(\n  (conv1): Conv2d(2, 3, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)\n  (bn1): BatchNorm2d(3,"));
        Assert.That(block.ToString(), Does.Contain("  (downsample): Sequential(\n    (0): Conv2d(2, 3, kernel_size=(1, 1), stride=(2, 2), bias=False)\n"));
    }

    [Test]
    public void SmallCnnTrainsOnASyntheticImageTask()
    {
        // Class 0: a bright vertical bar; class 1: a bright horizontal bar; random position and noise.
        var g = new Generator(7);
        int n = 64;
        var data = new float[n * 1 * 8 * 8];
        var labels = new long[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = i % 2;
            int pos = (int)g.NextInt64(1, 7);
            for (int r = 0; r < 8; r++)
                for (int c = 0; c < 8; c++)
                    data[i * 64 + r * 8 + c] = (float)(0.3 * g.NextNormal() + ((labels[i] == 0 ? c : r) == pos ? 1 : 0));
        }
        var x = Tensor.FromArray(data, n, 1, 8, 8);
        var y = Tensor.FromArray(labels);
        var model = new Sequential(
            new Conv2d(1, 4, 3, padding: 1, generator: g), new BatchNorm2d(4), new ReLU(),
            new ResidualBlock(4, 8, stride: 2, generator: g),
            new AdaptiveAvgPool2d(1), new Flatten(), new Linear(8, 2, generator: g));
        var parameters = model.Parameters().ToArray();
        for (int step = 0; step < 40; step++)
        {
            model.ZeroGrad();
            F.CrossEntropy(model.Forward(x), y).Backward();
            using (Autograd.NoGrad())
                foreach (var p in parameters) p.Sub_(p.Grad! * 0.1);
        }
        model.Eval();
        Tensor predictions;
        using (Autograd.NoGrad()) predictions = model.Forward(x).ArgMax(1);
        Assert.That(predictions.Eq(y).To(DType.Float64).Mean().Item(), Is.GreaterThanOrEqualTo(0.95));
    }
}
