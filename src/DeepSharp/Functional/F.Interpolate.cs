using DeepSharp.Kernels;

namespace DeepSharp.NN;

// Resizing (torch.nn.functional.interpolate). Each spatial dim is resized on its own — nearest as one index-select,
// linear as two index-selects blended with constant weights — so the op is differentiable to any order and
// bilinear is exactly linear-then-linear, PyTorch's source-index arithmetic included.
public static partial class F
{
    /// <summary>
    /// Resizes the spatial dims of [N, C, W], [N, C, H, W] or [N, C, D, H, W] (<c>F.interpolate</c>) to <paramref name="size"/>
    /// or by <paramref name="scaleFactor"/> (one value for all spatial dims, or one each; the output size is
    /// ⌊in · factor⌋). Modes: "nearest" (any of the three ranks), "linear" (3-D input), "bilinear" (4-D input);
    /// <paramref name="alignCorners"/> (linear modes only) maps the corner pixels' centres onto each other.
    /// </summary>
    public static Tensor Interpolate(Tensor input, int[]? size = null, double[]? scaleFactor = null, string mode = "nearest", bool? alignCorners = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(mode);
        int spatial = input.Dim - 2;
        if (spatial is < 1 or > 3)
            throw new ArgumentException($"Interpolate: expected a 3-D, 4-D or 5-D input [N, C, spatial…], got shape {ShapeUtil.Format(input._shape)}.");
        bool linear = mode is "linear" or "bilinear";
        if (!linear && mode != "nearest")
            throw new ArgumentException($"Interpolate: unsupported mode \"{mode}\"; expected \"nearest\", \"linear\" or \"bilinear\".");
        if (mode == "linear" && spatial != 1 || mode == "bilinear" && spatial != 2)
            throw new ArgumentException($"Interpolate: mode \"{mode}\" needs a {(mode == "linear" ? 3 : 4)}-D input, got shape {ShapeUtil.Format(input._shape)}.");
        if (!linear && alignCorners is not null)
            throw new ArgumentException("Interpolate: alignCorners can only be set with the interpolating modes (linear, bilinear).");
        if ((size is null) == (scaleFactor is null))
            throw new ArgumentException("Interpolate: give exactly one of size and scaleFactor.");
        var outSize = new int[spatial];
        var scales = new double?[spatial];
        for (int i = 0; i < spatial; i++)
        {
            int inSize = input._shape[2 + i];
            if (size is not null)
            {
                if (size.Length != 1 && size.Length != spatial)
                    throw new ArgumentException($"Interpolate: size {ShapeUtil.Format(size)} must have 1 or {spatial} values for input shape {ShapeUtil.Format(input._shape)}.");
                outSize[i] = size.Length == 1 ? size[0] : size[i];
            }
            else
            {
                if (scaleFactor!.Length != 1 && scaleFactor.Length != spatial)
                    throw new ArgumentException($"Interpolate: scaleFactor [{string.Join(", ", scaleFactor)}] must have 1 or {spatial} values for input shape {ShapeUtil.Format(input._shape)}.");
                double f = scaleFactor.Length == 1 ? scaleFactor[0] : scaleFactor[i];
                if (!(f > 0) || double.IsInfinity(f))
                    throw new ArgumentException($"Interpolate: scale factors must be positive and finite, got {f}.");
                outSize[i] = (int)Math.Floor(inSize * f);
                scales[i] = f;
            }
            if (outSize[i] <= 0 || inSize <= 0)
                throw new ArgumentException($"Interpolate: input and output sizes must be positive, got input {ShapeUtil.Format(input._shape)} and output spatial size {ShapeUtil.Format(outSize)}.");
        }
        var t = input;
        // Last spatial dim first: PyTorch's bilinear weights the two columns inside each row, then the rows.
        for (int i = spatial - 1; i >= 0; i--)
        {
            int d = 2 + i, inSize = input._shape[d], o = outSize[i];
            t = linear ? ResizeLinear(t, d, inSize, o, scales[i], alignCorners ?? false) : ResizeNearest(t, d, inSize, o, scales[i]);
        }
        return ReferenceEquals(t, input) ? input.Clone() : t;
    }

    private static Tensor ResizeNearest(Tensor t, int d, int inSize, int outSize, double? scale)
    {
        if (inSize == outSize) return t;
        // PyTorch computes the source index in float: min(⌊dst · scale⌋, in − 1), scale = 1/factor or in/out.
        float s = scale is { } f ? (float)(1.0 / f) : (float)inSize / outSize;
        var index = new int[outSize];
        IndexTableKernels.Nearest(index, inSize, s);
        return t.SelectAlong(d, index);
    }

    private static Tensor ResizeLinear(Tensor t, int d, int inSize, int outSize, double? scale, bool alignCorners)
    {
        double s = alignCorners ? (outSize > 1 ? (double)(inSize - 1) / (outSize - 1) : 0)
            : scale is { } f ? 1.0 / f : (double)inSize / outSize;
        var i0 = new int[outSize];
        var i1 = new int[outSize];
        var w0 = new double[outSize];
        var w1 = new double[outSize];
        IndexTableKernels.Linear(i0, i1, w0, w1, inSize, s, alignCorners);
        var shape = Enumerable.Repeat(1, t.Dim).ToArray();
        shape[d] = outSize;
        var lambda0 = Tensor.FromArray(w0, shape).To(t.DType);
        var lambda1 = Tensor.FromArray(w1, shape).To(t.DType);
        return t.SelectAlong(d, i0) * lambda0 + t.SelectAlong(d, i1) * lambda1;
    }
}
