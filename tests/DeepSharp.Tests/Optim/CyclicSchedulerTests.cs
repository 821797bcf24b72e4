using DeepSharp.Optim;

namespace DeepSharp.Tests.Optim;

/// <summary>
/// OneCycleLR, CosineAnnealingWarmRestarts and ReduceLROnPlateau against sequences recorded from PyTorch 1.13 (printed by
/// docs/pytorch-reference/modules_reference.py): the lr (and momentum) after construction and after each step.
/// </summary>
[TestFixture]
public class CyclicSchedulerTests
{
    private static readonly double[] OneCycleCosLrs = [0.040000000000000036, 0.52, 1.0, 0.9504846320134737, 0.8117456539497631, 0.6112620219362893, 0.38874197806371075, 0.18825834605023697, 0.049519367986526286, 4e-06, 0.04951936798652623];
    private static readonly double[] OneCycleCosMomenta = [0.95, 0.8999999999999999, 0.85, 0.854951556604879, 0.8688255099070633, 0.8888739533021842, 0.9111260466978157, 0.9311744900929366, 0.945048443395121, 0.95, 0.945048443395121];
    private static readonly double[] OneCycleLinearThreePhaseLrs = [0.05, 0.275, 0.5, 0.275, 0.04999999999999999, 0.042928571428571434, 0.03585714285714286, 0.02878571428571429, 0.021714285714285717, 0.014642857142857145, 0.007571428571428576, 0.0005000000000000004, -0.006571428571428568];
    private static readonly double[] OneCycleLinearThreePhaseBeta1 = [0.95, 0.8999999999999999, 0.85, 0.8999999999999999, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95];
    private static readonly double[] WarmRestartsMult2 = [0.1, 0.0775, 0.032500000000000015, 0.1, 0.09397114317029975, 0.0775, 0.05500000000000001, 0.032500000000000015, 0.01602885682970026, 0.1, 0.09846666218300808, 0.09397114317029975, 0.08681980515339464, 0.0775, 0.06664685702961344, 0.05500000000000001, 0.04335314297038658, 0.032500000000000015, 0.023180194846605363, 0.01602885682970026, 0.011533337816991932, 0.1, 0.09961501876182148, 0.09846666218300808, 0.0965745789630079, 0.09397114317029975];
    private static readonly double[] WarmRestartsMult1 = [0.1, 0.08535533905932738, 0.05, 0.014644660940672627, 0.1, 0.08535533905932738, 0.05, 0.014644660940672627, 0.1, 0.08535533905932738, 0.05];
    private static readonly double[] PlateauMinRel = [0.1, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.025, 0.025, 0.025, 0.025, 0.02, 0.02, 0.02, 0.02, 0.02];
    private static readonly double[] PlateauMaxAbs = [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.010000000000000002, 0.010000000000000002, 0.010000000000000002, 0.010000000000000002, 0.0010000000000000002, 0.0010000000000000002];

    private static Tensor Param() => Tensor.Zeros(1).RequiresGrad_();

    private static void AssertSequence(double[] actual, double[] expected, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        for (int i = 0; i < expected.Length; i++)
            Assert.That(actual[i], Is.EqualTo(expected[i]).Within(1e-14 + 1e-12 * Math.Abs(expected[i])), $"{what} at step {i}");
    }

    private static (double[] Lrs, double[] Momenta) Run(Optimizer opt, Action step, int steps, string? momentumKey)
    {
        var lrs = new List<double> { opt.ParamGroups[0].Lr };
        var moms = new List<double>();
        if (momentumKey is not null) moms.Add(opt.ParamGroups[0][momentumKey]);
        for (int i = 0; i < steps; i++)
        {
            step();
            lrs.Add(opt.ParamGroups[0].Lr);
            if (momentumKey is not null) moms.Add(opt.ParamGroups[0][momentumKey]);
        }
        return ([.. lrs], [.. moms]);
    }

    [Test]
    public void OneCycleCosineWithSgdMomentum()
    {
        var opt = new SGD([Param()], lr: 0.1, momentum: 0.9);
        var s = new OneCycleLR(opt, maxLr: 1.0, totalSteps: 10);
        var (lrs, moms) = Run(opt, s.Step, 10, "momentum");
        AssertSequence(lrs, OneCycleCosLrs, "lr");
        AssertSequence(moms, OneCycleCosMomenta, "momentum");
        Assert.That(s.GetLastLr()[0], Is.EqualTo(lrs[^1]));
        var ex = Assert.Throws<InvalidOperationException>(s.Step);
        Assert.That(ex!.Message, Does.Contain("OneCycleLR").And.Contain("11").And.Contain("10"));
    }

    [Test]
    public void OneCycleLinearThreePhaseWithAdamBeta1()
    {
        var opt = new Adam([Param()], lr: 0.1);
        var s = new OneCycleLR(opt, maxLr: 0.5, epochs: 3, stepsPerEpoch: 4, pctStart: 0.25, annealStrategy: "linear", threePhase: true,
            divFactor: 10, finalDivFactor: 100);
        Assert.That(s.TotalSteps, Is.EqualTo(12));
        var (lrs, moms) = Run(opt, s.Step, 12, "beta1");
        AssertSequence(lrs, OneCycleLinearThreePhaseLrs, "lr");
        AssertSequence(moms, OneCycleLinearThreePhaseBeta1, "beta1");
    }

    [Test]
    public void OneCycleBadArguments()
    {
        var opt = new SGD([Param()], lr: 0.1);
        Assert.Throws<ArgumentException>(() => new OneCycleLR(opt, 1.0), "neither totalSteps nor epochs");
        Assert.Throws<ArgumentException>(() => new OneCycleLR(opt, 1.0, totalSteps: 10, annealStrategy: "exp"));
        Assert.Throws<ArgumentException>(() => new OneCycleLR(opt, 1.0, totalSteps: 10, pctStart: 1.5));
        // RMSprop has a momentum, which is cycled from maxMomentum.
        var rms = new RMSprop([Param()], lr: 0.1);
        _ = new OneCycleLR(rms, 1.0, totalSteps: 10);
        Assert.That(rms.ParamGroups[0]["momentum"], Is.EqualTo(0.95));
    }

    [Test]
    public void WarmRestartsMatchPyTorch()
    {
        var opt = new SGD([Param()], lr: 0.1, momentum: 0.9);
        var s = new CosineAnnealingWarmRestarts(opt, t0: 3, tMult: 2, etaMin: 0.01);
        AssertSequence(Run(opt, s.Step, 25, null).Lrs, WarmRestartsMult2, "T_mult=2");
        var opt1 = new SGD([Param()], lr: 0.1);
        var s1 = new CosineAnnealingWarmRestarts(opt1, t0: 4);
        AssertSequence(Run(opt1, s1.Step, 10, null).Lrs, WarmRestartsMult1, "T_mult=1");
        Assert.That(s.Position(21), Is.EqualTo((0L, 24L)));
        Assert.Throws<ArgumentException>(() => new CosineAnnealingWarmRestarts(opt, 0));
        Assert.Throws<ArgumentException>(() => new CosineAnnealingWarmRestarts(opt, 3, tMult: 0));
    }

    [Test]
    public void ReduceOnPlateauMinRelativeWithCooldownAndMinLr()
    {
        double[] metric = [1.0, 0.9, 0.95, 0.95, 0.95, 0.899, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6];
        var opt = new SGD([Param()], lr: 0.1, momentum: 0.9);
        var s = new ReduceLROnPlateau(opt, factor: 0.5, patience: 2, cooldown: 1, minLr: 0.02);
        int k = 0;
        AssertSequence(Run(opt, () => s.Step(metric[k++]), metric.Length, null).Lrs, PlateauMinRel, "lr");
        Assert.That(s.Best, Is.EqualTo(0.5));
        Assert.Throws<InvalidOperationException>(s.Step);
    }

    [Test]
    public void ReduceOnPlateauMaxAbsolute()
    {
        double[] metric = [1.0, 1.05, 1.1, 1.1, 1.2, 1.15, 1.1, 1.0, 1.3, 1.3, 1.3, 1.3];
        var opt = new SGD([Param()], lr: 0.1);
        var s = new ReduceLROnPlateau(opt, mode: "max", factor: 0.1, patience: 1, threshold: 0.06, thresholdMode: "abs");
        int k = 0;
        AssertSequence(Run(opt, () => s.Step(metric[k++]), metric.Length, null).Lrs, PlateauMaxAbs, "lr");
        Assert.Throws<ArgumentException>(() => new ReduceLROnPlateau(opt, factor: 1.0));
        Assert.Throws<ArgumentException>(() => new ReduceLROnPlateau(opt, mode: "up"));
        Assert.Throws<ArgumentException>(() => new ReduceLROnPlateau(opt, thresholdMode: "pct"));
    }
}
