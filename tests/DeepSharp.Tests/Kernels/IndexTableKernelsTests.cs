using DeepSharp.Kernels;

namespace DeepSharp.Tests.Kernels;

/// <summary>The source-index tables behind F.Pad, F.Interpolate and RepeatInterleave, against tables written out by
/// hand (the same tables torch.nn.functional.pad / interpolate read from).</summary>
[TestFixture, Category("Kernels")]
public class IndexTableKernelsTests
{
    [TestCase("reflect", new[] { 2, 1, 0, 1, 2, 3, 2, 1 })]
    [TestCase("replicate", new[] { 0, 0, 0, 1, 2, 3, 3, 3 })]
    [TestCase("circular", new[] { 2, 3, 0, 1, 2, 3, 0, 1 })]
    public void PadTable_LeftTwoRightTwoOfFour(string modeName, int[] expected)
    {
        var mode = Enum.Parse<PadIndexMode>(modeName, ignoreCase: true);
        var index = new int[2 + 4 + 2];
        IndexTableKernels.Pad(index, n: 4, left: 2, mode);
        Assert.That(index, Is.EqualTo(expected));
    }

    [Test]
    public void NearestTable_DownAndUp()
    {
        var up = new int[7];
        IndexTableKernels.Nearest(up, inSize: 3, scale: 3f / 7);
        Assert.That(up, Is.EqualTo(new[] { 0, 0, 0, 1, 1, 2, 2 }));
        var down = new int[2];
        IndexTableKernels.Nearest(down, inSize: 5, scale: 5f / 2);
        Assert.That(down, Is.EqualTo(new[] { 0, 2 }));
    }

    [Test]
    public void LinearTable_HalfPixelAndAlignCorners()
    {
        var i0 = new int[4]; var i1 = new int[4]; var w0 = new double[4]; var w1 = new double[4];
        IndexTableKernels.Linear(i0, i1, w0, w1, inSize: 2, scale: 0.5, alignCorners: false);
        // src = max(0.5 (j + 0.5) − 0.5, 0) = 0, 0.25, 0.75, 1.25 → last clamps to the edge.
        Assert.That(i0, Is.EqualTo(new[] { 0, 0, 0, 1 }));
        Assert.That(i1, Is.EqualTo(new[] { 1, 1, 1, 1 }));
        Assert.That(w1, Is.EqualTo(new[] { 0.0, 0.25, 0.75, 0.25 }));
        Assert.That(w0, Is.EqualTo(new[] { 1.0, 0.75, 0.25, 0.75 }));

        IndexTableKernels.Linear(i0, i1, w0, w1, inSize: 2, scale: 1.0 / 3, alignCorners: true);
        Assert.That(i0, Is.EqualTo(new[] { 0, 0, 0, 1 }));
        Assert.That(w1[1], Is.EqualTo(1.0 / 3).Within(1e-15));
        Assert.That(w1[3], Is.EqualTo(0.0));
    }

    [Test]
    public void RepeatTable_PerPositionAndSingleCount()
    {
        var index = new int[5];
        IndexTableKernels.Repeat(index, new long[] { 2, 0, 3 }, n: 3);
        Assert.That(index, Is.EqualTo(new[] { 0, 0, 2, 2, 2 }));
        var same = new int[6];
        IndexTableKernels.Repeat(same, new long[] { 2 }, n: 3);
        Assert.That(same, Is.EqualTo(new[] { 0, 0, 1, 1, 2, 2 }));
    }
}
