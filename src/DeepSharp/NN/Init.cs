using DeepSharp.Kernels;

namespace DeepSharp.NN;

/// <summary>
/// Parameter initialisation, mirroring <c>torch.nn.init</c>. Every function fills its tensor in place under
/// <see cref="Autograd.NoGrad"/> (so it works on parameters that require grad), draws from
/// the optional <c>generator</c> argument or the default generator, and returns the same tensor.
/// Fans are computed as PyTorch: fan_in = size(1)·receptive field, fan_out = size(0)·receptive field, where the
/// receptive field is the product of the dims after the first two.
/// </summary>
public static class Init
{
    /// <summary>
    /// The recommended gain for a nonlinearity (<c>calculate_gain</c>): 1 for "linear", "identity", "conv1d/2d/3d",
    /// "conv_transpose1d/2d/3d" and "sigmoid"; 5/3 for "tanh"; √2 for "relu"; √(2 / (1 + slope²)) for "leaky_relu"
    /// (slope = <paramref name="param"/>, default 0.01); 3/4 for "selu".
    /// </summary>
    public static double CalculateGain(string nonlinearity, double? param = null)
    {
        ArgumentNullException.ThrowIfNull(nonlinearity);
        switch (nonlinearity)
        {
            case "linear" or "identity" or "conv1d" or "conv2d" or "conv3d" or "conv_transpose1d" or "conv_transpose2d" or "conv_transpose3d" or "sigmoid":
                return 1;
            case "tanh":
                return 5.0 / 3;
            case "relu":
                return Math.Sqrt(2.0);
            case "leaky_relu":
                double slope = param ?? 0.01;
                return Math.Sqrt(2.0 / (1 + slope * slope));
            case "selu":
                return 3.0 / 4;
            default:
                throw new ArgumentException($"CalculateGain: unsupported nonlinearity \"{nonlinearity}\".");
        }
    }

    /// <summary>(fan_in, fan_out) of a weight of at least 2 dimensions (<c>_calculate_fan_in_and_fan_out</c>).</summary>
    public static (int FanIn, int FanOut) CalculateFanInAndFanOut(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.Dim < 2)
            throw new ArgumentException($"Init: fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (shape {ShapeUtil.Format(tensor._shape)}).");
        int receptive = 1;
        for (int d = 2; d < tensor.Dim; d++) receptive *= tensor._shape[d];
        return (tensor._shape[1] * receptive, tensor._shape[0] * receptive);
    }

    /// <summary>Fills with U(<paramref name="a"/>, <paramref name="b"/>).</summary>
    public static Tensor Uniform(Tensor tensor, double a = 0, double b = 1, Generator? generator = null)
    {
        Check(tensor, "Uniform");
        if (b < a) throw new ArgumentException($"Uniform: the lower bound {a} exceeds the upper bound {b}.");
        return FillRandom(tensor, normal: false, b - a, a, generator);
    }

    /// <summary>Fills with N(<paramref name="mean"/>, <paramref name="std"/>²).</summary>
    public static Tensor Normal(Tensor tensor, double mean = 0, double std = 1, Generator? generator = null)
    {
        Check(tensor, "Normal");
        if (std < 0) throw new ArgumentOutOfRangeException(nameof(std), $"Normal: std must be non-negative, got {std}.");
        return FillRandom(tensor, normal: true, std, mean, generator);
    }

    /// <summary>
    /// Fills with N(mean, std²) truncated to [<paramref name="a"/>, <paramref name="b"/>] (<c>trunc_normal_</c>), by
    /// redrawing values that fall outside.
    /// </summary>
    public static Tensor TruncNormal(Tensor tensor, double mean = 0, double std = 1, double a = -2, double b = 2, Generator? generator = null)
    {
        Check(tensor, "TruncNormal");
        if (!(a < b) || !(std > 0) || mean + 10 * std < a || mean - 10 * std > b)
            throw new ArgumentException($"TruncNormal: invalid arguments mean={mean}, std={std}, [a, b]=[{a}, {b}].");
        var values = new double[tensor.NumEl];
        Generator.Use(generator, g => RandomKernels.TruncNormal(values, mean, std, a, b, g));
        return Fill(tensor, () => Tensor.Wrap(values, tensor.Shape).To(tensor.DType));
    }

    /// <summary>Fills with <paramref name="value"/>.</summary>
    public static Tensor Constant(Tensor tensor, double value)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        using (GradMode.Set(false)) tensor.Fill_(value);
        return tensor;
    }

    /// <summary>Fills with 0.</summary>
    public static Tensor Zeros(Tensor tensor) => Constant(tensor, 0);

    /// <summary>Fills with 1.</summary>
    public static Tensor Ones(Tensor tensor) => Constant(tensor, 1);

    /// <summary>Fills a 2-D tensor with the identity matrix (<c>eye_</c>).</summary>
    public static Tensor Eye(Tensor tensor)
    {
        Check(tensor, "Eye");
        if (tensor.Dim != 2) throw new ArgumentException($"Eye: only 2-D tensors are supported, got shape {ShapeUtil.Format(tensor._shape)}.");
        return Fill(tensor, () => Tensor.Eye(tensor._shape[0], tensor._shape[1], tensor.DType));
    }

    /// <summary>PyTorch's <c>_ConvNd.reset_parameters</c>: Kaiming-uniform weight (a = √5) and a bias uniform in
    /// ±1/√fan_in, the one initialisation every convolution module shares.</summary>
    internal static void ResetConvParameters(Tensor weight, Tensor? bias, Generator? generator)
    {
        KaimingUniform(weight, a: Math.Sqrt(5), generator: generator);
        if (bias is null) return;
        double bound = 1 / Math.Sqrt(CalculateFanInAndFanOut(weight).FanIn);
        Uniform(bias, -bound, bound, generator);
    }

    /// <summary>Glorot/Xavier uniform: U(−a, a) with a = gain·√(6 / (fan_in + fan_out)).</summary>
    public static Tensor XavierUniform(Tensor tensor, double gain = 1, Generator? generator = null)
    {
        Check(tensor, "XavierUniform");
        var (fanIn, fanOut) = CalculateFanInAndFanOut(tensor);
        double a = gain * Math.Sqrt(6.0 / (fanIn + fanOut));
        return Uniform(tensor, -a, a, generator);
    }

    /// <summary>Glorot/Xavier normal: N(0, std²) with std = gain·√(2 / (fan_in + fan_out)).</summary>
    public static Tensor XavierNormal(Tensor tensor, double gain = 1, Generator? generator = null)
    {
        Check(tensor, "XavierNormal");
        var (fanIn, fanOut) = CalculateFanInAndFanOut(tensor);
        return Normal(tensor, 0, gain * Math.Sqrt(2.0 / (fanIn + fanOut)), generator);
    }

    /// <summary>
    /// He/Kaiming uniform: U(−bound, bound) with bound = gain·√(3 / fan), gain = <see cref="CalculateGain"/>(nonlinearity, a)
    /// and fan chosen by <paramref name="mode"/> ("fan_in" or "fan_out").
    /// </summary>
    public static Tensor KaimingUniform(Tensor tensor, double a = 0, string mode = "fan_in", string nonlinearity = "leaky_relu", Generator? generator = null)
    {
        Check(tensor, "KaimingUniform");
        double bound = Math.Sqrt(3.0) * KaimingStd(tensor, a, mode, nonlinearity, "KaimingUniform");
        return Uniform(tensor, -bound, bound, generator);
    }

    /// <summary>He/Kaiming normal: N(0, std²) with std = gain / √fan (see <see cref="KaimingUniform"/>).</summary>
    public static Tensor KaimingNormal(Tensor tensor, double a = 0, string mode = "fan_in", string nonlinearity = "leaky_relu", Generator? generator = null)
    {
        Check(tensor, "KaimingNormal");
        return Normal(tensor, 0, KaimingStd(tensor, a, mode, nonlinearity, "KaimingNormal"), generator);
    }

    private static double KaimingStd(Tensor tensor, double a, string mode, string nonlinearity, string op)
    {
        var (fanIn, fanOut) = CalculateFanInAndFanOut(tensor);
        int fan = mode switch
        {
            "fan_in" => fanIn,
            "fan_out" => fanOut,
            _ => throw new ArgumentException($"{op}: mode must be \"fan_in\" or \"fan_out\", got \"{mode}\"."),
        };
        if (fan == 0) return 0; // PyTorch warns and leaves a zero-element tensor alone
        return CalculateGain(nonlinearity, a) / Math.Sqrt(fan);
    }

    private static void Check(Tensor tensor, string op)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        tensor.CheckFloating(op);
    }

    // scale·U[0, 1) + shift or scale·N(0, 1) + shift: straight into a contiguous tensor, through temporaries otherwise
    // (the same draws and roundings either way).
    private static Tensor FillRandom(Tensor tensor, bool normal, double scale, double shift, Generator? generator)
    {
        if (tensor.IsContiguous)
        {
            using (GradMode.Set(false)) tensor.FillRandomAffine_(normal, scale, shift, generator);
            return tensor;
        }
        return Fill(tensor, () => (normal ? Tensor.Randn(tensor._shape, tensor.DType, generator)
            : Tensor.Rand(tensor._shape, tensor.DType, generator)) * scale + shift);
    }

    private static Tensor Fill(Tensor tensor, Func<Tensor> values)
    {
        using (GradMode.Set(false)) tensor.Copy_(values());
        return tensor;
    }
}
