using DeepSharp.Data;
using DeepSharp.IO;
using DeepSharp.NN;
using DeepSharp.Optim;

namespace DeepSharp.Tests.IO;

/// <summary>
/// A real <see cref="Module"/> (with BatchNorm buffers and seeded Dropout) trained with Adam, a warm-up schedule and a
/// shuffling loader: stopping mid-epoch, checkpointing, and resuming in fresh objects continues exactly as an
/// uninterrupted run.
/// </summary>
[TestFixture]
public class ModuleCheckpointTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "deepsharp-mckpt-" + Guid.NewGuid().ToString("N")));

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private sealed record Run(Sequential Model, Generator DropoutRng, Adam Optimizer, LinearLR Scheduler, DataLoader Loader);

    private static Run Build(long seed)
    {
        var init = new Generator(seed);
        var dropoutRng = new Generator(seed + 1);
        var model = new Sequential(
            new Linear(4, 16, generator: init), new BatchNorm1d(16), new ReLU(), new Dropout(0.3, dropoutRng), new Linear(16, 3, generator: init));
        var optimizer = new Adam(model.Parameters(), lr: 1e-2);
        var scheduler = new LinearLR(optimizer, startFactor: 0.2, endFactor: 1.0, totalIters: 10);
        var data = new Generator(7);
        var x = Tensor.Randn([40, 4], DType.Float32, data);
        var y = (x.Narrow(1, 0, 1) + x.Narrow(1, 1, 1) * 2).Gt(0).Long().Reshape(40);
        var loader = new DataLoader(new TensorDataset(x, y), batchSize: 8, shuffle: true, generator: new Generator(seed + 2));
        return new Run(model, dropoutRng, optimizer, scheduler, loader);
    }

    private static void Train(Run run, int steps, List<float> losses)
    {
        run.Model.Train();
        int done = 0;
        while (done < steps)
        {
            foreach (var batch in run.Loader)
            {
                run.Optimizer.ZeroGrad();
                var loss = F.CrossEntropy(run.Model.Forward(batch[0]), batch[1]);
                loss.Backward();
                run.Optimizer.Step();
                run.Scheduler.Step();
                losses.Add((float)loss.Item());
                if (++done == steps) return;
            }
        }
    }

    [Test]
    public void ResumingAModuleCheckpointReproducesTheUninterruptedRun()
    {
        const int half = 7; // 5 batches per epoch: the checkpoint falls mid-epoch
        var straight = Build(11);
        var straightLosses = new List<float>();
        Train(straight, 2 * half, straightLosses);

        var first = Build(11);
        var losses = new List<float>();
        Train(first, half, losses);
        var state = new CheckpointState { Epoch = 1, Step = half };
        state.Tensors["model"] = first.Model.StateDict();
        state.SetOptimizer(first.Optimizer.StateDict());
        state.SetScheduler(first.Scheduler.StateDict());
        state.SetDataLoader(first.Loader.StateDict());
        state.RngStates["dropout"] = first.DropoutRng.GetState();
        string path = Path.Combine(_dir, "checkpoint.safetensors");
        Checkpoint.Save(state, path);

        var second = Build(99); // different initial weights, RNGs and data order: all must come from the file
        var loaded = Checkpoint.Load(path);
        second.Model.LoadStateDict(loaded.Tensors["model"]);
        second.Optimizer.LoadStateDict(loaded.GetOptimizer());
        second.Scheduler.LoadStateDict(loaded.GetScheduler());
        second.Loader.LoadStateDict(loaded.GetDataLoader());
        second.DropoutRng.SetState(loaded.RngStates["dropout"]);
        Train(second, half, losses);

        Assert.That(losses, Is.EqualTo(straightLosses), "bit-identical losses");
        foreach (var (name, t) in straight.Model.StateDict())
            Assert.That(second.Model.StateDict()[name].Equal(t), Is.True, name);
        Assert.That(straightLosses[^1], Is.LessThan(straightLosses[0]));
    }

    [Test]
    public void StateDictRoundTripsThroughSafeTensorsWithPyTorchNames()
    {
        var model = Build(3).Model;
        string path = Path.Combine(_dir, "weights.safetensors");
        SafeTensors.Save(model.StateDict(), path);
        var loaded = SafeTensors.Load(path);
        Assert.That(loaded.Keys, Is.EqualTo(new[]
        {
            "0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked", "4.weight", "4.bias",
        }));
        Assert.That(loaded["1.num_batches_tracked"].DType, Is.EqualTo(DType.Int64));
        var fresh = Build(4).Model;
        fresh.LoadStateDict(loaded);
        var x = Tensor.Randn([5, 4], DType.Float32, new Generator(1));
        model.Eval();
        fresh.Eval();
        Assert.That(fresh.Forward(x).Equal(model.Forward(x)), Is.True);
    }
}
