namespace DeepSharp.NN;

// Resampling (torch.nn.functional.interpolate, modes "nearest" and "bilinear"), written as index selections and
// weighted sums so that every derivative order works; the source coordinates follow PyTorch's CPU kernels exactly.
public static partial class F
{
    /// <summary>
    /// Resamples the spatial dims of an [N, C, H, W] (or [C, H, W]) input (<c>F.interpolate</c>) to <paramref name="size"/>
    /// or by <paramref name="scaleFactor"/> (exactly one of them). <paramref name="mode"/> is "nearest" (source index
    /// ⌊dst·scale⌋, PyTorch's legacy nearest) or "bilinear" (with <paramref name="alignCorners"/>: corner pixels aligned,
    /// src = dst·(in − 1)/(out − 1); without, half-pixel centres, src = (dst + 0.5)·scale − 0.5 clamped at 0).
    /// With a scale factor, scale = 1/scaleFactor as PyTorch (recompute_scale_factor unset).
    /// </summary>
    public static Tensor Interpolate(Tensor input, (int H, int W)? size = null, double? scaleFactor = null, string mode = "nearest", bool? alignCorners = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        input.CheckFloating("Interpolate");
        if (input.Dim == 3) return Interpolate(input.Unsqueeze(0), size, scaleFactor, mode, alignCorners).Squeeze(0);
        if (input.Dim != 4)
            throw new ArgumentException($"Interpolate: expected a 3-D or 4-D input [N, C, H, W], got shape {ShapeUtil.Format(input._shape)}.");
        if (mode is not ("nearest" or "bilinear"))
            throw new ArgumentException($"Interpolate: mode must be \"nearest\" or \"bilinear\", got \"{mode}\".");
        if (mode == "nearest" && alignCorners is not null)
            throw new ArgumentException("Interpolate: alignCorners option can only be set with the interpolating modes: linear | bilinear | bicubic | trilinear.");
        if ((size is null) == (scaleFactor is null))
            throw new ArgumentException("Interpolate: exactly one of size and scaleFactor must be given.");
        int inH = input._shape[2], inW = input._shape[3];
        int outH, outW;
        if (size is { } s) (outH, outW) = s;
        else
        {
            double f = scaleFactor!.Value;
            if (!(f > 0) || double.IsInfinity(f)) throw new ArgumentOutOfRangeException(nameof(scaleFactor), $"Interpolate: scaleFactor must be positive and finite, got {f}.");
            double h = Math.Floor(inH * f), w = Math.Floor(inW * f);
            if (h > int.MaxValue || w > int.MaxValue)
                throw new ArgumentOutOfRangeException(nameof(scaleFactor), $"Interpolate: scaleFactor {f} makes the output of input {ShapeUtil.Format(input._shape)} larger than an int dimension holds.");
            (outH, outW) = ((int)h, (int)w);
        }
        if (outH <= 0 || outW <= 0)
            throw new ArgumentException($"Interpolate: input {ShapeUtil.Format(input._shape)} gives an output size ({outH}, {outW}); it must be positive.");
        ShapeUtil.Numel([input._shape[0], input._shape[1], outH, outW]); // a clear ArgumentException when the result is too large
        bool corners = alignCorners ?? false;
        var x = ResampleDim(input, 2, inH, outH, scaleFactor, mode, corners);
        return ResampleDim(x, 3, inW, outW, scaleFactor, mode, corners);
    }

    private static Tensor ResampleDim(Tensor x, int dim, int inSize, int outSize, double? scaleFactor, string mode, bool alignCorners)
    {
        if (mode == "nearest")
        {
            if (inSize == outSize) return x;
            // PyTorch computes the nearest index in float32.
            float scale = scaleFactor is { } f ? (float)(1.0 / f) : (float)inSize / outSize;
            var idx = new long[outSize];
            for (int i = 0; i < outSize; i++)
                idx[i] = outSize == 2 * inSize ? i >> 1 : Math.Min((long)MathF.Floor(i * scale), inSize - 1);
            return x.IndexSelect(dim, Tensor.FromArray(idx, outSize));
        }
        var i0 = new long[outSize];
        var i1 = new long[outSize];
        var l0 = new double[outSize];
        var l1 = new double[outSize];
        double s = alignCorners
            ? (outSize > 1 ? (inSize - 1) / (double)(outSize - 1) : 0)
            : (scaleFactor is { } sf ? 1.0 / sf : inSize / (double)outSize);
        for (int i = 0; i < outSize; i++)
        {
            double src = alignCorners ? s * i : Math.Max(s * (i + 0.5) - 0.5, 0);
            long lo = Math.Min((long)src, inSize - 1);
            i0[i] = lo;
            i1[i] = lo < inSize - 1 ? lo + 1 : lo;
            l1[i] = src - lo;
            l0[i] = 1 - l1[i];
        }
        int[] weightShape = [.. Enumerable.Repeat(1, x.Dim)];
        weightShape[dim] = outSize;
        var w0 = Tensor.FromArray(l0, weightShape).To(x.DType);
        var w1 = Tensor.FromArray(l1, weightShape).To(x.DType);
        return x.IndexSelect(dim, Tensor.FromArray(i0, outSize)) * w0 + x.IndexSelect(dim, Tensor.FromArray(i1, outSize)) * w1;
    }
}
