using DeepSharp.Optim;

namespace DeepSharp.Tests.Optim;

/// <summary>
/// Each optimizer on p₀ = [1, −2] with the fixed gradient g = [0.5, −0.25] (Float64), three steps, against the
/// documented update rule worked out by hand below, and against the values PyTorch 1.13 prints for the same run.
/// </summary>
[TestFixture]
public class OptimizerTests
{
    private static readonly double[] P0 = [1.0, -2.0];
    private static readonly double[] G = [0.5, -0.25];

    private static List<double[]> Run(Func<Tensor, Optimizer> make, int steps = 3, DType dtype = DType.Float64)
    {
        var p = Tensor.FromArray(P0).To(dtype).RequiresGrad_();
        var opt = make(p);
        var result = new List<double[]>();
        for (int s = 0; s < steps; s++)
        {
            p.Grad = Tensor.FromArray(G).To(dtype);
            opt.Step();
            result.Add(p.Double().ToArray<double>());
        }
        return result;
    }

    private static void AssertSteps(List<double[]> actual, double[][] expected, double tol = 1e-12)
    {
        Assert.That(actual, Has.Count.EqualTo(expected.Length));
        for (int s = 0; s < expected.Length; s++)
            Assert.That(actual[s], Is.EqualTo(expected[s]).Within(tol), $"step {s + 1}");
    }

    [Test]
    public void SgdPlain()
    {
        // θ ← θ − γg with γ = 0.1: each step moves by −0.1·[0.5, −0.25] = [−0.05, +0.025].
        double[][] hand = [[1 - 0.05, -2 + 0.025], [1 - 0.10, -2 + 0.05], [1 - 0.15, -2 + 0.075]];
        AssertSteps(Run(p => new SGD([p], lr: 0.1)), hand);
    }

    [Test]
    public void SgdMomentumDampeningWeightDecay()
    {
        // γ = 0.1, μ = 0.9, τ = 0.1, λ = 0.01. Step 1: g' = g + λθ, b = g' (no dampening on the first step), θ −= γb.
        double lr = 0.1, mu = 0.9, tau = 0.1, wd = 0.01;
        var theta = (double[])P0.Clone();
        var b = new double[2];
        var hand = new double[3][];
        for (int t = 1; t <= 3; t++)
        {
            for (int i = 0; i < 2; i++)
            {
                double gi = G[i] + wd * theta[i];
                b[i] = t == 1 ? gi : mu * b[i] + (1 - tau) * gi;
                theta[i] -= lr * b[i];
            }
            hand[t - 1] = (double[])theta.Clone();
        }
        // Step 1 spelled out: g' = [0.5 + 0.01, −0.25 − 0.02] = [0.51, −0.27]; θ = [1 − 0.051, −2 + 0.027].
        Assert.That(hand[0], Is.EqualTo(new[] { 0.949, -1.973 }).Within(1e-15));
        AssertSteps(Run(p => new SGD([p], lr: lr, momentum: mu, dampening: tau, weightDecay: wd)), hand);
        // PyTorch 1.13
        AssertSteps(Run(p => new SGD([p], lr: lr, momentum: mu, dampening: tau, weightDecay: wd)),
            [[0.949, -1.973], [0.8572458999999999, -1.9244243], [0.7288956886899999, -1.85647418813]]);
    }

    [Test]
    public void SgdNesterov()
    {
        // b₁ = g, g' = g + μb₁ = 1.9g, θ₁ = θ₀ − 0.19g = [0.905, −1.9525]; b₂ = μb₁ + g = 1.9g, g' = g + 1.71g = 2.71g, θ₂ = θ₁ − 0.271g.
        // b₃ = 0.9·1.9g + g = 2.71g, g' = g + 0.9·2.71g = 3.439g, θ₃ = θ₂ − 0.3439g.
        double[][] hand =
        [
            [1 - 0.19 * 0.5, -2 + 0.19 * 0.25],
            [1 - (0.19 + 0.271) * 0.5, -2 + (0.19 + 0.271) * 0.25],
            [1 - (0.19 + 0.271 + 0.3439) * 0.5, -2 + (0.19 + 0.271 + 0.3439) * 0.25],
        ];
        AssertSteps(Run(p => new SGD([p], lr: 0.1, momentum: 0.9, nesterov: true)), hand);
        AssertSteps(Run(p => new SGD([p], lr: 0.1, momentum: 0.9, nesterov: true)), [[0.905, -1.9525], [0.7695000000000001, -1.88475], [0.59755, -1.798775]]);
    }

    [Test]
    public void SgdMaximizeNegatesTheGradientBeforeWeightDecay()
    {
        // g' = −g + λθ: step 1 g' = [−0.5 + 0.1, 0.25 − 0.2] = [−0.4, 0.05]; θ₁ = θ₀ − 0.1g' = [1.04, −2.005] (as PyTorch's implementation).
        AssertSteps(Run(p => new SGD([p], lr: 0.1, momentum: 0.9, weightDecay: 0.1, maximize: true)),
            [[1.04, -2.005], [1.1156000000000001, -2.01445], [1.2224840000000001, -2.0278105]]);
    }

    /// <summary>Adam by hand: m ← β1m + (1−β1)g, v ← β2v + (1−β2)g², θ ← θ − γ·(m/(1−β1ᵗ))/(√(v/(1−β2ᵗ)) + ε).</summary>
    private static double[][] AdamByHand(double lr, double b1, double b2, double eps, double wd, bool decoupled, bool amsgrad)
    {
        var theta = (double[])P0.Clone();
        double[] m = new double[2], v = new double[2], vmax = new double[2];
        var hand = new double[3][];
        for (int t = 1; t <= 3; t++)
        {
            for (int i = 0; i < 2; i++)
            {
                double g = G[i];
                if (decoupled) theta[i] *= 1 - lr * wd;
                else g += wd * theta[i];
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] = b2 * v[i] + (1 - b2) * g * g;
                vmax[i] = Math.Max(vmax[i], v[i]);
                double mHat = m[i] / (1 - Math.Pow(b1, t));
                double vHat = (amsgrad ? vmax[i] : v[i]) / (1 - Math.Pow(b2, t));
                theta[i] -= lr * mHat / (Math.Sqrt(vHat) + eps);
            }
            hand[t - 1] = (double[])theta.Clone();
        }
        return hand;
    }

    [Test]
    public void AdamPlain()
    {
        // With a constant gradient m̂ = g and v̂ = g², so each step moves by −γ·g/(|g| + ε) ≈ −0.1·sign(g).
        var hand = AdamByHand(0.1, 0.9, 0.999, 1e-8, 0, false, false);
        Assert.That(hand[0][0], Is.EqualTo(1 - 0.1 * 0.5 / (0.5 + 1e-8)).Within(1e-12));
        AssertSteps(Run(p => new Adam([p], lr: 0.1)), hand);
        AssertSteps(Run(p => new Adam([p], lr: 0.1)), [[0.900000002, -1.9000000039999998], [0.8000000040000006, -1.8000000080000003], [0.7000000060000007, -1.700000012]]);
    }

    [Test]
    public void AdamL2WeightDecayIsAddedToTheGradient()
    {
        var hand = AdamByHand(0.1, 0.9, 0.999, 1e-8, 0.1, false, false);
        AssertSteps(Run(p => new Adam([p], lr: 0.1, weightDecay: 0.1)), hand);
        AssertSteps(Run(p => new Adam([p], lr: 0.1, weightDecay: 0.1)), [[0.9000000016666666, -1.900000002222222], [0.8000473404883315, -1.800064887431148], [0.7001745748141189, -1.7002398410165762]]);
    }

    [Test]
    public void AdamAmsgrad()
    {
        var hand = AdamByHand(0.1, 0.5, 0.9, 1e-8, 0, false, true);
        AssertSteps(Run(p => new Adam([p], lr: 0.1, betas: (0.5, 0.9), amsgrad: true)), hand);
        AssertSteps(Run(p => new Adam([p], lr: 0.1, betas: (0.5, 0.9), amsgrad: true)), [[0.900000002, -1.9000000039999998], [0.8000000039999999, -1.8000000079999996], [0.7000000059999999, -1.7000000119999994]]);
    }

    [Test]
    public void AmsgradUsesTheMaximumWhenTheGradientShrinks()
    {
        // g = 1 then 0.1: v₂ < v₁, so AMSGrad divides by √(max(v₁, v₂)/(1−β2²)) while Adam uses v₂.
        double lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
        double m1 = (1 - b1) * 1, v1 = (1 - b2) * 1;
        double th1 = 0 - lr * (m1 / (1 - b1)) / (Math.Sqrt(v1 / (1 - b2)) + eps);
        double m2 = b1 * m1 + (1 - b1) * 0.1, v2 = b2 * v1 + (1 - b2) * 0.01;
        double vmax = Math.Max(v1, v2);
        double th2Ams = th1 - lr * (m2 / (1 - b1 * b1)) / (Math.Sqrt(vmax / (1 - b2 * b2)) + eps);
        var p = Tensor.Zeros([1], DType.Float64).RequiresGrad_();
        var opt = new Adam([p], lr: lr, amsgrad: true);
        p.Grad = Tensor.Full([1], 1.0, DType.Float64); opt.Step();
        p.Grad = Tensor.Full([1], 0.1, DType.Float64); opt.Step();
        Assert.That(p.Item(), Is.EqualTo(th2Ams).Within(1e-14));
        Assert.That(opt.State[p].Buffers["max_exp_avg_sq"].Item(), Is.EqualTo(vmax).Within(1e-18));
    }

    [Test]
    public void AdamWDecouplesWeightDecay()
    {
        // θ ← θ(1 − γλ) first: step 1 θ = [0.99, −1.98] then the Adam move −0.1·sign(g): [0.890000002, −1.880000004].
        var hand = AdamByHand(0.1, 0.9, 0.999, 1e-8, 0.1, true, false);
        Assert.That(hand[0][0], Is.EqualTo(0.99 - 0.1 * 0.5 / (0.5 + 1e-8)).Within(1e-12));
        AssertSteps(Run(p => new AdamW([p], lr: 0.1, weightDecay: 0.1)), hand);
        AssertSteps(Run(p => new AdamW([p], lr: 0.1, weightDecay: 0.1)), [[0.890000002, -1.8800000039999998], [0.7811000039800006, -1.7612000079600003], [0.6732890059402006, -1.6435880118804]]);
    }

    [Test]
    public void AdamWDefaultWeightDecayIsOneHundredth()
    {
        var p = Tensor.Zeros([1]).RequiresGrad_();
        Assert.That(new AdamW([p]).ParamGroups[0].WeightDecay, Is.EqualTo(0.01));
        Assert.That(new Adam([p]).ParamGroups[0].WeightDecay, Is.EqualTo(0.0));
    }

    private static double[][] RmsByHand(double lr, double alpha, double eps, double wd, double mu, bool centered)
    {
        var theta = (double[])P0.Clone();
        double[] v = new double[2], gAvg = new double[2], b = new double[2];
        var hand = new double[3][];
        for (int t = 1; t <= 3; t++)
        {
            for (int i = 0; i < 2; i++)
            {
                double g = G[i] + wd * theta[i];
                v[i] = alpha * v[i] + (1 - alpha) * g * g;
                double vt = v[i];
                if (centered)
                {
                    gAvg[i] = alpha * gAvg[i] + (1 - alpha) * g;
                    vt -= gAvg[i] * gAvg[i];
                }
                if (mu > 0)
                {
                    b[i] = mu * b[i] + g / (Math.Sqrt(vt) + eps);
                    theta[i] -= lr * b[i];
                }
                else theta[i] -= lr * g / (Math.Sqrt(vt) + eps);
            }
            hand[t - 1] = (double[])theta.Clone();
        }
        return hand;
    }

    [Test]
    public void RmsPropPlain()
    {
        // Step 1: v = 0.01g², θ = θ − 0.1·g/(0.1|g| + ε) ≈ θ − sign(g): [≈0, ≈−1].
        var hand = RmsByHand(0.01 * 10, 0.99, 1e-8, 0, 0, false);
        Assert.That(hand[0][0], Is.EqualTo(1 - 0.1 * 0.5 / (Math.Sqrt(0.01 * 0.25) + 1e-8)).Within(1e-12));
        AssertSteps(Run(p => new RMSprop([p], lr: 0.1)), hand, 1e-11);
        AssertSteps(Run(p => new RMSprop([p], lr: 0.1)), [[1.9999996048181146e-07, -1.0000003999998404], [-0.7088809045058768, -0.29111939599647296], [-1.2891299219328585, 0.289129554092732]], 1e-11);
    }

    [Test]
    public void RmsPropCenteredMomentumWeightDecay()
    {
        var hand = RmsByHand(0.1, 0.99, 1e-8, 0.1, 0.5, true);
        AssertSteps(Run(p => new RMSprop([p], lr: 0.1, centered: true, momentum: 0.5, weightDecay: 0.1)), hand, 1e-9);
        AssertSteps(Run(p => new RMSprop([p], lr: 0.1, centered: true, momentum: 0.5, weightDecay: 0.1)),
            [[-0.005037646909071525, -0.9949624092076295], [-1.1556850715383908, 0.12898488478146578], [-2.1821571274435367, 1.0833446393204738]], 1e-9);
    }

    [Test]
    public void RmsPropMomentumOnlyAndCenteredOnly()
    {
        AssertSteps(Run(p => new RMSprop([p], lr: 0.01, momentum: 0.9)), RmsByHand(0.01, 0.99, 1e-8, 0, 0.9, false), 1e-11);
        AssertSteps(Run(p => new RMSprop([p], lr: 0.01, alpha: 0.9, centered: true)), RmsByHand(0.01, 0.9, 1e-8, 0, 0, true), 1e-11);
    }

    /// <summary>Long parameters exercise the SIMD body and the scalar tail; both must agree with the scalar rule.</summary>
    [TestCase(DType.Float64)]
    [TestCase(DType.Float32)]
    public void VectorisedLoopsMatchTheScalarRuleOnLongParameters(DType dtype)
    {
        const int n = 37;
        var gen = new Generator(7);
        var p0 = Tensor.Randn([n], DType.Float64, gen).ToArray<double>();
        var g0 = Tensor.Randn([n], DType.Float64, gen).ToArray<double>();
        Func<Tensor, Optimizer>[] makers =
        [
            p => new SGD([p], lr: 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: true),
            p => new Adam([p], lr: 0.01, weightDecay: 0.1, amsgrad: true),
            p => new AdamW([p], lr: 0.01),
            p => new RMSprop([p], lr: 0.01, centered: true, momentum: 0.5, weightDecay: 0.1),
        ];
        foreach (var make in makers)
        {
            // Reference: the same optimizer on each element as its own 1-element parameter (pure scalar path).
            var singles = Enumerable.Range(0, n).Select(i => Tensor.Full([1], p0[i], dtype).RequiresGrad_()).ToArray();
            var refOpt = singles.Select(s => make(s)).ToArray();
            var p = Tensor.FromArray(p0).To(dtype).RequiresGrad_();
            var opt = make(p);
            for (int step = 0; step < 4; step++)
            {
                p.Grad = Tensor.FromArray(g0).To(dtype) * (step + 1.0);
                opt.Step();
                for (int i = 0; i < n; i++) { singles[i].Grad = Tensor.Full([1], g0[i], dtype) * (step + 1.0); refOpt[i].Step(); }
            }
            var expected = singles.Select(s => s.Double().Item()).ToArray();
            Assert.That(p.Double().ToArray<double>(), Is.EqualTo(expected).Within(dtype == DType.Float32 ? 1e-6 : 1e-14), opt.GetType().Name);
        }
    }

    [Test]
    public void Float32MatchesFloat64WithinSinglePrecision()
    {
        var f64 = Run(p => new Adam([p], lr: 0.1, weightDecay: 0.1));
        var f32 = Run(p => new Adam([p], lr: 0.1, weightDecay: 0.1), dtype: DType.Float32);
        for (int s = 0; s < 3; s++) Assert.That(f32[s], Is.EqualTo(f64[s]).Within(1e-6));
    }

    [Test]
    public void NonContiguousParameterFallsBackCorrectly()
    {
        var baseData = Tensor.FromArray(new double[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        var p = baseData.T; // [3, 2] view, not contiguous, a leaf (no grad history)
        Assert.That(p.IsContiguous, Is.False);
        p.RequiresGrad_();
        var opt = new SGD([p], lr: 0.5);
        p.Grad = Tensor.Ones([3, 2], DType.Float64).T.Contiguous().T.Contiguous(); // contiguous [3,2] ones
        int v = p.Version;
        opt.Step();
        Assert.That(p.Contiguous().ToArray<double>(), Is.EqualTo(new[] { 0.5, 3.5, 1.5, 4.5, 2.5, 5.5 }));
        Assert.That(baseData.ToArray<double>(), Is.EqualTo(new[] { 0.5, 1.5, 2.5, 3.5, 4.5, 5.5 }), "the update writes through the view");
        Assert.That(p.Version, Is.GreaterThan(v));
    }

    [Test]
    public void NonContiguousGradientIsHandled()
    {
        var p = Tensor.Zeros([2, 3], DType.Float64).RequiresGrad_();
        var opt = new SGD([p], lr: 1);
        p.Grad = Tensor.FromArray(new double[,] { { 1, 4 }, { 2, 5 }, { 3, 6 } }).T;
        opt.Step();
        Assert.That(p.ToArray<double>(), Is.EqualTo(new[] { -1.0, -2, -3, -4, -5, -6 }));
    }

    [Test]
    public void ParamGroupsUseTheirOwnLearningRates()
    {
        var a = Tensor.Ones([2], DType.Float64).RequiresGrad_();
        var b = Tensor.Ones([2], DType.Float64).RequiresGrad_();
        var opt = new SGD([new ParamGroup([a]), new ParamGroup([b]) { Lr = 0.5 }], lr: 0.1, momentum: 0.9);
        Assert.That(opt.ParamGroups[1]["momentum"], Is.EqualTo(0.9), "missing keys take the defaults");
        a.Grad = Tensor.Ones([2], DType.Float64);
        b.Grad = Tensor.Ones([2], DType.Float64);
        opt.Step();
        Assert.That(a.ToArray<double>(), Is.EqualTo(new[] { 0.9, 0.9 }).Within(1e-15));
        Assert.That(b.ToArray<double>(), Is.EqualTo(new[] { 0.5, 0.5 }).Within(1e-15));
        opt.ParamGroups[0].Lr = 0.0;
        opt.Step();
        Assert.That(a.ToArray<double>(), Is.EqualTo(new[] { 0.9, 0.9 }).Within(1e-15));
    }

    [Test]
    public void AddParamGroupAndValidation()
    {
        var a = Tensor.Ones([2]).RequiresGrad_();
        var b = Tensor.Ones([2]).RequiresGrad_();
        var opt = new Adam([a], lr: 0.01);
        opt.AddParamGroup(new ParamGroup([b], new Dictionary<string, double> { ["lr"] = 0.1 }));
        Assert.That(opt.ParamGroups[1].Lr, Is.EqualTo(0.1));
        Assert.That(opt.ParamGroups[1]["beta2"], Is.EqualTo(0.999));
        Assert.Throws<ArgumentException>(() => opt.AddParamGroup(new ParamGroup([a])));
        Assert.Throws<ArgumentException>(() => new SGD([Tensor.Ones([1]).RequiresGrad_()], lr: -1));
        Assert.Throws<ArgumentException>(() => new SGD([Tensor.Ones([1]).RequiresGrad_()], nesterov: true));
        Assert.Throws<ArgumentException>(() => new Adam([Tensor.Ones([1]).RequiresGrad_()], betas: (1.0, 0.9)));
        Assert.Throws<ArgumentException>(() => new SGD([Tensor.Zeros([1], DType.Int64)]));
        Assert.Throws<ArgumentException>(() => new SGD(Array.Empty<Tensor>()));
        Assert.Throws<KeyNotFoundException>(() => _ = opt.ParamGroups[0]["nope"]);
    }

    [Test]
    public void ZeroGradSetsNoneOrZeroes()
    {
        var p = Tensor.Ones([2]).RequiresGrad_();
        var opt = new SGD([p], lr: 0.1);
        (p * p).Sum().Backward();
        Assert.That(p.Grad, Is.Not.Null);
        opt.ZeroGrad(setToNone: false);
        Assert.That(p.Grad!.ToArray<float>(), Is.EqualTo(new[] { 0f, 0f }));
        opt.ZeroGrad();
        Assert.That(p.Grad, Is.Null);
        Assert.DoesNotThrow(opt.Step, "parameters without gradients are skipped");
    }

    [Test]
    public void StepWithClosureReturnsTheLoss()
    {
        var p = Tensor.FromArray(new[] { 3.0 }).RequiresGrad_();
        var opt = new SGD([p], lr: 0.25);
        var loss = opt.Step(() => { opt.ZeroGrad(); var l = (p * p).Sum(); l.Backward(); return l; });
        Assert.That(loss.Item(), Is.EqualTo(9.0));
        Assert.That(p.Item(), Is.EqualTo(3.0 - 0.25 * 6));
    }

    [Test]
    public void TrainingALeastSquaresProblemConverges()
    {
        var gen = new Generator(1);
        var x = Tensor.Randn([64, 3], DType.Float32, gen);
        var wTrue = Tensor.FromArray(new float[,] { { 1 }, { -2 }, { 0.5f } });
        var y = x.MatMul(wTrue);
        foreach (var make in new Func<Tensor, Optimizer>[] { w => new SGD([w], lr: 0.1, momentum: 0.9), w => new Adam([w], lr: 0.05), w => new AdamW([w], lr: 0.05, weightDecay: 0), w => new RMSprop([w], lr: 0.01) })
        {
            var w = Tensor.Zeros([3, 1]).RequiresGrad_();
            var opt = make(w);
            for (int i = 0; i < 300; i++)
            {
                opt.ZeroGrad();
                var loss = (x.MatMul(w) - y).Square().Mean();
                loss.Backward();
                opt.Step();
            }
            Assert.That(w.ToArray<float>(), Is.EqualTo(new[] { 1f, -2f, 0.5f }).Within(0.02), opt.GetType().Name);
        }
    }

    [Test]
    public void StepDoesNotAllocateInSteadyState()
    {
        var p = Tensor.Randn([1000], DType.Float32, new Generator(3)).RequiresGrad_();
        p.Grad = Tensor.Randn([1000], DType.Float32, new Generator(4));
        foreach (var opt in new Optimizer[] { new Adam([p], amsgrad: true), new SGD([p], momentum: 0.9, nesterov: true), new RMSprop([p], centered: true, momentum: 0.1), new AdamW([p]) })
        {
            for (int i = 0; i < 3; i++) opt.Step(); // warm up: state and JIT
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 100; i++) opt.Step();
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.That(allocated, Is.LessThan(1024), $"{opt.GetType().Name} allocated {allocated} bytes in 100 steps");
        }
    }

    [Test]
    public void StateDictRoundTripContinuesIdentically([Values("SGD", "Adam", "AdamW", "RMSprop")] string kind)
    {
        Optimizer Make(Tensor[] ps) => kind switch
        {
            "SGD" => new SGD([new ParamGroup([ps[0]]), new ParamGroup([ps[1]]) { Lr = 0.05 }], lr: 0.1, momentum: 0.9, nesterov: true),
            "Adam" => new Adam([new ParamGroup([ps[0]]), new ParamGroup([ps[1]]) { Lr = 0.05 }], lr: 0.1, amsgrad: true),
            "AdamW" => new AdamW([new ParamGroup([ps[0]]), new ParamGroup([ps[1]]) { Lr = 0.05 }], lr: 0.1),
            _ => new RMSprop([new ParamGroup([ps[0]]), new ParamGroup([ps[1]]) { Lr = 0.05 }], lr: 0.1, centered: true, momentum: 0.3),
        };
        Tensor[] Params() => [Tensor.FromArray(new float[] { 1, 2, 3 }).RequiresGrad_(), Tensor.FromArray(new float[,] { { -1, 0.5f } }).RequiresGrad_()];
        void Grads(Tensor[] ps, int step)
        {
            ps[0].Grad = Tensor.FromArray(new float[] { 0.1f, -0.2f, 0.3f }) * (1 + step);
            ps[1].Grad = Tensor.FromArray(new float[,] { { 0.5f, (float)Math.Sin(step) } });
        }

        var a = Params();
        var optA = Make(a);
        for (int s = 0; s < 3; s++) { Grads(a, s); optA.Step(); }
        var sd = optA.StateDict();
        // Through the checkpoint form (JSON + tensors), as Checkpoint stores it.
        var restored = OptimizerStateDict.FromParts(sd.ToJson(), sd.ToTensors());
        var b = Params();
        for (int i = 0; i < 2; i++) using (Autograd.NoGrad()) b[i].Copy_(a[i]);
        var optB = Make(b);
        optB.ParamGroups[0].Lr = 123; // overwritten by the load
        optB.LoadStateDict(restored);
        Assert.That(optB.ParamGroups[0].Lr, Is.EqualTo(0.1));
        for (int s = 3; s < 6; s++)
        {
            Grads(a, s); optA.Step();
            Grads(b, s); optB.Step();
        }
        for (int i = 0; i < 2; i++) Assert.That(b[i].ToArray<float>(), Is.EqualTo(a[i].ToArray<float>()), $"param {i}");
        Assert.That(optB.State[b[0]].Step, Is.EqualTo(6));
    }

    [Test]
    public void LoadStateDictRejectsMismatchesWithoutChangingState()
    {
        var p = Tensor.Ones([2]).RequiresGrad_();
        var opt = new Adam([p], lr: 0.1);
        p.Grad = Tensor.Ones([2]);
        opt.Step();
        var sd = opt.StateDict();
        var other = new Adam([Tensor.Ones([3]).RequiresGrad_()], lr: 0.2);
        var ex = Assert.Throws<ArgumentException>(() => other.LoadStateDict(sd));
        Assert.That(ex!.Message, Does.Contain("shape"));
        Assert.That(other.State, Is.Empty);
        Assert.That(other.ParamGroups[0].Lr, Is.EqualTo(0.2));
        var two = new Adam([new ParamGroup([Tensor.Ones([2]).RequiresGrad_()]), new ParamGroup([Tensor.Ones([2]).RequiresGrad_()])]);
        Assert.Throws<ArgumentException>(() => two.LoadStateDict(sd));
    }
}

/// <summary>Adam's update of a large parameter is split over the kernel threads: every split gives the same bits.</summary>
[TestFixture, Category("Kernels")]
public class AdamParallelUpdateTests
{
    [TestCase(false), TestCase(true)]
    public void LargeParameterUpdatesAreIdenticalForAnyThreadCount(bool amsgrad)
    {
        const int n = 200_003;   // above the parallel threshold, not a multiple of the vector width
        var rng = new Random(7);
        float[] Rand() { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() - 0.5); return a; }
        float[] p0 = Rand(), g = Rand(), m0 = Rand(), v0 = Rand().Select(Math.Abs).ToArray();
        float[] Run(int threads)
        {
            int saved = DeepSharp.Kernels.KernelSettings.NumThreads;
            try
            {
                DeepSharp.Kernels.KernelSettings.NumThreads = threads;
                float[] p = (float[])p0.Clone(), m = (float[])m0.Clone(), v = (float[])v0.Clone(), vmax = (float[])v0.Clone();
                for (int step = 0; step < 3; step++)
                    DeepSharp.Kernels.OptimizerKernels.Adam<float>(p, g, m, v, amsgrad ? vmax : default, amsgrad, l2: 0.01f, decay: 1f,
                        oneMinusBeta1: 0.1f, beta2: 0.999f, oneMinusBeta2: 0.001f, negStepSize: -1e-3f, bc2Sqrt: 0.05f, eps: 1e-8f,
                        maximize: false);
                return p.Concat(m).Concat(v).Concat(amsgrad ? vmax : []).ToArray();
            }
            finally { DeepSharp.Kernels.KernelSettings.NumThreads = saved; }
        }
        float[] one = Run(1);
        Assert.That(Run(2), Is.EqualTo(one));
        Assert.That(Run(3), Is.EqualTo(one));
        // And the update did happen: p moved against g.
        Assert.That(one[0], Is.Not.EqualTo(p0[0]));
    }
}
