using System.Numerics;
using DeepSharp.Kernels;

namespace DeepSharp;

/// <summary>
/// Anomaly detection (PyTorch's <c>detect_anomaly</c>): while enabled, every recorded op remembers where it
/// was built, and the first NaN produced by an op's forward or backward throws an error that names the op and
/// that place. Infinities pass, as in PyTorch: −∞ from <c>MaskedFill</c> before a softmax is legitimate.
/// </summary>
internal static class Anomaly
{
    private static readonly AsyncLocal<bool> _enabled = new();

    public static bool IsEnabled => _enabled.Value;

    public static AnomalyScope Enable()
    {
        bool previous = _enabled.Value;
        _enabled.Value = true;
        return new AnomalyScope(previous);
    }

    internal static void Restore(bool previous) => _enabled.Value = previous;

    public static void OnRecord(Tensor result)
    {
        var node = result._gradFn!;
        node.CreationTrace = Environment.StackTrace;
        if (HasNaN(result))
            throw new ArithmeticException($"Anomaly: the forward of {node.Name} produced NaN values (output shape {ShapeUtil.Format(result._shape)}). It was built at:\n{node.CreationTrace}");
    }

    public static void CheckBackward(Node node, Tensor?[] grads)
    {
        for (int i = 0; i < grads.Length; i++)
            if (grads[i] is { } g && HasNaN(g))
                throw new ArithmeticException($"Anomaly: {node.Name} returned NaN values in the gradient of its input {i}. The op was built at:\n{node.CreationTrace}");
    }

    private static bool HasNaN(Tensor t)
    {
        if (!t.DType.IsFloatingPoint()) return false;
        Tensor c;
        using (GradMode.Set(false)) c = t.Contiguous();
        return Tensor.DispatchFloat<HasNaNCore, bool>(t.DType, "Anomaly", new HasNaNCore(c));
    }

    private readonly record struct HasNaNCore(Tensor Src) : IFloatFunc<bool>
    {
        public bool Run<T>() where T : unmanaged, IFloatingPointIeee754<T> => FloatClassKernels.AnyNaN(Src.ReadSpan<T>());
    }
}

/// <summary>Ends an anomaly-detection scope when disposed.</summary>
public readonly struct AnomalyScope : IDisposable
{
    private readonly bool _previous;
    internal AnomalyScope(bool previous) => _previous = previous;

    /// <summary>Restores the previous anomaly mode.</summary>
    public void Dispose() => Anomaly.Restore(_previous);
}
