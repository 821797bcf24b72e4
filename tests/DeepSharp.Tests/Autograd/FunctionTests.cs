using DeepSharp.Testing;
using FsCheck;
using FsCheck.Fluent;

namespace DeepSharp.Tests;

/// <summary>User-defined autograd functions (torch.autograd.Function): gradients, checks on what Backward returns,
/// saved-tensor version checks and release, higher order, no-grad.</summary>
[TestFixture]
public class FunctionTests
{
    // The example of docs/custom-ops-and-modules.md, verbatim.
    sealed class Exp : Function
    {
        protected override Tensor Forward(FunctionContext ctx, Tensor[] inputs)
        {
            var y = inputs[0].Exp();
            ctx.SaveForBackward(y);
            return y;
        }

        protected override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput) =>
            [gradOutput * ctx.SavedTensors[0]];
    }

    // The double-backward warning of docs/custom-ops-and-modules.md: softplus(x) = log(1 + eˣ), twice.
    sealed class SoftplusSavingIntermediate : Function
    {
        protected override Tensor Forward(FunctionContext ctx, Tensor[] inputs)
        {
            var e = inputs[0].Exp();
            ctx.SaveForBackward(e);                // computed in Forward: a constant under double backward
            return (e + 1).Log();
        }

        protected override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput)
        {
            var e = ctx.SavedTensors[0];
            return [gradOutput * e / (e + 1)];
        }
    }

    sealed class SoftplusSavingInput : Function
    {
        protected override Tensor Forward(FunctionContext ctx, Tensor[] inputs)
        {
            ctx.SaveForBackward(inputs[0]);        // the input keeps its graph
            return (inputs[0].Exp() + 1).Log();
        }

        protected override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput) =>
            [gradOutput * ctx.SavedTensors[0].Sigmoid()];   // recomputed from the input: differentiable
    }

    /// <summary>y = a·x + b with a scalar a kept in Items; x and b may broadcast.</summary>
    sealed class Affine : Function
    {
        protected override Tensor Forward(FunctionContext ctx, Tensor[] inputs)
        {
            ctx.Items["a"] = 3.0;
            return inputs[0] * 3.0 + inputs[1];
        }

        protected override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput) =>
            [ctx.NeedsInputGrad[0] ? gradOutput * (double)ctx.Items["a"]! : null,
             ctx.NeedsInputGrad[1] ? gradOutput : null];   // b's gradient in the broadcast shape: summed back by the engine
    }

    sealed class WrongShape : Function
    {
        protected override Tensor Forward(FunctionContext ctx, Tensor[] inputs) => inputs[0] * 2;
        protected override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput) => [gradOutput.Sum(0)];
    }

    sealed class WrongCount : Function
    {
        protected override Tensor Forward(FunctionContext ctx, Tensor[] inputs) => inputs[0] * 2;
        protected override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput) => [gradOutput, gradOutput];
    }

    sealed class Identity : Function
    {
        protected override Tensor Forward(FunctionContext ctx, Tensor[] inputs) => inputs[0];
        protected override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput) => [gradOutput];
    }

    [Test]
    public void ExpMatchesTheBuiltInOpAndPassesGradCheck()
    {
        var x = Tensor.Randn([3, 4], DType.Float64, new Generator(1)).RequiresGrad_();
        var y = new Exp().Apply(x);
        Assert.That(y.GradFn!.Name, Is.EqualTo("ExpBackward"));
        Assert.That(y.ToArray<double>(), Is.EqualTo(x.Exp().ToArray<double>()));
        y.Sum().Backward();
        Assert.That(x.Grad!.ToArray<double>(), Is.EqualTo(x.Exp().ToArray<double>()));
        GradCheck.Check(t => new Exp().Apply(t).Sum(), x);
        GradCheck.GradGradCheck(ts => new Exp().Apply(ts[0]).Sum(), [x]);   // the backward is made of differentiable ops
    }

    [Test]
    public void ATensorComputedInForwardIsAConstantUnderDoubleBackward()
    {
        var x = Tensor.Randn([5], DType.Float64, new Generator(3)).RequiresGrad_();
        // First order both are right; second order only the one that recomputes from its saved input.
        GradCheck.Check(t => new SoftplusSavingIntermediate().Apply(t).Sum(), x);
        GradCheck.Check(t => new SoftplusSavingInput().Apply(t).Sum(), x);
        var wrong = GradCheck.GradGradCheck(ts => new SoftplusSavingIntermediate().Apply(ts[0]).Sum(), [x], raiseException: false);
        Assert.That(wrong.Passed, Is.False);
        Assert.That(wrong.Message, Does.Contain("second-order"));
        GradCheck.GradGradCheck(ts => new SoftplusSavingInput().Apply(ts[0]).Sum(), [x]);
    }

    [FsCheck.NUnit.Property(MaxTest = 20)]
    public Property AffinePassesGradCheckWithBroadcasting() =>
        Prop.ForAll(Arb.From(TensorGen.BroadcastPair(maxRank: 3, maxDim: 4)), pair =>
        {
            var (sx, sb) = pair;
            var g = new Generator(sx.Length * 7 + sb.Length);
            var x = Tensor.Randn(sx, DType.Float64, g).RequiresGrad_();
            var b = Tensor.Randn(sb, DType.Float64, g).RequiresGrad_();
            return GradCheck.Check(ts => new Affine().Apply(ts[0], ts[1]).Sum(), [x, b], raiseException: false).Passed;
        });

    [Test]
    public void InputsWithoutGradGetNoGradient()
    {
        var x = Tensor.Randn([2, 3], DType.Float64).RequiresGrad_();
        var b = Tensor.Randn([3], DType.Float64);               // no grad
        new Affine().Apply(x, b).Sum().Backward();
        Assert.That(x.Grad!.ToArray<double>(), Is.All.EqualTo(3.0));
        Assert.That(b.Grad, Is.Null);
    }

    [Test]
    public void BadGradientsAreReportedWithTheFunctionAndShapes()
    {
        var x = Tensor.Randn([2, 3], DType.Float64).RequiresGrad_();
        var e = Assert.Throws<InvalidOperationException>(() => new WrongShape().Apply(x).Sum().Backward());
        Assert.That(e!.Message, Does.Contain("WrongShapeBackward").And.Contain("[3]").And.Contain("[2, 3]"));
        e = Assert.Throws<InvalidOperationException>(() => new WrongCount().Apply(x).Sum().Backward());
        Assert.That(e!.Message, Does.Contain("WrongCountBackward").And.Contain("2 gradients").And.Contain("1 inputs"));
    }

    [Test]
    public void SavedTensorModifiedInPlaceMakesBackwardThrow()
    {
        var x = Tensor.Randn([4], DType.Float64).RequiresGrad_();
        var y = new Exp().Apply(x);
        using (Autograd.NoGrad()) y.Mul_(2);                    // y is the saved output
        var e = Assert.Throws<InvalidOperationException>(() => y.Sum().Backward());
        Assert.That(e!.Message, Does.Contain("ExpBackward").And.Contain("in-place"));
    }

    [Test]
    public void SavedTensorsAreFreedAfterBackwardUnlessRetained()
    {
        var x = Tensor.Randn([4], DType.Float64).RequiresGrad_();
        var y = new Exp().Apply(x).Sum();
        y.Backward(retainGraph: true);
        y.Backward();
        Assert.That(x.Grad!.ToArray<double>(), Is.EqualTo((x.Exp() * 2).ToArray<double>()).Within(1e-15));
        Assert.Throws<InvalidOperationException>(() => y.Backward());
    }

    [Test]
    public void UnderNoGradNothingIsRecorded()
    {
        var x = Tensor.Randn([4], DType.Float64).RequiresGrad_();
        Tensor y;
        using (Autograd.NoGrad()) y = new Exp().Apply(x);
        Assert.That(y.GradFn, Is.Null);
        Assert.That(y.RequiresGrad, Is.False);
    }

    [Test]
    public void ReturningAnInputDoesNotTouchTheCallersTensor()
    {
        var x = Tensor.Randn([4], DType.Float64).RequiresGrad_();
        var y = new Identity().Apply(x);
        Assert.That(x.IsLeaf, Is.True);
        Assert.That(y.GradFn!.Name, Is.EqualTo("IdentityBackward"));
        (y * 5).Sum().Backward();
        Assert.That(x.Grad!.ToArray<double>(), Is.All.EqualTo(5.0));
    }

    [Test]
    public void NullInputIsRejected() =>
        Assert.Throws<ArgumentNullException>(() => new Exp().Apply(null!));
}
