using DeepSharp.NN;

namespace DeepSharp.Tests.NN.Transformer;

/// <summary>MultiheadAttention's q, k and v projections return to the pool deterministically: at once under NoGrad, right
/// after the attention node ran in backward, never before; results do not change.</summary>
[TestFixture, NonParallelizable]
public class AttentionBufferReleaseTests
{
    private const int E = 32, H = 4, L = 50, N = 2, Projection = L * N * E;   // 3,200 floats = 12.5 KiB
    private long _min, _max;
    private bool _recycle;

    [SetUp]
    public void Save()
    {
        (_min, _max, _recycle) = (BufferPoolSettings.MinPooledBytes, BufferPoolSettings.MaxPooledBytes, BufferPoolSettings.RecycleUnreachable);
        Recycler.Reset();
        BufferPoolSettings.RecycleUnreachable = false;   // only deterministic releases reach the pool
        BufferPoolSettings.MinPooledBytes = 8 << 10;
    }

    [TearDown]
    public void Restore()
    {
        (BufferPoolSettings.MinPooledBytes, BufferPoolSettings.MaxPooledBytes, BufferPoolSettings.RecycleUnreachable) = (_min, _max, _recycle);
        Recycler.Reset();
    }

    private static (MultiheadAttention Mha, Tensor X) Make()
    {
        var g = new Generator(11);
        return (new MultiheadAttention(E, H, batchFirst: true, generator: g), Tensor.Randn([N, L, E], DType.Float32, g));
    }

    [Test]
    public void UnderNoGradTheProjectionsGoBackAsSoonAsTheAttentionIsComputed()
    {
        var (mha, x) = Make();
        BufferPoolSettings.Clear();
        using (Autograd.NoGrad())
        {
            long hits = BufferPoolSettings.Hits;
            mha.Forward(x, x, x, needWeights: false, isCausal: true);
            // q, k and v came back before the scope ended and without a GC; the output projection's result (same
            // length) then took one of them again.
            Assert.That(BufferPoolSettings.Hits - hits, Is.EqualTo(1));
            Assert.That(BufferPool<float>.Count(Projection), Is.EqualTo(2));
        }
    }

    [Test]
    public void WithAGraphTheyGoBackWhenTheAttentionNodeHasRunAndTheGradientsAreUnchanged()
    {
        // Reference: no pooling at all, so no buffer can be reused too early.
        BufferPoolSettings.MaxPooledBytes = 0;
        var (mha0, x0) = Make();
        x0.RequiresGrad = true;
        var (out0, _) = mha0.Forward(x0, x0, x0, needWeights: false, isCausal: true);
        (out0 * out0).Sum().Backward();

        BufferPoolSettings.MaxPooledBytes = _max;
        BufferPoolSettings.Clear();
        var (mha, x) = Make();
        x.RequiresGrad = true;
        var (output, _) = mha.Forward(x, x, x, needWeights: false, isCausal: true);
        Assert.That(BufferPool<float>.Count(Projection), Is.Zero, "saved by the attention node: not released in forward");
        // Three extra backwards' worth of same-length buffers are rented after the attention node ran (its input
        // gradients, the projections' backward): a q, k or v released too early would be overwritten and change them.
        (output * output).Sum().Backward();
        Assert.That(BufferPool<float>.Count(Projection), Is.GreaterThanOrEqualTo(3));

        Assert.That(output.ToArray<float>(), Is.EqualTo(out0.ToArray<float>()));
        Assert.That(x.Grad!.ToArray<float>(), Is.EqualTo(x0.Grad!.ToArray<float>()));
        var p0 = mha0.Parameters().Select(p => p.Grad!.ToArray<float>()).ToArray();
        var p1 = mha.Parameters().Select(p => p.Grad!.ToArray<float>()).ToArray();
        Assert.That(p1, Is.EqualTo(p0));
    }
}
