namespace DeepSharp.NN;

/// <summary>
/// Upsamples [N, C, H, W] (or [C, H, W]) input to a size or by a scale factor (<c>nn.Upsample</c>), with mode
/// "nearest" (default) or "bilinear" (with or without <c>alignCorners</c>); see <see cref="F.Interpolate"/>.
/// </summary>
public sealed class Upsample : Module<Tensor, Tensor>
{
    /// <summary>Upsamples to a fixed output size (H, W).</summary>
    /// <param name="size">The output (H, W).</param>
    /// <param name="mode">"nearest" or "bilinear".</param>
    /// <param name="alignCorners">For "bilinear": whether corner pixels are aligned (default false).</param>
    public Upsample((int H, int W) size, string mode = "nearest", bool? alignCorners = null) : this(size, null, mode, alignCorners) { }

    /// <summary>Upsamples by a scale factor.</summary>
    /// <param name="scaleFactor">The multiplier of H and W.</param>
    /// <param name="mode">"nearest" or "bilinear".</param>
    /// <param name="alignCorners">For "bilinear": whether corner pixels are aligned (default false).</param>
    public Upsample(double scaleFactor, string mode = "nearest", bool? alignCorners = null) : this(null, scaleFactor, mode, alignCorners) { }

    private Upsample((int H, int W)? size, double? scaleFactor, string mode, bool? alignCorners)
    {
        if (mode is not ("nearest" or "bilinear")) throw new ArgumentException($"Upsample: mode must be \"nearest\" or \"bilinear\", got \"{mode}\".");
        if (mode == "nearest" && alignCorners is not null)
            throw new ArgumentException("Upsample: alignCorners option can only be set with the interpolating modes: linear | bilinear | bicubic | trilinear.");
        Size = size;
        ScaleFactor = scaleFactor;
        Mode = mode;
        AlignCorners = alignCorners;
    }

    /// <summary>The output size, or null when a scale factor is used.</summary>
    public (int H, int W)? Size { get; }

    /// <summary>The scale factor, or null when a size is used.</summary>
    public double? ScaleFactor { get; }

    /// <summary>"nearest" or "bilinear".</summary>
    public string Mode { get; }

    /// <summary>Whether corner pixels are aligned ("bilinear" only), or null.</summary>
    public bool? AlignCorners { get; }

    /// <summary>Resamples the input.</summary>
    public override Tensor Forward(Tensor input) => F.Interpolate(input, Size is { } s ? [s.H, s.W] : null, ScaleFactor is { } f ? [f] : null, Mode, AlignCorners);

    /// <inheritdoc/>
    protected override string ExtraRepr() =>
        (ScaleFactor is { } f ? $"scale_factor={Py(f)}" : $"size={PyTuple([Size!.Value.H, Size!.Value.W])}") + $", mode='{Mode}'";
}
