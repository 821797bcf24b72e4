using System.Numerics;
using DeepSharp.Kernels;

namespace DeepSharp.NN;

// Sliding blocks (torch.nn.functional.unfold / fold) over the convolution's im2col and col2im kernels. Each is the
// other's adjoint, so each one's backward is the other and double backward works.
public static partial class F
{
    /// <summary>
    /// Extracts sliding blocks (<c>F.unfold</c>, im2col): [N, C, H, W] (or [C, H, W]) to [N, C·kH·kW, L], where L is the number
    /// of block positions; row (c, i, j) holds input[c, oh·sH − pH + i·dH, ow·sW − pW + j·dW] (zero in the padding).
    /// </summary>
    public static Tensor Unfold(Tensor input, (int H, int W) kernelSize, (int H, int W)? dilation = null, (int H, int W)? padding = null, (int H, int W)? stride = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        input.CheckFloating("Unfold");
        if (input.Dim is not (3 or 4))
            throw new ArgumentException($"Unfold: expected a 3-D [C, H, W] or 4-D [N, C, H, W] input, got shape {ShapeUtil.Format(input._shape)}.");
        bool batched = input.Dim == 4;
        var x = batched ? input : input.Unsqueeze(0);
        var g = Geometry("Unfold", x._shape[0], x._shape[1], x._shape[2], x._shape[3], kernelSize, dilation, padding, stride, input._shape);
        var result = UnfoldCore(x, g);
        return batched ? result : result.Squeeze(0);
    }

    /// <summary>Unfold with square kernel, dilation, padding and stride.</summary>
    public static Tensor Unfold(Tensor input, int kernelSize, int dilation = 1, int padding = 0, int stride = 1) =>
        Unfold(input, (kernelSize, kernelSize), (dilation, dilation), (padding, padding), (stride, stride));

    /// <summary>
    /// Sums sliding blocks back into an image (<c>F.fold</c>, col2im; the adjoint of <see cref="Unfold(Tensor, ValueTuple{int, int}, ValueTuple{int, int}?, ValueTuple{int, int}?, ValueTuple{int, int}?)"/>):
    /// [N, C·kH·kW, L] (or [C·kH·kW, L]) to [N, C, outputSize.H, outputSize.W]; overlapping entries add up.
    /// </summary>
    public static Tensor Fold(Tensor input, (int H, int W) outputSize, (int H, int W) kernelSize, (int H, int W)? dilation = null, (int H, int W)? padding = null, (int H, int W)? stride = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        input.CheckFloating("Fold");
        if (input.Dim is not (2 or 3))
            throw new ArgumentException($"Fold: expected a 2-D [C·kH·kW, L] or 3-D [N, C·kH·kW, L] input, got shape {ShapeUtil.Format(input._shape)}.");
        bool batched = input.Dim == 3;
        var x = batched ? input : input.Unsqueeze(0);
        int kk = kernelSize.H * kernelSize.W;
        if (kernelSize.H < 1 || kernelSize.W < 1 || x._shape[1] % kk != 0)
            throw new ArgumentException($"Fold: the input's dimension 1 ({x._shape[1]}) must be divisible by the kernel size product {kernelSize.H}×{kernelSize.W} (input shape {ShapeUtil.Format(input._shape)}).");
        var g = Geometry("Fold", x._shape[0], x._shape[1] / kk, outputSize.H, outputSize.W, kernelSize, dilation, padding, stride, input._shape);
        if (g.OutH * g.OutW != x._shape[2])
            throw new ArgumentException($"Fold: the input's {x._shape[2]} blocks (shape {ShapeUtil.Format(input._shape)}) do not match the {g.OutH}×{g.OutW} = {g.OutH * g.OutW} block positions of output size ({outputSize.H}, {outputSize.W}) with kernel ({kernelSize.H}, {kernelSize.W}).");
        var result = FoldCore(x, g);
        return batched ? result : result.Squeeze(0);
    }

    /// <summary>Fold with square kernel, dilation, padding and stride.</summary>
    public static Tensor Fold(Tensor input, (int H, int W) outputSize, int kernelSize, int dilation = 1, int padding = 0, int stride = 1) =>
        Fold(input, outputSize, (kernelSize, kernelSize), (dilation, dilation), (padding, padding), (stride, stride));

    private static Conv2dGeometry Geometry(string op, int n, int c, int h, int w, (int H, int W) k, (int H, int W)? dilation, (int H, int W)? padding, (int H, int W)? stride, int[] shape)
    {
        var (dh, dw) = dilation ?? (1, 1);
        var (ph, pw) = padding ?? (0, 0);
        var (sh, sw) = stride ?? (1, 1);
        var g = new Conv2dGeometry(n, c, h, w, 1, k.H, k.W, sh, sw, ph, pw, dh, dw, 1);
        try { g.Validate(op); }
        catch (ArgumentException e) { throw new ArgumentException($"{e.Message} (input shape {ShapeUtil.Format(shape)})", e); }
        return g;
    }

    private static Tensor UnfoldCore(Tensor x, Conv2dGeometry g)
    {
        Tensor src;
        using (GradMode.Set(false)) src = x.Contiguous();
        int rows = g.InC * g.KernelH * g.KernelW, l = g.OutH * g.OutW;
        var result = Tensor.Empty([g.N, rows, l], x.DType, zeroed: false);
        Tensor.DispatchFloat(x.DType, "Unfold", new Im2ColCore(g, src, result));
        return Node.Record(result, "Im2ColBackward", [x], grad => [FoldCore(grad, g)]);
    }

    private static Tensor FoldCore(Tensor cols, Conv2dGeometry g)
    {
        Tensor src;
        using (GradMode.Set(false)) src = cols.Contiguous();
        var result = Tensor.Empty([g.N, g.InC, g.H, g.W], cols.DType);
        Tensor.DispatchFloat(cols.DType, "Fold", new Col2ImAddCore(g, src, result));
        return Node.Record(result, "Col2ImBackward", [cols], grad => [UnfoldCore(grad, g)]);
    }

    // Image by image: [N, C, H, W] to columns [N, C·kH·kW, L].
    private readonly record struct Im2ColCore(Conv2dGeometry G, Tensor Src, Tensor Result) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            var g = G;
            int rows = g.InC * g.KernelH * g.KernelW, l = g.OutH * g.OutW, plane = g.InC * g.H * g.W;
            for (int i = 0; i < g.N; i++)
                Conv2dKernels.Im2Col(g, Src.ReadSpan<T>().Slice(i * plane, plane), 0, g.OutH, Result.Span<T>().Slice(i * rows * l, rows * l));
        }
    }

    // Image by image: columns [N, C·kH·kW, L] added into the (zeroed) image [N, C, H, W].
    private readonly record struct Col2ImAddCore(Conv2dGeometry G, Tensor Src, Tensor Result) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            var g = G;
            int rows = g.InC * g.KernelH * g.KernelW, l = g.OutH * g.OutW, plane = g.InC * g.H * g.W;
            for (int i = 0; i < g.N; i++)
                Conv2dKernels.Col2ImAdd(g, Src.ReadSpan<T>().Slice(i * rows * l, rows * l), 0, g.OutH, Result.Span<T>().Slice(i * plane, plane));
        }
    }
}
