using System.Numerics.Tensors;

namespace DeepSharp.Distributed;

/// <summary>
/// Gradient accumulation over micro-batches in one process that gives the bits of
/// <see cref="DistributedDataParallel"/> over as many ranks: each micro-batch's gradient is computed on its own (from
/// no gradient), then added to the running sum in micro-batch order, and <see cref="Average"/> divides by the number of
/// micro-batches with DDP's division.
/// </summary>
/// <remarks>
/// Plain accumulation (<c>Backward()</c> N times into the same <c>Grad</c>) gives the same bits for a parameter used
/// once per forward, but not for a shared one — a tied embedding and output head receives two gradients per backward
/// (a and b), and plain accumulation computes ((a₀ + b₀) + a₁) + b₁ where DDP's rank-ordered all-reduce computes
/// (a₀ + b₀) + (a₁ + b₁). This class keeps each micro-batch's gradient whole: after every micro-batch's backward call
/// <see cref="Add"/>, which moves each <c>Grad</c> into the sum and clears it.
/// <code>
/// var accumulator = new GradientAccumulator(model.Parameters());
/// for (int k = 0; k &lt; n; k++) { loss(k).Backward(); accumulator.Add(); }
/// accumulator.Average();   // Grad = (g₀ + g₁ + … + g₍ₙ₋₁₎) / n, the bits of n ranks under DDP
/// optimizer.Step();
/// </code>
/// </remarks>
public sealed class GradientAccumulator
{
    private readonly Tensor[] _parameters;
    private readonly Tensor?[] _sums;

    /// <summary>Accumulates the gradients of <paramref name="parameters"/> (each listed once; duplicates are ignored).</summary>
    public GradientAccumulator(IEnumerable<Tensor> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        _parameters = [.. parameters.Where(p => p is not null && seen.Add(p))];
        _sums = new Tensor?[_parameters.Length];
    }

    /// <summary>How many micro-batches were added since the last <see cref="Average"/>.</summary>
    public int MicroBatches { get; private set; }

    /// <summary>
    /// Adds every parameter's <c>Grad</c> (this micro-batch's whole gradient) to the running sum, in the order the
    /// micro-batches come, and sets <c>Grad</c> to null so the next backward starts from no gradient. A parameter that
    /// got no gradient adds nothing.
    /// </summary>
    /// <exception cref="InvalidOperationException">A gradient whose shape or dtype differs from the earlier ones.</exception>
    public void Add()
    {
        using (Autograd.NoGrad())
        {
            for (int i = 0; i < _parameters.Length; i++)
            {
                var p = _parameters[i];
                if (p.Grad is not { } g) continue;
                p.Grad = null;
                if (_sums[i] is not { } sum)
                {
                    _sums[i] = g.Contiguous().Clone().DetachFromDisposeScope();   // lives across micro-batches (and their scopes)
                    continue;
                }
                if (g.DType != sum.DType || g.NumEl != sum.NumEl)
                    throw new InvalidOperationException($"GradientAccumulator.Add: parameter {i} has a gradient of {g.DType} [{string.Join(", ", g.Shape)}] after ones of {sum.DType} [{string.Join(", ", sum.Shape)}].");
                if (!g.IsContiguous) g = g.Contiguous();
                if (sum.DType == DType.Float32) TensorPrimitives.Add(sum.ReadSpan<float>(), g.ReadSpan<float>(), sum.Span<float>());
                else if (sum.DType == DType.Float64) TensorPrimitives.Add(sum.ReadSpan<double>(), g.ReadSpan<double>(), sum.Span<double>());
                else throw new InvalidOperationException($"GradientAccumulator.Add: parameter {i} has a {sum.DType} gradient; only Float32 and Float64 are accumulated.");
            }
        }
        MicroBatches++;
    }

    /// <summary>
    /// Sets every <c>Grad</c> to the sum of the added micro-batches divided by their number (the division
    /// <see cref="DistributedDataParallel.AverageAccumulatedGradients"/> and DDP use) and starts a new sum.
    /// </summary>
    /// <exception cref="InvalidOperationException">No micro-batch was added.</exception>
    public void Average()
    {
        if (MicroBatches == 0) throw new InvalidOperationException("GradientAccumulator.Average: call Add() after each micro-batch's Backward() first.");
        for (int i = 0; i < _parameters.Length; i++)
        {
            _parameters[i].Grad = _sums[i];
            _sums[i] = null;
        }
        DistributedDataParallel.AverageAccumulatedGradients(_parameters, MicroBatches);
        MicroBatches = 0;
    }
}
