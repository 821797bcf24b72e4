using DeepSharp.NN;
using DeepSharp.Optim;

namespace DeepSharp.Tests.Robustness;

/// <summary>A small classifier and its training loop, fully determined by a seed (explicit generators, no default RNG).</summary>
internal static class Trainer
{
    public sealed record Run(float[] Losses, float[][] Weights);

    /// <summary>32 → 128 → LayerNorm → GELU → 128 → ReLU → 10 with Adam, on a fixed random batch. Large enough (batch 256,
    /// 128-wide GEMMs, 256-row LayerNorm) that the kernels split the work when given two threads.</summary>
    public static Run Train(long seed, int steps, int batch = 256)
    {
        var g = new Generator(seed);
        var x = Tensor.Randn([batch, 32], DType.Float32, g);
        var y = Tensor.RandInt(0, 10, [batch], generator: g);
        var model = new Sequential(
            new Linear(32, 128, generator: g), new LayerNorm(128), new GELU(),
            new Linear(128, 128, generator: g), new ReLU(),
            new Linear(128, 10, generator: g));
        var optimizer = new Adam(model.Parameters(), lr: 1e-3);
        var losses = new float[steps];
        for (int step = 0; step < steps; step++)
        {
            optimizer.ZeroGrad();
            var loss = F.CrossEntropy(model.Forward(x), y);
            loss.Backward();
            optimizer.Step();
            losses[step] = (float)loss.Item();
        }
        return new Run(losses, model.Parameters().Select(p => p.ToArray<float>()).ToArray());
    }

    /// <summary>Runs <paramref name="body"/> with the kernels limited to <paramref name="threads"/> threads.</summary>
    public static T WithThreads<T>(int threads, Func<T> body)
    {
        int saved = Torch.GetNumThreads();
        Torch.SetNumThreads(threads);
        try { return body(); }
        finally { Torch.SetNumThreads(saved); }
    }

    /// <summary>True when both runs hold the same bits in every loss and weight.</summary>
    public static bool BitIdentical(Run a, Run b) =>
        a.Losses.AsSpan().SequenceEqual(b.Losses) && a.Weights.Length == b.Weights.Length
        && a.Weights.Zip(b.Weights).All(p => p.First.AsSpan().SequenceEqual(p.Second));

    /// <summary>The largest |a − b| over all weights.</summary>
    public static double MaxWeightDifference(Run a, Run b) =>
        a.Weights.Zip(b.Weights).Max(p => p.First.Zip(p.Second).Max(v => Math.Abs((double)v.First - v.Second)));
}
