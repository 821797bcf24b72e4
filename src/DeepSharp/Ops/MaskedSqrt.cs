namespace DeepSharp;

// Square roots inside composites (Std) whose gradient at 0 PyTorch defines as 0 instead of 0 · ∞ = NaN.
public sealed partial class Tensor
{
    /// <summary>√v with the backward g / (2√v) masked to 0 where the result is 0, as PyTorch's std_backward (a row of
    /// equal values has std 0 and gradient 0, not NaN). The backward is made of recorded ops (double backward).</summary>
    internal static Tensor SqrtZeroGradAtZero(Tensor v)
    {
        Tensor result;
        using (GradMode.Set(false)) result = v.Sqrt();
        return Node.Record(result, "StdBackward", [v], g =>
        {
            Tensor nonzero;
            using (GradMode.Set(false)) nonzero = result.Ne(0).To(result.DType);
            // v + 1 where the result is 0: nothing divides by zero, and the recorded √ keeps the second derivative.
            var r = (v + (1.0 - nonzero)).Sqrt();
            return [g * nonzero / (2.0 * r)];
        }, result);
    }
}
