namespace DeepSharp.Tests;

/// <summary>Tensor.RegisterPostAccumulateGradHook and Autograd.QueueCallback (what distributed data parallelism builds on).</summary>
public class PostAccumulateGradHookTests
{
    [Test]
    public void HookRunsOnceAfterTheLeafsLastGradientEvenWhenUsedTwice()
    {
        var w = Tensor.FromBuffer(new float[] { 1, 2 }, 2).RequiresGrad_();
        var seen = new List<float[]>();
        using var handle = w.RegisterPostAccumulateGradHook(t => seen.Add(t.Grad!.ToArray<float>()));
        ((w * 3).Sum() + (w * w).Sum()).Backward();   // two edges into w: d/dw = 3 + 2w
        Assert.That(seen, Has.Count.EqualTo(1));
        Assert.That(seen[0], Is.EqualTo(new[] { 5f, 7f }));
        (w * 2).Sum().Backward();                      // accumulates: the hook sees the sum
        Assert.That(seen[1], Is.EqualTo(new[] { 7f, 9f }));
    }

    [Test]
    public void HooksRunInBackwardOrderAndCallbacksAtTheEnd()
    {
        var a = Tensor.FromBuffer(new float[] { 1 }, 1).RequiresGrad_();
        var b = Tensor.FromBuffer(new float[] { 2 }, 1).RequiresGrad_();
        var log = new List<string>();
        using var ha = a.RegisterPostAccumulateGradHook(_ =>
        {
            log.Add("a");
            Autograd.QueueCallback(() => log.Add($"end a.grad={a.Grad!.Item()} b.grad={b.Grad!.Item()}"));
        });
        using var hb = b.RegisterPostAccumulateGradHook(_ => log.Add("b"));
        // b enters the graph last, so backward reaches it first.
        ((a * 2).Exp() * b).Sum().Backward();
        Assert.That(log[0], Is.EqualTo("b"));
        Assert.That(log[1], Is.EqualTo("a"));
        Assert.That(log[2], Does.StartWith("end a.grad=").And.Contains("b.grad="));
        Assert.That(log, Has.Count.EqualTo(3));
    }

    [Test]
    public void RemovedHooksAndAutogradGradDoNotRunThem()
    {
        var w = Tensor.FromBuffer(new float[] { 1 }, 1).RequiresGrad_();
        int calls = 0;
        var handle = w.RegisterPostAccumulateGradHook(_ => calls++);
        _ = Autograd.Grad((w * 2).Sum(), w);
        Assert.That(calls, Is.EqualTo(0));
        handle.Dispose();
        (w * 2).Sum().Backward();
        Assert.That(calls, Is.EqualTo(0));
    }

    [Test]
    public void BadUsesThrowClearly()
    {
        var w = Tensor.FromBuffer(new float[] { 1 }, 1);
        Assert.That(() => w.RegisterPostAccumulateGradHook(_ => { }), Throws.InvalidOperationException.With.Message.Contains("does not require grad"));
        var y = w.RequiresGrad_() * 2;
        Assert.That(() => y.RegisterPostAccumulateGradHook(_ => { }), Throws.InvalidOperationException.With.Message.Contains("GradFn"));
        Assert.That(() => Autograd.QueueCallback(() => { }), Throws.InvalidOperationException.With.Message.Contains("no Backward()"));
    }
}
