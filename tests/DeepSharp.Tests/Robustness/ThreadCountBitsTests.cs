using DeepSharp.NN;

namespace DeepSharp.Tests.Robustness;

/// <summary>
/// The gradients that sum over the batch — LayerNorm's dγ/dβ and a convolution's dW (im2col and Winograd paths) — are
/// cut into parts by shape, not by thread count, so 1, 2 and 3 threads give the same bits. Distributed training
/// promises N ranks × 1 thread = one process × any threads (docs/distributed.md), which needs this.
/// </summary>
[TestFixture, NonParallelizable, Category("Kernels")]
public class ThreadCountBitsTests
{
    private static float[][] Gradients(int threads, Func<Tensor[], Tensor> loss, params Tensor[] inputs) =>
        Trainer.WithThreads(threads, () =>
        {
            var leaves = inputs.Select(t => t.Detach().Clone().RequiresGrad_()).ToArray();
            loss(leaves).Backward();
            return leaves.Select(l => l.Grad!.ToArray<float>()).ToArray();
        });

    private static void AssertSameBitsAcrossThreads(Func<Tensor[], Tensor> loss, params Tensor[] inputs)
    {
        var one = Gradients(1, loss, inputs);
        foreach (int threads in new[] { 2, 3 })
        {
            var many = Gradients(threads, loss, inputs);
            for (int i = 0; i < one.Length; i++)
                Assert.That(many[i].Select(BitConverter.SingleToInt32Bits), Is.EqualTo(one[i].Select(BitConverter.SingleToInt32Bits)),
                    $"input {i}: {threads} threads change the bits");
        }
    }

    private static Tensor Randn(int seed, params int[] shape) => Tensor.Randn(shape, DType.Float32, new Generator(seed));

    [Test]
    public void LayerNormWeightAndBiasGradients()
    {
        // 512 rows of 384: well above the size from which the backward is split.
        var x = Randn(1, 512, 384);
        var dy = Randn(2, 512, 384);
        AssertSameBitsAcrossThreads(t => (F.LayerNorm(t[0], [384], t[1], t[2]) * dy).Sum(), x, Randn(3, 384), Randn(4, 384));
    }

    [Test]
    public void Im2ColConvolutionWeightGradient()
    {
        var dy = Randn(5, 6, 16, 20, 20);
        AssertSameBitsAcrossThreads(t => (F.Conv2d(t[0], t[1], t[2]) * dy).Sum(), Randn(6, 6, 5, 24, 24), Randn(7, 16, 5, 5, 5), Randn(8, 16));
    }

    [Test]
    public void WinogradConvolutionWeightGradient()
    {
        var dy = Randn(9, 6, 16, 18, 18);
        AssertSameBitsAcrossThreads(t => (F.Conv2d(t[0], t[1], padding: 1) * dy).Sum(), Randn(10, 6, 16, 18, 18), Randn(11, 16, 16, 3, 3));
    }
}
