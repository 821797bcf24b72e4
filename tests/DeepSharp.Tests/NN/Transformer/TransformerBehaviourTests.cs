using DeepSharp.NN;
using static DeepSharp.Tests.NN.Transformer.TransformerTestUtil;
using TransformerModel = DeepSharp.NN.Transformer;

namespace DeepSharp.Tests.NN.Transformer;

/// <summary>Masks, fully masked rows, pre- vs post-LN, layouts, copies, inference without a graph, positional encodings.</summary>
[TestFixture]
public class TransformerBehaviourTests
{
    private static bool AllFinite(Tensor t) => NNTestUtil.Values(t).All(double.IsFinite);

    [Test]
    public void FullyMaskedRowGivesZeroWeightsAndLeavesTheBatchIntact()
    {
        var m = Deterministic(new MultiheadAttention(4, 2, batchFirst: true, dtype: DType.Float64));
        using (Autograd.NoGrad()) m.OutProj.Bias!.Copy_(Tensor.FromArray(new[] { 0.1, -0.2, 0.3, -0.4 }, 4));
        var x = Input(1, 2, 3, 4);
        // Batch entry 1: every key is padding, so each of its queries may attend to nothing.
        var kpm = Tensor.FromArray(new[] { false, false, true, true, true, true }, 2, 3);
        var (o, w) = m.Forward(x, x, x, kpm, averageAttnWeights: false);
        Assert.That(AllFinite(o) && AllFinite(w!), Is.True, "no NaN anywhere");
        Assert.That(NNTestUtil.Values(w!.Select(0, 1)).All(v => v == 0), "the fully masked entry's weights are zero");
        for (int l = 0; l < 3; l++)
            Assert.That(o.Select(0, 1).Select(0, l).AllClose(m.OutProj.Bias!, 0, 0), Is.True, "a fully masked query returns out_proj.bias");
        // Batch entry 0 is exactly what it is alone.
        var x0 = x.Narrow(0, 0, 1);
        var (o0, _) = m.Forward(x0, x0, x0, kpm.Narrow(0, 0, 1));
        Assert.That(o.Narrow(0, 0, 1).AllClose(o0, 1e-14, 1e-14), Is.True);

        // One query row fully masked by the attention mask (the others are unaffected), and gradients stay finite.
        var mask = Tensor.FromArray(new[] { false, true, false, true, true, true, false, false, false }, 3, 3);
        var xg = x.Clone().RequiresGrad_();
        var (o2, w2) = m.Forward(xg, xg, xg, attnMask: mask);
        Assert.That(NNTestUtil.Values(w2!.Select(1, 1)).All(v => v == 0));
        Assert.That(AllFinite(o2), Is.True);
        o2.Sum().Backward();
        Assert.That(AllFinite(xg.Grad!) && AllFinite(m.InProjWeight!.Grad!), Is.True);

        // The encoder layer with a whole sequence of padding: finite too.
        var layer = new TransformerEncoderLayer(4, 2, 8, dropout: 0, batchFirst: true, dtype: DType.Float64);
        Assert.That(AllFinite(layer.Forward(x, null, kpm)), Is.True);
    }

    [Test]
    public void PreAndPostLnDifferAsTheyShould()
    {
        var post = new TransformerEncoderLayer(16, 4, 32, dropout: 0, batchFirst: true, normFirst: false, dtype: DType.Float64, generator: new Generator(1));
        var pre = new TransformerEncoderLayer(16, 4, 32, dropout: 0, batchFirst: true, normFirst: true, dtype: DType.Float64);
        pre.LoadStateDict(post.StateDict()); // the same weights
        var x = Input(2, 3, 5, 16) * 3 + 1;
        Tensor yPost, yPre;
        using (Autograd.NoGrad()) { yPost = post.Forward(x); yPre = pre.Forward(x); }
        Assert.That(MaxAbsDiff(yPost, yPre), Is.GreaterThan(0.1), "outputs differ");
        // Post-LN: every output row is normalised (LayerNorm weight 1, bias 0 at initialisation).
        var mean = yPost.Mean(-1);
        var variance = yPost.Var(-1, correction: 0);
        Assert.That(NNTestUtil.Values(mean).All(v => Math.Abs(v) < 1e-12), "post-LN rows have zero mean");
        Assert.That(NNTestUtil.Values(variance).All(v => Math.Abs(v - 1) < 1e-3), "post-LN rows have unit variance (up to eps)");
        // Pre-LN: the residual stream is not normalised.
        Assert.That(NNTestUtil.Values(yPre.Mean(-1)).Max(Math.Abs), Is.GreaterThan(0.1));
        Assert.That(NNTestUtil.Values(yPre.Var(-1, correction: 0)).Max(v => Math.Abs(v - 1)), Is.GreaterThan(0.5));
        // And pre-LN is x + something: with the sublayers' output projections zeroed it is the identity.
        using (Autograd.NoGrad()) { pre.SelfAttn.OutProj.Weight.Zero_(); pre.SelfAttn.OutProj.Bias!.Zero_(); pre.Linear2.Weight.Zero_(); pre.Linear2.Bias!.Zero_(); }
        using (Autograd.NoGrad()) Assert.That(pre.Forward(x).AllClose(x, 0, 0), Is.True);
    }

    [Test]
    public void InferenceUnderNoGradRecordsNoGraph()
    {
        var layer = new TransformerEncoderLayer(8, 2, 16, dropout: 0, batchFirst: true);
        var x = Tensor.Randn([2, 3, 8], DType.Float32, new Generator(3));
        var withGrad = layer.Forward(x);
        Assert.That(withGrad.GradFn, Is.Not.Null, "sanity: a graph is recorded with grad on");
        Tensor y, w;
        using (Autograd.NoGrad())
        {
            y = layer.Forward(x, null, Tensor.FromArray(new[] { false, false, true, false, false, false }, 2, 3));
            w = layer.SelfAttn.Forward(x, x, x).Weights!;
        }
        Assert.That(y.GradFn, Is.Null);
        Assert.That(y.RequiresGrad, Is.False);
        Assert.That(w.GradFn, Is.Null);
        Assert.That(layer.Parameters().All(p => p.Grad is null && p.RequiresGrad), Is.True);
        Assert.That(() => y.Sum().Backward(), Throws.Exception, "nothing to differentiate");
        var model = new TransformerModel(8, 2, 1, 1, 16, dropout: 0);
        using (Autograd.NoGrad())
            Assert.That(model.Forward(Tensor.Randn(3, 2, 8), Tensor.Randn(2, 2, 8), null, TransformerModel.GenerateSquareSubsequentMask(2)).GradFn, Is.Null);
    }

    [Test]
    public void GenerateSquareSubsequentMaskIsPyTorchs()
    {
        var mask = TransformerModel.GenerateSquareSubsequentMask(3);
        Assert.That(mask.DType, Is.EqualTo(DType.Float32));
        var inf = float.NegativeInfinity;
        Assert.That(mask.ToArray<float>(), Is.EqualTo(new[] { 0f, inf, inf, 0f, 0f, inf, 0f, 0f, 0f }));
        Assert.That(TransformerModel.GenerateSquareSubsequentMask(2, DType.Float64).DType, Is.EqualTo(DType.Float64));
    }

    [Test]
    public void LayoutsAgree()
    {
        var sf = new TransformerEncoderLayer(8, 2, 16, dropout: 0, dtype: DType.Float64);
        var bf = new TransformerEncoderLayer(8, 2, 16, dropout: 0, batchFirst: true, dtype: DType.Float64);
        bf.LoadStateDict(sf.StateDict());
        var x = Input(4, 3, 2, 8); // [S, N, E]
        var kpm = Tensor.FromArray(new[] { false, true, false, false, false, false }, 2, 3);
        var a = sf.Forward(x, null, kpm);
        var b = bf.Forward(x.Transpose(0, 1).Contiguous(), null, kpm);
        Assert.That(b.Transpose(0, 1).AllClose(a, 1e-13, 1e-13), Is.True, "batch-first = sequence-first transposed");
        // Unbatched [S, E] = batch of one.
        var single = sf.Forward(x.Select(1, 0));
        Assert.That(single.AllClose(sf.Forward(x.Narrow(1, 0, 1)).Select(1, 0), 1e-13, 1e-13), Is.True);
        var (o, w) = sf.SelfAttn.Forward(x.Select(1, 0), x.Select(1, 0), x.Select(1, 0));
        Assert.That(o.Shape, Is.EqualTo(new[] { 3, 8 }));
        Assert.That(w!.Shape, Is.EqualTo(new[] { 3, 3 }));
        var (_, w4) = bf.SelfAttn.Forward(x, x, x, averageAttnWeights: false);
        Assert.That(w4!.Shape, Is.EqualTo(new[] { 3, 2, 2, 2 }), "[N, H, L, S]");
        Assert.That(NNTestUtil.Values(w4.Sum(-1)).All(v => Math.Abs(v - 1) < 1e-12), "rows sum to 1");
    }

    [Test]
    public void MaskArgumentsAreChecked()
    {
        var m = new MultiheadAttention(8, 2);
        var x = Tensor.Randn(3, 2, 8);
        Assert.That(() => m.Forward(x, x, x, attnMask: Tensor.Zeros(3, 4)), Throws.ArgumentException);
        Assert.That(() => m.Forward(x, x, x, attnMask: Tensor.Zeros(3, 3, 3)), Throws.ArgumentException);
        Assert.That(() => m.Forward(x, x, x, keyPaddingMask: Tensor.Zeros([3, 2], DType.Bool)), Throws.ArgumentException);
        Assert.That(() => m.Forward(x, x, x, attnMask: Tensor.Zeros([3, 3], DType.Int64)), Throws.ArgumentException);
        Assert.That(() => new MultiheadAttention(6, 4), Throws.ArgumentException);
        Assert.That(() => new TransformerEncoderLayer(8, 2, activation: "tanh"), Throws.ArgumentException);
    }

    [Test]
    public void TransformerChecksTheRankOfSrcAndTgt()
    {
        var t = new TransformerModel(8, 2, 1, 1, 16, dropout: 0);
        var x3 = Tensor.Randn(3, 2, 8);
        var x2 = Tensor.Randn(3, 8);
        Assert.That(() => t.Forward(Tensor.Scalar(1f), x3), Throws.ArgumentException.With.Message.Contains("src and tgt"));
        Assert.That(() => t.Forward(x3, Tensor.Scalar(1f)), Throws.ArgumentException.With.Message.Contains("[3, 2, 8]"));
        Assert.That(() => t.Forward(x3, x2), Throws.ArgumentException.With.Message.Contains("3-D"));
        Assert.That(() => t.Forward(Tensor.Randn(1, 3, 2, 8), Tensor.Randn(1, 3, 2, 8)), Throws.ArgumentException);
        Assert.That(t.Forward(x2, Tensor.Randn(4, 8)).Shape, Is.EqualTo(new[] { 4, 8 }), "unbatched");
        Assert.That(t.Forward(x3, Tensor.Randn(5, 2, 8)).Shape, Is.EqualTo(new[] { 5, 2, 8 }), "batched");
    }

    [Test]
    public void TransformerChecksLayerCountsBeforeBuilding()
    {
        // A wide feed-forward: building the encoder first would take seconds and gigabytes before the decoder's check.
        Assert.That(() => new TransformerModel(512, 1, 6, -3, 65536, dtype: DType.Float64),
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("numDecoderLayers").And.Message.Contains("-3"));
        Assert.That(() => new TransformerModel(8, 2, -1, 1, 16), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("numEncoderLayers"));
        Assert.That(new TransformerModel(8, 2, 0, 1, 16).Encoder.Layers.Count, Is.EqualTo(0));
    }

    [Test]
    public void StacksCopyTheirLayers()
    {
        var layer = new TransformerEncoderLayer(8, 2, 16);
        var enc = new TransformerEncoder(layer, 3);
        Assert.That(enc.NumLayers, Is.EqualTo(3));
        Assert.That(enc.Norm, Is.Null);
        var w = enc.Layers.Select(l => l.Linear1.Weight).ToList();
        Assert.That(w.Distinct(ReferenceEqualityComparer.Instance).Count(), Is.EqualTo(3), "each layer has its own parameters");
        Assert.That(w.All(t => !ReferenceEquals(t, layer.Linear1.Weight)), "the given layer is not part of the stack");
        Assert.That(w.All(t => t.AllClose(layer.Linear1.Weight, 0, 0)), "copies start equal (deepcopy)");
        Assert.That(enc.Parameters().Count(), Is.EqualTo(3 * 12));
        using (Autograd.NoGrad()) w[0].Fill_(1);
        Assert.That(w[1].AllClose(layer.Linear1.Weight, 0, 0), Is.True, "independent");
        // nn.Transformer re-initialises rank > 1 parameters, so its copies differ; and it has both final norms.
        var model = new TransformerModel(8, 2, 2, 2, 16);
        Assert.That(model.Encoder.Layers[0].Linear1.Weight.AllClose(model.Encoder.Layers[1].Linear1.Weight), Is.False);
        Assert.That(model.StateDict().Keys, Does.Contain("encoder.norm.weight").And.Contain("decoder.norm.bias")
            .And.Contain("decoder.layers.1.multihead_attn.out_proj.weight").And.Contain("decoder.layers.0.norm3.weight"));
        Assert.That(model.ParameterCount(), Is.EqualTo(2 * 600 + 2 * 888 + 2 * 16 + 2 * 16));
    }

    [Test]
    public void DropoutOnlyInTraining()
    {
        var layer = new TransformerEncoderLayer(8, 2, 16, dropout: 0.5, batchFirst: true, generator: new Generator(5));
        var x = Tensor.Randn([2, 4, 8], DType.Float32, new Generator(6));
        using var _ = Autograd.NoGrad();
        Assert.That(layer.Forward(x).AllClose(layer.Forward(x)), Is.False, "training: random");
        layer.Eval();
        Assert.That(layer.Forward(x).AllClose(layer.Forward(x), 0, 0), Is.True, "eval: deterministic");
    }

    [Test]
    public void PositionalEmbeddings()
    {
        var pe = new PositionalEncoding(6, dropout: 0, maxLen: 10, dtype: DType.Float64);
        var x = Tensor.Zeros([4, 2, 6], DType.Float64);
        var y = pe.Forward(x);
        Assert.That(y.Select(1, 1).AllClose(PositionalEncoding.Table(4, 6), 0, 0), Is.True);
        Assert.That(pe.StateDict(), Is.Empty, "the table is not saved");
        Assert.That(y.Select(1, 0).Select(0, 1).ToArray<double>()[0], Is.EqualTo(Math.Sin(1)).Within(1e-15));
        var bf = new PositionalEncoding(6, dropout: 0, maxLen: 10, batchFirst: true, dtype: DType.Float64);
        Assert.That(bf.Forward(Tensor.Zeros([2, 4, 6], DType.Float64)).Select(0, 1).AllClose(PositionalEncoding.Table(4, 6), 0, 0), Is.True);
        Assert.That(() => pe.Forward(Tensor.Zeros([11, 1, 6], DType.Float64)), Throws.ArgumentException);
        var table = PositionalEncoding.Table(4, 6).ToArray<double>();
        Assert.That(table[3 * 6 + 3], Is.EqualTo(Math.Cos(3 * Math.Pow(10000, -2.0 / 6))).Within(1e-15), "PE[3, 2i+1], i = 1");
        Assert.That(table[2 * 6 + 4], Is.EqualTo(Math.Sin(2 * Math.Pow(10000, -4.0 / 6))).Within(1e-15), "PE[2, 2i], i = 2");
        // Refused before the [maxLen, dModel] table is built (65536 × 5000 would take seconds).
        Assert.That(() => new PositionalEncoding(65536, dtype: DType.Int64), Throws.ArgumentException.With.Message.Contains("Int64"));
        Assert.That(() => new PositionalEncoding(65536, dropout: 1.5), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("1.5"));

        var learned = new LearnedPositionalEmbedding(5, 4, batchFirst: true, dtype: DType.Float64);
        Assert.That(learned.StateDict().Keys, Is.EqualTo(new[] { "weight" }));
        var z = learned.Forward(Tensor.Ones([2, 3, 4], DType.Float64));
        z.Sum().Backward();
        var g = NNTestUtil.Values(learned.Weight.Grad!);
        Assert.That(g.Take(12).All(v => v == 2) && g.Skip(12).All(v => v == 0), "rows 0..2 get the batch's gradient, others none");

        var tok = new TokenEmbedding(10, 16, dtype: DType.Float64);
        var ids = Tensor.FromArray(new long[] { 3, 7 }, 2);
        Assert.That(tok.Forward(ids).AllClose(tok.Embedding.Weight.IndexSelect(0, ids) * 4.0, 1e-15, 0), Is.True, "scaled by √16");
        Assert.That(tok.StateDict().Keys, Is.EqualTo(new[] { "embedding.weight" }));
    }
}
