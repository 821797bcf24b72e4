using FsCheck;
using FsCheck.Fluent;

namespace DeepSharp.Tests.Ops;

/// <summary>Gradient checks (first and, for a subset, second order) of every op in <see cref="OpCatalog"/>.</summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public class OpGradCheckTests
{
    public static IEnumerable<string> OpNames => OpCatalog.All.Select(o => o.Name);
    public static IEnumerable<string> GradGradNames => OpCatalog.All.Where(o => o.GradGrad).Select(o => o.Name);

    [TestCaseSource(nameof(OpNames))]
    public void GradCheck_(string op)
    {
        var info = OpCatalog.Get(op);
        Run(info.Samples, info.MaxTest, sample => GradCheck.Check(sample.Call, sample.Inputs));
    }

    [TestCaseSource(nameof(GradGradNames))]
    public void GradGradCheck_(string op)
    {
        var info = OpCatalog.Get(op);
        // Second-order checks cost more: fewer and smaller samples.
        Run(info.Samples, Math.Max(5, info.MaxTest / 2), sample =>
            GradCheck.GradGradCheck(xs => sample.Call(xs)[0], sample.Inputs));
    }

    /// <summary>Multiplies every MaxTest (environment variable DEEPSHARP_PROPERTY_SCALE, default 1) for longer soak runs.</summary>
    internal static int Scale => int.TryParse(Environment.GetEnvironmentVariable("DEEPSHARP_PROPERTY_SCALE"), out int s) && s > 0 ? s : 1;

    internal static void Run(Gen<OpSample> samples, int maxTest, Action<OpSample> body)
    {
        maxTest *= Scale;
        var property = Prop.ForAll(Arb.From(samples), (OpSample s) =>
        {
            try { body(s); }
            catch (Exception e) when (e is not GradCheckException)
            {
                throw new InvalidOperationException($"{e.GetType().Name}: {e.Message}", e);
            }
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(maxTest).WithQuietOnSuccess(true), property);
    }
}
