using DeepSharp.NN;
using DeepSharp.Optim;
using FsCheck;
using FsCheck.Fluent;
using static DeepSharp.Tests.NN.NNTestUtil;

namespace DeepSharp.Tests.NN;

/// <summary>
/// Float64 gradient checks (FsCheck shapes) of the recurrent, transposed-convolution, Conv1d, normalisation,
/// activation, resampling and loss modules with respect to inputs and parameters; their bad-input messages; weight
/// tying. Values against PyTorch are in <see cref="ModulesPyTorchAgreementTests"/>.
/// </summary>
[TestFixture]
public class NewModuleTests
{
    private static Tensor[] WithParams(Tensor x, Module m) => [x, .. m.Parameters()];

    private static Func<Tensor[], Tensor> WithGrad(Func<Tensor[], Tensor> f) => xs =>
    {
        using (Autograd.EnableGrad()) return f(xs);
    };

    // ---------------------------------------------------------------- recurrent

    [Test]
    public void LstmGradCheckForRandomConfigurations()
    {
        var configs = from layers in Gen.Choose(1, 2)
                      from bidirectional in Gen.Elements(true, false)
                      from batchFirst in Gen.Elements(true, false)
                      from bias in Gen.Elements(true, false)
                      from withState in Gen.Elements(true, false)
                      from steps in Gen.Choose(1, 3)
                      from batch in Gen.Choose(1, 2)
                      from inSize in Gen.Choose(1, 3)
                      from hidden in Gen.Choose(1, 3)
                      from seed in Gen.Choose(0, 1000)
                      select (layers, bidirectional, batchFirst, bias, withState, steps, batch, inSize, hidden, seed);
        Prop.ForAll(configs.ToArbitrary(), s =>
        {
            var lstm = new LSTM(s.inSize, s.hidden, s.layers, s.bias, s.batchFirst, bidirectional: s.bidirectional, dtype: DType.Float64, generator: new Generator(s.seed));
            int d = s.bidirectional ? 2 : 1;
            var x = s.batchFirst ? RandnD(s.seed + 1, s.batch, s.steps, s.inSize) : RandnD(s.seed + 1, s.steps, s.batch, s.inSize);
            var h0 = RandnD(s.seed + 2, s.layers * d, s.batch, s.hidden);
            var c0 = RandnD(s.seed + 3, s.layers * d, s.batch, s.hidden);
            Tensor[] inputs = s.withState ? [x, h0, c0, .. lstm.Parameters()] : WithParams(x, lstm);
            Check(xs =>
            {
                var (o, (h, c)) = lstm.Forward(xs[0], s.withState ? (xs[1], xs[2]) : null);
                Assert.That(o.Shape, Is.EqualTo(s.batchFirst ? new[] { s.batch, s.steps, d * s.hidden } : new[] { s.steps, s.batch, d * s.hidden }));
                Assert.That(h.Shape, Is.EqualTo(new[] { s.layers * d, s.batch, s.hidden }));
                return o.Sum() + (h * 1.5).Sum() + c.Square().Sum();
            }, inputs);
        }).Check(Few);
    }

    [Test]
    public void GruGradCheckForRandomConfigurations()
    {
        var configs = from layers in Gen.Choose(1, 2)
                      from bidirectional in Gen.Elements(true, false)
                      from bias in Gen.Elements(true, false)
                      from steps in Gen.Choose(1, 3)
                      from batch in Gen.Choose(1, 2)
                      from inSize in Gen.Choose(1, 3)
                      from hidden in Gen.Choose(1, 3)
                      from seed in Gen.Choose(0, 1000)
                      select (layers, bidirectional, bias, steps, batch, inSize, hidden, seed);
        Prop.ForAll(configs.ToArbitrary(), s =>
        {
            var gru = new GRU(s.inSize, s.hidden, s.layers, s.bias, bidirectional: s.bidirectional, dtype: DType.Float64, generator: new Generator(s.seed));
            int d = s.bidirectional ? 2 : 1;
            var x = RandnD(s.seed + 1, s.steps, s.batch, s.inSize);
            var h0 = RandnD(s.seed + 2, s.layers * d, s.batch, s.hidden);
            Check(xs =>
            {
                var (o, h) = gru.Forward(xs[0], xs[1]);
                return o.Square().Sum() + h.Sum();
            }, [x, h0, .. gru.Parameters()]);
        }).Check(Few);
    }

    [Test]
    public void CellsGradCheckAndSecondDerivative()
    {
        var lstm = new LSTMCell(3, 2, dtype: DType.Float64, generator: new Generator(1));
        var gru = new GRUCell(3, 2, dtype: DType.Float64, generator: new Generator(2));
        var x = RandnD(3, 2, 3);
        var h = RandnD(4, 2, 2);
        var c = RandnD(5, 2, 2);
        Check(xs => { var (h1, c1) = lstm.Forward(xs[0], (xs[1], xs[2])); return h1.Sum() + c1.Square().Sum(); }, [x, h, c, .. lstm.Parameters()]);
        Check(xs => gru.Forward(xs[0], xs[1]), [x, h, .. gru.Parameters()]);
        Assert.That(GradCheck.GradGradCheck(WithGrad(xs => lstm.Forward(xs[0], (xs[1], xs[2])).H), [x, h, c]).Passed, Is.True);
        Assert.That(GradCheck.GradGradCheck(WithGrad(xs => gru.Forward(xs[0], xs[1])), [x, h]).Passed, Is.True);
        // Unbatched input gives unbatched states, the same numbers as a batch of one.
        var (hu, cu) = lstm.Forward(x[0], (h[0], c[0]));
        var (hb, cb) = lstm.Forward(x.Narrow(0, 0, 1), (h.Narrow(0, 0, 1), c.Narrow(0, 0, 1)));
        Assert.That(Values(hu), Is.EqualTo(Values(hb)).Within(1e-15));
        Assert.That(Values(cu), Is.EqualTo(Values(cb)).Within(1e-15));
    }

    [Test]
    public void LstmUnbatchedEqualsBatchOfOneAndStepsEqualCells()
    {
        var lstm = new LSTM(2, 3, dtype: DType.Float64, generator: new Generator(7));
        var x = RandnD(8, 4, 2);
        var (o, (h, c)) = lstm.Forward(x);
        Assert.That(o.Shape, Is.EqualTo(new[] { 4, 3 }));
        Assert.That(h.Shape, Is.EqualTo(new[] { 1, 3 }));
        var (ob, _) = lstm.Forward(x.Unsqueeze(1));
        Assert.That(Values(o), Is.EqualTo(Values(ob)).Within(1e-15));
        // The same parameters in an LSTMCell, stepped by hand, give the same sequence.
        var cell = new LSTMCell(2, 3, dtype: DType.Float64);
        cell.LoadStateDict(new Dictionary<string, Tensor>
        {
            ["weight_ih"] = lstm.Parameter("weight_ih_l0")!, ["weight_hh"] = lstm.Parameter("weight_hh_l0")!,
            ["bias_ih"] = lstm.Parameter("bias_ih_l0")!, ["bias_hh"] = lstm.Parameter("bias_hh_l0")!,
        });
        (Tensor H, Tensor C)? state = null;
        for (int t = 0; t < 4; t++)
        {
            state = cell.Forward(x[t], state);
            Assert.That(Values(state.Value.H), Is.EqualTo(Values(o[t])).Within(1e-14));
        }
        Assert.That(Values(state!.Value.C), Is.EqualTo(Values(c[0])).Within(1e-14));
    }

    [Test]
    public void RecurrentFloat32MatchesFloat64()
    {
        var lstm = new LSTM(4, 5, numLayers: 2, bidirectional: true, generator: new Generator(1));
        var gru = new GRU(4, 5, batchFirst: true, generator: new Generator(2));
        var x = Tensor.Randn([6, 3, 4], DType.Float32, new Generator(3));
        var (o32, (h32, c32)) = lstm.Forward(x);
        var (g32, gh32) = gru.Forward(x);
        lstm.To(DType.Float64);
        gru.To(DType.Float64);
        var (o64, (h64, c64)) = lstm.Forward(x.Double());
        var (g64, gh64) = gru.Forward(x.Double());
        Assert.That(o32.DType, Is.EqualTo(DType.Float32));
        foreach (var (a, b) in new[] { (o32, o64), (h32, h64), (c32, c64), (g32, g64), (gh32, gh64) })
            Assert.That(Values(a), Is.EqualTo(Values(b)).Within(1e-5));
    }

    [Test]
    public void RecurrentParameterNamesAreTorchs()
    {
        var lstm = new LSTM(3, 4, numLayers: 2, bidirectional: true);
        Assert.That(lstm.StateDict().Keys, Is.EqualTo(new[]
        {
            "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
            "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
            "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1",
            "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse",
        }));
        Assert.That(lstm.Parameter("weight_ih_l1")!.Shape, Is.EqualTo(new[] { 16, 8 }));
        Assert.That(new GRU(3, 4).Parameter("weight_hh_l0")!.Shape, Is.EqualTo(new[] { 12, 4 }));
        Assert.That(new GRUCell(3, 4, bias: false).StateDict().Keys, Is.EqualTo(new[] { "weight_ih", "weight_hh" }));
        Assert.That(lstm.ToString(), Is.EqualTo("LSTM(3, 4, num_layers=2, bidirectional=True)"));
        // Initialisation U(−1/√H, 1/√H).
        Assert.That(lstm.Parameters().SelectMany(p => p.ToArray<float>()).Max(v => Math.Abs(v)), Is.LessThanOrEqualTo(0.5f));
    }

    [Test]
    public void RecurrentDropoutOnlyBetweenLayersInTraining()
    {
        var gru = new GRU(2, 3, numLayers: 2, dropout: 0.5, dtype: DType.Float64, generator: new Generator(1), dropoutGenerator: new Generator(2));
        var x = RandnD(3, 4, 2, 2);
        var train1 = gru.Forward(x).Output;
        gru.Eval();
        var eval1 = gru.Forward(x).Output;
        var eval2 = gru.Forward(x).Output;
        Assert.That(Values(eval1), Is.EqualTo(Values(eval2)));
        Assert.That(Values(train1), Is.Not.EqualTo(Values(eval1)));
        // One layer: dropout has no layer to act between, so training equals evaluation.
        var single = new GRU(2, 3, dropout: 0.5, dtype: DType.Float64, generator: new Generator(1));
        var t = single.Forward(x).Output;
        single.Eval();
        Assert.That(Values(t), Is.EqualTo(Values(single.Forward(x).Output)));
    }

    [Test]
    public void RecurrentBadInputNamesModuleAndShapes()
    {
        var lstm = new LSTM(3, 4, numLayers: 2);
        var ex = Assert.Throws<ArgumentException>(() => lstm.Forward(Tensor.Zeros(5, 2, 7)));
        Assert.That(ex!.Message, Does.Contain("LSTM").And.Contain("[5, 2, 7]").And.Contain("3]"));
        ex = Assert.Throws<ArgumentException>(() => lstm.Forward(Tensor.Zeros(5, 2, 3), (Tensor.Zeros(1, 2, 4), Tensor.Zeros(2, 2, 4))));
        Assert.That(ex!.Message, Does.Contain("h_0").And.Contain("[2, 2, 4]").And.Contain("[1, 2, 4]"));
        ex = Assert.Throws<ArgumentException>(() => new GRU(3, 4).Forward(Tensor.Zeros([5, 2, 3], DType.Float64)));
        Assert.That(ex!.Message, Does.Contain("GRU").And.Contain("Float64"));
        ex = Assert.Throws<ArgumentException>(() => new GRUCell(3, 4).Forward(Tensor.Zeros(2, 3), Tensor.Zeros(3, 4)));
        Assert.That(ex!.Message, Does.Contain("GRUCell").And.Contain("[3, 4]").And.Contain("[2, 4]"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LSTM(3, 4, dropout: 1.5));
    }

    // ---------------------------------------------------------------- convolutions

    [Test]
    public void ConvTranspose2dModuleGradCheck()
    {
        var configs = from groups in Gen.Choose(1, 2)
                      from stride in Gen.Choose(1, 2)
                      from k in Gen.Choose(1, 3)
                      from padding in Gen.Choose(0, k > 1 ? 1 : 0)
                      from bias in Gen.Elements(true, false)
                      from seed in Gen.Choose(0, 1000)
                      select (groups, stride, padding, k, bias, seed);
        Prop.ForAll(configs.ToArbitrary(), s =>
        {
            var m = new ConvTranspose2d(2 * s.groups, 2 * s.groups, s.k, s.stride, s.padding, outputPadding: s.stride - 1, groups: s.groups, bias: s.bias,
                dtype: DType.Float64, generator: new Generator(s.seed));
            var x = RandnD(s.seed + 1, 2, 2 * s.groups, 3, 2);
            Check(xs => m.Forward(xs[0]), WithParams(x, m));
        }).Check(Few);
    }

    [Test]
    public void ConvTranspose2dIsTheAdjointOfConv2d()
    {
        // <conv(x, w), y> = <x, convT(y, w)> for every geometry: the defining property of the transposed convolution.
        // Inputs of 7 and 8 rows give the same 4 output rows at stride 2; the transpose of the first has
        // (4−1)·2 − 2·1 + 1·(3−1) + 1 = 7 rows, and output padding 1 gives the 8 of the second.
        var w = RandnD(2, 6, 2, 3, 2);
        foreach (var (rows, outputPadding) in new[] { (7, 0), (8, 1) })
        {
            var x = RandnD(rows, 2, 4, rows, 6);
            var y = x.Conv2d(w, null, (2, 1), (1, 1), (1, 2), groups: 2);
            Assert.That(y.Shape[2], Is.EqualTo(4));
            var r = RandnD(3, y.Shape);
            var back = r.ConvTranspose2d(w, null, (2, 1), (1, 1), (outputPadding, 0), 2, (1, 2));
            Assert.That(back.Shape, Is.EqualTo(x.Shape));
            Assert.That((x * back).Sum().Item<double>(), Is.EqualTo((y * r).Sum().Item<double>()).Within(1e-10));
        }
    }

    [Test]
    public void ConvTranspose2dFloat32MatchesFloat64()
    {
        var m = new ConvTranspose2d(3, 4, 3, stride: 2, padding: 1, outputPadding: 1, generator: new Generator(3));
        var x = Tensor.Randn([2, 3, 5, 4], DType.Float32, new Generator(4));
        var y32 = m.Forward(x);
        Assert.That(y32.Shape, Is.EqualTo(new[] { 2, 4, 10, 8 }));
        m.To(DType.Float64);
        var y64 = m.Forward(x.Double());
        Assert.That(Values(y32), Is.EqualTo(Values(y64)).Within(1e-5));
    }

    [Test]
    public void ConvBadInputNamesOpAndShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => new ConvTranspose2d(3, 4, 3).Forward(Tensor.Zeros(2, 5, 4, 4)));
        Assert.That(ex!.Message, Does.Contain("ConvTranspose2d").And.Contain("[2, 5, 4, 4]"));
        ex = Assert.Throws<ArgumentException>(() => Tensor.Zeros(1, 2, 3, 3).ConvTranspose2d(Tensor.Zeros(2, 1, 2, 2), null, 1, 0, outputPadding: 1));
        Assert.That(ex!.Message, Does.Contain("output padding"));
        ex = Assert.Throws<ArgumentException>(() => new Conv1d(3, 4, 3).Forward(Tensor.Zeros(2, 4, 9)));
        Assert.That(ex!.Message, Does.Contain("Conv1d").And.Contain("[2, 4, 9]"));
        ex = Assert.Throws<ArgumentException>(() => F.Conv1d(Tensor.Zeros(2, 4, 2), Tensor.Zeros(3, 4, 5)));
        Assert.That(ex!.Message, Does.Contain("Conv"));
    }

    [Test]
    public void Conv1dModuleGradCheckAndSame()
    {
        var m = new Conv1d(2, 3, 3, stride: 2, padding: 1, dtype: DType.Float64, generator: new Generator(1));
        Check(xs => m.Forward(xs[0]), WithParams(RandnD(2, 2, 2, 7), m));
        var same = new Conv1d(2, 2, 4, "same", dilation: 2, dtype: DType.Float64, generator: new Generator(3));
        Assert.That(same.Forward(RandnD(4, 2, 9)).Shape, Is.EqualTo(new[] { 2, 9 }));
        Assert.That(new Conv1d(4, 6, 3, stride: 2, groups: 2).ToString(), Is.EqualTo("Conv1d(4, 6, kernel_size=(3,), stride=(2,), groups=2)"));
    }

    // ---------------------------------------------------------------- normalisation, activations, resampling, losses

    [Test]
    public void NormalisationModulesGradCheck()
    {
        var shapes = from n in Gen.Choose(1, 2)
                     from groups in Gen.Choose(1, 2)
                     from per in Gen.Choose(1, 3)
                     from len in Gen.Choose(2, 3)
                     from seed in Gen.Choose(0, 1000)
                     select (n, groups, per, len, seed);
        Prop.ForAll(shapes.ToArbitrary(), s =>
        {
            var gn = InDouble(new GroupNorm(s.groups, s.groups * s.per));
            var rms = InDouble(new RMSNorm(s.len));
            using (Autograd.NoGrad())
            {
                Init.Normal(gn.Weight!, 1, 0.3, new Generator(s.seed));
                Init.Normal(gn.Bias!, 0, 0.3, new Generator(s.seed + 1));
                Init.Normal(rms.Weight!, 1, 0.3, new Generator(s.seed + 2));
            }
            var x = RandnD(s.seed + 3, s.n, s.groups * s.per, s.len);
            Check(xs => gn.Forward(xs[0]), WithParams(x, gn));
            Check(xs => rms.Forward(xs[0]), WithParams(x, rms));
        }).Check(Few);
    }

    [Test]
    public void RmsNormDefaultEpsIsMachineEpsilonAndValuesByHand()
    {
        var x = Tensor.FromArray(new double[] { 3, 4, 0, 0 }, 2, 2);
        var y = new RMSNorm(2, dtype: DType.Float64).Forward(x);
        // Row 1: rms = √((9 + 16)/2); row 2: all zeros stays zero (eps keeps it finite).
        double rms = Math.Sqrt(12.5 + 2.220446049250313e-16);
        Assert.That(Values(y), Is.EqualTo(new[] { 3 / rms, 4 / rms, 0, 0 }).Within(1e-15));
        Assert.That(new RMSNorm(2).ToString(), Is.EqualTo("RMSNorm((2,), eps=None, elementwise_affine=True)"));
        var ex = Assert.Throws<ArgumentException>(() => new RMSNorm(3).Forward(Tensor.Zeros(2, 4)));
        Assert.That(ex!.Message, Does.Contain("RmsNorm").And.Contain("[2, 4]"));
        ex = Assert.Throws<ArgumentException>(() => new GroupNorm(2, 4).Forward(Tensor.Zeros(2, 6, 3)));
        Assert.That(ex!.Message, Does.Contain("GroupNorm").And.Contain("[2, 6, 3]"));
        Assert.Throws<ArgumentException>(() => new GroupNorm(4, 6));
    }

    [Test]
    public void ActivationModulesGradCheckAndValues()
    {
        var prelu = InDouble(new PReLU(3));
        using (Autograd.NoGrad()) Init.Uniform(prelu.Weight, -0.5, 0.5, new Generator(1));
        var x = RandnD(2, 2, 3, 4);
        Check(xs => prelu.Forward(xs[0]), WithParams(x, prelu));
        foreach (Module<Tensor, Tensor> m in new Module<Tensor, Tensor>[] { new ELU(0.5), new Mish(), new Hardswish() })
            Check(xs => m.Forward(xs[0]), x);
        var v = Tensor.FromArray(new double[] { -4, -1, 0, 1, 4 }, 5);
        Assert.That(Values(new ELU().Forward(v)), Is.EqualTo(new[] { Math.Exp(-4) - 1, Math.Exp(-1) - 1, 0, 1, 4 }).Within(1e-15));
        Assert.That(Values(new Hardswish().Forward(v)), Is.EqualTo(new[] { 0, -1 * 2 / 6.0, 0, 4 / 6.0, 4 }).Within(1e-15));
        Assert.That(Values(new Mish().Forward(v))[3], Is.EqualTo(Math.Tanh(Math.Log(1 + Math.E))).Within(1e-15));
        Assert.That(Values(new PReLU(init: 0.25, dtype: DType.Float64).Forward(v)), Is.EqualTo(new[] { -1, -0.25, 0, 1, 4 }));
        var ex = Assert.Throws<ArgumentException>(() => new PReLU(4).Forward(Tensor.Zeros(2, 3)));
        Assert.That(ex!.Message, Does.Contain("Prelu").And.Contain("[2, 3]"));
    }

    [Test]
    public void Dropout2dZeroesWholeChannels()
    {
        var d = new Dropout2d(0.5, new Generator(3));
        var y = d.Forward(Tensor.Ones(4, 8, 3, 3));
        var v = y.ToArray<float>();
        int zeroed = 0;
        for (int ch = 0; ch < 32; ch++)
        {
            var plane = v.Skip(ch * 9).Take(9).Distinct().ToArray();
            Assert.That(plane, Has.Length.EqualTo(1), "a channel is dropped or kept whole");
            Assert.That(plane[0], Is.EqualTo(0f).Or.EqualTo(2f));
            if (plane[0] == 0) zeroed++;
        }
        Assert.That(zeroed, Is.InRange(6, 26));
        d.Eval();
        var x = Tensor.Ones(2, 3, 2, 2);
        Assert.That(d.Forward(x), Is.SameAs(x));
        Check(xs => new Dropout2d(0.4, new Generator(9)).Forward(xs[0]), RandnD(1, 2, 3, 2, 2));
        Assert.Throws<ArgumentException>(() => d.Forward(Tensor.Zeros(3, 3)));
    }

    [Test]
    public void PixelShuffleRoundTripsAndMovesTheRightElements()
    {
        var x = Tensor.Arange(0, 16, 1, DType.Float64).Reshape(1, 4, 2, 2);
        var y = new PixelShuffle(2).Forward(x);
        Assert.That(y.Shape, Is.EqualTo(new[] { 1, 1, 4, 4 }));
        // out[0, 0, 2h + i, 2w + j] = in[0, 2i + j, h, w]
        Assert.That(Values(y), Is.EqualTo(new double[] { 0, 4, 1, 5, 8, 12, 9, 13, 2, 6, 3, 7, 10, 14, 11, 15 }));
        Assert.That(Values(new PixelUnshuffle(2).Forward(y)), Is.EqualTo(Values(x)));
        var ex = Assert.Throws<ArgumentException>(() => F.PixelShuffle(Tensor.Zeros(1, 3, 2, 2), 2));
        Assert.That(ex!.Message, Does.Contain("PixelShuffle").And.Contain("[1, 3, 2, 2]"));
    }

    [Test]
    public void UpsampleModuleGradCheckAndBadInput()
    {
        var x = RandnD(1, 1, 2, 2, 3);
        Check(xs => new Upsample(2.0).Forward(xs[0]), x);
        Check(xs => new Upsample((3, 5), "bilinear", alignCorners: true).Forward(xs[0]), x);
        Assert.That(GradCheck.GradGradCheck(WithGrad(xs => new Upsample((3, 4), "bilinear").Forward(xs[0]).Square()), [x]).Passed, Is.True);
        Assert.That(new Upsample(2.0).ToString(), Is.EqualTo("Upsample(scale_factor=2.0, mode='nearest')"));
        Assert.Throws<ArgumentException>(() => new Upsample(2.0, "nearest", alignCorners: true));
        var ex = Assert.Throws<ArgumentException>(() => F.Interpolate(Tensor.Zeros(2, 3), scaleFactor: [2]));
        Assert.That(ex!.Message, Does.Contain("Interpolate").And.Contain("[2, 3]"));
    }

    [Test]
    public void LossAndSimilarityModules()
    {
        var logp = RandnD(1, 3, 4).LogSoftmax(-1).Detach().RequiresGrad_();
        var t = RandnD(2, 3, 4).Softmax(-1).Detach().RequiresGrad_();
        foreach (var r in new[] { "none", "mean", "sum", "batchmean" })
            Check(xs => new KLDivLoss(r).Forward(xs[0], xs[1]), logp, t);
        // batchmean is the sum over the batch size; mean divides by every element.
        double sum = new KLDivLoss("sum").Forward(logp, t).Item<double>();
        Assert.That(new KLDivLoss("batchmean").Forward(logp, t).Item<double>(), Is.EqualTo(sum / 3).Within(1e-15));
        Assert.That(new KLDivLoss().Forward(logp, t).Item<double>(), Is.EqualTo(sum / 12).Within(1e-15));
        var p = RandnD(3, 5) * 2;
        var y = RandnD(4, 5);
        Check(xs => new HuberLoss(delta: 0.7).Forward(xs[0], xs[1]), p.Detach().RequiresGrad_(), y);
        var huber = new HuberLoss("none", 2).Forward(Tensor.FromArray(new double[] { 0.5, 3 }, 2), Tensor.Zeros([2], DType.Float64));
        Assert.That(Values(huber), Is.EqualTo(new[] { 0.125, 2 * (3 - 1.0) }));
        var a = RandnD(5, 2, 3);
        var b = RandnD(6, 2, 3);
        Check(xs => new CosineSimilarity().Forward(xs[0], xs[1]), a, b);
        var cos = new CosineSimilarity(dim: 0).Forward(Tensor.FromArray(new double[] { 1, 0 }, 2), Tensor.FromArray(new double[] { 1, 1 }, 2));
        Assert.That(cos.Item<double>(), Is.EqualTo(1 / Math.Sqrt(2)).Within(1e-15));
        Assert.Throws<ArgumentException>(() => new KLDivLoss("avg"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HuberLoss(delta: 0));
        var ex = Assert.Throws<ArgumentException>(() => F.CosineSimilarity(Tensor.Zeros(2, 3), Tensor.Zeros(2, 4)));
        Assert.That(ex!.Message, Does.Contain("CosineSimilarity"));
    }

    // ---------------------------------------------------------------- weight tying

    private sealed class TinyLm : Module<Tensor, Tensor>
    {
        public TinyLm(int vocab, int dim)
        {
            Embed = RegisterModule("wte", new Embedding(vocab, dim, dtype: DType.Float64, generator: new Generator(1)));
            Head = RegisterModule("lm_head", new Linear(dim, vocab, bias: false, dtype: DType.Float64, generator: new Generator(2)));
            Head.Weight = Embed.Weight; // weight tying, as GPT-2
        }

        public Embedding Embed { get; }
        public Linear Head { get; }

        public override Tensor Forward(Tensor input) => Head.Forward(Embed.Forward(input).Tanh());
    }

    [Test]
    public void LinearSharesAnEmbeddingsWeight()
    {
        var lm = new TinyLm(5, 3);
        Assert.That(lm.Head.Weight, Is.SameAs(lm.Embed.Weight));
        Assert.That(lm.Parameters().ToList(), Has.Count.EqualTo(1), "one parameter, listed once");
        Assert.That(lm.NamedParameters().Single().Key, Is.EqualTo("wte.weight"));
        Assert.That(lm.StateDict().Keys, Is.EqualTo(new[] { "wte.weight", "lm_head.weight" }), "both keys, as PyTorch");
        Assert.That(lm.ParameterCount(), Is.EqualTo(15));

        // The gradient is the sum of both uses: check it by finite differences through both paths.
        var idx = Tensor.FromArray(new long[] { 0, 3, 3, 1 }, 4);
        var tied = new TinyLm(5, 3);
        Check(xs =>
        {
            tied.Embed.Weight = xs[0];
            tied.Head.Weight = xs[0];
            return F.CrossEntropy(tied.Forward(idx), Tensor.FromArray(new long[] { 1, 2, 0, 4 }, 4));
        }, RandnD(7, 5, 3));

        // One optimizer step updates the one tensor once; a state dict with both keys loads back.
        var opt = new SGD(lm.Parameters(), lr: 0.1);
        Assert.That(opt.ParamGroups[0].Params, Has.Count.EqualTo(1));
        lm.ZeroGrad();
        F.CrossEntropy(lm.Forward(idx), Tensor.FromArray(new long[] { 1, 2, 0, 4 }, 4)).Backward();
        var before = Values(lm.Embed.Weight);
        var grad = Values(lm.Embed.Weight.Grad!);
        opt.Step();
        var after = Values(lm.Head.Weight);
        for (int i = 0; i < before.Length; i++) Assert.That(after[i], Is.EqualTo(before[i] - 0.1 * grad[i]).Within(1e-15));
        var copy = new TinyLm(5, 3);
        copy.LoadStateDict(lm.StateDict());
        Assert.That(Values(copy.Head.Weight), Is.EqualTo(after));
        Assert.That(copy.Head.Weight, Is.SameAs(copy.Embed.Weight));
        var ex = Assert.Throws<ArgumentException>(() => lm.Head.Weight = Tensor.Zeros(3, 5));
        Assert.That(ex!.Message, Does.Contain("Linear.Weight").And.Contain("[5, 3]"));
    }
}
