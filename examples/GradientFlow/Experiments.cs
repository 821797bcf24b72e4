using System.Diagnostics;
using DeepSharp;
using DeepSharp.NN;
using DeepSharp.Optim;

namespace DeepSharp.Examples.GradientFlow;

/// <summary>One network of an experiment: its per-layer gradient norms at initialisation and its training losses.</summary>
/// <param name="Name">e.g. "plain tanh", "post-LN".</param>
/// <param name="GradientNorms">‖∂L/∂θ‖₂ of each layer's parameters at initialisation (layer 1 = nearest the input), averaged over batches.</param>
/// <param name="Losses">Training loss at every step.</param>
/// <param name="Seconds">Wall time of the training.</param>
public sealed record Run(string Name, IReadOnlyList<double> GradientNorms, IReadOnlyList<double> Losses, double Seconds)
{
    /// <summary>Mean loss of the last tenth of the steps (at least one).</summary>
    public double FinalLoss => Losses.Count == 0 ? double.NaN : Losses.Skip(Losses.Count - Math.Max(1, Losses.Count / 10)).Average();

    /// <summary>Ratio of the last layer's gradient norm to the first layer's.</summary>
    public double LastOverFirst => GradientNorms[^1] / GradientNorms[0];
}

/// <summary>The measurements.</summary>
public static class Experiments
{
    /// <summary>The Euclidean norm of all the gradients of <paramref name="parameters"/>.</summary>
    public static double GradNorm(IEnumerable<Tensor> parameters)
    {
        double sum = 0;
        foreach (var p in parameters)
        {
            if (p.Grad is not { } g) continue;
            foreach (double v in g.Double().ToArray<double>()) sum += v * v;
        }
        return Math.Sqrt(sum);
    }

    // ------------------------------------------------------------------------------------------------ deep MLPs

    /// <summary>
    /// A fixed synthetic classification task: inputs x ~ N(0, I) of <paramref name="inputs"/> dims, labels
    /// argmax(W₂ tanh(W₁ x)) of a random two-layer teacher with <paramref name="classes"/> outputs.
    /// </summary>
    public static (Tensor X, Tensor Y) TeacherData(int count, int inputs, int classes, long seed)
    {
        var g = new Generator(seed);
        var x = Tensor.Randn([count, inputs], DType.Float32, g);
        var w1 = Tensor.Randn([inputs, 64], DType.Float32, g) * (1 / Math.Sqrt(inputs));
        var w2 = Tensor.Randn([64, classes], DType.Float32, g) * (1 / Math.Sqrt(64));
        var y = x.MatMul(w1).Tanh().MatMul(w2).ArgMax(1);
        return (x, y);
    }

    /// <summary>Per-layer gradient norms at initialisation and the loss curve of SGD with momentum.</summary>
    public static Run Mlp(MlpKind kind, string activation, GradientFlowOptions o, Action<int, double>? progress = null)
    {
        var g = new Generator(o.Seed);
        var model = new DeepMlp(o.MlpInputs, o.Width, o.Depth, o.Classes, kind, activation, g);
        var (x, y) = TeacherData(o.MlpSamples, o.MlpInputs, o.Classes, o.Seed + 1000);
        var lossFn = new CrossEntropyLoss();

        // Gradient norms at initialisation: the same first batches for every network.
        var norms = new double[o.Depth];
        for (int b = 0; b < o.GradBatches; b++)
        {
            var (bx, by) = Slice(x, y, b * o.BatchSize % o.MlpSamples, o.BatchSize);
            model.ZeroGrad();
            lossFn.Forward(model.Forward(bx), by).Backward();
            for (int l = 0; l < o.Depth; l++) norms[l] += GradNorm(model.Layers[l].Parameters()) / o.GradBatches;
        }

        var optimizer = new SGD(model.Parameters(), lr: o.MlpLearningRate, momentum: 0.9);
        var losses = Train(o.MlpSteps, step =>
        {
            var (bx, by) = Slice(x, y, step * o.BatchSize % o.MlpSamples, o.BatchSize);
            optimizer.ZeroGrad();
            var loss = lossFn.Forward(model.Forward(bx), by);
            loss.Backward();
            optimizer.Step();
            return loss.Item();
        }, progress, out double seconds);
        string name = kind switch { MlpKind.Plain => "plain", MlpKind.Residual => "residual", _ => "residual+LN" } + " " + activation;
        return new Run(name, norms, losses, seconds);
    }

    private static (Tensor X, Tensor Y) Slice(Tensor x, Tensor y, int start, int size)
    {
        int n = x.Shape[0];
        size = Math.Min(size, n);
        if (start + size > n) start = 0;
        return (x.Narrow(0, start, size), y.Narrow(0, start, size));
    }

    private static List<double> Train(int steps, Func<int, double> step, Action<int, double>? progress, out double seconds)
    {
        var clock = Stopwatch.StartNew();
        var losses = new List<double>(steps);
        for (int s = 0; s < steps; s++)
        {
            double l = step(s);
            losses.Add(l);
            progress?.Invoke(s + 1, l);
        }
        seconds = clock.Elapsed.TotalSeconds;
        return losses;
    }

    // ------------------------------------------------------------------------------------------------ Transformer stacks

    /// <summary>A batch of the sequence-reversal task: random tokens [N, S] and the same rows reversed.</summary>
    public static (Tensor Tokens, Tensor Targets) ReversalBatch(Generator g, int n, int length, int vocab)
    {
        var src = Tensor.RandInt(0, vocab, [n, length], DType.Int64, g);
        var s = src.ToArray<long>();
        var t = new long[s.Length];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < length; j++) t[i * length + j] = s[i * length + length - 1 - j];
        return (src, Tensor.FromArray(t, n, length));
    }

    /// <summary>
    /// Per-layer gradient norms of a post-LN or pre-LN encoder stack at initialisation, and its loss curve with Adam at a
    /// constant learning rate (no warm-up) on sequence reversal.
    /// </summary>
    public static Run Transformer(bool normFirst, GradientFlowOptions o, Action<int, double>? progress = null)
    {
        var g = new Generator(o.Seed);
        var model = new EncoderStack(o.Vocab, o.DModel, o.Heads, o.TransformerLayers, o.FeedForward, normFirst, o.SequenceLength, g);
        var data = new Generator(o.Seed + 2000);
        var norms = new double[o.TransformerLayers];
        for (int b = 0; b < o.GradBatches; b++)
        {
            var (tokens, targets) = ReversalBatch(data, o.TransformerBatchSize, o.SequenceLength, o.Vocab);
            model.ZeroGrad();
            F.CrossEntropy(model.Forward(tokens).View(-1, o.Vocab), targets.View(-1)).Backward();
            for (int l = 0; l < o.TransformerLayers; l++) norms[l] += GradNorm(model.Encoder.Layers[l].Parameters()) / o.GradBatches;
        }

        var optimizer = new Adam(model.Parameters(), lr: o.TransformerLearningRate, betas: (0.9, 0.98), eps: 1e-9);
        var losses = Train(o.TransformerSteps, _ =>
        {
            var (tokens, targets) = ReversalBatch(data, o.TransformerBatchSize, o.SequenceLength, o.Vocab);
            optimizer.ZeroGrad();
            var loss = F.CrossEntropy(model.Forward(tokens).View(-1, o.Vocab), targets.View(-1));
            loss.Backward();
            optimizer.Step();
            return loss.Item();
        }, progress, out double seconds);
        return new Run(normFirst ? "pre-LN" : "post-LN", norms, losses, seconds);
    }
}
