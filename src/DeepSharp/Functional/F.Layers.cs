namespace DeepSharp.NN;

// Channel dropout, pixel shuffle, cosine similarity, group and RMS normalisation (torch.nn.functional.dropout2d,
// pixel_shuffle, pixel_unshuffle, cosine_similarity, group_norm, rms_norm), as compositions of differentiable ops.
public static partial class F
{
    /// <summary>
    /// Channel dropout (<c>F.dropout2d</c>): in training, each channel of an [N, C, H, W] input (or [N, C, L], as
    /// PyTorch reads a 3-D input) is zeroed with probability <paramref name="p"/> and the others scaled by 1/(1 − p).
    /// </summary>
    public static Tensor Dropout2d(Tensor input, double p = 0.5, bool training = true, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), $"Dropout2d: probability has to be between 0 and 1, but got {p}.");
        if (input.Dim is not (3 or 4))
            throw new ArgumentException($"Dropout2d: expected a 3-D [N, C, L] or 4-D [N, C, H, W] input, got shape {ShapeUtil.Format(input._shape)}.");
        if (!training || p == 0) return input;
        input.CheckFloating("Dropout2d");
        if (p == 1) return input * 0.0;
        int[] maskShape = [input._shape[0], input._shape[1], .. Enumerable.Repeat(1, input.Dim - 2)];
        Tensor mask;
        using (GradMode.Set(false))
            mask = Tensor.Rand(maskShape, input.DType, generator).Lt(1 - p).To(input.DType) * (1.0 / (1 - p));
        return input * mask;
    }

    /// <summary>[*, C·r², H, W] → [*, C, H·r, W·r] (<c>F.pixel_shuffle</c>).</summary>
    public static Tensor PixelShuffle(Tensor input, int upscaleFactor)
    {
        ArgumentNullException.ThrowIfNull(input);
        int r = upscaleFactor;
        if (r <= 0) throw new ArgumentOutOfRangeException(nameof(upscaleFactor), $"PixelShuffle: upscaleFactor must be positive, got {r}.");
        long rr = (long)r * r;
        if (input.Dim < 3 || input._shape[^3] % rr != 0)
            throw new ArgumentException($"PixelShuffle: expected an input [*, C·r², H, W] with C·r² divisible by r² = {rr}, got shape {ShapeUtil.Format(input._shape)}.");
        int[] lead = input._shape[..^3];
        int c = (int)(input._shape[^3] / rr), h = input._shape[^2], w = input._shape[^1];
        int k = lead.Length;
        var x = input.Reshape([.. lead, c, r, r, h, w]);
        // [*, C, r1, r2, H, W] → [*, C, H, r1, W, r2]
        int[] perm = [.. Enumerable.Range(0, k), k, k + 3, k + 1, k + 4, k + 2];
        return x.Permute(perm).Reshape([.. lead, c, h * r, w * r]);
    }

    /// <summary>[*, C, H·r, W·r] → [*, C·r², H, W] (<c>F.pixel_unshuffle</c>), the inverse of <see cref="PixelShuffle"/>.</summary>
    public static Tensor PixelUnshuffle(Tensor input, int downscaleFactor)
    {
        ArgumentNullException.ThrowIfNull(input);
        int r = downscaleFactor;
        if (r <= 0) throw new ArgumentOutOfRangeException(nameof(downscaleFactor), $"PixelUnshuffle: downscaleFactor must be positive, got {r}.");
        if (input.Dim < 3 || input._shape[^2] % r != 0 || input._shape[^1] % r != 0)
            throw new ArgumentException($"PixelUnshuffle: expected an input [*, C, H, W] with H and W divisible by {r}, got shape {ShapeUtil.Format(input._shape)}.");
        int[] lead = input._shape[..^3];
        int c = input._shape[^3], h = input._shape[^2] / r, w = input._shape[^1] / r;
        int k = lead.Length;
        var x = input.Reshape([.. lead, c, h, r, w, r]);
        // [*, C, H, r1, W, r2] → [*, C, r1, r2, H, W]
        int[] perm = [.. Enumerable.Range(0, k), k, k + 2, k + 4, k + 1, k + 3];
        return x.Permute(perm).Reshape([.. lead, c * r * r, h, w]);
    }

    /// <summary>
    /// Cosine similarity along <paramref name="dim"/> (<c>F.cosine_similarity</c>): Σ (x1/max(‖x1‖, ε))·(x2/max(‖x2‖, ε)),
    /// with x1 and x2 broadcast together, as PyTorch ≥ 1.12 computes it.
    /// </summary>
    public static Tensor CosineSimilarity(Tensor x1, Tensor x2, int dim = 1, double eps = 1e-8)
    {
        ArgumentNullException.ThrowIfNull(x1);
        ArgumentNullException.ThrowIfNull(x2);
        x1.CheckFloating("CosineSimilarity");
        Tensor.CheckSameDType(x1, x2, "CosineSimilarity");
        var shape = ShapeUtil.Broadcast(x1._shape, x2._shape, "CosineSimilarity");
        if (shape.Length == 0 || dim < -shape.Length || dim >= shape.Length)
            throw new ArgumentException($"CosineSimilarity: dim {dim} is out of range for inputs of shapes {ShapeUtil.Format(x1._shape)} and {ShapeUtil.Format(x2._shape)} (broadcast {ShapeUtil.Format(shape)}).");
        var a = x1.Expand(shape);
        var b = x2.Expand(shape);
        // max(‖x‖, ε) = √max(Σx², ε²): clamping before the square root keeps the gradient of a zero vector finite.
        var na = a.Square().Sum(dim, keepDim: true).Clamp(min: eps * eps).Sqrt();
        var nb = b.Square().Sum(dim, keepDim: true).Clamp(min: eps * eps).Sqrt();
        return (a / na * (b / nb)).Sum(dim);
    }

    /// <summary>
    /// Group normalisation (<c>F.group_norm</c>): the channels of an [N, C, *] input are split into
    /// <paramref name="numGroups"/> groups, each (sample, group) normalised by its mean and biased variance, then
    /// scaled and shifted per channel by <paramref name="weight"/> and <paramref name="bias"/> ([C]).
    /// </summary>
    public static Tensor GroupNorm(Tensor input, int numGroups, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        ArgumentNullException.ThrowIfNull(input);
        input.CheckFloating("GroupNorm");
        if (input.Dim < 2) throw new ArgumentException($"GroupNorm: expected an input [N, C, *] with at least 2 dimensions, got {ShapeUtil.Format(input._shape)}.");
        int n = input._shape[0], c = input._shape[1];
        if (numGroups <= 0 || c % numGroups != 0)
            throw new ArgumentException($"GroupNorm: expected the number of channels of input {ShapeUtil.Format(input._shape)} ({c}) to be divisible by numGroups ({numGroups}).");
        foreach (var (t, name) in new[] { (weight, "weight"), (bias, "bias") })
            if (t is not null)
            {
                Tensor.CheckSameDType(input, t, "GroupNorm");
                if (t.Dim != 1 || t._shape[0] != c)
                    throw new ArgumentException($"GroupNorm: {name} has shape {ShapeUtil.Format(t._shape)} but the input {ShapeUtil.Format(input._shape)} has {c} channels (expected [{c}]).");
            }
        var x = input.Reshape(n, numGroups, -1);
        var mean = x.Mean(2, keepDim: true);
        var centered = x - mean;
        var variance = centered.Square().Mean(2, keepDim: true);
        var y = (centered * (variance + eps).Rsqrt()).Reshape(input._shape);
        if (weight is null && bias is null) return y;
        int[] channelShape = [c, .. Enumerable.Repeat(1, input.Dim - 2)];
        if (weight is not null) y = y * weight.Reshape(channelShape);
        if (bias is not null) y = y + bias.Reshape(channelShape);
        return y;
    }

    /// <summary>
    /// RMS normalisation (<c>F.rms_norm</c>, PyTorch 2.4): x / √(mean(x²) + ε) · weight over the trailing dims given by
    /// <paramref name="normalizedShape"/>; ε defaults to the machine epsilon of the input's dtype, as PyTorch.
    /// </summary>
    public static Tensor RmsNorm(Tensor input, int[] normalizedShape, Tensor? weight = null, double? eps = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(normalizedShape);
        input.CheckFloating("RmsNorm");
        int k = normalizedShape.Length;
        if (k == 0) throw new ArgumentException("RmsNorm: normalizedShape must have at least one dimension.");
        if (input.Dim < k || !input._shape.AsSpan(input.Dim - k).SequenceEqual(normalizedShape))
            throw new ArgumentException($"RmsNorm: expected input with shape [*, {string.Join(", ", normalizedShape)}], but got input of shape {ShapeUtil.Format(input._shape)}.");
        if (weight is not null)
        {
            Tensor.CheckSameDType(input, weight, "RmsNorm");
            if (!ShapeUtil.SameShape(weight._shape, normalizedShape))
                throw new ArgumentException($"RmsNorm: weight shape {ShapeUtil.Format(weight._shape)} does not match normalizedShape {ShapeUtil.Format(normalizedShape)}.");
        }
        double e = eps ?? (input.DType == DType.Float32 ? 1.1920928955078125e-07 : 2.220446049250313e-16);
        int[] dims = [.. Enumerable.Range(input.Dim - k, k)];
        var y = input * (input.Square().Mean(dims, keepDim: true) + e).Rsqrt();
        return weight is null ? y : y * weight;
    }
}
