using System.Buffers.Binary;
using System.Collections;
using System.Text;
using DeepSharp.IO;

namespace DeepSharp.Tests.IO;

[TestFixture]
public class SafeTensorsTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "deepsharp-st-" + Guid.NewGuid().ToString("N")));

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private string P(string name) => Path.Combine(_dir, name);

    private static void AssertSame(Tensor actual, Tensor expected)
    {
        Assert.That(actual.DType, Is.EqualTo(expected.DType));
        Assert.That(actual.Shape, Is.EqualTo(expected.Shape));
        switch (expected.DType)
        {
            case DType.Float32: Assert.That(actual.ToArray<float>(), Is.EqualTo(expected.ToArray<float>())); break;
            case DType.Float64: Assert.That(actual.ToArray<double>(), Is.EqualTo(expected.ToArray<double>())); break;
            case DType.Int64: Assert.That(actual.ToArray<long>(), Is.EqualTo(expected.ToArray<long>())); break;
            default: Assert.That(actual.ToArray<bool>(), Is.EqualTo(expected.ToArray<bool>())); break;
        }
    }

    [Test]
    public void RoundTripsAllDTypesAndRanksInOrder()
    {
        var gen = new Generator(11);
        var tensors = new Dictionary<string, Tensor>
        {
            ["scalar"] = Tensor.Scalar(3.25),
            ["empty"] = Tensor.Zeros([0, 4]),
            ["f32"] = Tensor.Randn([2, 3, 4], DType.Float32, gen),
            ["f64"] = Tensor.Randn([5], DType.Float64, gen),
            ["i64"] = Tensor.FromArray(new long[,] { { long.MinValue, -1 }, { 0, long.MaxValue } }),
            ["bool"] = Tensor.FromArray(new[] { true, false, true }),
            ["b0"] = Tensor.Full([], 1, DType.Bool),
            ["rank4"] = Tensor.Randn([1, 2, 1, 3], DType.Float64, gen),
            ["noncontig"] = Tensor.Randn([3, 4], DType.Float32, gen).T,
            ["nan.inf"] = Tensor.FromArray(new[] { float.NaN, float.PositiveInfinity, -0f }),
        };
        var meta = new Dictionary<string, string> { ["framework"] = "DeepSharp", ["note"] = "ünïcode \"quoted\"" };
        SafeTensors.Save(tensors, P("a.safetensors"), meta);
        var (loaded, loadedMeta) = SafeTensors.LoadWithMetadata(P("a.safetensors"));
        Assert.That(loaded.Keys, Is.EqualTo(tensors.Keys), "file order = dictionary order");
        foreach (var (k, t) in tensors) AssertSame(loaded[k], t.Contiguous());
        Assert.That(loadedMeta, Is.EqualTo(meta));
        Assert.That(SafeTensors.ReadMetadata(P("a.safetensors")), Is.EqualTo(meta));
    }

    [Test]
    public void HeaderLayoutIsByteExact()
    {
        var tensors = new Dictionary<string, Tensor>
        {
            ["a"] = Tensor.FromArray(new float[] { 1, 2 }),
            ["b"] = Tensor.FromArray(new long[] { 3 }),
        };
        SafeTensors.Save(tensors, P("t.safetensors"), new Dictionary<string, string> { ["k"] = "v" });

        // Built by hand from the spec: compact JSON, __metadata__ first, offsets relative to the data section,
        // padded with spaces to a multiple of 8, then little-endian data.
        string json = "{\"__metadata__\":{\"k\":\"v\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[8,16]}}";
        Assert.That(json.Length, Is.EqualTo(133));
        json += new string(' ', 3); // 136 = 17·8
        var expected = new List<byte>();
        var len = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, 136);
        expected.AddRange(len);
        expected.AddRange(Encoding.UTF8.GetBytes(json));
        expected.AddRange([0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0x40]); // 1f, 2f
        expected.AddRange([3, 0, 0, 0, 0, 0, 0, 0]);
        Assert.That(File.ReadAllBytes(P("t.safetensors")), Is.EqualTo(expected.ToArray()));
    }

    [Test]
    public void EmptyDictionaryAndNoMetadata()
    {
        SafeTensors.Save(new Dictionary<string, Tensor>(), P("e.safetensors"));
        Assert.That(File.ReadAllBytes(P("e.safetensors")), Is.EqualTo(new byte[] { 8, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'}', 32, 32, 32, 32, 32, 32 }));
        Assert.That(SafeTensors.Load(P("e.safetensors")), Is.Empty);
    }

    /// <summary>A dictionary whose enumeration throws after yielding <paramref name="good"/> entries.</summary>
    private sealed class Failing(int good) : IReadOnlyDictionary<string, Tensor>
    {
        public IEnumerator<KeyValuePair<string, Tensor>> GetEnumerator()
        {
            for (int i = 0; i < good; i++) yield return new($"t{i}", Tensor.Ones([4]));
            throw new IOException("simulated failure while enumerating tensors");
        }
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
        public int Count => good + 1;
        public bool ContainsKey(string key) => false;
        public bool TryGetValue(string key, out Tensor value) { value = null!; return false; }
        public Tensor this[string key] => throw new KeyNotFoundException();
        public IEnumerable<string> Keys => [];
        public IEnumerable<Tensor> Values => [];
    }

    [Test]
    public void FailedSaveLeavesThePreviousFileIntactAndNoTempFile()
    {
        string path = P("model.safetensors");
        SafeTensors.Save(new Dictionary<string, Tensor> { ["w"] = Tensor.Arange(0, 5) }, path);
        var before = File.ReadAllBytes(path);

        var ex = Assert.Throws<IOException>(() => SafeTensors.Save(new Failing(2), path));
        Assert.That(ex!.Message, Does.Contain("simulated"));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(before));
        Assert.That(Directory.GetFiles(_dir), Is.EqualTo(new[] { path }), "no temporary file left behind");

        // A failure after some tensor data has already been written.
        SafeTensors.AfterTensorWritten = name => { if (name == "b") throw new IOException("disk full (simulated)"); };
        try
        {
            Assert.Throws<IOException>(() => SafeTensors.Save(new Dictionary<string, Tensor> { ["a"] = Tensor.Ones([100]), ["b"] = Tensor.Ones([100]), ["c"] = Tensor.Ones([1]) }, path));
        }
        finally { SafeTensors.AfterTensorWritten = null; }
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(before));
        Assert.That(Directory.GetFiles(_dir), Is.EqualTo(new[] { path }));
        AssertSame(SafeTensors.Load(path)["w"], Tensor.Arange(0, 5));
    }

    [Test]
    public void SaveReplacesAnExistingFile()
    {
        string path = P("x.safetensors");
        SafeTensors.Save(new Dictionary<string, Tensor> { ["w"] = Tensor.Ones([3]) }, path);
        SafeTensors.Save(new Dictionary<string, Tensor> { ["v"] = Tensor.Zeros([2]) }, path);
        Assert.That(SafeTensors.Load(path).Keys, Is.EqualTo(new[] { "v" }));
    }

    private string Raw(string name, string header, int dataBytes, ulong? headerLength = null)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength ?? (ulong)h.Length);
        h.CopyTo(bytes, 8);
        for (int i = 0; i < dataBytes; i++) bytes[8 + h.Length + i] = (byte)(i + 1);
        File.WriteAllBytes(P(name), bytes);
        return P(name);
    }

    private static void AssertRejected(string path, params string[] fragments)
    {
        var ex = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path));
        Assert.That(ex!.Message, Does.Contain(path));
        foreach (var f in fragments) Assert.That(ex.Message, Does.Contain(f));
    }

    private const string Good = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";

    [Test]
    public void HandBuiltFileLoads() => Assert.That(SafeTensors.Load(Raw("ok", Good, 8))["w"].Shape, Is.EqualTo(new[] { 2 }));

    [Test]
    public void HostileHeaderLengthIsRejectedWithoutAllocating()
    {
        AssertRejected(Raw("huge", Good, 8, headerLength: 1UL << 62), "header length 4611686018427387904");
        AssertRejected(Raw("neg", Good, 8, headerLength: ulong.MaxValue), "header length");
        File.WriteAllBytes(P("tiny"), [1, 2, 3]);
        AssertRejected(P("tiny"), "truncated");
        File.WriteAllBytes(P("zero"), []);
        AssertRejected(P("zero"), "truncated");
    }

    [Test]
    public void TruncatedFileIsRejected()
    {
        SafeTensors.Save(new Dictionary<string, Tensor> { ["a"] = Tensor.Ones([10]), ["b"] = Tensor.Ones([10]) }, P("full"));
        var bytes = File.ReadAllBytes(P("full"));
        File.WriteAllBytes(P("cut"), bytes[..^4]);
        AssertRejected(P("cut"), "'b'", "data_offsets");
        File.WriteAllBytes(P("cut-header"), bytes[..40]);
        AssertRejected(P("cut-header"), "header length");
    }

    [TestCase("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", "not valid JSON")]
    [TestCase("[1,2,3]", "must be a JSON object")]
    [TestCase("{\"w\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", "'w'", "unsupported dtype 'Q7'")]
    [TestCase("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", "'w'", "invalid shape")]
    [TestCase("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", "'w'", "needs 12 bytes")]
    [TestCase("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", "'w'", "outside the data section")]
    [TestCase("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,0]}}", "'w'", "outside")]
    [TestCase("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", "'w'", "data_offsets")]
    [TestCase("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"v\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}", "'w'", "'v'", "overlap")]
    [TestCase("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", "'w'", "more than once")]
    [TestCase("{\"w\":{\"dtype\":\"F32\",\"shape\":[65536,65536,65536],\"data_offsets\":[0,8]}}", "'w'", "more elements")]
    [TestCase("{\"__metadata__\":{\"k\":1}}", "__metadata__", "must be a string")]
    public void CorruptedHeadersAreRejectedWithClearMessages(string header, params string[] fragments) =>
        AssertRejected(Raw("bad", header, 8), fragments);

    [Test]
    public void ReadsForeignDTypesByConverting()
    {
        // F16 1.5 = 0x3E00, BF16 −2 = 0xC000, I32 −7, U8 200
        string header = "{\"h\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]},\"bf\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[2,4]}," +
                        "\"i\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[4,8]},\"u\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[8,9]}}";
        string path = Raw("foreign", header, 9);
        var bytes = File.ReadAllBytes(path);
        int d = bytes.Length - 9;
        byte[] data = [0x00, 0x3E, 0x00, 0xC0, 0xF9, 0xFF, 0xFF, 0xFF, 200];
        data.CopyTo(bytes, d);
        File.WriteAllBytes(path, bytes);
        var t = SafeTensors.Load(path);
        Assert.That(t["h"].Item(), Is.EqualTo(1.5));
        Assert.That(t["bf"].Item(), Is.EqualTo(-2.0));
        Assert.That(t["i"].ToArray<long>(), Is.EqualTo(new long[] { -7 }));
        Assert.That(t["u"].Dim, Is.EqualTo(0));
        Assert.That(t["u"].Item(), Is.EqualTo(200.0));
    }

    [Test]
    public void LoadIntoCopiesInPlaceAndLeavesTargetUntouchedOnFailure()
    {
        var w = Tensor.Zeros([2, 2]).RequiresGrad_();
        var b = Tensor.Zeros([2], DType.Float64);
        var target = new Dictionary<string, Tensor> { ["w"] = w, ["b"] = b };
        SafeTensors.Save(new Dictionary<string, Tensor> { ["w"] = Tensor.Ones([2, 2]), ["b"] = Tensor.FromArray(new float[] { 5, 6 }) }, P("good"));
        SafeTensors.LoadInto(P("good"), target);
        Assert.That(w.ToArray<float>(), Is.EqualTo(new[] { 1f, 1, 1, 1 }));
        Assert.That(b.ToArray<double>(), Is.EqualTo(new[] { 5.0, 6 }), "float32 → float64");
        Assert.That(w.RequiresGrad, Is.True);

        var snapshot = w.ToArray<float>();
        SafeTensors.Save(new Dictionary<string, Tensor> { ["w"] = Tensor.Full([2, 2], 9), ["b"] = Tensor.Ones([3]) }, P("shape"));
        Assert.Throws<InvalidDataException>(() => SafeTensors.LoadInto(P("shape"), target));
        Assert.That(w.ToArray<float>(), Is.EqualTo(snapshot), "nothing copied when any entry fails");
        SafeTensors.Save(new Dictionary<string, Tensor> { ["w"] = Tensor.Full([2, 2], 9) }, P("missing"));
        Assert.Throws<InvalidDataException>(() => SafeTensors.LoadInto(P("missing"), target));
        Assert.That(w.ToArray<float>(), Is.EqualTo(snapshot));
        var (missing, unexpected) = SafeTensors.LoadInto(P("missing"), target, strict: false);
        Assert.That(missing, Is.EqualTo(new[] { "b" }));
        Assert.That(unexpected, Is.Empty);
        Assert.That(w.ToArray<float>(), Is.EqualTo(new[] { 9f, 9, 9, 9 }));
        var bytes = File.ReadAllBytes(P("good"));
        File.WriteAllBytes(P("trunc"), bytes[..^3]);
        Assert.Throws<InvalidDataException>(() => SafeTensors.LoadInto(P("trunc"), target));
        Assert.That(w.ToArray<float>(), Is.EqualTo(new[] { 9f, 9, 9, 9 }));
    }

    [Test]
    public void ReservedNameIsRejected() =>
        Assert.Throws<ArgumentException>(() => SafeTensors.Save(new Dictionary<string, Tensor> { ["__metadata__"] = Tensor.Ones([1]) }, P("r")));
}
