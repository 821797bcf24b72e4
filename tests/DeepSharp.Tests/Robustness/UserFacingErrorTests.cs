using DeepSharp.NN;

namespace DeepSharp.Tests.Robustness;

/// <summary>
/// Error messages report the shapes the user passed, not the layout an op converts them to internally: attention with
/// <c>batchFirst</c> (which runs sequence first) and convolutions on unbatched input (which run with a batch of one).
/// </summary>
[TestFixture]
public class UserFacingErrorTests
{
    private static string MessageOf(Action call) => Assert.Catch<ArgumentException>(() => call())!.Message;

    [Test]
    public void MultiheadAttention_batch_first_reports_batch_first_shapes()
    {
        var mha = new MultiheadAttention(8, 2, batchFirst: true, dtype: DType.Float64);
        var wrongE = Tensor.Zeros([2, 5, 6], DType.Float64);
        var msg = MessageOf(() => mha.Forward(wrongE, wrongE, wrongE));
        Assert.That(msg, Does.StartWith("MultiheadAttention:").And.Contain("embedDim = 8").And.Contain("[2, 5, 6]").And.Not.Contain("[5, 2, 6]"));

        var q = Tensor.Zeros([2, 5, 8], DType.Float64);
        var kv = Tensor.Zeros([3, 4, 8], DType.Float64);
        msg = MessageOf(() => mha.Forward(q, kv, kv));
        Assert.That(msg, Does.Contain("key [3, 4, 8]").And.Contain("value [3, 4, 8]").And.Contain("query [2, 5, 8]")
            .And.Not.Contain("[4, 3, 8]").And.Not.Contain("[5, 2, 8]"));

        var kBad = Tensor.Zeros([2, 4, 7], DType.Float64);
        msg = MessageOf(() => mha.Forward(q, kBad, kBad));
        Assert.That(msg, Does.Contain("[2, 4, 7]").And.Not.Contain("[4, 2, 7]"));
    }

    [Test]
    public void MultiheadAttention_unbatched_reports_unbatched_shapes()
    {
        var mha = new MultiheadAttention(8, 2, dtype: DType.Float64);
        var x = Tensor.Zeros([5, 6], DType.Float64);
        var msg = MessageOf(() => mha.Forward(x, x, x));
        Assert.That(msg, Does.Contain("got shape [5, 6]").And.Not.Contain("[5, 1, 6]"));
    }

    [Test]
    public void Conv2d_unbatched_reports_unbatched_shape()
    {
        var conv = new Conv2d(3, 4, 3, dtype: DType.Float64);
        var msg = MessageOf(() => conv.Forward(Tensor.Zeros([2, 5, 5], DType.Float64)));
        Assert.That(msg, Does.StartWith("Conv2d:").And.Contain("input [2, 5, 5] has 2 channels").And.Not.Contain("[1, 2, 5, 5]"));
        msg = MessageOf(() => Tensor.Zeros([2, 5, 5], DType.Float64).Conv2d(Tensor.Zeros([4, 3, 3, 3], DType.Float64)));
        Assert.That(msg, Does.Contain("input [2, 5, 5]").And.Not.Contain("[1, 2, 5, 5]"));
        msg = MessageOf(() => conv.Forward(Tensor.Zeros([2, 2, 5, 5], DType.Float64)));
        Assert.That(msg, Does.Contain("input [2, 2, 5, 5] has 2 channels"), "batched input is reported as passed");
    }

    [Test]
    public void ConvTranspose2d_unbatched_reports_unbatched_shape()
    {
        var x = Tensor.Zeros([2, 5, 5], DType.Float64);
        var msg = MessageOf(() => x.ConvTranspose2d(Tensor.Zeros([3, 4, 3, 3], DType.Float64)));
        Assert.That(msg, Does.StartWith("ConvTranspose2d:").And.Contain("input [2, 5, 5] has 2 channels").And.Not.Contain("[1, 2, 5, 5]"));
        var deconv = new ConvTranspose2d(3, 4, 3, padding: 5, dtype: DType.Float64);
        msg = MessageOf(() => deconv.Forward(Tensor.Zeros([3, 2, 2], DType.Float64)));
        Assert.That(msg, Does.Contain("is invalid for input [3, 2, 2]").And.Not.Contain("[1, 3, 2, 2]"));
    }
}
