using DeepSharp.Kernels;

namespace DeepSharp.NN;

/// <summary>
/// Stateless neural-network functions, mirroring <c>torch.nn.functional</c> (conventionally imported as <c>F</c>).
/// The modules in <see cref="DeepSharp.NN"/> are thin stateful wrappers around these. Every function is built from
/// differentiable tensor ops (or records its own backward), so it supports autograd and gradient checks.
/// </summary>
public static partial class F
{
    // ---------------------------------------------------------------- linear and activations

    /// <summary>y = x·Wᵀ + b (<c>F.linear</c>). <paramref name="input"/> is [*, in], <paramref name="weight"/> [out, in],
    /// <paramref name="bias"/> [out]; the transpose is a view that the GEMM reads without a copy.</summary>
    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias = null) => Linear(input, weight, bias, relu: false);

    /// <summary><see cref="Linear(Tensor, Tensor, Tensor?)"/>, optionally with a ReLU fused into the bias pass.</summary>
    internal static Tensor Linear(Tensor input, Tensor weight, Tensor? bias, bool relu)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        Tensor.CheckLinear(input, weight, bias, "Linear");
        // One fused op on rows (GEMM, bias added in place; the backward runs the two GEMMs and the bias column
        // sums directly, PyTorch's AddmmBackward) instead of MatMul + broadcast add.
        if (input.Dim == 2) return input.LinearRowsChecked(weight, bias, relu);
        int outFeatures = weight._shape[0];
        if (input.Dim == 1) return input.Unsqueeze(0).LinearRowsChecked(weight, bias, relu).Squeeze(0);
        int[] outShape = [.. input._shape[..^1], outFeatures];
        return input.Reshape(-1, weight._shape[1]).LinearRowsChecked(weight, bias, relu).View(outShape);
    }

    /// <summary>max(x, 0).</summary>
    public static Tensor Relu(Tensor input) => input.Relu();

    /// <summary>x for x &gt; 0, negativeSlope·x otherwise.</summary>
    public static Tensor LeakyRelu(Tensor input, double negativeSlope = 0.01) => input.LeakyRelu(negativeSlope);

    /// <summary>GELU; <paramref name="approximate"/> is "none" (exact, erf) or "tanh".</summary>
    public static Tensor Gelu(Tensor input, string approximate = "none") => input.Gelu(approximate);

    /// <summary>SiLU (swish), x·σ(x).</summary>
    public static Tensor Silu(Tensor input) => input.Silu();

    /// <summary>Hyperbolic tangent.</summary>
    public static Tensor Tanh(Tensor input) => input.Tanh();

    /// <summary>Logistic sigmoid 1 / (1 + e^−x).</summary>
    public static Tensor Sigmoid(Tensor input) => input.Sigmoid();

    /// <summary>log(1 + e^(βx)) / β, linear above <paramref name="threshold"/>.</summary>
    public static Tensor Softplus(Tensor input, double beta = 1, double threshold = 20) => input.Softplus(beta, threshold);

    /// <summary>log σ(x), stable.</summary>
    public static Tensor LogSigmoid(Tensor input) => input.LogSigmoid();

    /// <summary>Softmax along <paramref name="dim"/>.</summary>
    public static Tensor Softmax(Tensor input, int dim) => input.Softmax(dim);

    /// <summary>Log-softmax along <paramref name="dim"/>.</summary>
    public static Tensor LogSoftmax(Tensor input, int dim) => input.LogSoftmax(dim);

    // ---------------------------------------------------------------- dropout

    /// <summary>
    /// Inverted dropout (<c>F.dropout</c>): in training, each element is zeroed with probability <paramref name="p"/>
    /// and the survivors are scaled by 1/(1 − p), so the expectation is unchanged; with <paramref name="training"/>
    /// false or p = 0 it returns <paramref name="input"/> itself. Random draws come from <paramref name="generator"/>
    /// or the default generator.
    /// </summary>
    public static Tensor Dropout(Tensor input, double p = 0.5, bool training = true, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), $"Dropout: probability has to be between 0 and 1, but got {p}.");
        if (!training || p == 0) return input;
        input.CheckFloating("Dropout");
        if (p == 1) return input * 0.0;
        Tensor mask;
        using (GradMode.Set(false))
        {
            // The draws and the 0/1 mask are temporaries no one else sees: their buffers go back to the pool at once.
            var draws = Tensor.Rand(input._shape, input.DType, generator);
            var keep = draws.Lt(1 - p);
            draws.Dispose();
            var keepF = keep.To(input.DType);
            mask = keepF * (1.0 / (1 - p));
            keepF.Dispose();
        }
        var y = input * mask;
        // Only Mul's backward reads the scaled mask: free it when that node is dropped, or now without a graph.
        if (y._gradFn is { } node) node.ReleaseWith(mask);
        else mask.Dispose();
        return y;
    }

    // ---------------------------------------------------------------- normalisation

    /// <summary>
    /// Layer normalisation over the trailing dims given by <paramref name="normalizedShape"/> (<c>F.layer_norm</c>):
    /// (x − mean) / √(var + eps) · weight + bias, with the biased variance.
    /// </summary>
    public static Tensor LayerNorm(Tensor input, int[] normalizedShape, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.LayerNorm(normalizedShape, weight, bias, eps); // fused kernels (Ops/Normalization.cs)
    }

    /// <summary>
    /// Batch normalisation over every dim but dim 1 (channels) of an [N, C, *] input (<c>F.batch_norm</c>).
    /// With <paramref name="training"/>, the batch mean and biased variance normalise the input and, when given,
    /// <paramref name="runningMean"/> and <paramref name="runningVar"/> are updated in place as
    /// running = (1 − momentum)·running + momentum·batch, using the <i>unbiased</i> batch variance for
    /// running_var, exactly as PyTorch. Otherwise the running statistics normalise the input.
    /// </summary>
    public static Tensor BatchNorm(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight = null, Tensor? bias = null,
        bool training = false, double momentum = 0.1, double eps = 1e-5)
    {
        ArgumentNullException.ThrowIfNull(input);
        // F.batch_norm needs the running statistics in evaluation mode (Tensor.BatchNorm then uses the batch's).
        if (!training && (runningMean is null || runningVar is null))
            throw new ArgumentException("BatchNorm: runningMean and runningVar are required when training is false.");
        return input.BatchNorm(runningMean, runningVar, weight, bias, training, momentum, eps); // fused kernels (Ops/Normalization.cs)
    }

    // ---------------------------------------------------------------- one-hot

    /// <summary>
    /// One-hot encoding (<c>F.one_hot</c>): an Int64 tensor of shape [*, numClasses] with a 1 at each index of the
    /// Int64 <paramref name="input"/>. With numClasses = −1 it is the largest index + 1 (an empty input then needs numClasses, as in PyTorch).
    /// </summary>
    public static Tensor OneHot(Tensor input, int numClasses = -1)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.DType != DType.Int64) throw new ArgumentException($"OneHot: expected an Int64 tensor of class indices, got {input.DType}.");
        if (numClasses < -1) throw new ArgumentOutOfRangeException(nameof(numClasses), $"OneHot: numClasses must be −1 or non-negative, got {numClasses}.");
        var idx = input.ToArray<long>();
        long min = idx.Length == 0 ? 0 : idx.Min(), max = idx.Length == 0 ? -1 : idx.Max();
        if (min < 0) throw new ArgumentOutOfRangeException(nameof(input), $"OneHot: class values must be non-negative, got {min}.");
        if (numClasses == -1)
        {
            if (idx.Length == 0) throw new ArgumentException("OneHot: cannot infer the number of classes from an empty tensor; pass numClasses.");
            if (max >= int.MaxValue) throw new ArgumentOutOfRangeException(nameof(input), $"OneHot: the largest class value {max} gives more classes than an int dimension holds.");
            numClasses = (int)(max + 1);
        }
        else if (max >= numClasses)
            throw new ArgumentOutOfRangeException(nameof(input), $"OneHot: class value {max} is out of range for numClasses = {numClasses}.");
        int[] shape = [.. input._shape, numClasses];
        var result = new long[ShapeUtil.Numel(shape)]; // a clear ArgumentException when the result is too large
        FillKernels.OneHot(idx, result, numClasses);
        return Tensor.Wrap(result, shape);
    }
}
