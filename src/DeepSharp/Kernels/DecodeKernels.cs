using System.Buffers.Binary;
using System.Numerics.Tensors;

namespace DeepSharp.Kernels;

/// <summary>
/// Decoding of file element types (IDX, safetensors) into tensor element types. The source holds at least
/// d.Length elements of the stated width; the caller has checked the lengths.
/// </summary>
internal static class DecodeKernels
{
    /// <summary>Unsigned bytes to float, divided by 255 when <paramref name="scale"/> (torchvision's <c>ToTensor</c>).</summary>
    public static void UInt8ToFloat(ReadOnlySpan<byte> s, Span<float> d, bool scale)
    {
        TensorPrimitives.ConvertTruncating<byte, float>(s[..d.Length], d);
        if (scale) TensorPrimitives.Divide(d, 255f, d);
    }

    /// <summary>Unsigned bytes to Int64.</summary>
    public static void UInt8ToInt64(ReadOnlySpan<byte> s, Span<long> d)
    {
        for (int i = 0; i < d.Length; i++) d[i] = s[i];
    }

    /// <summary>Signed bytes to Int64.</summary>
    public static void Int8ToInt64(ReadOnlySpan<byte> s, Span<long> d)
    {
        for (int i = 0; i < d.Length; i++) d[i] = (sbyte)s[i];
    }

    /// <summary>Bytes to Bool (nonzero is true).</summary>
    public static void UInt8ToBool(ReadOnlySpan<byte> s, Span<bool> d)
    {
        for (int i = 0; i < d.Length; i++) d[i] = s[i] != 0;
    }

    /// <summary>16-bit signed integers to Int64.</summary>
    public static void Int16ToInt64(ReadOnlySpan<byte> s, Span<long> d, bool bigEndian)
    {
        for (int i = 0; i < d.Length; i++)
            d[i] = bigEndian ? BinaryPrimitives.ReadInt16BigEndian(s.Slice(2 * i)) : BinaryPrimitives.ReadInt16LittleEndian(s.Slice(2 * i));
    }

    /// <summary>32-bit signed integers to Int64.</summary>
    public static void Int32ToInt64(ReadOnlySpan<byte> s, Span<long> d, bool bigEndian)
    {
        for (int i = 0; i < d.Length; i++)
            d[i] = bigEndian ? BinaryPrimitives.ReadInt32BigEndian(s.Slice(4 * i)) : BinaryPrimitives.ReadInt32LittleEndian(s.Slice(4 * i));
    }

    /// <summary>Big-endian IEEE float32.</summary>
    public static void Float32BigEndian(ReadOnlySpan<byte> s, Span<float> d)
    {
        for (int i = 0; i < d.Length; i++) d[i] = BinaryPrimitives.ReadSingleBigEndian(s.Slice(4 * i));
    }

    /// <summary>Big-endian IEEE float64.</summary>
    public static void Float64BigEndian(ReadOnlySpan<byte> s, Span<double> d)
    {
        for (int i = 0; i < d.Length; i++) d[i] = BinaryPrimitives.ReadDoubleBigEndian(s.Slice(8 * i));
    }

    /// <summary>Little-endian IEEE half precision to float (exact).</summary>
    public static void HalfToFloat(ReadOnlySpan<byte> s, Span<float> d)
    {
        for (int i = 0; i < d.Length; i++) d[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(s.Slice(2 * i));
    }

    /// <summary>Little-endian bfloat16 to float (exact: the 16 bits are the float's high half).</summary>
    public static void BFloat16ToFloat(ReadOnlySpan<byte> s, Span<float> d)
    {
        for (int i = 0; i < d.Length; i++) d[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(s.Slice(2 * i)) << 16);
    }
}
