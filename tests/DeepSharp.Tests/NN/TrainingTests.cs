using System.Diagnostics;
using DeepSharp.NN;

namespace DeepSharp.Tests.NN;

/// <summary>End to end: a small MLP learns a non-linear problem with SGD written here.</summary>
[TestFixture]
public class TrainingTests
{
    /// <summary>Two interleaving half circles (scikit-learn's make_moons), deterministic.</summary>
    private static (Tensor X, Tensor Y) TwoMoons(int perMoon, double noise, long seed)
    {
        var g = new Generator(seed);
        var x = new float[2 * perMoon * 2];
        var y = new long[2 * perMoon];
        for (int i = 0; i < perMoon; i++)
        {
            double t = Math.PI * i / (perMoon - 1);
            x[4 * i] = (float)(Math.Cos(t) + noise * g.NextNormal());
            x[4 * i + 1] = (float)(Math.Sin(t) + noise * g.NextNormal());
            y[2 * i] = 0;
            x[4 * i + 2] = (float)(1 - Math.Cos(t) + noise * g.NextNormal());
            x[4 * i + 3] = (float)(0.5 - Math.Sin(t) + noise * g.NextNormal());
            y[2 * i + 1] = 1;
        }
        return (Tensor.FromArray(x, 2 * perMoon, 2), Tensor.FromArray(y));
    }

    private sealed class Classifier : Module<Tensor, Tensor>
    {
        private readonly Sequential _net;

        public Classifier(Generator g)
        {
            _net = RegisterModule("net", new Sequential(
                new Linear(2, 32, generator: g), new Tanh(),
                new Linear(32, 32, generator: g), new ReLU(),
                new Linear(32, 2, generator: g)));
        }

        public override Tensor Forward(Tensor input) => _net.Forward(input);
    }

    [Test]
    public void MlpLearnsTwoMoonsWithSgd()
    {
        var sw = Stopwatch.StartNew();
        var (x, y) = TwoMoons(100, 0.1, seed: 1);
        var model = new Classifier(new Generator(2));
        var lossFn = new CrossEntropyLoss();
        var parameters = model.Parameters().ToArray();
        var velocity = parameters.Select(p => Tensor.ZerosLike(p)).ToArray();
        const double lr = 0.1, momentum = 0.9;
        double firstLoss = double.NaN, lastLoss = double.NaN;
        for (int step = 0; step < 200; step++)
        {
            model.ZeroGrad();
            var loss = lossFn.Forward(model.Forward(x), y);
            loss.Backward();
            if (step == 0) firstLoss = loss.Item();
            lastLoss = loss.Item();
            using (Autograd.NoGrad())
            {
                for (int i = 0; i < parameters.Length; i++)
                {
                    velocity[i].Mul_(momentum).Add_(parameters[i].Grad!);
                    parameters[i].Sub_(velocity[i] * lr);
                }
            }
        }
        model.Eval();
        Tensor predictions;
        using (Autograd.NoGrad()) predictions = model.Forward(x).ArgMax(1);
        double accuracy = predictions.Eq(y).To(DType.Float64).Mean().Item();
        TestContext.Out.WriteLine($"two moons: loss {firstLoss:F4} -> {lastLoss:F4}, accuracy {accuracy:P1}, {sw.ElapsedMilliseconds} ms");
        Assert.That(accuracy, Is.GreaterThanOrEqualTo(0.98));
        Assert.That(lastLoss, Is.LessThan(firstLoss / 5));
    }
}
