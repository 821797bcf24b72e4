using System.Numerics;
using DeepSharp.Kernels;

namespace DeepSharp;

// Cross-entropy from logits with class-index targets (the hot path of F.cross_entropy): one fused kernel for
// log-softmax + NLL forward and one for the backward. The composite twin serves createGraph and the tests.
public sealed partial class Tensor
{
    /// <summary>
    /// Cross-entropy between logits (this: [N, C], [N, C, d1, …] or [C]) and Int64 class indices (target:
    /// [N], [N, d1, …] or scalar), with optional class weights [C], an ignored index, label smoothing and
    /// reduction "none" | "mean" | "sum", as <c>torch.nn.functional.cross_entropy</c>.
    /// </summary>
    internal Tensor CrossEntropyWithIndices(Tensor target, Tensor? weight, long ignoreIndex, double labelSmoothing, string reduction)
    {
        CheckFloating("CrossEntropy");
        if (target.DType != DType.Int64) throw new ArgumentException($"CrossEntropy: class-index targets must be Int64, got {target.DType}.");
        if (reduction is not ("none" or "mean" or "sum")) throw new ArgumentException($"CrossEntropy: reduction must be \"none\", \"mean\" or \"sum\", got \"{reduction}\".");
        if (labelSmoothing is < 0 or > 1) throw new ArgumentException($"CrossEntropy: label smoothing must be in [0, 1], got {labelSmoothing}.");
        if (Dim == 0) throw new ArgumentException("CrossEntropy: the input must have at least one dimension (classes).");
        // Arrange logits as [rows, C] with classes last.
        Tensor logits2d;
        int c;
        int[] targetShape;
        if (Dim == 1)
        {
            c = _shape[0];
            targetShape = [];
            if (target.Dim != 0) throw new ArgumentException($"CrossEntropy: for an unbatched input {ShapeUtil.Format(_shape)} the target must be a scalar, got {ShapeUtil.Format(target._shape)}.");
            logits2d = Unsqueeze(0);
        }
        else
        {
            c = _shape[1];
            targetShape = [_shape[0], .. _shape[2..]];
            if (!ShapeUtil.SameShape(target._shape, targetShape))
                throw new ArgumentException($"CrossEntropy: expected target of shape {ShapeUtil.Format(targetShape)} for input {ShapeUtil.Format(_shape)}, got {ShapeUtil.Format(target._shape)}.");
            logits2d = Dim == 2 ? this : Movedim(1, Dim - 1).Reshape(-1, c);
        }
        if (weight is not null)
        {
            CheckSameDType(this, weight, "CrossEntropy");
            if (weight.Dim != 1 || weight._shape[0] != c)
                throw new ArgumentException($"CrossEntropy: weight must have shape [{c}], got {ShapeUtil.Format(weight._shape)}.");
        }
        return logits2d.CrossEntropyRows(target.Reshape(-1), weight, ignoreIndex, labelSmoothing, reduction, targetShape);
    }

    private Tensor CrossEntropyRows(Tensor target, Tensor? weight, long ignoreIndex, double labelSmoothing, string reduction, int[] targetShape)
    {
        int rows = _shape[0], c = _shape[1];
        Tensor x;
        using (GradMode.Set(false)) x = Contiguous();
        var t = target.Contiguous();
        var w = weight?.Contiguous();
        var losses = Empty([rows], DType, zeroed: false);
        var logProbs = Empty([rows, c], DType, zeroed: false);
        double denominator = DType == DType.Float32
            ? Forward<float>(x, t, w, ignoreIndex, labelSmoothing, losses, logProbs)
            : Forward<double>(x, t, w, ignoreIndex, labelSmoothing, losses, logProbs);
        Tensor result;
        using (GradMode.Set(false))
        {
            result = reduction switch
            {
                "none" => losses.Reshape(targetShape),
                "sum" => losses.Sum(),
                _ => losses.Sum() / denominator,
            };
            result = result.Detach();
        }
        Tensor[] inputs = weight is null ? [this] : [this, weight];
        var self = this;
        var recorded = Node.Record(result, "NllLossBackward", inputs, g =>
        {
            if (GradMode.IsEnabled)
                return CompositeBackward(inputs, ins => CrossEntropyComposite(ins[0], target, weight, ignoreIndex, labelSmoothing, reduction, targetShape), g);
            if (weight?.RequiresGrad == true)
                throw new NotSupportedException("CrossEntropy: gradients with respect to the class weights are not supported.");
            var rowGrad = reduction switch
            {
                "none" => g.Reshape(rows).Contiguous(),
                "sum" => g.Reshape(1).Expand(rows).Contiguous(),
                _ => (g / denominator).Reshape(1).Expand(rows).Contiguous(),
            };
            var dx = Empty([rows, c], DType, zeroed: false);
            if (DType == DType.Float32) Backward<float>(logProbs, t, rowGrad, w, ignoreIndex, labelSmoothing, dx);
            else Backward<double>(logProbs, t, rowGrad, w, ignoreIndex, labelSmoothing, dx);
            return [dx, null];
        }, x);
        // Only the closure sees the log-probabilities: they go back to the pool when it is dropped, or now.
        if (recorded._gradFn is { } node) node.ReleaseWith(logProbs);
        else logProbs.Dispose();
        return recorded;

        static double Forward<T>(Tensor x, Tensor t, Tensor? w, long ignore, double ls, Tensor losses, Tensor logProbs) where T : unmanaged, IFloatingPointIeee754<T> =>
            double.CreateChecked(LossKernels.CrossEntropyForward(x.ReadSpan<T>(), t.ReadSpan<long>(), x._shape[0], x._shape[1], ignore,
                w is null ? default : w.ReadSpan<T>(), T.CreateChecked(ls), losses.Span<T>(), logProbs.Span<T>()));

        static void Backward<T>(Tensor logProbs, Tensor t, Tensor rowGrad, Tensor? w, long ignore, double ls, Tensor dx) where T : unmanaged, IFloatingPointIeee754<T> =>
            LossKernels.CrossEntropyBackward(logProbs.ReadSpan<T>(), t.ReadSpan<long>(), rowGrad.ReadSpan<T>(), logProbs._shape[0], logProbs._shape[1], ignore,
                w is null ? default : w.ReadSpan<T>(), T.CreateChecked(ls), dx.Span<T>());
    }

    /// <summary>Cross-entropy over [rows, C] logits written with primitive ops (same formula as the fused kernel).</summary>
    internal static Tensor CrossEntropyComposite(Tensor logits, Tensor target, Tensor? weight, long ignoreIndex, double labelSmoothing, string reduction, int[] targetShape)
    {
        int c = logits._shape[1];
        var logp = logits.LogSoftmax(1);
        var valid = target.Ne(ignoreIndex);
        var safeTarget = Where(valid, target, Zeros(target._shape, DType.Int64));
        var mask = valid.To(logits.DType);
        var nll = -logp.Gather(1, safeTarget.Unsqueeze(1)).Squeeze(1);
        var wt = weight is null ? OnesLike(nll) : weight.IndexSelect(0, safeTarget);
        var loss = nll * wt * (1 - labelSmoothing);
        if (labelSmoothing > 0)
        {
            var smooth = weight is null ? -logp.Sum(1) : -(logp * weight).Sum(1);
            loss = loss + smooth * (labelSmoothing / c);
        }
        loss = loss * mask;
        return reduction switch
        {
            "none" => loss.Reshape(targetShape),
            "sum" => loss.Sum(),
            _ => loss.Sum() / (wt * mask).Sum(),
        };
    }
}
