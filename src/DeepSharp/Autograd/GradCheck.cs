using System.Globalization;

namespace DeepSharp;

/// <summary>The outcome of a gradient check: success, or the first mismatch with everything needed to find it.</summary>
public sealed record GradCheckResult(bool Passed, string Message)
{
    /// <summary>The largest |analytic − numeric| seen over all compared entries.</summary>
    public double MaxAbsError { get; init; }
}

/// <summary>Thrown by a failed gradient check; the message names the input, the element and both values.</summary>
public sealed class GradCheckException(string message) : Exception(message);

/// <summary>
/// Checks analytic gradients against central finite differences, as PyTorch's <c>gradcheck</c> and
/// <c>gradgradcheck</c> do. Inputs that require grad must be Float64 (float32 differences are too coarse).
/// An entry passes when |analytic − numeric| ≤ atol + rtol·|numeric|.
/// </summary>
public static class GradCheck
{
    /// <summary>Default perturbation (PyTorch: 1e-6).</summary>
    public const double DefaultEps = 1e-6;
    /// <summary>Default absolute tolerance (PyTorch: 1e-5).</summary>
    public const double DefaultAtol = 1e-5;
    /// <summary>Default relative tolerance (PyTorch: 1e-3).</summary>
    public const double DefaultRtol = 1e-3;

    /// <summary>Checks d f(x)/dx for a single-input, single-output function.</summary>
    public static GradCheckResult Check(Func<Tensor, Tensor> f, Tensor input, double eps = DefaultEps, double atol = DefaultAtol, double rtol = DefaultRtol, bool raiseException = true)
    {
        ArgumentNullException.ThrowIfNull(f);
        return Check(xs => [f(xs[0])], [input], eps, atol, rtol, raiseException);
    }

    /// <summary>Checks a function of several inputs with one output.</summary>
    public static GradCheckResult Check(Func<Tensor[], Tensor> f, Tensor[] inputs, double eps = DefaultEps, double atol = DefaultAtol, double rtol = DefaultRtol, bool raiseException = true)
    {
        ArgumentNullException.ThrowIfNull(f);
        return Check(xs => [f(xs)], inputs, eps, atol, rtol, raiseException);
    }

    /// <summary>Checks every (output, input) Jacobian of a function with several inputs and outputs.</summary>
    public static GradCheckResult Check(Func<Tensor[], Tensor[]> f, Tensor[] inputs, double eps = DefaultEps, double atol = DefaultAtol, double rtol = DefaultRtol, bool raiseException = true)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(inputs);
        var diff = Enumerable.Range(0, inputs.Length).Where(i => inputs[i].RequiresGrad).ToArray();
        if (diff.Length == 0) throw new ArgumentException("GradCheck: no input requires grad.");
        foreach (int i in diff)
        {
            if (inputs[i].DType != DType.Float64)
                throw new ArgumentException($"GradCheck: input {i} is {inputs[i].DType}; gradient checks need Float64 inputs (use .Double()).");
            if (!inputs[i].IsLeaf)
                throw new ArgumentException($"GradCheck: input {i} is not a leaf; pass tensors created with RequiresGrad (Detach() a view first).");
        }

        // Analytic Jacobians: one backward pass per output element (vector–Jacobian products with one-hot vectors).
        var outputs = f(inputs);
        var analytic = new double[outputs.Length][][,];
        for (int o = 0; o < outputs.Length; o++)
        {
            int m = outputs[o].NumEl;
            analytic[o] = diff.Select(i => new double[inputs[i].NumEl, m]).ToArray();
            if (!outputs[o].RequiresGrad) continue;
            var diffInputs = diff.Select(i => inputs[i]).ToArray();
            for (int j = 0; j < m; j++)
            {
                var gradOutputs = outputs.Select((t, k) => k == o ? OneHot(t, j) : Tensor.ZerosLike(t)).ToArray();
                var live = Enumerable.Range(0, outputs.Length).Where(k => outputs[k].RequiresGrad).ToArray();
                var grads = Autograd.Grad(live.Select(k => outputs[k]).ToArray(), diffInputs,
                    live.Select(k => gradOutputs[k]).ToArray(), retainGraph: true, allowUnused: true);
                for (int a = 0; a < diff.Length; a++)
                {
                    if (grads[a] is not { } g) continue;
                    for (int e = 0; e < g.NumEl; e++) analytic[o][a][e, j] = g.GetFlat(e);
                }
            }
        }

        // Numeric Jacobians: central differences, perturbing the input's storage in place.
        double maxErr = 0;
        for (int a = 0; a < diff.Length; a++)
        {
            var x = inputs[diff[a]];
            var data = x.Data<double>();
            for (int e = 0; e < x.NumEl; e++)
            {
                int pos = StorageIndex(x, e);
                double orig = data[pos];
                Tensor[] plus, minus;
                using (GradMode.Set(false))
                {
                    data[pos] = orig + eps; plus = f(inputs).Select(Snapshot).ToArray();
                    data[pos] = orig - eps; minus = f(inputs).Select(Snapshot).ToArray();
                }
                data[pos] = orig;
                for (int o = 0; o < outputs.Length; o++)
                {
                    for (int j = 0; j < plus[o].NumEl; j++)
                    {
                        double numeric = (plus[o].GetFlat(j) - minus[o].GetFlat(j)) / (2 * eps);
                        double an = analytic[o][a][e, j];
                        double err = Math.Abs(an - numeric);
                        if (!(err <= atol + rtol * Math.Abs(numeric)))
                        {
                            string msg = string.Create(CultureInfo.InvariantCulture,
                                $"GradCheck: Jacobian mismatch for output {o} with respect to input {diff[a]} (shape {ShapeUtil.Format(x._shape)}), " +
                                $"input element {FormatIndex(x._shape, e)}, output element {FormatIndex(outputs[o]._shape, j)}: " +
                                $"analytic {an:G10}, numeric {numeric:G10} (|diff| {err:G3}; eps {eps}, atol {atol}, rtol {rtol}).");
                            if (raiseException) throw new GradCheckException(msg);
                            return new GradCheckResult(false, msg) { MaxAbsError = err };
                        }
                        maxErr = Math.Max(maxErr, err);
                    }
                }
            }
        }
        return new GradCheckResult(true, "GradCheck passed.") { MaxAbsError = maxErr };
    }

    /// <summary>
    /// Checks second derivatives (PyTorch's <c>gradgradcheck</c>): the gradient of f, as a function of the inputs
    /// and of random upstream gradients, is itself gradient-checked.
    /// </summary>
    public static GradCheckResult GradGradCheck(Func<Tensor[], Tensor> f, Tensor[] inputs, double eps = DefaultEps, double atol = DefaultAtol, double rtol = DefaultRtol, bool raiseException = true, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(inputs);
        var gen = new Generator(seed);
        Tensor probe;
        using (GradMode.Set(false)) probe = f(inputs);
        var gradOut = Tensor.Randn(probe.Shape, DType.Float64, gen).RequiresGrad_();
        int n = inputs.Length;
        var diff = Enumerable.Range(0, n).Where(i => inputs[i].RequiresGrad).ToArray();
        Func<Tensor[], Tensor[]> firstDerivative = xs =>
        {
            // The numeric pass calls this under NoGrad; the first derivative itself still needs the graph of f.
            using var enabled = Autograd.EnableGrad();
            var ins = xs.Take(n).ToArray();
            var y = f(ins);
            var grads = Autograd.Grad([y], diff.Select(i => ins[i]).ToArray(), [xs[n]], createGraph: true, allowUnused: true);
            return grads.Select((g, k) => g ?? Tensor.ZerosLike(ins[diff[k]])).ToArray();
        };
        var result = Check(firstDerivative, [.. inputs, gradOut], eps, atol, rtol, raiseException: false);
        if (result.Passed) return result;
        // Say which check failed and what its outputs and extra input are, or the message reads as a first-order failure.
        string msg = "GradGradCheck (second-order check) failed: the gradient of f is not the derivative of its first-order gradient. " +
            $"Output k is d f / d(input {string.Join(", input ", diff)}) in that order; input {n} is the random upstream gradient. " +
            result.Message;
        if (raiseException) throw new GradCheckException(msg);
        return result with { Message = msg };
    }

    // A copy of an output's values: an output may be a view of the perturbed input (Reshape, Narrow, ...), and
    // reading it after the input is restored would see the unperturbed values.
    private static Tensor Snapshot(Tensor t) => t.Double().Clone();

    private static Tensor OneHot(Tensor like, int j)
    {
        var t = Tensor.Zeros(like.Shape, like.DType);
        t.SetRaw(j, 1.0);
        return t;
    }

    private static int StorageIndex(Tensor x, int flat)
    {
        int off = x._offset;
        for (int d = x._shape.Length - 1; d >= 0; d--)
        {
            off += flat % x._shape[d] * x._strides[d];
            flat /= x._shape[d];
        }
        return off;
    }

    private static string FormatIndex(int[] shape, int flat)
    {
        var idx = new int[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--) { idx[d] = flat % shape[d]; flat /= shape[d]; }
        return ShapeUtil.Format(idx);
    }
}
