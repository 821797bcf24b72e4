using DeepSharp.NN;

namespace DeepSharp.Tests.NN;

internal static class NNTestUtil
{
    /// <summary>The FsCheck configuration of the layer gradchecks: a few cases each, failures thrown.</summary>
    public static readonly FsCheck.Config Few = FsCheck.Config.QuickThrowOnFailure.WithMaxTest(12);

    /// <summary>A Float64 leaf that requires grad, from flat values.</summary>
    public static Tensor D(double[] values, params int[] shape) => Tensor.FromArray(values, shape).RequiresGrad_();

    /// <summary>A Float64 leaf of standard-normal values that requires grad.</summary>
    public static Tensor RandnD(long seed, params int[] shape) => Tensor.Randn(shape, DType.Float64, new Generator(seed)).RequiresGrad_();

    /// <summary>Int64 class labels in [0, classes).</summary>
    public static Tensor Labels(long seed, int classes, params int[] shape) => Tensor.RandInt(0, classes, shape, DType.Int64, new Generator(seed));

    public static double[] Values(Tensor t) => t.Double().Contiguous().ToArray<double>();

    public static void Check(Func<Tensor[], Tensor> f, params Tensor[] inputs) =>
        Assert.That(GradCheck.Check(f, inputs, atol: 1e-6, rtol: 1e-4).Passed, Is.True);

    public static T InDouble<T>(T module) where T : Module
    {
        module.To(DType.Float64);
        return module;
    }
}
