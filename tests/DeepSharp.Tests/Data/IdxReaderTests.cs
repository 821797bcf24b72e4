using System.Buffers.Binary;
using System.IO.Compression;
using DeepSharp.Data;

namespace DeepSharp.Tests.Data;

[TestFixture]
public class IdxReaderTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "deepsharp-idx-" + Guid.NewGuid().ToString("N")));

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static byte[] Idx(byte type, int[] dims, byte[] data)
    {
        var bytes = new byte[4 + 4 * dims.Length + data.Length];
        bytes[2] = type;
        bytes[3] = (byte)dims.Length;
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
        data.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    private string Write(string name, byte[] bytes, bool gzip = false)
    {
        string path = Path.Combine(_dir, name);
        if (!gzip) { File.WriteAllBytes(path, bytes); return path; }
        using var fs = File.Create(path);
        using var gz = new GZipStream(fs, CompressionLevel.Fastest);
        gz.Write(bytes);
        return path;
    }

    private static readonly byte[] Pixels = [0, 255, 128, 1, 2, 3, 10, 20, 30, 40, 50, 60]; // 2 images of 2×3

    [TestCase(false)]
    [TestCase(true)]
    public void ReadsImagesAndLabels(bool gzip)
    {
        var images = IdxReader.ReadImages(Write("img", Idx(0x08, [2, 2, 3], Pixels), gzip));
        Assert.That(images.Shape, Is.EqualTo(new[] { 2, 2, 3 }));
        Assert.That(images.DType, Is.EqualTo(DType.Float32));
        Assert.That(images.ToArray<float>(), Is.EqualTo(Pixels.Select(b => (float)b)));
        var scaled = IdxReader.ReadImages(Write("img2", Idx(0x08, [2, 2, 3], Pixels), gzip), scale: true);
        Assert.That(scaled.ToArray<float>(), Is.EqualTo(Pixels.Select(b => b / 255f)));
        var labels = IdxReader.ReadLabels(Write("lbl", Idx(0x08, [4], [7, 0, 9, 255]), gzip));
        Assert.That(labels.DType, Is.EqualTo(DType.Int64));
        Assert.That(labels.ToArray<long>(), Is.EqualTo(new long[] { 7, 0, 9, 255 }));
    }

    [Test]
    public void ReadsOtherElementTypesBigEndian()
    {
        var ints = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(ints, -5);
        BinaryPrimitives.WriteInt32BigEndian(ints.AsSpan(4), 70000);
        Assert.That(IdxReader.Read(Write("i32", Idx(0x0C, [2], ints))).ToArray<long>(), Is.EqualTo(new long[] { -5, 70000 }));
        var doubles = new byte[8];
        BinaryPrimitives.WriteDoubleBigEndian(doubles, 1.5);
        var d = IdxReader.Read(Write("f64", Idx(0x0E, [1, 1], doubles)));
        Assert.That(d.DType, Is.EqualTo(DType.Float64));
        Assert.That(d.Item(), Is.EqualTo(1.5));
        Assert.That(IdxReader.Read(Write("i8", Idx(0x09, [2], [0xFF, 3]))).ToArray<long>(), Is.EqualTo(new long[] { -1, 3 }));
    }

    private void AssertInvalid(string path, string fragment, Func<string, Tensor>? read = null)
    {
        var ex = Assert.Throws<InvalidDataException>(() => (read ?? (p => IdxReader.ReadImages(p)))(path));
        Assert.That(ex!.Message, Does.Contain(fragment).IgnoreCase);
        Assert.That(ex.Message, Does.Contain(path));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void RejectsBadFiles(bool gzip)
    {
        var bad = Idx(0x08, [2, 2, 3], Pixels);
        bad[0] = 0x12;
        AssertInvalid(Write("magic", bad, gzip), "magic");
        AssertInvalid(Write("type", Idx(0x07, [1], [1]), gzip), "element type");
        AssertInvalid(Write("truncated", Idx(0x08, [2, 2, 3], Pixels[..11]), gzip), "truncated");
        AssertInvalid(Write("trailing", Idx(0x08, [2, 2, 3], [.. Pixels, 99]), gzip), "trailing");
        AssertInvalid(Write("short-header", Idx(0x08, [2, 2, 3], [])[..9], gzip), "truncated");
        AssertInvalid(Write("labels-as-images", Idx(0x08, [4], [1, 2, 3, 4]), gzip), "expected images");
        AssertInvalid(Write("images-as-labels", Idx(0x08, [2, 2, 3], Pixels), gzip), "expected labels", IdxReader.ReadLabels);
        AssertInvalid(Write("empty", [], gzip), "truncated");
    }

    [TestCase(false)]
    [TestCase(true)]
    public void HostileSizesFailWithoutAllocating(bool gzip)
    {
        // 60000 × 60000 × 60000 bytes claimed, 12 bytes present: a clear error, never OutOfMemory.
        AssertInvalid(Write("huge", Idx(0x08, [60000, 60000, 60000], Pixels), gzip), "more data than can be loaded");
        // 2^30 bytes claimed (fits in an array), 12 present.
        long before = GC.GetTotalAllocatedBytes(precise: true);
        AssertInvalid(Write("big", Idx(0x08, [1024, 1024, 1024], Pixels), gzip), "truncated");
        Assert.That(GC.GetTotalAllocatedBytes(precise: true) - before, Is.LessThan(64L << 20), "no buffer of the claimed size");
    }

    [Test]
    public void CorruptedGzipIsReportedAsInvalidData()
    {
        var path = Write("corrupt", Idx(0x08, [2, 2, 3], Pixels), gzip: true);
        var bytes = File.ReadAllBytes(path);
        for (int i = 10; i < bytes.Length - 8; i++) bytes[i] ^= 0x5A;
        File.WriteAllBytes(path, bytes);
        Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(path));
    }
}
