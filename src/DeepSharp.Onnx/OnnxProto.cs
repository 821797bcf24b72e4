using System.Runtime.InteropServices;

namespace DeepSharp.Onnx;

// The ONNX messages DeepSharp reads and writes (field numbers from onnx/onnx.proto), as plain classes.

/// <summary>TensorProto.DataType values used here.</summary>
internal static class OnnxType
{
    public const int Float = 1, Int32 = 6, Int64 = 7, Bool = 9, Double = 11;

    public static int Of(DType dtype) => dtype switch
    {
        DType.Float32 => Float,
        DType.Float64 => Double,
        DType.Int64 => Int64,
        DType.Bool => Bool,
        _ => throw new NotSupportedException($"ONNX: no ONNX element type for {dtype}."),
    };

    public static string Name(int type) => type switch
    {
        Float => "float", Int32 => "int32", Int64 => "int64", Bool => "bool", Double => "double", _ => $"type {type}",
    };
}

/// <summary>TensorProto: an initializer or constant.</summary>
internal sealed class OnnxTensor
{
    public string Name = "";
    public long[] Dims = [];
    public int DataType;
    public byte[] Raw = [];   // little-endian raw_data (what DeepSharp writes; typed fields are converted on read)

    public static OnnxTensor From(string name, Tensor t)
    {
        var c = t.Detach().Contiguous();
        byte[] raw = c.DType switch
        {
            DType.Float32 => MemoryMarshal.AsBytes(c.ToArray<float>().AsSpan()).ToArray(),
            DType.Float64 => MemoryMarshal.AsBytes(c.ToArray<double>().AsSpan()).ToArray(),
            DType.Int64 => MemoryMarshal.AsBytes(c.ToArray<long>().AsSpan()).ToArray(),
            DType.Bool => c.ToArray<bool>().Select(b => b ? (byte)1 : (byte)0).ToArray(),
            _ => throw new NotSupportedException($"ONNX: cannot store a {c.DType} tensor."),
        };
        return new OnnxTensor { Name = name, Dims = [.. t.Shape.Select(d => (long)d)], DataType = OnnxType.Of(t.DType), Raw = raw };
    }

    public Tensor ToTensor()
    {
        if (Dims.Length == 0) return new OnnxTensor { Name = Name, Dims = [1], DataType = DataType, Raw = Raw }.ToTensor().Reshape();
        int[] shape = [.. Dims.Select(d => checked((int)d))];
        return DataType switch
        {
            OnnxType.Float => Tensor.FromArray(MemoryMarshal.Cast<byte, float>(Raw).ToArray(), shape),
            OnnxType.Double => Tensor.FromArray(MemoryMarshal.Cast<byte, double>(Raw).ToArray(), shape),
            OnnxType.Int64 => Tensor.FromArray(MemoryMarshal.Cast<byte, long>(Raw).ToArray(), shape),
            OnnxType.Int32 => Tensor.FromArray(MemoryMarshal.Cast<byte, int>(Raw).ToArray().Select(v => (long)v).ToArray(), shape),
            OnnxType.Bool => Tensor.FromArray(Raw.Select(b => b != 0).ToArray(), shape),
            _ => throw new NotSupportedException($"ONNX: tensor '{Name}' has element type {OnnxType.Name(DataType)}, which DeepSharp does not load."),
        };
    }

    public void Write(ProtoWriter w)
    {
        foreach (var d in Dims) w.Int(1, d);
        w.Int(2, DataType);
        w.String(8, Name);
        w.Bytes(9, Raw);
    }

    public static OnnxTensor Read(ReadOnlyMemory<byte> data)
    {
        var t = new OnnxTensor();
        var dims = new List<long>();
        List<float>? floats = null; List<long>? ints = null; List<double>? doubles = null;
        bool external = false;
        foreach (var f in ProtoReader.Fields(data))
        {
            switch (f.Number)
            {
                case 1: dims.AddRange(f.AsInts()); break;
                case 2: t.DataType = (int)f.Value; break;
                case 4: (floats ??= []).AddRange(f.AsFloats()); break;
                case 5: case 7: (ints ??= []).AddRange(f.AsInts()); break;
                case 8: t.Name = f.AsString(); break;
                case 9: t.Raw = f.Data.ToArray(); break;
                case 10: (doubles ??= []).AddRange(f.AsDoubles()); break;
                case 14: external = f.Value == 1; break;
            }
        }
        if (external) throw new NotSupportedException($"ONNX: tensor '{t.Name}' keeps its data in an external file, which DeepSharp does not load.");
        t.Dims = [.. dims];
        if (floats is not null) t.Raw = MemoryMarshal.AsBytes(floats.ToArray().AsSpan()).ToArray();
        else if (doubles is not null) t.Raw = MemoryMarshal.AsBytes(doubles.ToArray().AsSpan()).ToArray();
        else if (ints is not null)
        {
            t.Raw = t.DataType switch
            {
                OnnxType.Int64 => MemoryMarshal.AsBytes(ints.ToArray().AsSpan()).ToArray(),
                OnnxType.Int32 => MemoryMarshal.AsBytes(ints.Select(v => (int)v).ToArray().AsSpan()).ToArray(),
                OnnxType.Bool => ints.Select(v => (byte)(v != 0 ? 1 : 0)).ToArray(),
                _ => throw new NotSupportedException($"ONNX: tensor '{t.Name}' stores {OnnxType.Name(t.DataType)} in int fields, which DeepSharp does not load."),
            };
        }
        return t;
    }
}

/// <summary>AttributeProto (the kinds ONNX's standard ops use here).</summary>
internal sealed class OnnxAttribute
{
    public const int FloatKind = 1, IntKind = 2, StringKind = 3, TensorKind = 4, FloatsKind = 6, IntsKind = 7;
    public string Name = "";
    public int Type;
    public float F;
    public long I;
    public string S = "";
    public OnnxTensor? T;
    public float[] Floats = [];
    public long[] Ints = [];

    public static OnnxAttribute Int(string name, long v) => new() { Name = name, Type = IntKind, I = v };
    public static OnnxAttribute Float(string name, float v) => new() { Name = name, Type = FloatKind, F = v };
    public static OnnxAttribute IntList(string name, params long[] v) => new() { Name = name, Type = IntsKind, Ints = v };
    public static OnnxAttribute Tensor(string name, OnnxTensor t) => new() { Name = name, Type = TensorKind, T = t };

    public void Write(ProtoWriter w)
    {
        w.String(1, Name);
        switch (Type)
        {
            case FloatKind: w.Float(2, F); break;
            case IntKind: w.Int(3, I); break;
            case StringKind: w.String(4, S); break;
            case TensorKind: w.Message(5, T!.Write); break;
            case FloatsKind: w.PackedFloats(7, Floats); break;
            case IntsKind: w.PackedInts(8, Ints); break;
        }
        w.Int(20, Type);
    }

    public static OnnxAttribute Read(ReadOnlyMemory<byte> data)
    {
        var a = new OnnxAttribute();
        var floats = new List<float>();
        var ints = new List<long>();
        foreach (var f in ProtoReader.Fields(data))
        {
            switch (f.Number)
            {
                case 1: a.Name = f.AsString(); break;
                case 2: a.F = f.AsFloat(); break;
                case 3: a.I = (long)f.Value; break;
                case 4: a.S = f.AsString(); break;
                case 5: a.T = OnnxTensor.Read(f.Data); break;
                case 7: floats.AddRange(f.AsFloats()); break;
                case 8: ints.AddRange(f.AsInts()); break;
                case 20: a.Type = (int)f.Value; break;
            }
        }
        a.Floats = [.. floats];
        a.Ints = [.. ints];
        return a;
    }
}

/// <summary>NodeProto: one op.</summary>
internal sealed class OnnxNode
{
    public List<string> Inputs = [];
    public List<string> Outputs = [];
    public string Name = "";
    public string OpType = "";
    public string Domain = "";
    public List<OnnxAttribute> Attributes = [];

    public OnnxAttribute? Attr(string name) => Attributes.FirstOrDefault(a => a.Name == name);

    public long Int(string name, long fallback) => Attr(name) is { } a ? a.I : fallback;

    public float Float(string name, float fallback) => Attr(name) is { } a ? a.F : fallback;

    public long[]? Ints(string name) => Attr(name)?.Ints;

    public void Write(ProtoWriter w)
    {
        foreach (var i in Inputs) w.String(1, i);
        foreach (var o in Outputs) w.String(2, o);
        w.String(3, Name);
        w.String(4, OpType);
        foreach (var a in Attributes) w.Message(5, a.Write);
        if (Domain.Length > 0) w.String(7, Domain);
    }

    public static OnnxNode Read(ReadOnlyMemory<byte> data)
    {
        var n = new OnnxNode();
        foreach (var f in ProtoReader.Fields(data))
        {
            switch (f.Number)
            {
                case 1: n.Inputs.Add(f.AsString()); break;
                case 2: n.Outputs.Add(f.AsString()); break;
                case 3: n.Name = f.AsString(); break;
                case 4: n.OpType = f.AsString(); break;
                case 5: n.Attributes.Add(OnnxAttribute.Read(f.Data)); break;
                case 7: n.Domain = f.AsString(); break;
            }
        }
        return n;
    }
}

/// <summary>ValueInfoProto of a tensor: name, element type and shape (a dim is a number, a name, or unknown).</summary>
internal sealed class OnnxValueInfo
{
    public string Name = "";
    public int ElemType;
    public List<(long Value, string? Param)> Dims = [];

    public void Write(ProtoWriter w)
    {
        w.String(1, Name);
        w.Message(2, type => type.Message(1, tensor =>
        {
            tensor.Int(1, ElemType);
            tensor.Message(2, shape =>
            {
                foreach (var (value, param) in Dims)
                    shape.Message(1, dim => { if (param is null) dim.Int(1, value); else dim.String(2, param); });
            });
        }));
    }

    public static OnnxValueInfo Read(ReadOnlyMemory<byte> data)
    {
        var v = new OnnxValueInfo();
        foreach (var f in ProtoReader.Fields(data))
        {
            if (f.Number == 1) v.Name = f.AsString();
            else if (f.Number == 2)
                foreach (var tf in ProtoReader.Fields(f.Data).Where(x => x.Number == 1))
                    foreach (var tt in ProtoReader.Fields(tf.Data))
                    {
                        if (tt.Number == 1) v.ElemType = (int)tt.Value;
                        else if (tt.Number == 2)
                            foreach (var dim in ProtoReader.Fields(tt.Data).Where(x => x.Number == 1))
                            {
                                long value = -1; string? param = null;
                                foreach (var df in ProtoReader.Fields(dim.Data))
                                {
                                    if (df.Number == 1) value = (long)df.Value;
                                    else if (df.Number == 2) param = df.AsString();
                                }
                                v.Dims.Add((value, param));
                            }
                    }
        }
        return v;
    }
}

/// <summary>GraphProto.</summary>
internal sealed class OnnxGraph
{
    public string Name = "";
    public List<OnnxNode> Nodes = [];
    public List<OnnxTensor> Initializers = [];
    public List<OnnxValueInfo> Inputs = [];
    public List<OnnxValueInfo> Outputs = [];

    public void Write(ProtoWriter w)
    {
        foreach (var n in Nodes) w.Message(1, n.Write);
        w.String(2, Name);
        foreach (var t in Initializers) w.Message(5, t.Write);
        foreach (var i in Inputs) w.Message(11, i.Write);
        foreach (var o in Outputs) w.Message(12, o.Write);
    }

    public static OnnxGraph Read(ReadOnlyMemory<byte> data)
    {
        var g = new OnnxGraph();
        foreach (var f in ProtoReader.Fields(data))
        {
            switch (f.Number)
            {
                case 1: g.Nodes.Add(OnnxNode.Read(f.Data)); break;
                case 2: g.Name = f.AsString(); break;
                case 5: g.Initializers.Add(OnnxTensor.Read(f.Data)); break;
                case 11: g.Inputs.Add(OnnxValueInfo.Read(f.Data)); break;
                case 12: g.Outputs.Add(OnnxValueInfo.Read(f.Data)); break;
            }
        }
        return g;
    }
}

/// <summary>ModelProto.</summary>
internal sealed class OnnxModel
{
    public long IrVersion = 8;
    public List<(string Domain, long Version)> Opsets = [];
    public string ProducerName = "DeepSharp";
    public string ProducerVersion = "";
    public OnnxGraph Graph = new();

    public byte[] ToBytes()
    {
        var w = new ProtoWriter();
        w.Int(1, IrVersion);
        w.String(2, ProducerName);
        w.String(3, ProducerVersion);
        w.Message(7, Graph.Write);
        foreach (var (domain, version) in Opsets)
            w.Message(8, o => { o.String(1, domain); o.Int(2, version); });
        return w.ToArray();
    }

    public static OnnxModel Parse(ReadOnlyMemory<byte> data)
    {
        var m = new OnnxModel { ProducerName = "" };
        bool sawGraph = false;
        foreach (var f in ProtoReader.Fields(data))
        {
            switch (f.Number)
            {
                case 1: m.IrVersion = (long)f.Value; break;
                case 2: m.ProducerName = f.AsString(); break;
                case 3: m.ProducerVersion = f.AsString(); break;
                case 7: m.Graph = OnnxGraph.Read(f.Data); sawGraph = true; break;
                case 8:
                    string domain = ""; long version = 0;
                    foreach (var o in ProtoReader.Fields(f.Data))
                    {
                        if (o.Number == 1) domain = o.AsString();
                        else if (o.Number == 2) version = (long)o.Value;
                    }
                    m.Opsets.Add((domain, version));
                    break;
            }
        }
        if (!sawGraph) throw new InvalidDataException("ONNX: the file has no graph (is it an ONNX model?).");
        return m;
    }
}
