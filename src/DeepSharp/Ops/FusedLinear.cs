using System.Numerics;
using System.Numerics.Tensors;
using DeepSharp.Kernels;

namespace DeepSharp;

// A linear layer on rows, x·Wᵀ + b (optionally followed by ReLU), as one op: the GEMM writes the output, one
// parallel pass adds the bias (and applies ReLU) in place, and the backward runs the ReLU mask, the two GEMMs and
// the bias column sums directly — instead of separate broadcast-add, ReLU and step-mask/multiply tensors, each a
// full pass and a fresh allocation. The Transformer's projections and feed-forward network use it.
public sealed partial class Tensor
{
    /// <summary>
    /// relu?(x·Wᵀ + b) for x [M, K] (this), W [N, K], b [N] or null; differentiable in all three (the recorded
    /// backward, for higher-order gradients, is the composite of MatMul, add and Relu).
    /// </summary>
    internal Tensor LinearRows(Tensor weight, Tensor? bias, bool relu)
    {
        CheckFloating("LinearRows");
        CheckSameDType(this, weight, "LinearRows");
        if (Dim != 2 || weight.Dim != 2 || _shape[1] != weight._shape[1])
            throw new ArgumentException($"LinearRows: expected x [M, K] and weight [N, K], got {ShapeUtil.Format(_shape)} and {ShapeUtil.Format(weight._shape)}.");
        if (bias is not null && (bias.Dim != 1 || bias._shape[0] != weight._shape[0]))
            throw new ArgumentException($"LinearRows: bias must be [{weight._shape[0]}], got {ShapeUtil.Format(bias._shape)}.");
        int m = _shape[0], k = _shape[1], n = weight._shape[0];
        Tensor x, w, b = null!;
        using (GradMode.Set(false))
        {
            x = Contiguous();
            w = weight.Contiguous();
            if (bias is not null) b = bias.Contiguous();
        }
        var y = Empty([m, n], DType, zeroed: false);
        if (DType == DType.Float32) LinearRowsForward<float>(x, w, bias is null ? null : b, relu, y, m, n, k);
        else LinearRowsForward<double>(x, w, bias is null ? null : b, relu, y, m, n, k);

        Tensor[] inputs = bias is null ? [this, weight] : [this, weight, bias];
        var recorded = Node.Record(y, relu ? "LinearReluBackward" : "AddmmBackward", inputs, g =>
        {
            if (GradMode.IsEnabled)
                return CompositeBackward(inputs, ins =>
                {
                    var z = ins[0].MatMul(ins[1].T);
                    if (ins.Length > 2) z = z + ins[2];
                    return relu ? z.Relu() : z;
                }, g);
            var gc = g.Contiguous();
            var dx = inputs[0].RequiresGrad ? Empty([m, k], y.DType, zeroed: false) : null;
            var dw = inputs[1].RequiresGrad ? Empty([n, k], y.DType, zeroed: false) : null;
            var db = bias is not null && bias.RequiresGrad ? Empty([n], y.DType, zeroed: false) : null;
            if (y.DType == DType.Float32) LinearRowsBackward<float>(gc, x, w, relu ? y : null, dx, dw, db, m, n, k);
            else LinearRowsBackward<double>(gc, x, w, relu ? y : null, dx, dw, db, m, n, k);
            return bias is null ? [dx, dw] : [dx, dw, db];
        }, relu ? [x, w, y] : [x, w]);
        // Contiguous copies of a strided input or weight are read only by the backward (or by nothing without a graph).
        if (recorded._gradFn is { } node) { node.ReleaseWithIfCopy(x, this); node.ReleaseWithIfCopy(w, weight); }
        else
        {
            if (!ReferenceEquals(x._storage, _storage)) x.Dispose();
            if (!ReferenceEquals(w._storage, weight._storage)) w.Dispose();
        }
        return recorded;
    }

    private static void LinearRowsForward<T>(Tensor x, Tensor w, Tensor? b, bool relu, Tensor y, int m, int n, int k)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (m == 0 || n == 0) return;
        var ys = y.Data<T>();
        Gemm.Compute(false, true, m, n, k, T.One, x.ReadSpan<T>(), Math.Max(k, 1), w.ReadSpan<T>(), Math.Max(k, 1), T.Zero, ys.AsSpan(0, m * n), n);
        if (b is null && !relu) return;
        var ba = b?.Data<T>();
        int bo = b?._offset ?? 0;
        FusedRowParallel.For(FusedRowParallel.Chunks(m, 2L * n), m, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                var row = ys.AsSpan(r * n, n);
                if (ba is not null) TensorPrimitives.Add(row, ba.AsSpan(bo, n), row);
                if (relu) TensorPrimitives.Max(row, T.Zero, row);
            }
        });
    }

    private static void LinearRowsBackward<T>(Tensor g, Tensor x, Tensor w, Tensor? reluOut, Tensor? dx, Tensor? dw, Tensor? db, int m, int n, int k)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (m == 0 || n == 0)
        {
            dx?.Span<T>().Clear(); dw?.Span<T>().Clear(); db?.Span<T>().Clear();
            return;
        }
        // dz = g masked by the ReLU (y > 0), in one pass.
        var dz = g;
        if (reluOut is not null)
        {
            dz = Empty([m, n], g.DType, zeroed: false);
            var ga = g.Data<T>(); int go = g._offset;
            var ya = reluOut.Data<T>();
            var za = dz.Data<T>();
            FusedRowParallel.For(FusedRowParallel.Chunks(m, 2L * n), m, (r0, r1) =>
            {
                var gs = ga.AsSpan(go + r0 * n, (r1 - r0) * n);
                var ys = ya.AsSpan(r0 * n, (r1 - r0) * n);
                var zs = za.AsSpan(r0 * n, (r1 - r0) * n);
                int i = 0;
                if (Vector.IsHardwareAccelerated && Vector<T>.Count > 1)
                {
                    var vg = System.Runtime.InteropServices.MemoryMarshal.Cast<T, Vector<T>>(gs);
                    var vy = System.Runtime.InteropServices.MemoryMarshal.Cast<T, Vector<T>>(ys);
                    var vz = System.Runtime.InteropServices.MemoryMarshal.Cast<T, Vector<T>>(zs);
                    for (int v = 0; v < vz.Length; v++)
                        vz[v] = Vector.ConditionalSelect(Vector.GreaterThan(vy[v], Vector<T>.Zero), vg[v], Vector<T>.Zero);
                    i = vz.Length * Vector<T>.Count;
                }
                for (; i < zs.Length; i++) zs[i] = ys[i] > T.Zero ? gs[i] : T.Zero;
            });
        }
        var z = dz.ReadSpan<T>();
        if (dx is not null) Gemm.Compute(false, false, m, k, n, T.One, z, n, w.ReadSpan<T>(), Math.Max(k, 1), T.Zero, dx.Span<T>(), Math.Max(k, 1));
        if (dw is not null) Gemm.Compute(true, false, n, k, m, T.One, z, n, x.ReadSpan<T>(), Math.Max(k, 1), T.Zero, dw.Span<T>(), Math.Max(k, 1));
        if (db is not null)
        {
            // Column sums: per-chunk partial sums over row ranges, then their sum (deterministic for a thread count).
            int chunks = FusedRowParallel.Chunks(m, n);
            var partial = new T[chunks * n];
            var za = dz.Data<T>(); int zo = dz._offset;
            FusedRowParallel.ForChunks(chunks, m, (c, r0, r1) =>
            {
                var acc = partial.AsSpan(c * n, n);
                for (int r = r0; r < r1; r++) TensorPrimitives.Add(acc, za.AsSpan(zo + r * n, n), acc);
            });
            var dbs = db.Span<T>();
            partial.AsSpan(0, n).CopyTo(dbs);
            for (int c = 1; c < chunks; c++) TensorPrimitives.Add(dbs, partial.AsSpan(c * n, n), dbs);
        }
    }
}
