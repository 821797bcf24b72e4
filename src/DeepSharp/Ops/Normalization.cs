using System.Numerics;
using DeepSharp.Kernels;

namespace DeepSharp;

// Fused LayerNorm and BatchNorm (torch.nn.functional.layer_norm / batch_norm). The forward and the plain
// backward run fused kernels; when the backward itself is being recorded (createGraph) it falls back to the
// composite formula, so higher-order gradients stay available.
public sealed partial class Tensor
{
    /// <summary>
    /// Layer normalisation over the trailing dims <paramref name="normalizedShape"/>:
    /// γ·(x − μ)/√(σ² + ε) + β with the biased variance, as PyTorch.
    /// </summary>
    public Tensor LayerNorm(int[] normalizedShape, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        ArgumentNullException.ThrowIfNull(normalizedShape);
        CheckFloating("LayerNorm");
        int k = normalizedShape.Length;
        if (k == 0 || k > Dim || !_shape.AsSpan(Dim - k).SequenceEqual(normalizedShape))
            throw new ArgumentException($"LayerNorm: normalized shape {ShapeUtil.Format(normalizedShape)} does not match the trailing dims of the input {ShapeUtil.Format(_shape)}.");
        foreach (var p in new[] { weight, bias })
        {
            if (p is null) continue;
            CheckSameDType(this, p, "LayerNorm");
            if (!ShapeUtil.SameShape(p._shape, normalizedShape))
                throw new ArgumentException($"LayerNorm: weight and bias must have shape {ShapeUtil.Format(normalizedShape)}, got {ShapeUtil.Format(p._shape)}.");
        }
        int n = ShapeUtil.Numel(normalizedShape), rows = n == 0 ? 0 : NumEl / n;
        Tensor x;
        using (GradMode.Set(false)) x = Contiguous();
        var w = weight?.Contiguous();
        var b = bias?.Contiguous();
        var y = Empty(_shape, DType, zeroed: false);
        var mean = Empty([rows], DType, zeroed: false);
        var rstd = Empty([rows], DType, zeroed: false);
        if (DType == DType.Float32) Forward<float>(x, w, b, eps, y, mean, rstd);
        else Forward<double>(x, w, b, eps, y, mean, rstd);

        var dims = Enumerable.Range(Dim - k, k).ToArray();
        Tensor[] inputs = [this, .. new[] { weight, bias }.OfType<Tensor>()];
        var self = this;
        var recorded = Node.Record(y, "NativeLayerNormBackward", inputs, g =>
        {
            if (GradMode.IsEnabled)
                return CompositeBackward(inputs, ins => LayerNormComposite(ins[0], dims, weight is null ? null : ins[1], bias is null ? null : ins[^1], eps), g);
            var dy = g.Contiguous();
            var dx = Empty(self._shape, DType, zeroed: false);
            var dw = weight is null ? null : Empty(normalizedShape, DType, zeroed: false);
            var db = bias is null ? null : Empty(normalizedShape, DType, zeroed: false);
            if (DType == DType.Float32) Backward<float>(dy, x, mean, rstd, w, dx, dw, db);
            else Backward<double>(dy, x, mean, rstd, w, dx, dw, db);
            return [dx, .. new[] { dw, db }.Where((t, i) => (i == 0 ? weight : bias) is not null)];
        }, x);
        if (recorded._gradFn is { } node) node.ReleaseWithIfCopy(x, this);   // the copy only the backward reads
        else if (!ReferenceEquals(x._storage, _storage)) x.Dispose();
        return recorded;

        static void Forward<T>(Tensor x, Tensor? w, Tensor? b, double eps, Tensor y, Tensor mean, Tensor rstd) where T : unmanaged, IFloatingPointIeee754<T> =>
            NormKernels.LayerNormForward(x.ReadSpan<T>(), w is null ? default : w.ReadSpan<T>(), b is null ? default : b.ReadSpan<T>(),
                T.CreateChecked(eps), y.Span<T>(), mean.Span<T>(), rstd.Span<T>());

        static void Backward<T>(Tensor dy, Tensor x, Tensor mean, Tensor rstd, Tensor? w, Tensor dx, Tensor? dw, Tensor? db) where T : unmanaged, IFloatingPointIeee754<T> =>
            NormKernels.LayerNormBackward(dy.ReadSpan<T>(), x.ReadSpan<T>(), mean.ReadSpan<T>(), rstd.ReadSpan<T>(),
                w is null ? default : w.ReadSpan<T>(), dx.Span<T>(), dw is null ? default : dw.Span<T>(), db is null ? default : db.Span<T>());
    }

    /// <summary>LayerNorm written with primitive ops: the reference the fused op is tested against.</summary>
    internal static Tensor LayerNormComposite(Tensor x, int[] dims, Tensor? weight, Tensor? bias, double eps)
    {
        var centered = x - x.Mean(dims, keepDim: true);
        var y = centered * ((centered * centered).Mean(dims, keepDim: true) + eps).Rsqrt();
        if (weight is not null) y = y * weight;
        if (bias is not null) y = y + bias;
        return y;
    }

    /// <summary>
    /// Batch normalisation over dim 1 of [N, C] or [N, C, *] (<c>F.batch_norm</c>). In training (or without
    /// running statistics) it normalises with the batch statistics and, when given, updates the running
    /// statistics in place: running = (1 − momentum)·running + momentum·batch, with the unbiased batch variance.
    /// Otherwise it normalises with the running statistics.
    /// </summary>
    public Tensor BatchNorm(Tensor? runningMean, Tensor? runningVar, Tensor? weight = null, Tensor? bias = null,
        bool training = false, double momentum = 0.1, double eps = 1e-5) =>
        BatchNormCore(runningMean, runningVar, weight, bias, training, momentum, eps, residual: null, relu: false);

    /// <summary>
    /// ReLU(BatchNorm(x) + residual) as one op (residual optional, same shape as x): the BatchNorm–ReLU and
    /// BatchNorm–add–ReLU tails of a residual block. Values and gradients are those of the separate ops, bit for bit;
    /// the fused kernels read and write each activation once instead of once per op.
    /// </summary>
    internal Tensor BatchNormRelu(Tensor? runningMean, Tensor? runningVar, Tensor? weight, Tensor? bias,
        bool training, double momentum, double eps, Tensor? residual) =>
        BatchNormCore(runningMean, runningVar, weight, bias, training, momentum, eps, residual, relu: true);

    private Tensor BatchNormCore(Tensor? runningMean, Tensor? runningVar, Tensor? weight, Tensor? bias,
        bool training, double momentum, double eps, Tensor? residual, bool relu)
    {
        CheckFloating("BatchNorm");
        if (Dim < 2) throw new ArgumentException($"BatchNorm: expected an input of rank ≥ 2 [N, C, *], got shape {ShapeUtil.Format(_shape)}.");
        int n = _shape[0], c = _shape[1], s = NumEl / Math.Max(n * c, 1);
        foreach (var p in new[] { runningMean, runningVar, weight, bias })
        {
            if (p is null) continue;
            CheckSameDType(this, p, "BatchNorm");
            if (p.Dim != 1 || p._shape[0] != c)
                throw new ArgumentException($"BatchNorm: running statistics, weight and bias must have shape [{c}] for input {ShapeUtil.Format(_shape)}, got {ShapeUtil.Format(p._shape)}.");
        }
        if (residual is not null)
        {
            CheckSameDType(this, residual, "BatchNorm + residual");
            if (!ShapeUtil.SameShape(residual._shape, _shape))
                throw new ArgumentException($"BatchNorm + residual: the residual must have the input's shape {ShapeUtil.Format(_shape)}, got {ShapeUtil.Format(residual._shape)}.");
        }
        bool useBatchStats = training || runningMean is null || runningVar is null;
        if (useBatchStats && n * s <= 1 && training)
            throw new ArgumentException($"BatchNorm: expected more than 1 value per channel when training, got input of shape {ShapeUtil.Format(_shape)}.");
        Tensor x;
        Tensor? res = null;
        using (GradMode.Set(false))
        {
            x = Contiguous();
            res = residual?.Contiguous();
        }
        var w = weight?.Contiguous();
        var b = bias?.Contiguous();
        var mean = Empty([c], DType, zeroed: false);
        var var = Empty([c], DType, zeroed: false);
        var invstd = Empty([c], DType, zeroed: false);
        var y = Empty(_shape, DType, zeroed: false);
        if (DType == DType.Float32) Forward<float>(x, useBatchStats, runningMean, runningVar, w, b, res, relu, eps, mean, var, invstd, y, n, c, s);
        else Forward<double>(x, useBatchStats, runningMean, runningVar, w, b, res, relu, eps, mean, var, invstd, y, n, c, s);

        if (training && runningMean is not null && runningVar is not null)
        {
            using (GradMode.Set(false))
            {
                int count = n * s;
                var unbiased = count > 1 ? var * ((double)count / (count - 1)) : var;
                runningMean.Mul_(1 - momentum).Add_(mean * momentum);
                runningVar.Mul_(1 - momentum).Add_(unbiased * momentum);
            }
        }

        // Inputs [x, weight?, bias?, residual?]; the backward returns one gradient per input in that order.
        Tensor[] inputs = [this, .. new[] { weight, bias, residual }.OfType<Tensor>()];
        int wIndex = weight is null ? -1 : 1;
        int bIndex = bias is null ? -1 : 1 + (weight is null ? 0 : 1);
        int rIndex = residual is null ? -1 : inputs.Length - 1;
        var dims = new[] { 0 }.Concat(Enumerable.Range(2, Dim - 2)).ToArray();
        var shapeC = new[] { 1, c }.Concat(Enumerable.Repeat(1, Dim - 2)).ToArray();
        var self = this;
        var statMean = useBatchStats ? mean : runningMean!.Detach().Clone();
        string name = relu ? "BatchNormReluBackward" : "NativeBatchNormBackward";
        return Node.Record(y, name, inputs, g =>
        {
            if (GradMode.IsEnabled)
                return CompositeBackward(inputs, ins =>
                {
                    var z = BatchNormComposite(ins[0], useBatchStats, statMean, invstd, dims, shapeC,
                        wIndex < 0 ? null : ins[wIndex], bIndex < 0 ? null : ins[bIndex]);
                    if (rIndex >= 0) z = z + ins[rIndex];
                    return relu ? z.Relu() : z;
                }, g);
            var dy = g.Contiguous();
            var dx = Empty(self._shape, DType, zeroed: false);
            var dw = weight is null ? null : Empty([c], DType, zeroed: false);
            var db = bias is null ? null : Empty([c], DType, zeroed: false);
            // The gradient of the BatchNorm output (g masked by the ReLU) is also the residual's; without a residual
            // it is written into dx and overwritten there by the BatchNorm backward.
            Tensor gPre = !relu ? dy : residual is not null ? Empty(self._shape, DType, zeroed: false) : dx;
            if (DType == DType.Float32) Backward<float>(dy, y, relu, gPre, x, statMean, invstd, w, dx, dw, db, n, c, s, useBatchStats);
            else Backward<double>(dy, y, relu, gPre, x, statMean, invstd, w, dx, dw, db, n, c, s, useBatchStats);
            var grads = new Tensor?[inputs.Length];
            grads[0] = dx;
            if (wIndex >= 0) grads[wIndex] = dw;
            if (bIndex >= 0) grads[bIndex] = db;
            if (rIndex >= 0) grads[rIndex] = gPre;
            return grads;
        }, relu ? [x, y] : [x]);

        static void Forward<T>(Tensor x, bool batch, Tensor? rm, Tensor? rv, Tensor? w, Tensor? b, Tensor? res, bool relu, double eps,
            Tensor mean, Tensor var, Tensor invstd, Tensor y, int n, int c, int s) where T : unmanaged, IFloatingPointIeee754<T>
        {
            if (batch) NormKernels.BatchNormStats(x.ReadSpan<T>(), n, c, s, mean.Span<T>(), var.Span<T>());
            else
            {
                rm!.Contiguous().ReadSpan<T>().CopyTo(mean.Span<T>());
                rv!.Contiguous().ReadSpan<T>().CopyTo(var.Span<T>());
            }
            NormKernels.BatchNormInvStd(var.ReadSpan<T>(), T.CreateChecked(eps), invstd.Span<T>());
            NormKernels.BatchNormForward(x.ReadSpan<T>(), mean.ReadSpan<T>(), invstd.ReadSpan<T>(),
                w is null ? default : w.ReadSpan<T>(), b is null ? default : b.ReadSpan<T>(), y.Span<T>(), n, c, s,
                res is null ? default : res.ReadSpan<T>(), relu);
        }

        static void Backward<T>(Tensor dy, Tensor y, bool relu, Tensor gPre, Tensor x, Tensor mean, Tensor invstd, Tensor? w,
            Tensor dx, Tensor? dw, Tensor? db, int n, int c, int s, bool batch) where T : unmanaged, IFloatingPointIeee754<T>
        {
            var wSpan = w is null ? default : w.ReadSpan<T>();
            var dwSpan = dw is null ? default : dw.Span<T>();
            var dbSpan = db is null ? default : db.Span<T>();
            if (relu && batch)
            {
                NormKernels.BatchNormReluBackwardTraining(dy.ReadSpan<T>(), y.ReadSpan<T>(), x.ReadSpan<T>(), mean.ReadSpan<T>(),
                    invstd.ReadSpan<T>(), wSpan, gPre.Span<T>(), dx.Span<T>(), dwSpan, dbSpan, n, c, s);
                return;
            }
            if (relu) ElementwiseParallel.Run(y.ReadSpan<T>(), dy.ReadSpan<T>(), gPre.Span<T>(), ActivationKernels.ReluBackward);
            if (batch) NormKernels.BatchNormBackwardTraining(gPre.ReadSpan<T>(), x.ReadSpan<T>(), mean.ReadSpan<T>(), invstd.ReadSpan<T>(), wSpan, dx.Span<T>(), dwSpan, dbSpan, n, c, s);
            else NormKernels.BatchNormBackwardEval(gPre.ReadSpan<T>(), x.ReadSpan<T>(), mean.ReadSpan<T>(), invstd.ReadSpan<T>(), wSpan, dx.Span<T>(), dwSpan, dbSpan, n, c, s);
        }
    }

    /// <summary>BatchNorm with primitive ops (batch statistics recomputed; running statistics as constants).</summary>
    internal static Tensor BatchNormComposite(Tensor x, bool batch, Tensor runningMean, Tensor runningInvstd, int[] dims, int[] shapeC, Tensor? weight, Tensor? bias, double eps = 1e-5)
    {
        Tensor y;
        if (batch)
        {
            var centered = x - x.Mean(dims, keepDim: true);
            y = centered * ((centered * centered).Mean(dims, keepDim: true) + eps).Rsqrt();
        }
        else y = (x - runningMean.Reshape(shapeC)) * runningInvstd.Reshape(shapeC);
        if (weight is not null) y = y * weight.Reshape(shapeC);
        if (bias is not null) y = y + bias.Reshape(shapeC);
        return y;
    }

    /// <summary>
    /// The gradient of a fused op while the backward is being recorded: rebuild the op from primitive ops on
    /// the same inputs and differentiate that, with a graph.
    /// </summary>
    internal static Tensor?[] CompositeBackward(Tensor[] inputs, Func<Tensor[], Tensor> composite, Tensor g)
    {
        var output = composite(inputs);
        var live = inputs.Where(t => t.RequiresGrad).ToArray();
        var grads = Autograd.Grad([output], live, [g], retainGraph: true, createGraph: true, allowUnused: true);
        var result = new Tensor?[inputs.Length];
        for (int i = 0, j = 0; i < inputs.Length; i++)
            if (inputs[i].RequiresGrad) result[i] = grads[j++];
        return result;
    }
}
