using System.Numerics;
using System.Numerics.Tensors;

namespace DeepSharp.Kernels;

/// <summary>
/// Cross-entropy from logits [rows, classes] with integer class targets, as <c>torch.nn.functional.cross_entropy</c>.
/// <para>PyTorch's definition (aten LossNLL.cpp, <c>cross_entropy_loss_label_smoothing</c>), with ε the label smoothing,
/// C the class count, w the class weights (all 1 when absent), p = log_softmax(logits) and t the target of row i:</para>
/// <code>
/// loss_i = (1 − ε)·w[t]·(−p[i, t])  +  (ε / C)·Σ_c w[c]·(−p[i, c])      (0 for rows with t == ignoreIndex)
/// mean   = Σ_i loss_i / Σ_{i not ignored} w[t_i]       (both parts share this denominator; no weights: the count)
/// sum    = Σ_i loss_i
/// </code>
/// <para>So the smoothing term is weighted by w[c] of every class c, while the normaliser uses only the targets' weights.
/// If every row is ignored the mean is 0/0 = NaN, as in PyTorch.</para>
/// <para>Gradient with respect to the logits of a non-ignored row, given the upstream per-row gradient g_i
/// (g_i = g/denominator for mean, g for sum, g_i for none), with P = exp(p) and W = Σ_c w[c]:</para>
/// <code>dlogits[i, c] = g_i·((1 − ε)·w[t]·(P[c] − [c = t]) + (ε / C)·(W·P[c] − w[c]))</code>
/// </summary>
internal static class LossKernels
{
    private const string OpName = "CrossEntropy";

    /// <summary>
    /// Per-row cross-entropy losses (ignored rows get 0) and the saved log-softmax (for the backward).
    /// Returns the mean-reduction denominator Σ over non-ignored rows of w[target] (the count without weights).
    /// <paramref name="weight"/>: [classes] or empty. Throws <see cref="ArgumentOutOfRangeException"/> naming the op,
    /// the row and the target when a target is outside [0, classes) and is not <paramref name="ignoreIndex"/>.
    /// </summary>
    public static T CrossEntropyForward<T>(ReadOnlySpan<T> logits, ReadOnlySpan<long> targets, int rows, int classes,
        long ignoreIndex, ReadOnlySpan<T> weight, T labelSmoothing, Span<T> losses, Span<T> logProbs)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        FusedRowParallel.Check(rows, classes, logits.Length, nameof(logits));
        FusedRowParallel.Check(rows, classes, logProbs.Length, nameof(logProbs));
        CheckCommon(targets, rows, classes, ignoreIndex, weight, labelSmoothing);
        if (losses.Length != rows) throw new ArgumentException($"losses length {losses.Length} != rows {rows}.", nameof(losses));

        SoftmaxKernels.LogSoftmax(logits, logProbs, rows, classes);

        T keep = T.One - labelSmoothing;
        T perClass = classes == 0 ? T.Zero : labelSmoothing / T.CreateChecked(classes);
        bool hasW = !weight.IsEmpty, smooth = labelSmoothing != T.Zero;
        T denom = T.Zero;
        for (int i = 0; i < rows; i++)
        {
            long t = targets[i];
            if (t == ignoreIndex) { losses[i] = T.Zero; continue; }
            var p = logProbs.Slice(i * classes, classes);
            T wt = hasW ? weight[(int)t] : T.One;
            denom += wt;
            T loss = keep * wt * -p[(int)t];
            if (smooth)
            {
                T s = hasW ? TensorPrimitives.Dot(weight, p) : TensorPrimitives.Sum(p);
                loss += perClass * -s;
            }
            losses[i] = loss;
        }
        return denom;
    }

    /// <summary>
    /// dlogits [rows, classes] from the saved log-softmax and the per-row upstream gradient
    /// <paramref name="rowGrad"/> [rows] (for mean reduction pass g / denominator in every row). Ignored rows get 0.
    /// dlogits may alias logProbs.
    /// </summary>
    public static void CrossEntropyBackward<T>(ReadOnlySpan<T> logProbs, ReadOnlySpan<long> targets, ReadOnlySpan<T> rowGrad,
        int rows, int classes, long ignoreIndex, ReadOnlySpan<T> weight, T labelSmoothing, Span<T> dlogits)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        FusedRowParallel.Check(rows, classes, logProbs.Length, nameof(logProbs));
        FusedRowParallel.Check(rows, classes, dlogits.Length, nameof(dlogits));
        CheckCommon(targets, rows, classes, ignoreIndex, weight, labelSmoothing);
        if (rowGrad.Length != rows) throw new ArgumentException($"rowGrad length {rowGrad.Length} != rows {rows}.", nameof(rowGrad));

        T keep = T.One - labelSmoothing;
        T perClass = classes == 0 ? T.Zero : labelSmoothing / T.CreateChecked(classes);
        bool hasW = !weight.IsEmpty, smooth = labelSmoothing != T.Zero;
        T wSum = hasW ? TensorPrimitives.Sum(weight) : T.CreateChecked(classes);
        for (int i = 0; i < rows; i++)
        {
            long t = targets[i];
            var d = dlogits.Slice(i * classes, classes);
            if (t == ignoreIndex) { d.Clear(); continue; }
            T g = rowGrad[i];
            T wt = hasW ? weight[(int)t] : T.One;
            // dlogits = g·((1−ε)·w[t] + (ε/C)·W)·P − g·(ε/C)·w − g·(1−ε)·w[t]·onehot(t)
            T a = g * (keep * wt + (smooth ? perClass * wSum : T.Zero));
            VectorMath.Exp(logProbs.Slice(i * classes, classes), d);
            TensorPrimitives.Multiply(d, a, d);
            if (smooth)
            {
                if (hasW) TensorPrimitives.MultiplyAdd(weight, -(g * perClass), d, d);
                else TensorPrimitives.Add(d, -(g * perClass), d);
            }
            d[(int)t] -= g * keep * wt;
        }
    }

    private static void CheckCommon<T>(ReadOnlySpan<long> targets, int rows, int classes, long ignoreIndex,
        ReadOnlySpan<T> weight, T labelSmoothing) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (targets.Length != rows) throw new ArgumentException($"{OpName}: targets length {targets.Length} != rows {rows}.", nameof(targets));
        if (!weight.IsEmpty && weight.Length != classes)
            throw new ArgumentException($"{OpName}: weight must be empty or of length {classes}, got {weight.Length}.", nameof(weight));
        if (!(labelSmoothing >= T.Zero && labelSmoothing <= T.One))
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing, $"{OpName}: label_smoothing must be in [0, 1].");
        for (int i = 0; i < rows; i++)
        {
            long t = targets[i];
            if (t != ignoreIndex && (ulong)t >= (ulong)classes)
                throw new ArgumentOutOfRangeException(nameof(targets), t,
                    $"{OpName}: target {t} at row {i} is out of bounds for {classes} classes (expected 0 <= target < {classes} or target == ignore_index {ignoreIndex}).");
        }
    }

    /// <summary>
    /// Class-target preparation for the NLL-style losses: safe[i] = t[i] and keep[i] = true for a target in
    /// [0, classes); safe[i] = 0 and keep[i] = false for <paramref name="ignoreIndex"/>. Returns the position of the first
    /// target that is neither (the caller names it in its error), or −1.
    /// </summary>
    public static int ClassTargets(ReadOnlySpan<long> t, long classes, long ignoreIndex, Span<long> safe, Span<bool> keep)
    {
        if (safe.Length != t.Length || keep.Length != t.Length) throw new ArgumentException($"safe/keep lengths {safe.Length}/{keep.Length} != targets {t.Length}.");
        for (int i = 0; i < t.Length; i++)
        {
            if (t[i] == ignoreIndex) { safe[i] = 0; keep[i] = false; continue; }
            if (t[i] < 0 || t[i] >= classes) return i;
            safe[i] = t[i];
            keep[i] = true;
        }
        return -1;
    }
}
