using DeepSharp;

namespace DeepSharp.Examples;

/// <summary>The README's quick-start, kept compiling and running by a test.</summary>
public static class QuickStartExample
{
    /// <summary>Trains a two-layer network on XOR by hand and returns its final loss.</summary>
    public static double Run(TextWriter output)
    {
        // <quickstart>
        // Tensors and gradients
        var a = Tensor.FromArray(new double[] { 1, 2, 3 }).RequiresGrad_();
        var b = (a * a).Sum();          // b = Σ a²
        b.Backward();
        output.WriteLine(a.Grad);       // tensor([2., 4., 6.], shape=[3], dtype=Float64)

        // A tiny model written by hand: 2 → 8 → 1 on XOR, trained with gradient descent
        Torch.ManualSeed(0);
        var x = Tensor.FromArray(new float[,] { { 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 } });
        var y = Tensor.FromArray(new float[,] { { 0 }, { 1 }, { 1 }, { 0 } });
        var w1 = Tensor.Randn(2, 8).RequiresGrad_();
        var b1 = Tensor.Zeros(8).RequiresGrad_();
        var w2 = Tensor.Randn(8, 1).RequiresGrad_();
        var b2 = Tensor.Zeros(1).RequiresGrad_();
        Tensor[] parameters = [w1, b1, w2, b2];

        double lossValue = 0;
        for (int step = 0; step < 500; step++)
        {
            var hidden = (x.MatMul(w1) + b1).Tanh();
            var logits = hidden.MatMul(w2) + b2;
            var loss = (logits.Sigmoid() - y).Pow(2).Mean();
            foreach (var p in parameters) p.Grad = null;   // zero the gradients
            loss.Backward();
            using (Autograd.NoGrad())                      // update without recording
                foreach (var p in parameters) p.Sub_(p.Grad! * 0.5);
            lossValue = loss.Item();
        }
        output.WriteLine($"final loss {lossValue:F4}");
        // </quickstart>
        return lossValue;
    }
}
