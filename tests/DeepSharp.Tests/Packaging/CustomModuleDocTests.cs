using DeepSharp.NN;
using DeepSharp.Testing;
using FsCheck;
using FsCheck.Fluent;

namespace DeepSharp.Tests.Packaging;

/// <summary>The code of docs/custom-ops-and-modules.md, verbatim, compiles and its checks pass.</summary>
[TestFixture]
public class CustomModuleDocTests
{
    private static class MyOps
    {
        public static Tensor Mish(Tensor x) => x * x.Softplus().Tanh();

        public static Tensor RmsNorm(Tensor x, double eps = 1e-6) =>
            x / (x.Pow(2).Mean(-1, keepDim: true) + eps).Sqrt();
    }

    private sealed class RmsNorm : Module<Tensor, Tensor>
    {
        private readonly double _eps;

        public RmsNorm(int features, double eps = 1e-6, DType dtype = DType.Float32)
        {
            _eps = eps;
            RegisterParameter("weight", Tensor.Ones([features], dtype));
        }

        public Tensor Weight => GetParameter("weight")!;

        public override Tensor Forward(Tensor x) => MyOps.RmsNorm(x, _eps) * Weight;
    }

    private sealed class MlpBlock : Module<Tensor, Tensor>
    {
        private readonly RmsNorm _norm;
        private readonly Linear _up, _down;
        private readonly Dropout _dropout;

        public MlpBlock(int dim, int hidden, double dropout = 0.1, Generator? generator = null)
        {
            _norm = RegisterModule("norm", new RmsNorm(dim));
            _up = RegisterModule("up", new Linear(dim, hidden, generator: generator));
            _down = RegisterModule("down", new Linear(hidden, dim, generator: generator));
            _dropout = RegisterModule("dropout", new Dropout(dropout, generator));
            RegisterBuffer("calls", Tensor.Zeros([1], DType.Int64), persistent: false);
        }

        public override Tensor Forward(Tensor x) => x + _dropout.Forward(_down.Forward(_up.Forward(_norm.Forward(x)).Gelu()));
    }

    [Test]
    public void CompositeOpsPassGradCheck()
    {
        var x = Tensor.Randn([3, 5], DType.Float64, new Generator(0)).RequiresGrad_();
        GradCheck.Check(t => MyOps.RmsNorm(t).Sum(), x);
        GradCheck.GradGradCheck(ts => MyOps.Mish(ts[0]).Sum(), [x]);
    }

    [Test]
    public void CompositeOpPropertyWithTheTestingGenerators()
    {
        Prop.ForAll(Arb.From(TensorGen.Tensor(TensorGen.Shape(minRank: 1, maxRank: 3))), x =>
            GradCheck.Check(t => MyOps.RmsNorm(t).Sum(), x.RequiresGrad_()).Passed)
            .Check(Config.QuickThrowOnFailure.WithMaxTest(30).WithQuietOnSuccess(true));
    }

    [Test]
    public void ModuleRegistersItsStateAndPassesGradCheck()
    {
        var block = new MlpBlock(dim: 4, hidden: 8, generator: new Generator(1));
        Assert.That(block.NamedParameters().Select(p => p.Key),
            Is.EqualTo(new[] { "norm.weight", "up.weight", "up.bias", "down.weight", "down.bias" }));
        Assert.That(block.StateDict().Keys, Does.Not.Contain("calls"), "a non-persistent buffer stays out of the state dict");
        block.Double().Eval();
        var x = Tensor.Randn([2, 4], DType.Float64, new Generator(2)).RequiresGrad_();
        Tensor[] inputs = [x, .. block.Parameters()];
        var result = GradCheck.Check(_ => block.Forward(x).Pow(2).Sum(), inputs);
        Assert.That(result.Passed);
    }
}
