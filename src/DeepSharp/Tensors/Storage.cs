namespace DeepSharp;

/// <summary>
/// A flat buffer of elements shared by a tensor and all its views. The version counter is bumped by every
/// in-place write so that autograd can detect saved tensors that were modified after being saved.
/// </summary>
internal abstract class Storage
{
    /// <summary>Incremented by each in-place modification of any tensor that views this storage.</summary>
    public int Version;

    public abstract DType DType { get; }
    public abstract int Length { get; }

    public static Storage Allocate(DType dtype, int length) => dtype switch
    {
        DType.Float32 => new Storage<float>(new float[length]),
        DType.Float64 => new Storage<double>(new double[length]),
        DType.Int64 => new Storage<long>(new long[length]),
        DType.Bool => new Storage<bool>(new bool[length]),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    /// <summary>Allocates without zeroing (the caller overwrites every element).</summary>
    public static Storage AllocateUninitialized(DType dtype, int length) => dtype switch
    {
        DType.Float32 => new Storage<float>(GC.AllocateUninitializedArray<float>(length)),
        DType.Float64 => new Storage<double>(GC.AllocateUninitializedArray<double>(length)),
        DType.Int64 => new Storage<long>(GC.AllocateUninitializedArray<long>(length)),
        DType.Bool => new Storage<bool>(new bool[length]),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };
}

internal sealed class Storage<T>(T[] data) : Storage where T : unmanaged
{
    public readonly T[] Data = data;
    public override DType DType { get; } = DTypeExtensions.Of<T>();
    public override int Length => Data.Length;
}
