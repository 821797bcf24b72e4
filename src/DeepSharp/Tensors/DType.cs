namespace DeepSharp;

/// <summary>The element type of a tensor. Floating types are differentiable; Int64 holds indices and class
/// labels (as PyTorch's <c>torch.long</c>) and Bool holds masks.</summary>
public enum DType
{
    /// <summary>32-bit IEEE float (<c>torch.float32</c>), the default.</summary>
    Float32,
    /// <summary>64-bit IEEE float (<c>torch.float64</c>); gradient checks run in it.</summary>
    Float64,
    /// <summary>64-bit signed integer (<c>torch.int64</c>), for indices and labels.</summary>
    Int64,
    /// <summary>Boolean (<c>torch.bool</c>), for masks.</summary>
    Bool,
}

/// <summary>Helpers on <see cref="DType"/>.</summary>
public static class DTypeExtensions
{
    /// <summary>True for Float32 and Float64.</summary>
    public static bool IsFloatingPoint(this DType dtype) => dtype is DType.Float32 or DType.Float64;

    /// <summary>Size of one element in bytes.</summary>
    public static int ElementSize(this DType dtype) => dtype switch
    {
        DType.Float32 => 4,
        DType.Float64 => 8,
        DType.Int64 => 8,
        DType.Bool => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown dtype."),
    };

    internal static DType Of<T>() =>
        typeof(T) == typeof(float) ? DType.Float32 :
        typeof(T) == typeof(double) ? DType.Float64 :
        typeof(T) == typeof(long) ? DType.Int64 :
        typeof(T) == typeof(bool) ? DType.Bool :
        throw new NotSupportedException($"Element type {typeof(T).Name} is not supported; use float, double, long or bool.");
}
