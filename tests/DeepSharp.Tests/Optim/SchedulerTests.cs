using DeepSharp.Optim;

namespace DeepSharp.Tests.Optim;

[TestFixture]
public class SchedulerTests
{
    private static SGD Opt(double lr = 0.1, int groups = 1) =>
        new(Enumerable.Range(0, groups).Select(i => new ParamGroup([Tensor.Zeros([1]).RequiresGrad_()]) { Lr = lr * (i + 1) }), lr: lr);

    /// <summary>The lr used by each of the first <paramref name="n"/> optimizer steps (scheduler stepped after each).</summary>
    private static double[] Sequence(LRScheduler s, int n, int group = 0)
    {
        var result = new double[n];
        for (int i = 0; i < n; i++)
        {
            result[i] = s.Optimizer.ParamGroups[group].Lr;
            Assert.That(s.GetLastLr()[group], Is.EqualTo(result[i]));
            s.Optimizer.Step();
            s.Step();
        }
        return result;
    }

    [Test]
    public void StepLRDecaysEveryStepSizeEpochs()
    {
        var lrs = Sequence(new StepLR(Opt(), stepSize: 3, gamma: 0.5), 8);
        Assert.That(lrs, Is.EqualTo(new[] { 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025 }).Within(1e-15));
    }

    [Test]
    public void MultiStepLR()
    {
        var lrs = Sequence(new MultiStepLR(Opt(), [2, 5], gamma: 0.1), 7);
        Assert.That(lrs, Is.EqualTo(new[] { 0.1, 0.1, 0.01, 0.01, 0.01, 0.001, 0.001 }).Within(1e-15));
    }

    [Test]
    public void ExponentialLRMatchesClosedForm()
    {
        var lrs = Sequence(new ExponentialLR(Opt(), gamma: 0.9), 6);
        Assert.That(lrs, Is.EqualTo(Enumerable.Range(0, 6).Select(t => 0.1 * Math.Pow(0.9, t))).Within(1e-15));
    }

    [Test]
    public void CosineAnnealingMatchesClosedFormAndPyTorch()
    {
        var lrs = Sequence(new CosineAnnealingLR(Opt(), tMax: 10, etaMin: 0.01), 12);
        Assert.That(lrs, Is.EqualTo(Enumerable.Range(0, 12).Select(t => 0.01 + (0.1 - 0.01) * (1 + Math.Cos(Math.PI * t / 10)) / 2)).Within(1e-15));
        // PyTorch 1.13 (its recursive form, equal up to rounding).
        double[] torch = [0.1, 0.09779754323328192, 0.09140576474687263, 0.08145033635316129, 0.06890576474687264, 0.05500000000000001,
            0.04109423525312737, 0.028549663646838717, 0.01859423525312737, 0.012202456766718092, 0.01, 0.012202456766718092];
        Assert.That(lrs, Is.EqualTo(torch).Within(1e-14));
    }

    [Test]
    public void LambdaLRPerGroup()
    {
        var opt = Opt(0.1, groups: 2);
        var s = new LambdaLR(opt, [e => 1.0 / (e + 1), e => e]);
        Assert.That(Sequence(s, 4, group: 0), Is.EqualTo(new[] { 0.1, 0.05, 0.1 / 3, 0.025 }).Within(1e-15));
        Assert.That(opt.ParamGroups[1].Lr, Is.EqualTo(0.2 * 4).Within(1e-15));
        Assert.Throws<ArgumentException>(() => new LambdaLR(Opt(), [e => 1, e => 2]));
    }

    [Test]
    public void LinearLRWarmsUpThenHolds()
    {
        var lrs = Sequence(new LinearLR(Opt()), 8);
        Assert.That(lrs, Is.EqualTo(new[] { 0.1 / 3, 0.1 * (1.0 / 3 + 2.0 / 3 / 5), 0.1 * (1.0 / 3 + 4.0 / 3 / 5), 0.1 * (1.0 / 3 + 6.0 / 3 / 5), 0.1 * (1.0 / 3 + 8.0 / 3 / 5), 0.1, 0.1, 0.1 }).Within(1e-15));
        // PyTorch 1.13
        Assert.That(lrs[..6], Is.EqualTo(new[] { 0.03333333333333333, 0.04666666666666667, 0.060000000000000005, 0.07333333333333335, 0.08666666666666668, 0.1 }).Within(1e-15));
    }

    [Test]
    public void NoamWarmupThenInverseSquareRoot()
    {
        var opt = Opt(1.0);
        var s = new NoamLR(opt, modelSize: 512, warmupSteps: 4000, factor: 2);
        Assert.That(opt.ParamGroups[0].Lr, Is.EqualTo(2 * Math.Pow(512, -0.5) * 1 * Math.Pow(4000, -1.5)).Within(1e-18), "step 1 uses lr(1)");
        double Expected(int step) => 2 / Math.Sqrt(512) * Math.Min(1 / Math.Sqrt(step), step / Math.Pow(4000, 1.5));
        for (int step = 1; step <= 8000; step++)
        {
            Assert.That(s.GetLastLr()[0], Is.EqualTo(Expected(step)).Within(1e-18));
            s.Step();
        }
        Assert.That(s.Rate(4000), Is.EqualTo(2 / Math.Sqrt(512) / Math.Sqrt(4000)).Within(1e-15), "peak at warm-up");
        Assert.That(s.Rate(3999), Is.LessThan(s.Rate(4000)));
        Assert.That(s.Rate(4001), Is.LessThan(s.Rate(4000)));
    }

    [Test]
    public void SequentialLRWarmupThenExponentialMatchesPyTorch()
    {
        var opt = Opt();
        var s = new SequentialLR(opt, [new LinearLR(opt, startFactor: 0.5, totalIters: 3), new ExponentialLR(opt, gamma: 0.9)], milestones: [3]);
        var lrs = Sequence(s, 12);
        double[] torch = [0.05, 0.06666666666666667, 0.08333333333333333, 0.1, 0.09000000000000001, 0.08100000000000002, 0.07290000000000002,
            0.06561000000000002, 0.05904900000000002, 0.05314410000000002, 0.04782969000000002, 0.043046721000000024];
        Assert.That(lrs, Is.EqualTo(torch).Within(1e-15));
    }

    [Test]
    public void StateDictResumesTheSequence([Values] bool sequential)
    {
        LRScheduler Make(Optimizer o) => sequential
            ? new SequentialLR(o, [new LinearLR(o, totalIters: 4), new CosineAnnealingLR(o, tMax: 6)], [4])
            : new CosineAnnealingLR(o, tMax: 6);
        var optA = Opt();
        var a = Make(optA);
        for (int i = 0; i < 5; i++) a.Step();
        var json = a.StateDict().ToJson();
        var optB = Opt(0.7);
        var b = Make(optB);
        b.LoadStateDict(LRSchedulerState.FromJson(json));
        Assert.That(b.LastEpoch, Is.EqualTo(5));
        Assert.That(optB.ParamGroups[0].Lr, Is.EqualTo(optA.ParamGroups[0].Lr));
        Assert.That(Sequence(b, 6), Is.EqualTo(Sequence(a, 6)));
    }

    [Test]
    public void InvalidArgumentsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => new StepLR(Opt(), 0));
        Assert.Throws<ArgumentException>(() => new LinearLR(Opt(), startFactor: 0));
        Assert.Throws<ArgumentException>(() => new CosineAnnealingLR(Opt(), 0));
        Assert.Throws<ArgumentException>(() => new NoamLR(Opt(), 0, 10));
        Assert.Throws<FormatException>(() => LRSchedulerState.FromJson("{\"last_epoch\":1}"));
    }
}
