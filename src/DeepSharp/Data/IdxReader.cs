using System.Buffers.Binary;
using System.IO.Compression;
using DeepSharp.Kernels;

namespace DeepSharp.Data;

/// <summary>
/// Reads the IDX format of the MNIST family of data sets: a magic number <c>00 00 TT NN</c> (TT the element type:
/// 0x08 unsigned byte, 0x09 signed byte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64; NN the number of
/// dimensions), NN big-endian 32-bit sizes, then the elements in row-major order, big-endian. Files may be gzip
/// compressed (detected by the 1F 8B header). Everything is validated before the data buffer is allocated (for gzip,
/// the buffer only grows as decompressed data actually arrives): a bad magic number, truncated data, trailing bytes
/// or sizes that do not match the length raise <see cref="InvalidDataException"/> naming the file.
/// </summary>
public static class IdxReader
{
    private const int MaxDims = 16;

    /// <summary>
    /// Reads an image file (magic 0x00000803, unsigned bytes) as a Float32 tensor [N, rows, cols], with the raw values
    /// 0–255, or divided by 255 into [0, 1] when <paramref name="scale"/> (as torchvision's <c>ToTensor</c>).
    /// </summary>
    public static Tensor ReadImages(string path, bool scale = false)
    {
        var (type, dims, data) = ReadRaw(path);
        if (type != 0x08 || dims.Length != 3)
            throw new InvalidDataException($"IDX file '{path}': expected images (unsigned bytes, 3 dimensions, magic 0x00000803) but found element type 0x{type:X2} with {dims.Length} dimensions.");
        var result = new float[data.Length];
        DecodeKernels.UInt8ToFloat(data, result, scale);
        return Tensor.FromBuffer(result, dims);
    }

    /// <summary>Reads a label file (magic 0x00000801, unsigned bytes) as an Int64 tensor [N].</summary>
    public static Tensor ReadLabels(string path)
    {
        var (type, dims, data) = ReadRaw(path);
        if (type != 0x08 || dims.Length != 1)
            throw new InvalidDataException($"IDX file '{path}': expected labels (unsigned bytes, 1 dimension, magic 0x00000801) but found element type 0x{type:X2} with {dims.Length} dimensions.");
        var result = new long[data.Length];
        DecodeKernels.UInt8ToInt64(data, result);
        return Tensor.FromBuffer(result, dims);
    }

    /// <summary>
    /// Reads any IDX file with its own shape: integer element types as Int64, 0x0D as Float32 and 0x0E as Float64.
    /// </summary>
    public static Tensor Read(string path)
    {
        var (type, dims, data) = ReadRaw(path);
        int n = ShapeUtil.Numel(dims);
        switch (type)
        {
            case 0x08: { var r = new long[n]; DecodeKernels.UInt8ToInt64(data, r); return Tensor.FromBuffer(r, dims); }
            case 0x09: { var r = new long[n]; DecodeKernels.Int8ToInt64(data, r); return Tensor.FromBuffer(r, dims); }
            case 0x0B: { var r = new long[n]; DecodeKernels.Int16ToInt64(data, r, bigEndian: true); return Tensor.FromBuffer(r, dims); }
            case 0x0C: { var r = new long[n]; DecodeKernels.Int32ToInt64(data, r, bigEndian: true); return Tensor.FromBuffer(r, dims); }
            case 0x0D: { var r = new float[n]; DecodeKernels.Float32BigEndian(data, r); return Tensor.FromBuffer(r, dims); }
            default: { var r = new double[n]; DecodeKernels.Float64BigEndian(data, r); return Tensor.FromBuffer(r, dims); }
        }
    }

    private static int ElementSize(byte type, string path) => type switch
    {
        0x08 or 0x09 => 1,
        0x0B => 2,
        0x0C or 0x0D => 4,
        0x0E => 8,
        _ => throw new InvalidDataException($"IDX file '{path}': unknown element type 0x{type:X2} in the magic number (expected 08, 09, 0B, 0C, 0D or 0E)."),
    };

    /// <summary>Validates the header and reads the data bytes (still big-endian).</summary>
    private static (byte Type, int[] Dims, byte[] Data) ReadRaw(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        Span<byte> sig = stackalloc byte[2];
        int got = file.ReadAtLeast(sig, 2, throwOnEndOfStream: false);
        file.Position = 0;
        bool gzip = got == 2 && sig[0] == 0x1F && sig[1] == 0x8B;
        using Stream stream = gzip ? new GZipStream(file, CompressionMode.Decompress) : file;
        try
        {
            return ReadRaw(stream, path, gzip ? null : file.Length);
        }
        catch (InvalidDataException ex) when (gzip && !ex.Message.StartsWith("IDX file", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"IDX file '{path}': corrupted gzip data: {ex.Message}", ex);
        }
    }

    private static (byte, int[], byte[]) ReadRaw(Stream s, string path, long? length)
    {
        Span<byte> magic = stackalloc byte[4];
        if (s.ReadAtLeast(magic, 4, throwOnEndOfStream: false) < 4)
            throw new InvalidDataException($"IDX file '{path}': truncated, the 4-byte magic number is missing.");
        if (magic[0] != 0 || magic[1] != 0)
            throw new InvalidDataException($"IDX file '{path}': bad magic number 0x{magic[0]:X2}{magic[1]:X2}{magic[2]:X2}{magic[3]:X2} (expected 0x0000TTNN, e.g. 0x00000803 for images or 0x00000801 for labels).");
        byte type = magic[2];
        int ndims = magic[3];
        int elemSize = ElementSize(type, path);
        if (ndims is 0 or > MaxDims)
            throw new InvalidDataException($"IDX file '{path}': bad magic number 0x0000{type:X2}{ndims:X2}: {ndims} dimensions (expected 1 to {MaxDims}).");
        Span<byte> dimBytes = stackalloc byte[4 * MaxDims];
        dimBytes = dimBytes[..(4 * ndims)];
        if (s.ReadAtLeast(dimBytes, dimBytes.Length, throwOnEndOfStream: false) < dimBytes.Length)
            throw new InvalidDataException($"IDX file '{path}': truncated header, expected {ndims} dimension sizes.");
        var dims = new int[ndims];
        long count = 1;
        for (int i = 0; i < ndims; i++)
        {
            uint d = BinaryPrimitives.ReadUInt32BigEndian(dimBytes[(4 * i)..]);
            if (d > int.MaxValue) throw new InvalidDataException($"IDX file '{path}': dimension {i} has size {d}, which is too large.");
            dims[i] = (int)d;
            count *= d;
            if (count > Array.MaxLength / elemSize)
                throw new InvalidDataException($"IDX file '{path}': the sizes [{string.Join(", ", dims.Take(i + 1))}…] describe more data than can be loaded.");
        }
        long bytes = count * elemSize;
        long headerLength = 4 + 4L * ndims;
        if (length is { } len && len - headerLength != bytes)
            throw new InvalidDataException(len - headerLength < bytes
                ? $"IDX file '{path}': truncated, the sizes [{string.Join(", ", dims)}] need {bytes} data bytes but the file has {len - headerLength}."
                : $"IDX file '{path}': the sizes [{string.Join(", ", dims)}] need {bytes} data bytes but the file has {len - headerLength} (trailing data).");
        byte[] data;
        if (length is not null)
        {
            data = GC.AllocateUninitializedArray<byte>((int)bytes);
            s.ReadExactly(data);
        }
        else
        {
            // Compressed: grow with the data actually decompressed, so a hostile header cannot force a huge allocation.
            data = new byte[(int)Math.Min(bytes, 1 << 24)];
            int filled = 0;
            while (filled < bytes)
            {
                if (filled == data.Length) Array.Resize(ref data, (int)Math.Min(bytes, (long)data.Length * 2));
                int r = s.Read(data, filled, data.Length - filled);
                if (r == 0)
                    throw new InvalidDataException($"IDX file '{path}': truncated, the sizes [{string.Join(", ", dims)}] need {bytes} data bytes but the decompressed stream has {filled}.");
                filled += r;
            }
            if (s.ReadByte() != -1)
                throw new InvalidDataException($"IDX file '{path}': the sizes [{string.Join(", ", dims)}] need {bytes} data bytes but the decompressed stream is longer (trailing data).");
        }
        return (type, dims, data);
    }
}
