using System.Diagnostics;
using DeepSharp.NN;
using DeepSharp.Optim;

namespace DeepSharp.Tests.NN.Transformer;

/// <summary>Both norm placements learn to reverse short random sequences (vocab 10, length 6) with Adam.</summary>
[TestFixture]
public class TransformerTrainingTests
{
    private sealed class Reverser : Module<Tensor, Tensor>
    {
        public Reverser(bool normFirst, Generator g)
        {
            const int d = 32;
            RegisterModule("embed", new TokenEmbedding(10, d, generator: g));
            RegisterModule("pos", new LearnedPositionalEmbedding(6, d, batchFirst: true, generator: g));
            var layer = new TransformerEncoderLayer(d, 4, 64, dropout: 0, batchFirst: true, normFirst: normFirst, generator: g);
            RegisterModule("encoder", new TransformerEncoder(layer, 2, normFirst ? new LayerNorm(d) : null));
            RegisterModule("head", new Linear(d, 10, generator: g));
        }

        public override Tensor Forward(Tensor tokens)
        {
            var x = ((TokenEmbedding)GetChild("embed")!).Forward(tokens) * (1 / Math.Sqrt(32)); // √d scale then back to unit size
            x = ((LearnedPositionalEmbedding)GetChild("pos")!).Forward(x);
            x = ((TransformerEncoder)GetChild("encoder")!).Forward(x);
            return ((Linear)GetChild("head")!).Forward(x);
        }
    }

    private static (Tensor Src, Tensor Tgt) Batch(Generator g, int n)
    {
        var src = Tensor.RandInt(0, 10, [n, 6], DType.Int64, g);
        var s = src.ToArray<long>();
        var t = new long[s.Length];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < 6; j++) t[i * 6 + j] = s[i * 6 + 5 - j];
        return (src, Tensor.FromArray(t, n, 6));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void LearnsToReverseSequences(bool normFirst)
    {
        var g = new Generator(normFirst ? 11 : 12);
        var model = new Reverser(normFirst, g);
        var opt = new Adam(model.Parameters(), lr: 3e-3);
        var sw = Stopwatch.StartNew();
        double loss = double.NaN;
        for (int step = 0; step < 150; step++)
        {
            var (src, tgt) = Batch(g, 32);
            opt.ZeroGrad();
            var logits = model.Forward(src);
            var l = F.CrossEntropy(logits.View(-1, 10), tgt.View(-1));
            l.Backward();
            opt.Step();
            loss = l.Item();
        }
        model.Eval();
        var (vs, vt) = Batch(new Generator(99), 256);
        double acc;
        using (Autograd.NoGrad())
        {
            var pred = model.Forward(vs).ArgMax(-1);
            acc = NNTestUtil.Values(pred.Eq(vt).To(DType.Float64)).Average();
        }
        TestContext.Out.WriteLine($"normFirst={normFirst}: final loss {loss:F4}, held-out token accuracy {acc:P1}, {sw.Elapsed.TotalSeconds:F1} s");
        Assert.That(acc, Is.GreaterThan(0.95));
    }
}
