using DeepSharp.Data;
using DeepSharp.IO;
using DeepSharp.Optim;

namespace DeepSharp.Tests.IO;

[TestFixture]
public class CheckpointTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "deepsharp-ckpt-" + Guid.NewGuid().ToString("N")));

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void RoundTripsEverything()
    {
        var state = new CheckpointState { Epoch = 3, Step = 1234567890123 };
        state.Tensors["model"] = new Dictionary<string, Tensor> { ["layer.0.weight"] = Tensor.Ones([2, 3]), ["layer.0.bias"] = Tensor.Zeros([3], DType.Float64) };
        state.Tensors["empty"] = new Dictionary<string, Tensor>();
        state.Json["custom"] = "{\"best\":0.25,\"tags\":[\"a\"]}";
        state.RngStates["torch"] = [ulong.MaxValue, 0, 1, 2, 3, 4, 5];
        state.SetDataLoader(new DataLoaderState([1, 2, 3], 7));
        string path = Path.Combine(_dir, "c.safetensors");
        Checkpoint.Save(state, path);
        var back = Checkpoint.Load(path);
        Assert.That(back.Epoch, Is.EqualTo(3));
        Assert.That(back.Step, Is.EqualTo(1234567890123));
        Assert.That(back.Tensors.Keys, Is.EquivalentTo(new[] { "model", "empty" }));
        Assert.That(back.Tensors["model"].Keys, Is.EqualTo(new[] { "layer.0.weight", "layer.0.bias" }));
        Assert.That(back.Tensors["model"]["layer.0.bias"].DType, Is.EqualTo(DType.Float64));
        Assert.That(back.Json["custom"], Is.EqualTo(state.Json["custom"]));
        Assert.That(back.RngStates["torch"], Is.EqualTo(state.RngStates["torch"]));
        var dl = back.GetDataLoader();
        Assert.That(dl.GeneratorState, Is.EqualTo(new ulong[] { 1, 2, 3 }));
        Assert.That(dl.BatchesConsumed, Is.EqualTo(7));
        // It is a plain safetensors file.
        Assert.That(SafeTensors.Load(path).Keys, Does.Contain("model/layer.0.weight"));
    }

    [Test]
    public void RejectsInvalidInput()
    {
        string path = Path.Combine(_dir, "x.safetensors");
        SafeTensors.Save(new Dictionary<string, Tensor> { ["w"] = Tensor.Ones([1]) }, path);
        Assert.That(Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path))!.Message, Does.Contain("not a DeepSharp checkpoint"));
        var bad = new CheckpointState();
        bad.Tensors["a/b"] = new Dictionary<string, Tensor>();
        Assert.Throws<ArgumentException>(() => Checkpoint.Save(bad, path));
        var badJson = new CheckpointState();
        badJson.Json["x"] = "{nope";
        Assert.Throws<ArgumentException>(() => Checkpoint.Save(badJson, path));
        Assert.Throws<KeyNotFoundException>(() => new CheckpointState().GetOptimizer());
    }

    // ---------------------------------------------------------------- resuming training

    private sealed class Run
    {
        public Tensor W1 = null!, B1 = null!, W2 = null!;
        public Optimizer Opt = null!;
        public LRScheduler Sched = null!;
        public DataLoader Loader = null!;
        public Dictionary<string, Tensor> Model => new() { ["fc1.weight"] = W1, ["fc1.bias"] = B1, ["fc2.weight"] = W2 };
    }

    private static TensorDataset Data()
    {
        var g = new Generator(100);
        var x = Tensor.Randn([40, 4], DType.Float32, g);
        var y = (x.Sum(1, keepDim: true) * 0.5).Sin();
        return new TensorDataset(x, y);
    }

    /// <summary>Builds a fresh run; <paramref name="init"/> seeds the weights (a resumed run gets different ones, then loads).</summary>
    private static Run Build(long init)
    {
        var g = new Generator(init);
        var r = new Run
        {
            W1 = (Tensor.Randn([4, 8], DType.Float32, g) * 0.5).RequiresGrad_(),
            B1 = Tensor.Zeros([8]).RequiresGrad_(),
            W2 = (Tensor.Randn([8, 1], DType.Float32, g) * 0.5).RequiresGrad_(),
        };
        r.Opt = new AdamW([new ParamGroup([r.W1, r.B1]), new ParamGroup([r.W2]) { Lr = 0.02 }], lr: 0.05, weightDecay: 0.01, amsgrad: true);
        r.Sched = new SequentialLR(r.Opt, [new LinearLR(r.Opt, startFactor: 0.2, totalIters: 4), new CosineAnnealingLR(r.Opt, tMax: 20)], [4]);
        r.Loader = new DataLoader(Data(), batchSize: 8, shuffle: true, generator: new Generator(init * 7 + 1));
        return r;
    }

    /// <summary>Trains until <paramref name="untilStep"/>; uses the default RNG too (noise), so its state matters.</summary>
    private static void Train(Run r, ref int step, int untilStep, List<float> losses)
    {
        while (step < untilStep)
        {
            foreach (var batch in r.Loader)
            {
                var noise = Tensor.Randn([batch[0].Size(0), 8]) * 0.01f; // default generator
                var h = (batch[0].MatMul(r.W1) + r.B1 + noise).Tanh();
                var loss = (h.MatMul(r.W2) - batch[1]).Square().Mean();
                r.Opt.ZeroGrad();
                loss.Backward();
                ClipGrad.ClipGradNorm([r.W1, r.B1, r.W2], 1.0);
                r.Opt.Step();
                r.Sched.Step();
                losses.Add(loss.Item<float>());
                if (++step == untilStep) return;
            }
        }
    }

    [Test]
    public void ResumingFromACheckpointGivesBitIdenticalTraining()
    {
        const int n = 7; // 5 batches per epoch: the checkpoint is taken mid-epoch
        string path = Path.Combine(_dir, "resume.safetensors");

        Torch.ManualSeed(2024);
        var straight = Build(1);
        var straightLosses = new List<float>();
        int s1 = 0;
        Train(straight, ref s1, 2 * n, straightLosses);

        Torch.ManualSeed(2024);
        var first = Build(1);
        var resumedLosses = new List<float>();
        int s2 = 0;
        Train(first, ref s2, n, resumedLosses);
        var state = new CheckpointState { Step = s2 };
        state.Tensors["model"] = first.Model;
        state.SetOptimizer(first.Opt.StateDict());
        state.SetScheduler(first.Sched.StateDict());
        state.SetDataLoader(first.Loader.StateDict());
        state.RngStates["torch"] = Torch.GetRngState();
        Checkpoint.Save(state, path);

        Torch.ManualSeed(999); // disturb everything the checkpoint must restore
        var second = Build(2);
        var loaded = Checkpoint.Load(path);
        // The model's tensors are stored as "model/<name>"; load them in place.
        SafeTensors.LoadInto(path, second.Model.ToDictionary(kv => "model/" + kv.Key, kv => kv.Value), strict: false);
        second.Opt.LoadStateDict(loaded.GetOptimizer());
        second.Sched.LoadStateDict(loaded.GetScheduler());
        second.Loader.LoadStateDict(loaded.GetDataLoader());
        Torch.SetRngState(loaded.RngStates["torch"]);
        int s3 = (int)loaded.Step;
        Train(second, ref s3, 2 * n, resumedLosses);

        Assert.That(resumedLosses, Has.Count.EqualTo(2 * n));
        Assert.That(resumedLosses, Is.EqualTo(straightLosses), "bit-identical losses");
        foreach (var (k, t) in straight.Model)
            Assert.That(second.Model[k].ToArray<float>(), Is.EqualTo(t.ToArray<float>()), k);
        Assert.That(second.Opt.ParamGroups[0].Lr, Is.EqualTo(straight.Opt.ParamGroups[0].Lr));
        Assert.That(straightLosses[^1], Is.LessThan(straightLosses[0]), "it does train");
    }
}
