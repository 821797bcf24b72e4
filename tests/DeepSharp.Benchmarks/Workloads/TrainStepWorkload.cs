using System.Diagnostics;
using System.Text.Json.Nodes;
using DeepSharp.NN;
using DeepSharp.Optim;

namespace DeepSharp.Benchmarks.Workloads;

/// <summary>
/// One training step of a small model, timed like every workload (warm-up, median of repetitions): zero grads
/// (set to none, PyTorch's default), forward, cross-entropy loss, backward, Adam step (lr 1e-3). Float32, a
/// fixed random batch. The JSON line carries the median milliseconds per step and the garbage collections
/// (gen0/1/2) per 100 steps, counted over the measured steps.
/// </summary>
public abstract class TrainStepWorkload : IWorkload
{
    public abstract string Name { get; }

    /// <summary>Builds the model (float32, seeded) and the input batch shape.</summary>
    protected abstract (Module<Tensor, Tensor> Model, int[] InputShape) Build(Generator g);

    internal (Module<Tensor, Tensor> Model, int[] InputShape) BuildPublic(Generator g) => Build(g);

    /// <summary>Number of classes of the cross-entropy target.</summary>
    protected virtual int Classes => 10;

    public IEnumerable<JsonObject> Run(WorkloadOptions options)
    {
        var g = new Generator(1234);
        var (model, shape) = Build(g);
        model.Train();
        var x = Tensor.Randn(shape, DType.Float32, g);
        var y = Tensor.RandInt(0, Classes, [shape[0]], generator: g);
        var loss = new CrossEntropyLoss();
        var opt = new Adam(model.Parameters(), lr: 1e-3);
        void Step()
        {
            opt.ZeroGrad();
            var l = loss.Forward(model.Forward(x), y);
            l.Backward();
            opt.Step();
        }

        int steps = 0;
        void Counted() { Step(); steps++; }
        // Warm-up happens inside MedianSeconds; count GCs across the measured part by resetting after it.
        int g0 = 0, g1 = 0, g2 = 0;
        bool warmed = false;
        double seconds = Timing.MedianSeconds(() =>
        {
            if (!warmed && Timing.IsMeasuring)
            {
                warmed = true;
                steps = 0;
                g0 = GC.CollectionCount(0); g1 = GC.CollectionCount(1); g2 = GC.CollectionCount(2);
            }
            Counted();
        }, options);
        while (steps < 20) Counted();   // at least 20 counted steps for the GC figures
        double per100 = 100.0 / Math.Max(1, steps);
        yield return new JsonObject
        {
            ["workload"] = Name,
            ["ms"] = Math.Round(seconds * 1e3, 2),
            ["gc_per_100_steps"] = new JsonObject
            {
                ["gen0"] = Math.Round((GC.CollectionCount(0) - g0) * per100, 1),
                ["gen1"] = Math.Round((GC.CollectionCount(1) - g1) * per100, 1),
                ["gen2"] = Math.Round((GC.CollectionCount(2) - g2) * per100, 1),
            },
            ["steps"] = steps,
        };
    }
}

/// <summary>MLP 784-512-512-10 with ReLU, batch 128.</summary>
public sealed class MlpStepWorkload : TrainStepWorkload
{
    public override string Name => "mlp_step";

    protected override (Module<Tensor, Tensor>, int[]) Build(Generator g) =>
        (new Sequential(
            new Linear(784, 512, generator: g), new ReLU(),
            new Linear(512, 512, generator: g), new ReLU(),
            new Linear(512, 10, generator: g)), [128, 784]);
}

/// <summary>Conv2d(1,32,3)-ReLU-Conv2d(32,64,3)-ReLU-MaxPool2d(2)-Flatten-Linear(9216,128)-ReLU-Linear(128,10), batch 64 of 1×28×28.</summary>
public sealed class CnnStepWorkload : TrainStepWorkload
{
    public override string Name => "cnn_step";

    protected override (Module<Tensor, Tensor>, int[]) Build(Generator g) =>
        (new Sequential(
            new Conv2d(1, 32, 3, generator: g), new ReLU(),
            new Conv2d(32, 64, 3, generator: g), new ReLU(),
            new MaxPool2d(2), new Flatten(),
            new Linear(9216, 128, generator: g), new ReLU(),
            new Linear(128, 10, generator: g)), [64, 1, 28, 28]);
}

/// <summary>Conv2d(1,32,3,pad 1,no bias)-BN-ReLU, ResidualBlock(32), MaxPool2d(2), ResidualBlock(32), global
/// average pool, Linear(32,10); batch 64 of 1×28×28.</summary>
public sealed class ResnetStepWorkload : TrainStepWorkload
{
    public override string Name => "resnet_step";

    protected override (Module<Tensor, Tensor>, int[]) Build(Generator g) =>
        (new Sequential(
            new Conv2d(1, 32, 3, padding: 1, bias: false, generator: g), new BatchNorm2d(32), new ReLU(),
            new ResidualBlock(32, 32, generator: g),
            new MaxPool2d(2),
            new ResidualBlock(32, 32, generator: g),
            new AdaptiveAvgPool2d(1), new Flatten(),
            new Linear(32, 10, generator: g)), [64, 1, 28, 28]);
}
