using System.Buffers.Binary;
using System.Text;

namespace DeepSharp.Onnx;

// The protobuf wire format, the few parts ONNX needs: varints (wire type 0), 64-bit (1), length-delimited (2) and
// 32-bit (5) fields. Written by hand so that the package needs no protoc step and no dependency.
internal sealed class ProtoWriter
{
    private readonly MemoryStream _stream = new();

    public byte[] ToArray() => _stream.ToArray();

    private void Tag(int field, int wireType) => Varint(((ulong)field << 3) | (uint)wireType);

    private void Varint(ulong v)
    {
        while (v >= 0x80) { _stream.WriteByte((byte)(v | 0x80)); v >>= 7; }
        _stream.WriteByte((byte)v);
    }

    public void Int(int field, long value) { Tag(field, 0); Varint((ulong)value); }

    public void Float(int field, float value)
    {
        Tag(field, 5);
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(b, value);
        _stream.Write(b);
    }

    public void Bytes(int field, ReadOnlySpan<byte> value) { Tag(field, 2); Varint((ulong)value.Length); _stream.Write(value); }

    public void String(int field, string? value)
    {
        if (value is null) return;
        Bytes(field, Encoding.UTF8.GetBytes(value));
    }

    public void Message(int field, Action<ProtoWriter> write)
    {
        var inner = new ProtoWriter();
        write(inner);
        Bytes(field, inner._stream.GetBuffer().AsSpan(0, (int)inner._stream.Length));
    }

    public void PackedInts(int field, IReadOnlyList<long> values)
    {
        var inner = new ProtoWriter();
        foreach (var v in values) inner.Varint((ulong)v);
        Bytes(field, inner._stream.GetBuffer().AsSpan(0, (int)inner._stream.Length));
    }

    public void PackedFloats(int field, IReadOnlyList<float> values)
    {
        var bytes = new byte[values.Count * 4];
        for (int i = 0; i < values.Count; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), values[i]);
        Bytes(field, bytes);
    }
}

/// <summary>One field read from a message: its number, wire type and value (varint/fixed as <see cref="Value"/>,
/// length-delimited as <see cref="Data"/>).</summary>
internal readonly record struct ProtoField(int Number, int WireType, ulong Value, ReadOnlyMemory<byte> Data)
{
    public string AsString() => Encoding.UTF8.GetString(Data.Span);

    public float AsFloat() => BitConverter.Int32BitsToSingle((int)(uint)Value);

    public double AsDouble() => BitConverter.Int64BitsToDouble((long)Value);

    /// <summary>The int64 values of a repeated varint field, packed (wire type 2) or not (one value).</summary>
    public IEnumerable<long> AsInts()
    {
        if (WireType == 0) return [(long)Value];
        var result = new List<long>();
        var span = Data.Span;
        int pos = 0;
        while (pos < span.Length) result.Add((long)ProtoReader.ReadVarint(span, ref pos));
        return result;
    }

    /// <summary>The float values of a repeated float field, packed or not.</summary>
    public IEnumerable<float> AsFloats()
    {
        if (WireType == 5) return [AsFloat()];
        var span = Data.Span;
        var result = new float[span.Length / 4];
        for (int i = 0; i < result.Length; i++) result[i] = BinaryPrimitives.ReadSingleLittleEndian(span[(4 * i)..]);
        return result;
    }

    /// <summary>The double values of a repeated double field, packed or not.</summary>
    public IEnumerable<double> AsDoubles()
    {
        if (WireType == 1) return [AsDouble()];
        var span = Data.Span;
        var result = new double[span.Length / 8];
        for (int i = 0; i < result.Length; i++) result[i] = BinaryPrimitives.ReadDoubleLittleEndian(span[(8 * i)..]);
        return result;
    }
}

internal static class ProtoReader
{
    internal static ulong ReadVarint(ReadOnlySpan<byte> span, ref int pos)
    {
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (pos >= span.Length) throw new InvalidDataException("ONNX: truncated varint in the protobuf data.");
            byte b = span[pos++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return result;
        }
        throw new InvalidDataException("ONNX: malformed varint in the protobuf data.");
    }

    /// <summary>The fields of one message, in file order.</summary>
    public static List<ProtoField> Fields(ReadOnlyMemory<byte> message)
    {
        var fields = new List<ProtoField>();
        var span = message.Span;
        int pos = 0;
        while (pos < span.Length)
        {
            ulong tag = ReadVarint(span, ref pos);
            int number = (int)(tag >> 3), wire = (int)(tag & 7);
            switch (wire)
            {
                case 0: fields.Add(new(number, wire, ReadVarint(span, ref pos), default)); break;
                case 1:
                    Need(span, pos, 8);
                    fields.Add(new(number, wire, BinaryPrimitives.ReadUInt64LittleEndian(span[pos..]), default)); pos += 8; break;
                case 2:
                    int len = checked((int)ReadVarint(span, ref pos));
                    Need(span, pos, len);
                    fields.Add(new(number, wire, 0, message.Slice(pos, len))); pos += len; break;
                case 5:
                    Need(span, pos, 4);
                    fields.Add(new(number, wire, BinaryPrimitives.ReadUInt32LittleEndian(span[pos..]), default)); pos += 4; break;
                default: throw new InvalidDataException($"ONNX: unsupported protobuf wire type {wire} (field {number}); is this an ONNX file?");
            }
        }
        return fields;
    }

    private static void Need(ReadOnlySpan<byte> span, int pos, int len)
    {
        if (len < 0 || pos + len > span.Length) throw new InvalidDataException("ONNX: truncated protobuf data (the file is incomplete or not an ONNX model).");
    }
}
