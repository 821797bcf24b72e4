using System.Numerics;
using DeepSharp.Kernels;

using DeepSharp.Interop;

namespace DeepSharp;

// Matrix products with torch.matmul's semantics: 1-D·1-D dot, 2-D·2-D, 1-D promoted to a row/column,
// and batched products with broadcast batch dims. Transposed operands reach the GEMM as flags, not copies.
public sealed partial class Tensor
{
    /// <summary>Matrix product with <c>torch.matmul</c> semantics.</summary>
    public Tensor MatMul(Tensor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        CheckSameDType(this, other, "MatMul");
        CheckFloating("MatMul");
        if (Dim == 0 || other.Dim == 0)
            throw new ArgumentException($"MatMul: both arguments need at least 1 dimension, got shapes {ShapeUtil.Format(_shape)} and {ShapeUtil.Format(other._shape)}.");
        if (Dim == 1 && other.Dim == 1)
        {
            if (_shape[0] != other._shape[0])
                throw new ArgumentException($"MatMul: shapes {ShapeUtil.Format(_shape)} and {ShapeUtil.Format(other._shape)} cannot be multiplied (inner dimensions {_shape[0]} and {other._shape[0]} differ).");
            return Unsqueeze(0).MatMul(other.Unsqueeze(1)).Reshape();
        }
        if (Dim == 1) return Unsqueeze(0).MatMulCore(other, ShapeUtil.Format(_shape), ShapeUtil.Format(other._shape)).Squeeze(-2);
        if (other.Dim == 1) return MatMulCore(other.Unsqueeze(1), ShapeUtil.Format(_shape), ShapeUtil.Format(other._shape)).Squeeze(-1);
        return MatMulCore(other, ShapeUtil.Format(_shape), ShapeUtil.Format(other._shape));
    }

    /// <summary>2-D matrix product (<c>torch.mm</c>).</summary>
    public Tensor Mm(Tensor other)
    {
        if (Dim != 2 || other.Dim != 2)
            throw new ArgumentException($"Mm: expected two 2-D tensors, got shapes {ShapeUtil.Format(_shape)} and {ShapeUtil.Format(other._shape)}.");
        return MatMul(other);
    }

    /// <summary>Batched 3-D matrix product (<c>torch.bmm</c>).</summary>
    public Tensor Bmm(Tensor other)
    {
        if (Dim != 3 || other.Dim != 3 || _shape[0] != other._shape[0])
            throw new ArgumentException($"Bmm: expected two 3-D tensors with the same batch size, got shapes {ShapeUtil.Format(_shape)} and {ShapeUtil.Format(other._shape)}.");
        return MatMul(other);
    }

    /// <summary>[..., n, k] · [..., k, m] → [..., n, m] with broadcast batch dims; both operands rank ≥ 2.</summary>
    private Tensor MatMulCore(Tensor b, string shapeA, string shapeB)
    {
        var a = this;
        int n = a._shape[^2], k = a._shape[^1], k2 = b._shape[^2], m = b._shape[^1];
        if (k != k2)
            throw new ArgumentException($"MatMul: shapes {shapeA} and {shapeB} cannot be multiplied ({n}x{k} and {k2}x{m}).");
        var batchShape = ShapeUtil.Broadcast(a._shape.AsSpan(0, a.Dim - 2), b._shape.AsSpan(0, b.Dim - 2), "MatMul");
        int batch = ShapeUtil.Numel(batchShape);
        var outShape = batchShape.Concat([n, m]).ToArray();
        var result = Empty(outShape, DType, zeroed: false);

        var (aData, aOff, lda, strideA, transA) = GemmOperand(a, batchShape, n, k);
        var (bData, bOff, ldb, strideB, transB) = GemmOperand(b, batchShape, k, m);
        DispatchFloat(DType, "MatMul", new MatMulGemm(batch, n, m, k, aData, aOff, lda, strideA, transA, bData, bOff, ldb, strideB, transB, result));

        bool mm = batch == 1 && a.Dim == 2 && b.Dim == 2;
        Tracing.Current?.Record("MatMul", result, [a, b]);
        return Node.Record(result, mm ? "MmBackward" : "BmmBackward", [a, b], g =>
        [
            // A 2-D operand stored transposed (Linear's Wᵀ) gets its gradient in the same layout, computed as
            // (op)ᵀ of a row-major product: Wᵀ's gradient then reaches W contiguous, with no transposing copy.
            !a.RequiresGrad ? null : mm && IsColumnMajor(a) ? b.MatMul(g.MT).MT : g.MatMul(b.MT),
            !b.RequiresGrad ? null : mm && IsColumnMajor(b) ? g.MT.MatMul(a).MT : a.MT.MatMul(g),
        ], a, b);
    }

    /// <summary>A 2-D tensor whose transpose is contiguous (and that is not itself contiguous).</summary>
    private static bool IsColumnMajor(Tensor t) =>
        t.Dim == 2 && !t._isContiguous && t._strides[0] == 1 && t._strides[1] == t._shape[0] && t._shape[0] > 1 && t._shape[1] > 1;

    /// <summary>
    /// Describes operand t ([..., rows, cols]) for the strided-batched GEMM: its matrices must be row-major or
    /// column-major (a transposed view) with a constant batch stride (0 when broadcast); otherwise it is copied.
    /// </summary>
    private static (Tensor Data, int Offset, int Ld, int BatchStride, bool Trans) GemmOperand(Tensor t, int[] batchShape, int rows, int cols)
    {
        int r = t.Dim;
        int sr = t._strides[r - 2], sc = t._strides[r - 1];
        bool rowMajor = sc == 1 && (sr >= cols || rows == 1);
        bool colMajor = !rowMajor && sr == 1 && (sc >= rows || cols == 1);
        int batchStride = 0;
        bool uniformBatch = TryUniformBatchStride(t, batchShape, out batchStride);
        if ((rowMajor || colMajor) && uniformBatch)
        {
            int ld = rowMajor ? Math.Max(sr, Math.Max(cols, 1)) : Math.Max(sc, Math.Max(rows, 1));
            return (t, t._offset, ld, batchStride, colMajor);
        }
        Tensor c;
        using (GradMode.Set(false)) c = t.Expand([.. batchShape, rows, cols]).Contiguous();
        return (c, c._offset, Math.Max(cols, 1), rows * cols, false);
    }

    /// <summary>True when the batch dims of t (broadcast to batchShape) walk memory with one constant stride.</summary>
    private static bool TryUniformBatchStride(Tensor t, int[] batchShape, out int stride)
    {
        stride = 0;
        int lead = batchShape.Length - (t.Dim - 2);
        // Effective stride of each batch dim (0 where broadcast).
        int expected = -1;
        int count = 1;
        for (int i = batchShape.Length - 1; i >= 0; i--)
        {
            if (batchShape[i] == 1) continue;
            int own = i >= lead ? t._shape[i - lead] : 1;
            int s = own == 1 ? 0 : t._strides[i - lead];
            if (expected < 0)
            {
                stride = s;
                expected = s * batchShape[i];
                count = batchShape[i];
                continue;
            }
            if (stride == 0 && s == 0) { count *= batchShape[i]; continue; }
            if (s != expected) return false;
            expected = s * batchShape[i];
            count *= batchShape[i];
        }
        return true;
    }

    // result[batch] = op(A)·op(B), each operand read from its storage at an offset with its leading dim and batch stride.
    private readonly record struct MatMulGemm(int Batch, int N, int M, int K, Tensor A, int AOff, int Lda, int StrideA, bool TransA,
        Tensor B, int BOff, int Ldb, int StrideB, bool TransB, Tensor Result) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            Gemm.ComputeStridedBatched(Batch, TransA, TransB, N, M, K, T.One, A.Data<T>().AsSpan(AOff), Lda, StrideA,
                B.Data<T>().AsSpan(BOff), Ldb, StrideB, T.Zero, Result.Span<T>(), M, N * M);
    }
}
