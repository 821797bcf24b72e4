using DeepSharp.Data;

namespace DeepSharp.Tests.Data;

/// <summary>
/// Reads the real MNIST subset (10,000 digits) committed with the MNIST example in <c>examples/Mnist/data</c>.
/// </summary>
[TestFixture]
public class MnistFilesTests
{
    private static string? FindData()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "examples/Mnist/data");
            if (File.Exists(Path.Combine(candidate, "train-images-idx3-ubyte.gz"))) return candidate;
        }
        return null;
    }

    [Test]
    public void ReadsTheRealFiles()
    {
        var dir = FindData();
        Assert.That(dir, Is.Not.Null, "examples/Mnist/data is part of the repository");
        var images = IdxReader.ReadImages(Path.Combine(dir!, "train-images-idx3-ubyte.gz"));
        var labels = IdxReader.ReadLabels(Path.Combine(dir!, "train-labels-idx1-ubyte.gz"));
        Assert.That(images.Shape, Is.EqualTo(new[] { 8000, 28, 28 }));
        Assert.That(labels.Shape, Is.EqualTo(new[] { 8000 }));
        Assert.That(images.Min().Item(), Is.EqualTo(0.0));
        Assert.That(images.Max().Item(), Is.EqualTo(255.0));
        // Class counts documented with the data set.
        var counts = new int[10];
        foreach (var l in labels.ToArray<long>()) counts[l]++;
        Assert.That(counts, Is.EqualTo(new[] { 806, 902, 787, 829, 810, 699, 777, 873, 743, 774 }));
        var test = IdxReader.ReadImages(Path.Combine(dir!, "t10k-images-idx3-ubyte.gz"), scale: true);
        Assert.That(test.Shape, Is.EqualTo(new[] { 2000, 28, 28 }));
        Assert.That(test.Max().Item(), Is.EqualTo(1.0));
        Assert.That(IdxReader.ReadLabels(Path.Combine(dir!, "t10k-labels-idx1-ubyte.gz")).Shape, Is.EqualTo(new[] { 2000 }));
    }
}
