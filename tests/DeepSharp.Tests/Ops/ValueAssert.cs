namespace DeepSharp.Tests.Ops;

/// <summary>Helpers for hand-worked forward values in float32 and float64.</summary>
internal static class V
{
    public static Tensor T(DType dtype, params double[] values) => Tensor.FromArray(values).To(dtype);

    public static Tensor T(DType dtype, double[] values, params int[] shape) => Tensor.FromArray(values, shape).To(dtype);

    public static double[] Values(Tensor t) => t.Detach().Double().ToArray<double>();

    /// <summary>Tolerance for the dtype: float32 results are compared to about 1e-6 relative.</summary>
    public static double Tol(DType dtype) => dtype == DType.Float32 ? 2e-6 : 1e-12;

    public static void Equal(Tensor actual, double[] expected, int[] shape, double? tol = null)
    {
        Assert.That(actual.Shape, Is.EqualTo(shape), "shape");
        Assert.That(Values(actual), Is.EqualTo(expected).Within(tol ?? Tol(actual.DType)), "values");
    }

    public static void Equal(Tensor actual, double[] expected, double? tol = null) => Equal(actual, expected, [expected.Length], tol);

    /// <summary>The gradient of sum(f(x)·w) with respect to x (w defaults to ones).</summary>
    public static double[] Grad(Func<Tensor, Tensor> f, Tensor x, Tensor? weight = null)
    {
        var leaf = x.Detach().Clone().RequiresGrad_();
        var y = f(leaf);
        (weight is null ? y.Sum() : (y * weight).Sum()).Backward();
        return Values(leaf.Grad!);
    }
}
