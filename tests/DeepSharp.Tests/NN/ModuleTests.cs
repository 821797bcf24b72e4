using DeepSharp.NN;
using static DeepSharp.Tests.NN.NNTestUtil;

namespace DeepSharp.Tests.NN;

/// <summary>The module tree: registration, names, modes, state dicts, printing.</summary>
[TestFixture]
public class ModuleTests
{
    /// <summary>A user-defined model, as a person would write one.</summary>
    private sealed class Mlp : Module<Tensor, Tensor>
    {
        public Mlp(int inF, int hidden, int outF, Generator? g = null)
        {
            Layers = RegisterModule("layers", new Sequential(
                new Linear(inF, hidden, generator: g),
                new ReLU(),
                new Dropout(0.5, g),
                new Linear(hidden, outF, generator: g)));
            Norm = RegisterModule("norm", new BatchNorm1d(outF));
            RegisterParameter("scale", Tensor.Ones([1]));
            RegisterBuffer("step", Tensor.Zeros([]), persistent: false);
        }

        public Sequential Layers { get; }
        public BatchNorm1d Norm { get; }

        public override Tensor Forward(Tensor input) => Norm.Forward(Layers.Forward(input)) * GetParameter("scale")!;
    }

    [Test]
    public void NamedParametersUseDottedPyTorchNamesInRegistrationOrder()
    {
        var names = new Mlp(4, 8, 2).NamedParameters().Select(p => p.Key).ToArray();
        Assert.That(names, Is.EqualTo(new[] { "scale", "layers.0.weight", "layers.0.bias", "layers.3.weight", "layers.3.bias", "norm.weight", "norm.bias" }));
        Assert.That(new Mlp(4, 8, 2).Parameters().All(p => p.RequiresGrad && p.IsLeaf), Is.True);
    }

    [Test]
    public void BuffersChildrenAndModules()
    {
        var m = new Mlp(4, 8, 2);
        Assert.That(m.NamedBuffers().Select(b => b.Key), Is.EqualTo(new[] { "step", "norm.running_mean", "norm.running_var", "norm.num_batches_tracked" }));
        Assert.That(m.NamedChildren().Select(c => c.Key), Is.EqualTo(new[] { "layers", "norm" }));
        Assert.That(m.Children().First(), Is.SameAs(m.Layers));
        Assert.That(m.NamedModules().Select(c => c.Key), Is.EqualTo(new[] { "", "layers", "layers.0", "layers.1", "layers.2", "layers.3", "norm" }));
        Assert.That(m.Modules().Count(), Is.EqualTo(7));
        Assert.That(m.GetSubmodule("layers.3"), Is.SameAs(m.Layers[3]));
        Assert.That(m.Layers[-1], Is.SameAs(m.Layers[3]));
        Assert.Throws<ArgumentException>(() => m.GetSubmodule("layers.9"));
    }

    [Test]
    public void SharedParametersAreListedOnce()
    {
        var shared = new Linear(3, 3);
        var seq = new Sequential(shared, new ReLU(), shared);
        Assert.That(seq.Parameters().Count(), Is.EqualTo(2));
        Assert.That(seq.ParameterCount(), Is.EqualTo(12));
        // As PyTorch, the state dict names a shared module under each of its names.
        Assert.That(seq.StateDict().Keys, Is.EqualTo(new[] { "0.weight", "0.bias", "2.weight", "2.bias" }));
        Assert.That(seq.LoadStateDict(seq.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.Clone())).MissingKeys, Is.Empty);
    }

    private sealed class Tied : Module<Tensor, Tensor>
    {
        public Tied()
        {
            Embed = RegisterModule("embed", new Embedding(5, 3));
            Head = RegisterModule("head", new TiedHead(Embed.Weight));
        }

        public Embedding Embed { get; }
        public TiedHead Head { get; }

        public override Tensor Forward(Tensor input) => Head.Forward(Embed.Forward(input));
    }

    private sealed class TiedHead : Module<Tensor, Tensor>
    {
        public TiedHead(Tensor weight) => RegisterParameter("weight", weight);
        public Tensor Weight => GetParameter("weight")!;
        public override Tensor Forward(Tensor input) => input.MatMul(Weight.T);
    }

    [Test]
    public void TiedWeightsStayTiedThroughDtypeConversion()
    {
        var m = new Tied();
        Assert.That(m.Parameters().Count(), Is.EqualTo(1));
        Assert.That(m.StateDict().Keys, Is.EqualTo(new[] { "embed.weight", "head.weight" }));
        m.Double();
        Assert.That(m.Head.Weight, Is.SameAs(m.Embed.Weight));
        Assert.That(m.Head.Weight.DType, Is.EqualTo(DType.Float64));
        m.Forward(Tensor.FromArray(new long[] { 1, 4 })).Sum().Backward();
        Assert.That(m.Embed.Weight.Grad, Is.Not.Null);
    }

    private sealed class Frozen : Module
    {
        public Frozen() => RegisterParameter("table", Tensor.Ones(3), requiresGrad: false);
    }

    [Test]
    public void FrozenParametersAreStillParameters()
    {
        var m = new Frozen();
        Assert.That(m.Parameters().Single().RequiresGrad, Is.False);
        Assert.That(m.ParameterCount(), Is.EqualTo(3));
        Assert.That(m.ParameterCount(trainableOnly: true), Is.Zero);
        Assert.That(m.StateDict().Keys, Is.EqualTo(new[] { "table" }));
    }

    [Test]
    public void StateDictHoldsParametersAndPersistentBuffers()
    {
        var sd = new Mlp(4, 8, 2).StateDict();
        Assert.That(sd.Keys, Is.EqualTo(new[]
        {
            "scale", "layers.0.weight", "layers.0.bias", "layers.3.weight", "layers.3.bias",
            "norm.weight", "norm.bias", "norm.running_mean", "norm.running_var", "norm.num_batches_tracked",
        }));
        Assert.That(sd["norm.num_batches_tracked"].DType, Is.EqualTo(DType.Int64));
        Assert.That(sd["layers.0.weight"].RequiresGrad, Is.False, "state dict values are detached");
    }

    [Test]
    public void LoadStateDictRoundTripKeepsTheTensorObjects()
    {
        var a = new Mlp(4, 8, 2, new Generator(1));
        a.Forward(Tensor.Randn([5, 4], DType.Float32, new Generator(2))); // move BatchNorm's running stats
        var b = new Mlp(4, 8, 2, new Generator(3));
        var before = b.Parameters().ToArray();
        var buffersBefore = b.Buffers().ToArray();
        var snapshot = a.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.Clone());
        var result = b.LoadStateDict(snapshot);
        Assert.That(result.MissingKeys, Is.Empty);
        Assert.That(result.UnexpectedKeys, Is.Empty);
        Assert.That(b.Parameters().ToArray(), Is.EqualTo(before).Using<Tensor>(ReferenceEquals));
        Assert.That(b.Buffers().ToArray(), Is.EqualTo(buffersBefore).Using<Tensor>(ReferenceEquals));
        foreach (var (name, t) in b.StateDict())
            Assert.That(Values(t), Is.EqualTo(Values(snapshot[name])), name);
        Assert.That(b.Norm.NumBatchesTracked!.Item<long>(), Is.EqualTo(1));
        // The same forward in eval mode now.
        a.Eval(); b.Eval();
        var x = Tensor.Randn([3, 4], DType.Float32, new Generator(4));
        Assert.That(b.Forward(x).ToArray<float>(), Is.EqualTo(a.Forward(x).ToArray<float>()));
    }

    [Test]
    public void StrictLoadListsMissingUnexpectedAndMismatchedKeys()
    {
        var m = new Mlp(4, 8, 2);
        var sd = new Mlp(4, 8, 2).StateDict().ToDictionary(kv => kv.Key, kv => kv.Value);
        sd.Remove("layers.0.bias");
        sd.Remove("norm.running_var");
        sd["layers.5.weight"] = Tensor.Zeros(2);
        sd["layers.3.weight"] = Tensor.Zeros(3, 8);
        var original = Values(m.Layers[0] is Linear l ? l.Weight : throw new InvalidOperationException());
        var ex = Assert.Throws<ArgumentException>(() => m.LoadStateDict(sd));
        Assert.That(ex!.Message, Does.Contain("Missing key(s)").And.Contain("\"layers.0.bias\"").And.Contain("\"norm.running_var\""));
        Assert.That(ex.Message, Does.Contain("Unexpected key(s)").And.Contain("\"layers.5.weight\""));
        Assert.That(ex.Message, Does.Contain("size mismatch for 'layers.3.weight'").And.Contain("[3, 8]").And.Contain("[2, 8]"));
        Assert.That(Values(((Linear)m.Layers[0]).Weight), Is.EqualTo(original), "nothing is copied when loading fails");

        // Non-strict: reports keys, still refuses the shape mismatch.
        Assert.Throws<ArgumentException>(() => m.LoadStateDict(sd, strict: false));
        sd.Remove("layers.3.weight");
        var result = m.LoadStateDict(sd, strict: false);
        Assert.That(result.MissingKeys, Is.EquivalentTo(new[] { "layers.0.bias", "norm.running_var", "layers.3.weight" }));
        Assert.That(result.UnexpectedKeys, Is.EqualTo(new[] { "layers.5.weight" }));
    }

    [Test]
    public void TrainAndEvalSwitchDropoutAndBatchNorm()
    {
        var m = new Mlp(4, 16, 2, new Generator(1));
        var x = Tensor.Randn([6, 4], DType.Float32, new Generator(2));
        Assert.That(m.Modules().All(c => c.IsTraining), Is.True);
        var t1 = m.Forward(x).ToArray<float>();
        var t2 = m.Forward(x).ToArray<float>();
        Assert.That(t1, Is.Not.EqualTo(t2), "dropout draws a new mask in training");
        Assert.That(m.Norm.NumBatchesTracked!.Item<long>(), Is.EqualTo(2));

        m.Eval();
        Assert.That(m.Modules().Any(c => c.IsTraining), Is.False);
        var e1 = m.Forward(x).ToArray<float>();
        var e2 = m.Forward(x).ToArray<float>();
        Assert.That(e1, Is.EqualTo(e2), "eval is deterministic");
        Assert.That(m.Norm.NumBatchesTracked!.Item<long>(), Is.EqualTo(2), "eval leaves running stats alone");

        m.Train();
        Assert.That(m.Layers[2].IsTraining && m.Norm.IsTraining, Is.True);
    }

    [Test]
    public void ZeroGradSetsGradientsToNull()
    {
        var m = new Sequential(new Linear(3, 2), new Tanh());
        m.Forward(Tensor.Ones(4, 3)).Sum().Backward();
        Assert.That(m.Parameters().All(p => p.Grad is not null), Is.True);
        m.ZeroGrad();
        Assert.That(m.Parameters().All(p => p.Grad is null), Is.True);
    }

    [Test]
    public void ApplyVisitsChildrenBeforeParents()
    {
        var m = new Sequential(new Linear(2, 2), new Sequential(new ReLU(), new Linear(2, 2)));
        var order = new List<string>();
        m.Apply(x => order.Add(x.GetType().Name));
        Assert.That(order, Is.EqualTo(new[] { "Linear", "ReLU", "Linear", "Sequential", "Sequential" }));
        m.Apply(x => { if (x is Linear l) { Init.Zeros(l.Weight); Init.Ones(l.Bias!); } });
        Assert.That(m.Forward(Tensor.Ones(1, 2)).ToArray<float>(), Is.EqualTo(new[] { 1f, 1f }));
    }

    [Test]
    public void ToDoubleConvertsParametersAndFloatBuffersOnly()
    {
        var m = new Mlp(4, 8, 2);
        var sameDtype = m.Parameters().First();
        m.To(DType.Float32);
        Assert.That(m.Parameters().First(), Is.SameAs(sameDtype), "no conversion keeps the object");
        m.Double();
        Assert.That(m.Parameters().All(p => p.DType == DType.Float64 && p.RequiresGrad && p.IsLeaf), Is.True);
        Assert.That(m.Norm.RunningMean!.DType, Is.EqualTo(DType.Float64));
        Assert.That(m.Norm.NumBatchesTracked!.DType, Is.EqualTo(DType.Int64));
        Assert.That(((Linear)m.Layers[0]).Weight.DType, Is.EqualTo(DType.Float64), "layer properties see the converted tensors");
        var y = m.Forward(Tensor.Randn([3, 4], DType.Float64, new Generator(1)));
        Assert.That(y.DType, Is.EqualTo(DType.Float64));
    }

    [Test]
    public void RequiresGradFreezesParameters()
    {
        var m = new Sequential(new Linear(2, 2), new Linear(2, 1));
        m[0].RequiresGrad_(false);
        Assert.That(m.ParameterCount(trainableOnly: true), Is.EqualTo(3));
        m.Forward(Tensor.Ones(1, 2)).Sum().Backward();
        Assert.That(((Linear)m[0]).Weight.Grad, Is.Null);
        Assert.That(((Linear)m[1]).Weight.Grad, Is.Not.Null);
    }

    private sealed class BadModule : Module
    {
        public void Register(string name, Tensor t) => RegisterParameter(name, t);
        public void RegisterChild(string name, Module m) => RegisterModule(name, m);
    }

    [Test]
    public void RegistrationValidatesNamesAndTensors()
    {
        var m = new BadModule();
        var leaf = Tensor.Ones([2], DType.Float32, requiresGrad: true);
        Assert.Throws<ArgumentException>(() => m.Register("a.b", Tensor.Ones(2)));
        Assert.Throws<ArgumentException>(() => m.Register("", Tensor.Ones(2)));
        Assert.Throws<ArgumentException>(() => m.Register("x", leaf * 2));
        Assert.Throws<ArgumentException>(() => m.Register("i", Tensor.Zeros([2], DType.Int64)));
        m.Register("w", Tensor.Ones(2));
        Assert.Throws<ArgumentException>(() => m.RegisterChild("w", new ReLU()));
        Assert.That(m.Parameters().Single().RequiresGrad, Is.True);
    }

    [Test]
    public void ToStringPrintsTheTreeLikePyTorch()
    {
        var model = new Sequential(
            new Linear(784, 256),
            new ReLU(),
            new Dropout(0.1),
            new Sequential(new Linear(256, 10, bias: false), new LayerNorm(10)),
            new LogSoftmax(1));
        Assert.That(model.ToString(), Is.EqualTo(
            "Sequential(\n" +
            "  (0): Linear(in_features=784, out_features=256, bias=True)\n" +
            "  (1): ReLU()\n" +
            "  (2): Dropout(p=0.1)\n" +
            "  (3): Sequential(\n" +
            "    (0): Linear(in_features=256, out_features=10, bias=False)\n" +
            "    (1): LayerNorm((10,), eps=1e-05, elementwise_affine=True)\n" +
            "  )\n" +
            "  (4): LogSoftmax(dim=1)\n" +
            ")"));
        Assert.That(new BatchNorm2d(64).ToString(), Is.EqualTo("BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"));
        Assert.That(new GELU("tanh").ToString(), Is.EqualTo("GELU(approximate='tanh')"));
        Assert.That(new LeakyReLU().ToString(), Is.EqualTo("LeakyReLU(negative_slope=0.01)"));
        Assert.That(new Unflatten(1, 2, 5).ToString(), Is.EqualTo("Unflatten(dim=1, unflattened_size=(2, 5))"));
        Assert.That(new ModuleList(new ReLU()).ToString(), Is.EqualTo("ModuleList(\n  (0): ReLU()\n)"));
    }

    [Test]
    public void SummaryCountsParameters()
    {
        var model = new Sequential(new Linear(784, 256), new ReLU(), new Linear(256, 10));
        var s = model.Summary();
        Assert.That(s, Does.Contain("weight[256, 784]"));
        Assert.That(s, Does.Contain("Total params: 203,530"));
        Assert.That(s, Does.Contain("Trainable params: 203,530"));
        Assert.That(model.ParameterCount(), Is.EqualTo(784 * 256 + 256 + 256 * 10 + 10));
    }

    [Test]
    public void ModuleListAndModuleDictRegisterTheirItems()
    {
        var list = new ModuleList<Linear>(new Linear(2, 3), new Linear(3, 4));
        list.Add(new Linear(4, 1));
        Assert.That(list.Count, Is.EqualTo(3));
        Assert.That(list[-1].OutFeatures, Is.EqualTo(1));
        Assert.That(list.NamedParameters().Select(p => p.Key).First(), Is.EqualTo("0.weight"));
        var x = Tensor.Ones(1, 2);
        foreach (var l in list) x = l.Forward(x);
        Assert.That(x.Shape, Is.EqualTo(new[] { 1, 1 }));

        var dict = new ModuleDict { { "enc", new Linear(2, 2) }, { "act", new ReLU() } };
        dict["dec"] = new Linear(2, 1);
        Assert.That(dict.Keys, Is.EqualTo(new[] { "enc", "act", "dec" }));
        Assert.That(dict.StateDict().Keys, Is.EqualTo(new[] { "enc.weight", "enc.bias", "dec.weight", "dec.bias" }));
        Assert.Throws<KeyNotFoundException>(() => _ = dict["missing"]);
    }

    [Test]
    public void SequentialWithNamedModules()
    {
        var seq = new Sequential(new[]
        {
            KeyValuePair.Create("fc", (Module<Tensor, Tensor>)new Linear(2, 2)),
            KeyValuePair.Create("act", (Module<Tensor, Tensor>)new Tanh()),
        });
        Assert.That(seq.StateDict().Keys, Is.EqualTo(new[] { "fc.weight", "fc.bias" }));
        Assert.That(seq.ToString(), Does.Contain("(act): Tanh()"));
    }

    [Test]
    public void LossModulesKeepWeightsAsBuffers()
    {
        var w = Tensor.FromArray(new[] { 1f, 2f });
        var loss = new CrossEntropyLoss(w);
        Assert.That(loss.StateDict().Keys, Is.EqualTo(new[] { "weight" }));
        Assert.That(new CrossEntropyLoss().StateDict(), Is.Empty);
        loss.Double();
        Assert.That(loss.Weight!.DType, Is.EqualTo(DType.Float64));
    }
}
