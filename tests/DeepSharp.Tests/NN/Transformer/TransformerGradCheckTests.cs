using DeepSharp.NN;
using static DeepSharp.Tests.NN.Transformer.TransformerTestUtil;
using TransformerModel = DeepSharp.NN.Transformer;

namespace DeepSharp.Tests.NN.Transformer;

/// <summary>
/// Float64 gradient checks (central differences, <see cref="GradCheck.Check(Func{Tensor[], Tensor}, Tensor[], double, double, double, bool)"/>)
/// of the attention softmax op, of attention with and without masks, of encoder and decoder layers in both norm
/// placements, and of a two-layer encoder stack. Sizes are tiny (d 4, 2 heads, length ≤ 3, batch ≤ 2).
/// Inputs and every parameter are checked together: the module's parameters are passed as GradCheck inputs (the
/// check perturbs them in place, and the module reads them).
/// </summary>
[TestFixture]
public class TransformerGradCheckTests
{
    private static void Check(Func<Tensor> f, params Tensor[] inputs) =>
        Assert.That(GradCheck.Check(_ => f(), inputs, atol: 1e-6, rtol: 1e-4).Passed, Is.True);

    private static Tensor[] With(Module m, params Tensor[] xs) => [.. xs, .. m.Parameters()];

    private static Tensor Bool(bool[] values, params int[] shape) => Tensor.FromArray(values, shape);

    [Test]
    public void AttentionSoftmaxOp()
    {
        var x = Input(1, 2, 3, 4).RequiresGrad_();
        var mask = (Input(2, 3, 4) * 0.5).RequiresGrad_();
        Check(() => x.AttentionSoftmax(0.7), x);
        Check(() => x.AttentionSoftmax(0.7, mask), x, mask);
        // A broadcast mask with −∞ entries (constant, not differentiated) and a fully masked row.
        var inf = double.NegativeInfinity;
        var hard = Tensor.FromArray(new double[] { 0, inf, 0, 0, inf, inf, inf, inf, 0, 0, 0, inf }, 3, 4);
        Check(() => x.AttentionSoftmax(1.3, hard), x);
        var y = x.AttentionSoftmax(1.3, hard);
        Assert.That(NNTestUtil.Values(y.Select(1, 1)).All(v => v == 0), "fully masked row gives zeros");
        // Second derivatives through the recorded backward.
        Assert.That(GradCheck.GradGradCheck(xs => xs[0].AttentionSoftmax(0.7, xs[1]), [x, mask], atol: 1e-6, rtol: 1e-4).Passed, Is.True);
        // Agrees with the plain softmax.
        using (Autograd.NoGrad())
            Assert.That(x.AttentionSoftmax(0.7, mask).AllClose((x * 0.7 + mask).Softmax(-1), 1e-12, 1e-14), Is.True);
    }

    [TestCase(false)]
    [TestCase(true)]
    public void LinearRowsOp(bool relu)
    {
        var x = Input(30, 5, 3).RequiresGrad_();
        var w = Input(31, 4, 3).RequiresGrad_();
        var b = Input(32, 4).RequiresGrad_();
        Check(() => x.LinearRows(w, b, relu), x, w, b);
        Check(() => x.LinearRows(w, null, relu), x, w);
        // A weight that is a row slice of a larger matrix (as the packed in_proj_weight) gets its gradient there.
        var packed = Input(33, 12, 3).RequiresGrad_();
        Check(() => x.LinearRows(packed.Narrow(0, 4, 4), b, relu), x, packed, b);
        Assert.That(GradCheck.GradGradCheck(xs => xs[0].LinearRows(xs[1], xs[2], relu), [x, w, b], atol: 1e-6, rtol: 1e-4).Passed, Is.True);
        using (Autograd.NoGrad())
        {
            var reference = x.MatMul(w.T) + b;
            if (relu) reference = reference.Relu();
            Assert.That(x.LinearRows(w, b, relu).AllClose(reference, 1e-14, 1e-14), Is.True);
        }
    }

    private static MultiheadAttention Mha(bool batchFirst = false, int? kdim = null, int? vdim = null) =>
        Deterministic(new MultiheadAttention(4, 2, batchFirst: batchFirst, kdim: kdim, vdim: vdim, dtype: DType.Float64));

    [Test]
    public void SelfAttentionWithoutMask()
    {
        var m = Mha();
        var x = Input(3, 3, 2, 4).RequiresGrad_();
        Check(() => m.Forward(x, x, x, needWeights: false).Output, With(m, x));
    }

    [Test]
    public void AttentionWeightsAreDifferentiable()
    {
        var m = Mha(batchFirst: true);
        var q = Input(4, 2, 2, 4).RequiresGrad_();
        var kv = Input(5, 2, 3, 4).RequiresGrad_();
        Check(() => m.Forward(q, kv, kv).Weights!, q, kv);
        Check(() => m.Forward(q, kv, kv, averageAttnWeights: false).Weights!, q, kv);
    }

    [Test]
    public void CrossAttentionWithKeyPaddingMask()
    {
        var m = Mha(batchFirst: true);
        var q = Input(6, 2, 2, 4).RequiresGrad_();
        var kv = Input(7, 2, 3, 4).RequiresGrad_();
        var kpm = Bool([false, false, true, false, true, true], 2, 3);
        Check(() => m.Forward(q, kv, kv, kpm, needWeights: false).Output, With(m, q, kv));
    }

    [Test]
    public void CausalSelfAttention()
    {
        var m = Mha();
        var x = Input(8, 3, 2, 4).RequiresGrad_();
        var causal = TransformerModel.GenerateSquareSubsequentMask(3, DType.Float64);
        Check(() => m.Forward(x, x, x, needWeights: false, attnMask: causal).Output, With(m, x));
        Check(() => m.Forward(x, x, x, needWeights: false, isCausal: true).Output, x);
    }

    [Test]
    public void BoolAndFloatAttentionMasks()
    {
        var m = Mha();
        var q = Input(9, 2, 2, 4).RequiresGrad_();
        var kv = Input(10, 3, 2, 4).RequiresGrad_();
        var boolMask = Bool([false, true, false, true, false, false], 2, 3);
        Check(() => m.Forward(q, kv, kv, needWeights: false, attnMask: boolMask).Output, q, kv);
        var floatMask = (Input(11, 2, 3) * 0.5).RequiresGrad_(); // a learnable additive bias: differentiable too
        Check(() => m.Forward(q, kv, kv, needWeights: false, attnMask: floatMask).Output, q, kv, floatMask);
        var mask3 = Bool([false, true, false, false, false, false, false, false, false, false, false, true,
                          false, false, false, true, false, false, false, false, false, false, true, false], 4, 2, 3);
        var kpm = Input(12, 2, 3).RequiresGrad_(); // float key padding mask, additive
        Check(() => m.Forward(q, kv, kv, kpm, needWeights: false, attnMask: mask3).Output, q, kv, kpm);
    }

    [Test]
    public void KdimVdimAttention()
    {
        var m = Mha(kdim: 3, vdim: 5);
        var q = Input(13, 2, 1, 4).RequiresGrad_();
        var k = Input(14, 3, 1, 3).RequiresGrad_();
        var v = Input(15, 3, 1, 5).RequiresGrad_();
        Check(() => m.Forward(q, k, v, needWeights: false).Output, With(m, q, k, v));
    }

    [Test]
    public void FullyMaskedRowHasFiniteGradients()
    {
        var m = Mha(batchFirst: true);
        var x = Input(16, 2, 3, 4).RequiresGrad_();
        var mask = Bool([false, true, true, true, true, true, false, false, false], 3, 3); // query 1 sees nothing
        Check(() => m.Forward(x, x, x, needWeights: false, attnMask: mask).Output, With(m, x));
    }

    [TestCase(false, "relu")]
    [TestCase(true, "relu")]
    [TestCase(false, "gelu")]
    [TestCase(true, "gelu")]
    public void EncoderLayer(bool normFirst, string activation)
    {
        var layer = Deterministic(new TransformerEncoderLayer(4, 2, 6, dropout: 0, activation, batchFirst: true, normFirst: normFirst, dtype: DType.Float64));
        var x = Input(17, 2, 3, 4).RequiresGrad_();
        var kpm = Bool([false, false, true, false, false, false], 2, 3);
        Check(() => layer.Forward(x, null, kpm), With(layer, x));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void DecoderLayer(bool normFirst)
    {
        var layer = Deterministic(new TransformerDecoderLayer(4, 2, 6, dropout: 0, normFirst: normFirst, dtype: DType.Float64));
        var tgt = Input(18, 3, 2, 4).RequiresGrad_();
        var memory = Input(19, 2, 2, 4).RequiresGrad_();
        var mkpm = Bool([false, true, false, false], 2, 2);
        var causal = TransformerModel.GenerateSquareSubsequentMask(3, DType.Float64);
        Check(() => layer.Forward(tgt, memory, causal, memoryKeyPaddingMask: mkpm), With(layer, tgt, memory));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void TwoLayerEncoderStack(bool normFirst)
    {
        var layer = new TransformerEncoderLayer(4, 2, 6, dropout: 0, normFirst: normFirst, dtype: DType.Float64);
        var enc = Deterministic(new TransformerEncoder(layer, 2, new LayerNorm(4, dtype: DType.Float64)));
        var x = Input(20, 3, 1, 4).RequiresGrad_();
        Check(() => enc.Forward(x, null, isCausal: true), With(enc, x));
    }
}
