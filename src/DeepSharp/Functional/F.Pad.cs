using DeepSharp.Kernels;

namespace DeepSharp.NN;

// Padding and normalisation (torch.nn.functional.pad, normalize), built from differentiable ops: constant padding
// from Cat/Narrow, the other modes as one index-select per padded dim (its backward sums the copies).
public static partial class F
{
    /// <summary>
    /// Pads <paramref name="input"/> (<c>F.pad</c>). <paramref name="pad"/> lists (left, right) pairs starting from the LAST
    /// dim, as PyTorch: (1, 2) pads the last dim, (1, 1, 2, 2) the last two. <paramref name="mode"/> is "constant" (fill
    /// with <paramref name="value"/>; negative pads crop), "reflect" (mirror without repeating the edge), "replicate"
    /// (repeat the edge) or "circular" (wrap around); the last three pad the last 1–3 dims of an input with one or two
    /// more (batch and channel) dims.
    /// </summary>
    public static Tensor Pad(Tensor input, int[] pad, string mode = "constant", double value = 0)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(pad);
        ArgumentNullException.ThrowIfNull(mode);
        if (pad.Length % 2 != 0 || pad.Length / 2 > input.Dim)
            throw new ArgumentException($"Pad: the padding {ShapeUtil.Format(pad)} must have an even length of at most 2 × the input's rank (input shape {ShapeUtil.Format(input._shape)}).");
        int k = pad.Length / 2;
        if (mode != "constant")
        {
            if (mode is not ("reflect" or "replicate" or "circular"))
                throw new ArgumentException($"Pad: unknown mode \"{mode}\"; expected \"constant\", \"reflect\", \"replicate\" or \"circular\".");
            if (k is < 1 or > 3 || input.Dim < k + 1 || input.Dim > k + 2)
                throw new ArgumentException($"Pad: {mode} padding of the last {k} dim(s) needs a {k + 1}-D or {k + 2}-D input (padding {ShapeUtil.Format(pad)}), got shape {ShapeUtil.Format(input._shape)}.");
            if (pad.Any(p => p < 0))
                throw new ArgumentException($"Pad: {mode} padding must be non-negative, got {ShapeUtil.Format(pad)}.");
        }
        var t = input;
        for (int i = 0; i < k; i++)
        {
            int d = input.Dim - 1 - i, left = pad[2 * i], right = pad[2 * i + 1];
            int n = t._shape[d];
            if (mode == "constant") { t = PadConstant(t, d, left, right, value, pad); continue; }
            if (left == 0 && right == 0) continue;
            bool ok = mode switch
            {
                "reflect" => left < n && right < n,
                "circular" => left <= n && right <= n,
                _ => n > 0,
            };
            if (!ok)
                throw new ArgumentException($"Pad: {mode} padding ({left}, {right}) of dimension {d} is too large for its size {n} (input shape {ShapeUtil.Format(input._shape)}; " +
                    (mode == "reflect" ? "reflect padding must be smaller than the dimension)." : mode == "circular" ? "circular padding can be at most the dimension)." : "the dimension must not be empty)."));
            var index = new int[left + n + right];
            IndexTableKernels.Pad(index, n, left, mode switch
            {
                "reflect" => PadIndexMode.Reflect,
                "replicate" => PadIndexMode.Replicate,
                _ => PadIndexMode.Circular,
            });
            t = t.SelectAlong(d, index);
        }
        return ReferenceEquals(t, input) ? input.Clone() : t;
    }

    private static Tensor PadConstant(Tensor t, int d, int left, int right, double value, int[] pad)
    {
        int n = t._shape[d];
        if (n + left + right < 0 || (left < 0 && -left > n) || (right < 0 && -right > n))
            throw new ArgumentException($"Pad: padding ({left}, {right}) of dimension {d} would leave a negative size (dimension size {n}, padding {ShapeUtil.Format(pad)}).");
        int cutLeft = Math.Max(0, -left), cutRight = Math.Max(0, -right);
        if (cutLeft + cutRight > 0) t = t.Narrow(d, cutLeft, Math.Max(0, n - cutLeft - cutRight));
        if (left <= 0 && right <= 0) return t;
        var parts = new List<Tensor>(3);
        if (left > 0) parts.Add(Tensor.Full(WithSize(t._shape, d, left), value, t.DType));
        parts.Add(t);
        if (right > 0) parts.Add(Tensor.Full(WithSize(t._shape, d, right), value, t.DType));
        return Tensor.Cat(parts, d);
    }

    private static int[] WithSize(int[] shape, int d, int size)
    {
        var s = (int[])shape.Clone();
        s[d] = size;
        return s;
    }

    /// <summary>x / max(‖x‖_p, eps) along <paramref name="dim"/> (<c>F.normalize</c>): unit vectors along dim, and
    /// no division by zero for a zero vector.</summary>
    public static Tensor Normalize(Tensor input, double p = 2, int dim = 1, double eps = 1e-12)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (eps < 0) throw new ArgumentException($"Normalize: eps must be non-negative, got {eps}.");
        dim = ShapeUtil.WrapExistingDim(dim, input.Dim, "Normalize");
        return input / input.Norm(p, dim, keepDim: true).Clamp(min: eps);
    }
}
