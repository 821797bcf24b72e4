using DeepSharp.NN;

namespace DeepSharp.Tests;

/// <summary><see cref="Autograd.Checkpoint"/>: the block's activations are not kept, its backward recomputes it with the
/// same random draws, and every gradient is bit-identical to running the block normally.</summary>
[TestFixture]
public class CheckpointTests
{
    private static (Sequential Block, Generator Drop) Block(DType dtype)
    {
        var g = new Generator(11);
        var drop = new Generator(5);
        var block = new Sequential(new Linear(16, 32, dtype: dtype, generator: g), new GELU("tanh"), new Dropout(0.3, drop),
            new Linear(32, 8, dtype: dtype, generator: g), new Tanh());
        return (block, drop);
    }

    private static (float[] Out, float[][] Grads, float[] XGrad, ulong[] DropState) Run(bool checkpoint)
    {
        var (block, drop) = Block(DType.Float32);
        var x = Tensor.Randn([6, 16], DType.Float32, new Generator(2)).RequiresGrad_();
        var h = x * 2.0;   // a non-leaf input, as between blocks
        var y = checkpoint ? Autograd.Checkpoint(a => block.Forward(a[0]), [h], drop) : block.Forward(h);
        (y * y).Sum().Backward();
        return (y.ToArray<float>(), block.Parameters().Select(p => p.Grad!.ToArray<float>()).ToArray(), x.Grad!.ToArray<float>(), drop.GetState());
    }

    [Test]
    public void GradientsAreBitIdenticalWithDropoutReplayed()
    {
        var plain = Run(checkpoint: false);
        var ckpt = Run(checkpoint: true);
        Assert.That(ckpt.Out, Is.EqualTo(plain.Out));
        Assert.That(ckpt.XGrad, Is.EqualTo(plain.XGrad));
        Assert.That(ckpt.Grads.Length, Is.EqualTo(plain.Grads.Length));
        for (int i = 0; i < plain.Grads.Length; i++) Assert.That(ckpt.Grads[i], Is.EqualTo(plain.Grads[i]), $"parameter {i}");
        Assert.That(ckpt.DropState, Is.EqualTo(plain.DropState), "the generator ends where the forward left it");
    }

    [Test]
    public void KeepsNoActivationsOfTheBlock()
    {
        var x = Tensor.FromArray(new[] { 1.0, 2.0 }).RequiresGrad_();
        Tensor? inner = null;
        var y = Autograd.Checkpoint(a => { inner = a[0].Exp(); return inner * 3.0; }, [x]);
        Assert.That(inner!.GradFn, Is.Null, "the forward ran without recording");
        Assert.That(y.GradFn!.Name, Is.EqualTo("CheckpointFunctionBackward"));
        Assert.That(y.GradFn.NextFunctions, Has.Count.EqualTo(1));
        y.Sum().Backward();
        Assert.That(x.Grad!.ToArray<double>(), Is.EqualTo(new[] { 3 * Math.E, 3 * Math.Exp(2) }).Within(1e-12));
    }

    [Test]
    public void KnownValue()
    {
        var x = Tensor.FromArray(new[] { 3.0 }).RequiresGrad_();
        var w = Tensor.FromArray(new[] { 0.5 }).RequiresGrad_();
        Autograd.Checkpoint(a => a[0] * a[0] * w, [x]).Sum().Backward();
        Assert.That(x.Grad!.Item(), Is.EqualTo(3.0));   // d(x²w)/dx = 2xw
        Assert.That(w.Grad!.Item(), Is.EqualTo(9.0));   // the block's parameter learns through the recomputation
    }

    [Test]
    public void GradCheckFloat64([Values(1, 3)] int rows, [Values(2, 5)] int cols)
    {
        var g = new Generator(rows * 10 + cols);
        var a = Tensor.Randn([rows, cols], DType.Float64, g).RequiresGrad_();
        var b = Tensor.Randn([cols], DType.Float64, g).RequiresGrad_();
        var result = GradCheck.Check(ins => Autograd.Checkpoint(t => (t[0] * t[1]).Tanh() + t[0].Exp(), [ins[0], ins[1]]), [a, b]);
        Assert.That(result.Passed, result.Message);
    }

    [Test]
    public void InputsWithoutGradRunTheBlockRecordedSoParametersLearn()
    {
        var x = Tensor.FromArray(new[] { 3.0 });
        var w = Tensor.FromArray(new[] { 0.5 }).RequiresGrad_();
        var y = Autograd.Checkpoint(a => a[0] * w, [x]);
        Assert.That(y.GradFn!.Name, Is.Not.EqualTo("CheckpointFunctionBackward"));
        y.Sum().Backward();
        Assert.That(w.Grad!.Item(), Is.EqualTo(3.0));
    }

    [Test]
    public void CreateGraphThroughACheckpointThrows()
    {
        var x = Tensor.FromArray(new[] { 3.0 }).RequiresGrad_();
        var y = Autograd.Checkpoint(a => a[0] * a[0], [x]).Sum();
        var ex = Assert.Throws<NotSupportedException>(() => Autograd.Grad(y, x, createGraph: true));
        Assert.That(ex!.Message, Does.Contain("Checkpoint"));
    }

    [Test]
    public void BadArgumentsAreNamed()
    {
        var x = Tensor.FromArray(new[] { 3.0 }).RequiresGrad_();
        Assert.Throws<ArgumentNullException>(() => Autograd.Checkpoint(null!, [x]));
        var ex = Assert.Throws<ArgumentException>(() => Autograd.Checkpoint(a => a[0], [null!]));
        Assert.That(ex!.Message, Does.Contain("Checkpoint"));
    }
}
