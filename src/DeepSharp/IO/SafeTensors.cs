using DeepSharp.Kernels;

using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace DeepSharp.IO;

/// <summary>
/// Reads and writes the safetensors format (as Hugging Face's <c>safetensors</c> and PyTorch use): an 8-byte
/// little-endian header length N, N bytes of JSON header
/// <c>{"__metadata__":{…},"name":{"dtype":"F32","shape":[…],"data_offsets":[begin,end]},…}</c> padded with spaces to a
/// multiple of 8, then the little-endian raw data (offsets relative to the data section). DeepSharp writes F32, F64,
/// I64 and BOOL, in the dictionary's order; it reads those and also F16/BF16 (as Float32) and I32/I16/I8/U8 (as Int64).
/// Saving is atomic (see <see cref="AtomicFile"/>). Loading validates the whole header before allocating tensor data;
/// a truncated, corrupted or hostile file raises <see cref="InvalidDataException"/> naming the file and the entry.
/// </summary>
public static class SafeTensors
{
    /// <summary>The largest header accepted when loading (100 MB, as the reference implementation).</summary>
    public const long MaxHeaderLength = 100_000_000;

    /// <summary>Test hook: called after each tensor's data is written (to simulate failures mid-write).</summary>
    [ThreadStatic] internal static Action<string>? AfterTensorWritten;

    /// <summary>Saves <paramref name="tensors"/> (any layout; written contiguous) with optional string metadata, atomically.</summary>
    /// <param name="tensors">Tensors by name, written in enumeration order.</param>
    /// <param name="path">The file to create or replace.</param>
    /// <param name="metadata">Free-form string pairs stored under <c>__metadata__</c>.</param>
    public static void Save(IReadOnlyDictionary<string, Tensor> tensors, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(path);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("SafeTensors: big-endian hosts are not supported.");
        AtomicFile.Write(path, stream =>
        {
            var entries = new List<(string Name, Tensor Tensor)>();
            foreach (var (name, t) in tensors)
            {
                ArgumentNullException.ThrowIfNull(t, $"tensors[\"{name}\"]");
                if (name == "__metadata__") throw new ArgumentException("SafeTensors.Save: '__metadata__' is reserved and cannot name a tensor.");
                entries.Add((name, t));
            }
            byte[] header = BuildHeader(entries, metadata);
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
            stream.Write(len);
            stream.Write(header);
            foreach (var (name, t) in entries)
            {
                var c = t.Contiguous();
                switch (c.DType)
                {
                    case DType.Float32: stream.Write(MemoryMarshal.AsBytes(c.ReadSpan<float>())); break;
                    case DType.Float64: stream.Write(MemoryMarshal.AsBytes(c.ReadSpan<double>())); break;
                    case DType.Int64: stream.Write(MemoryMarshal.AsBytes(c.ReadSpan<long>())); break;
                    case DType.Bool: foreach (bool b in c.ReadSpan<bool>()) stream.WriteByte(b ? (byte)1 : (byte)0); break;
                }
                AfterTensorWritten?.Invoke(name);
            }
        });
    }

    /// <summary>The header bytes (JSON padded with spaces to a multiple of 8) for tensors laid out in order.</summary>
    internal static byte[] BuildHeader(IReadOnlyList<(string Name, Tensor Tensor)> entries, IReadOnlyDictionary<string, string>? metadata)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (metadata is not null)
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata)
                {
                    ArgumentNullException.ThrowIfNull(k, nameof(metadata));
                    w.WriteString(k, v ?? throw new ArgumentException($"SafeTensors.Save: metadata value for '{k}' is null."));
                }
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, t) in entries)
            {
                long size = (long)t.NumEl * t.DType.ElementSize();
                w.WriteStartObject(name);
                w.WriteString("dtype", DTypeName(t.DType));
                w.WriteStartArray("shape");
                foreach (int d in t._shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + size);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += size;
            }
            w.WriteEndObject();
        }
        int pad = (int)((8 - ms.Length % 8) % 8);
        for (int i = 0; i < pad; i++) ms.WriteByte((byte)' ');
        return ms.ToArray();
    }

    private static string DTypeName(DType dtype) => dtype switch
    {
        DType.Float32 => "F32",
        DType.Float64 => "F64",
        DType.Int64 => "I64",
        DType.Bool => "BOOL",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    /// <summary>Loads every tensor, in file order.</summary>
    /// <exception cref="InvalidDataException">The file is not valid safetensors (truncated, corrupted, hostile).</exception>
    public static OrderedDictionary<string, Tensor> Load(string path) => LoadWithMetadata(path).Tensors;

    /// <summary>Loads every tensor and the <c>__metadata__</c> string pairs.</summary>
    /// <exception cref="InvalidDataException">The file is not valid safetensors (truncated, corrupted, hostile).</exception>
    public static (OrderedDictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) LoadWithMetadata(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("SafeTensors: big-endian hosts are not supported.");
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        var header = ReadHeader(handle, path);
        var tensors = new OrderedDictionary<string, Tensor>();
        foreach (var e in header.Entries)
            tensors.Add(e.Name, ReadTensor(handle, path, header.DataStart, e));
        return (tensors, header.Metadata);
    }

    /// <summary>Reads only the <c>__metadata__</c> string pairs (the header is fully validated; no tensor data is read).</summary>
    public static Dictionary<string, string> ReadMetadata(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return ReadHeader(handle, path).Metadata;
    }

    /// <summary>
    /// Copies the tensors of a file into existing tensors of the same names and shapes (e.g. a model's state dict),
    /// converting between floating types. The file and the names are fully checked before any target changes.
    /// </summary>
    /// <param name="path">The safetensors file.</param>
    /// <param name="target">The tensors to overwrite in place.</param>
    /// <param name="strict">Require the file's names and the target's names to match exactly; otherwise only common names are copied.</param>
    /// <returns>The target names missing from the file and the file names absent from the target.</returns>
    /// <exception cref="InvalidDataException">The file is invalid, or (strict) names, or shapes or dtypes do not match.</exception>
    public static (string[] Missing, string[] Unexpected) LoadInto(string path, IReadOnlyDictionary<string, Tensor> target, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(target);
        var loaded = Load(path);
        var missing = target.Keys.Where(k => !loaded.ContainsKey(k)).ToArray();
        var unexpected = loaded.Keys.Where(k => !target.ContainsKey(k)).ToArray();
        if (strict && (missing.Length > 0 || unexpected.Length > 0))
            throw new InvalidDataException($"SafeTensors file '{path}': names do not match; missing: [{string.Join(", ", missing)}], unexpected: [{string.Join(", ", unexpected)}].");
        foreach (var (name, dst) in target)
        {
            if (!loaded.TryGetValue(name, out var src)) continue;
            if (!ShapeUtil.SameShape(src._shape, dst._shape))
                throw new InvalidDataException($"SafeTensors file '{path}': entry '{name}' has shape {ShapeUtil.Format(src._shape)}, the target has {ShapeUtil.Format(dst._shape)}.");
            if (src.DType != dst.DType && !(src.DType.IsFloatingPoint() && dst.DType.IsFloatingPoint()))
                throw new InvalidDataException($"SafeTensors file '{path}': entry '{name}' has dtype {src.DType}, the target has {dst.DType}.");
        }
        using (GradMode.Set(false))
            foreach (var (name, dst) in target)
                if (loaded.TryGetValue(name, out var src))
                {
                    dst.CopyFromNoGrad(src.To(dst.DType));
                    dst.BumpVersion();
                }
        return (missing, unexpected);
    }

    // ---------------------------------------------------------------- reading

    private sealed record Entry(string Name, string FileDType, DType DType, int ElementSize, int[] Shape, long Begin, long End);

    private sealed record Header(List<Entry> Entries, Dictionary<string, string> Metadata, long DataStart);

    private static InvalidDataException Bad(string path, string message) => new($"SafeTensors file '{path}': {message}");

    private static Header ReadHeader(Microsoft.Win32.SafeHandles.SafeFileHandle handle, string path)
    {
        long fileLength = RandomAccess.GetLength(handle);
        if (fileLength < 8) throw Bad(path, $"truncated: the file has {fileLength} bytes, fewer than the 8-byte header length.");
        Span<byte> lenBytes = stackalloc byte[8];
        RandomAccess.Read(handle, lenBytes, 0);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
        if (n > (ulong)(fileLength - 8))
            throw Bad(path, $"header length {n} exceeds the {fileLength - 8} bytes that follow it (truncated or not a safetensors file).");
        if (n > MaxHeaderLength) throw Bad(path, $"header length {n} exceeds the limit of {MaxHeaderLength} bytes.");
        if (n < 2) throw Bad(path, $"header length {n} is too small for a JSON object.");
        var headerBytes = new byte[(int)n];
        if (RandomAccess.Read(handle, headerBytes, 8) != headerBytes.Length) throw Bad(path, "truncated header.");
        long dataStart = 8 + (long)n;
        long dataLength = fileLength - dataStart;

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(headerBytes, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"SafeTensors file '{path}': the header is not valid JSON: {ex.Message}", ex);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Bad(path, $"the header must be a JSON object, found {root.ValueKind}.");
            var entries = new List<Entry>();
            var names = new HashSet<string>();
            var metadata = new Dictionary<string, string>();
            foreach (var prop in root.EnumerateObject())
            {
                if (!names.Add(prop.Name)) throw Bad(path, $"entry '{prop.Name}' appears more than once in the header.");
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object) throw Bad(path, "'__metadata__' must be an object of strings.");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String) throw Bad(path, $"'__metadata__' value for '{m.Name}' must be a string, found {m.Value.ValueKind}.");
                        if (!metadata.TryAdd(m.Name, m.Value.GetString()!)) throw Bad(path, $"'__metadata__' key '{m.Name}' appears more than once.");
                    }
                    continue;
                }
                entries.Add(ParseEntry(path, prop.Name, prop.Value, dataLength));
            }
            // No two tensors may share bytes.
            var sorted = entries.Where(e => e.End > e.Begin).OrderBy(e => e.Begin).ToList();
            for (int i = 1; i < sorted.Count; i++)
                if (sorted[i].Begin < sorted[i - 1].End)
                    throw Bad(path, $"entries '{sorted[i - 1].Name}' [{sorted[i - 1].Begin}, {sorted[i - 1].End}) and '{sorted[i].Name}' [{sorted[i].Begin}, {sorted[i].End}) overlap.");
            return new Header(entries, metadata, dataStart);
        }
    }

    private static Entry ParseEntry(string path, string name, JsonElement e, long dataLength)
    {
        if (e.ValueKind != JsonValueKind.Object) throw Bad(path, $"entry '{name}' must be an object with dtype, shape and data_offsets.");
        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw Bad(path, $"entry '{name}' has no string 'dtype'.");
        string fileDType = dt.GetString()!;
        (DType dtype, int size) = fileDType switch
        {
            "F32" => (DType.Float32, 4),
            "F64" => (DType.Float64, 8),
            "I64" => (DType.Int64, 8),
            "BOOL" => (DType.Bool, 1),
            "F16" or "BF16" => (DType.Float32, 2),
            "I32" => (DType.Int64, 4),
            "I16" => (DType.Int64, 2),
            "I8" or "U8" => (DType.Int64, 1),
            _ => throw Bad(path, $"entry '{name}' has unsupported dtype '{fileDType}' (supported: F32, F64, I64, BOOL, F16, BF16, I32, I16, I8, U8)."),
        };
        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw Bad(path, $"entry '{name}' has no 'shape' array.");
        var shape = new int[sh.GetArrayLength()];
        long numel = 1;
        int k = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long v) || v < 0)
                throw Bad(path, $"entry '{name}' has an invalid shape {sh.GetRawText()} (sizes must be non-negative integers).");
            if (v > int.MaxValue) throw Bad(path, $"entry '{name}' has a dimension of size {v}, too large to load.");
            shape[k++] = (int)v;
            numel *= v;
            if (numel > int.MaxValue) throw Bad(path, $"entry '{name}' with shape {sh.GetRawText()} has more elements than can be loaded.");
        }
        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw Bad(path, $"entry '{name}' has no 'data_offsets' pair.");
        long begin = -1, end = -1;
        if (off[0].ValueKind == JsonValueKind.Number && off[0].TryGetInt64(out long b)) begin = b;
        if (off[1].ValueKind == JsonValueKind.Number && off[1].TryGetInt64(out long en)) end = en;
        if (begin < 0 || end < begin || end > dataLength)
            throw Bad(path, $"entry '{name}' has data_offsets {off.GetRawText()} outside the data section of {dataLength} bytes (truncated or corrupted).");
        if (end - begin != numel * size)
            throw Bad(path, $"entry '{name}' ({fileDType}, shape {sh.GetRawText()}) needs {numel * size} bytes but its data_offsets {off.GetRawText()} span {end - begin}.");
        return new Entry(name, fileDType, dtype, size, shape, begin, end);
    }

    private static Tensor ReadTensor(Microsoft.Win32.SafeHandles.SafeFileHandle handle, string path, long dataStart, Entry e)
    {
        int n = ShapeUtil.Numel(e.Shape);
        long pos = dataStart + e.Begin;
        void Fill(Span<byte> dst)
        {
            int done = 0;
            while (done < dst.Length)
            {
                int r = RandomAccess.Read(handle, dst[done..], pos + done);
                if (r == 0) throw Bad(path, $"entry '{e.Name}': unexpected end of file while reading its data.");
                done += r;
            }
        }
        switch (e.FileDType)
        {
            case "F32": { var a = GC.AllocateUninitializedArray<float>(n); Fill(MemoryMarshal.AsBytes(a.AsSpan())); return Tensor.FromBuffer(a, e.Shape); }
            case "F64": { var a = GC.AllocateUninitializedArray<double>(n); Fill(MemoryMarshal.AsBytes(a.AsSpan())); return Tensor.FromBuffer(a, e.Shape); }
            case "I64": { var a = GC.AllocateUninitializedArray<long>(n); Fill(MemoryMarshal.AsBytes(a.AsSpan())); return Tensor.FromBuffer(a, e.Shape); }
        }
        var raw = GC.AllocateUninitializedArray<byte>(n * e.ElementSize);
        Fill(raw);
        switch (e.FileDType)
        {
            case "BOOL": { var a = new bool[n]; DecodeKernels.UInt8ToBool(raw, a); return Tensor.FromBuffer(a, e.Shape); }
            case "F16": { var a = new float[n]; DecodeKernels.HalfToFloat(raw, a); return Tensor.FromBuffer(a, e.Shape); }
            case "BF16": { var a = new float[n]; DecodeKernels.BFloat16ToFloat(raw, a); return Tensor.FromBuffer(a, e.Shape); }
            case "I32": { var a = new long[n]; DecodeKernels.Int32ToInt64(raw, a, bigEndian: false); return Tensor.FromBuffer(a, e.Shape); }
            case "I16": { var a = new long[n]; DecodeKernels.Int16ToInt64(raw, a, bigEndian: false); return Tensor.FromBuffer(a, e.Shape); }
            case "I8": { var a = new long[n]; DecodeKernels.Int8ToInt64(raw, a); return Tensor.FromBuffer(a, e.Shape); }
            default: { var a = new long[n]; DecodeKernels.UInt8ToInt64(raw, a); return Tensor.FromBuffer(a, e.Shape); }
        }
    }
}
