using DeepSharp.NN;
using System.Numerics;
using DeepSharp.Kernels;

using DeepSharp.Interop;

namespace DeepSharp;

// Scaled dot-product attention, softmax(scale·Q·Kᵀ + mask)·V, as one fused op (FlashAttention-style kernel: online
// softmax over key blocks, no [L, S] matrix kept) with its backward beside it. The math form (scores, softmax, dropout,
// product) serves what the fused kernel does not: dropout on the weights, a mask that needs a gradient, and a recorded
// (higher-order) backward.
public sealed partial class Tensor
{
    /// <summary>
    /// Fused attention over 4-D operands q [N, H, L, D], k [N, H, S, D], v [N, H, S, Dv] (any strides; a last dim that is
    /// not unit-stride is copied) with an optional additive float mask broadcastable to [N, H, L, S] and an optional
    /// top-left causal mask. Returns [N, H, L, Dv]; <paramref name="outOrder"/> gives the memory order of its dims
    /// (e.g. [2, 0, 1, 3] stores it as [L, N, H, Dv], so a caller can view the heads as rows without a copy).
    /// </summary>
    internal static Tensor FusedAttention(Tensor q, Tensor k, Tensor v, Tensor? mask, bool causal, double scale, int[]? outOrder = null)
    {
        q = UnitLastStride(q);
        k = UnitLastStride(k);
        v = UnitLastStride(v);
        int n = q._shape[0], h = q._shape[1], l = q._shape[2], d = q._shape[3], s = k._shape[2], dv = v._shape[3];
        int[] fullMask = [n, h, l, s];
        Tensor? m = null;
        int[] mStrides = [];
        if (mask is not null)
        {
            using (GradMode.Set(false))
                m = mask._shape.Length > 0 && mask._shape[^1] > 1 && mask._strides[^1] != 1 ? mask.Contiguous() : mask;
            mStrides = ShapeUtil.BroadcastStrides(m._shape, m._strides, fullMask);
        }

        var o = EmptyInOrder([n, h, l, dv], q.DType, outOrder);
        var lse = Empty([n * h * l], q.DType, zeroed: false);
        DispatchFloat(q.DType, "ScaledDotProductAttention", new FusedAttentionForward(q, k, v, m, mStrides, causal, scale, o, lse));
        Tracing.Current?.Record("FusedAttention", o, [q, k, v, mask], causal, scale);

        return Node.Record(o, "ScaledDotProductAttentionBackward", [q, k, v], g =>
        {
            if (GradMode.IsEnabled) return AttentionMathBackward(q, k, v, mask, causal, scale, g);
            g = UnitLastStride(g);
            var dq = EmptyInOrder(q._shape, q.DType, StrideOrder(q));
            var dk = EmptyInOrder(k._shape, k.DType, StrideOrder(k));
            var dvT = EmptyInOrder(v._shape, v.DType, StrideOrder(v));
            var delta = Empty([n * h * l], q.DType, zeroed: false);
            DispatchFloat(q.DType, "ScaledDotProductAttention", new FusedAttentionBackward(
                new FusedAttentionForward(q, k, v, m, mStrides, causal, scale, o, lse), g, dq, dk, dvT, delta));
            return [dq, dk, dvT];
        }, q, k, v, o);
    }

    /// <summary>The fused kernel's forward over one dtype; its operands are [N, H, rows, cols] views with a unit last stride.</summary>
    private readonly record struct FusedAttentionForward(Tensor Q, Tensor K, Tensor V, Tensor? M, int[] MStrides, bool Causal,
        double Scale, Tensor O, Tensor Lse) : IFloatFunc
    {
        public unsafe void Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            fixed (T* pq = Q.Data<T>(), pk = K.Data<T>(), pv = V.Data<T>(), po = O.Data<T>(), pl = Lse.Data<T>())
            fixed (T* pm = M is null ? null : M.Data<T>())
            {
                FlashAttention.Forward(Q._shape[0], Q._shape[1], Q._shape[2], K._shape[2], Q._shape[3], V._shape[3], T.CreateChecked(Scale),
                    Operand(Q, pq), Operand(K, pk), Operand(V, pv), M is null ? null : MaskOperand(M, pm, MStrides), M is null ? 0 : MStrides[3],
                    Causal, Operand(O, po), pl + Lse._offset);
            }
        }
    }

    /// <summary>The fused kernel's backward over one dtype: dq, dk, dv from dO and the forward's output and log-sum-exps.</summary>
    private readonly record struct FusedAttentionBackward(FusedAttentionForward F, Tensor G, Tensor Dq, Tensor Dk, Tensor Dv, Tensor Delta) : IFloatFunc
    {
        public unsafe void Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            var f = F;
            fixed (T* pq = f.Q.Data<T>(), pk = f.K.Data<T>(), pv = f.V.Data<T>(), po = f.O.Data<T>(), pl = f.Lse.Data<T>())
            fixed (T* pm = f.M is null ? null : f.M.Data<T>())
            fixed (T* pg = G.Data<T>(), pdq = Dq.Data<T>(), pdk = Dk.Data<T>(), pdv = Dv.Data<T>(), pdl = Delta.Data<T>())
            {
                FlashAttention.Backward(f.Q._shape[0], f.Q._shape[1], f.Q._shape[2], f.K._shape[2], f.Q._shape[3], f.V._shape[3], T.CreateChecked(f.Scale),
                    Operand(f.Q, pq), Operand(f.K, pk), Operand(f.V, pv), f.M is null ? null : MaskOperand(f.M, pm, f.MStrides), f.M is null ? 0 : f.MStrides[3],
                    f.Causal, Operand(f.O, po), pl + f.Lse._offset, Operand(G, pg), Operand(Dq, pdq), Operand(Dk, pdk), Operand(Dv, pdv), pdl + Delta._offset);
            }
        }
    }

    /// <summary>The math form of attention, recorded op by op: scores, the attention softmax, optional dropout, product.</summary>
    internal static Tensor AttentionMath(Tensor q, Tensor k, Tensor v, Tensor? mask, bool causal, double scale,
        double dropoutP = 0, Generator? generator = null)
    {
        var scores = q.MatMul(k.MT);
        if (causal) mask = mask is null ? CausalMaskCache.Get(q._shape[^2], k._shape[^2], q.DType) : mask + CausalMaskCache.Get(q._shape[^2], k._shape[^2], q.DType);
        var attn = scores.AttentionSoftmax(scale, mask);
        if (dropoutP > 0) attn = F.Dropout(attn, dropoutP, training: true, generator);
        return attn.MatMul(v);
    }

    /// <summary>The fused op's backward written with differentiable ops (used when the backward itself is recorded).</summary>
    private static Tensor?[] AttentionMathBackward(Tensor q, Tensor k, Tensor v, Tensor? mask, bool causal, double scale, Tensor g)
    {
        if (causal) mask = mask is null ? CausalMaskCache.Get(q._shape[^2], k._shape[^2], q.DType) : mask + CausalMaskCache.Get(q._shape[^2], k._shape[^2], q.DType);
        var p = q.MatMul(k.MT).AttentionSoftmax(scale, mask);          // [N, H, L, S]
        var dv = p.MT.MatMul(g);
        var dp = g.MatMul(v.MT);
        var ds = p * (dp - (dp * p).Sum(-1, keepDim: true));
        return [ds.MatMul(k) * scale, ds.MT.MatMul(q) * scale, dv];
    }

    private static Tensor UnitLastStride(Tensor t) => t._shape[^1] > 1 && t._strides[^1] != 1 ? t.Contiguous() : t;

    /// <summary>The dims of <paramref name="t"/> from the largest stride to the smallest (its memory order).</summary>
    private static int[] StrideOrder(Tensor t)
    {
        var order = new int[t.Dim];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        var strides = t._strides;
        Array.Sort(order, (a, b) => strides[a] != strides[b] ? strides[b].CompareTo(strides[a]) : a.CompareTo(b));
        return order;
    }

    /// <summary>A new tensor of <paramref name="shape"/> whose memory holds its dims in <paramref name="order"/> (null: contiguous).</summary>
    private static Tensor EmptyInOrder(int[] shape, DType dtype, int[]? order)
    {
        if (order is null) return Empty(shape, dtype, zeroed: false);
        var stored = new int[shape.Length];
        for (int i = 0; i < shape.Length; i++) stored[i] = shape[order[i]];
        var inverse = new int[shape.Length];
        for (int i = 0; i < shape.Length; i++) inverse[order[i]] = i;
        using (GradMode.Set(false)) return Empty(stored, dtype, zeroed: false).Permute(inverse);
    }

    private static unsafe AttnOperand<T> Operand<T>(Tensor t, T* p) where T : unmanaged =>
        new(p + t._offset, t._strides[0], t._strides[1], t._strides[2]);

    private static unsafe AttnOperand<T> MaskOperand<T>(Tensor m, T* p, int[] broadcastStrides) where T : unmanaged =>
        new(p + m._offset, broadcastStrides[0], broadcastStrides[1], broadcastStrides[2]);
}

/// <summary>
/// The additive causal masks attention uses on its math path, kept per (L, S, dtype): −∞ where key j &gt; query i
/// (top-left aligned), 0 elsewhere. Built once per size instead of on every call; never written to.
/// </summary>
internal static class CausalMaskCache
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(int L, int S, DType DType), Tensor> s_masks = new();

    public static Tensor Get(int l, int s, DType dtype)
    {
        if (s_masks.Count > 64) s_masks.Clear();   // a bound for programs that see many sequence lengths
        return s_masks.GetOrAdd((l, s, dtype), Build);
    }

    private static Tensor Build((int L, int S, DType DType) key)
    {
        var data = new double[key.L * key.S];
        FillKernels.CausalMask(data, key.L, key.S);
        using (GradMode.Set(false)) return DisposeScope.Keep(Tensor.FromArray(data, key.L, key.S).To(key.DType))!;   // cached across scopes
    }
}
