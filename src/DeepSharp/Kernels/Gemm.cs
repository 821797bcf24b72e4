using System.Numerics;

namespace DeepSharp.Kernels;

/// <summary>
/// General matrix multiply over row-major spans: C = alpha·op(A)·op(B) + beta·C.
/// op(A) is A (stored M×K, row stride lda) or, when <c>transA</c>, Aᵀ (A stored K×M, row stride lda);
/// likewise op(B) is K×N. The backward passes use the transposed forms so no transpose is materialised.
/// </summary>
internal static class Gemm
{
    /// <summary>C[M,N] = alpha·op(A)[M,K]·op(B)[K,N] + beta·C. float and double only.</summary>
    public static void Compute<T>(bool transA, bool transB, int m, int n, int k,
        T alpha, ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb,
        T beta, Span<T> c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Placeholder reference implementation (i-k-j order); replaced by the packed kernel.
        for (int i = 0; i < m; i++)
        {
            Span<T> crow = c.Slice(i * ldc, n);
            if (beta == T.Zero) crow.Clear();
            else if (beta != T.One) for (int j = 0; j < n; j++) crow[j] *= beta;
            for (int p = 0; p < k; p++)
            {
                T av = alpha * (transA ? a[p * lda + i] : a[i * lda + p]);
                if (av == T.Zero) continue;
                if (!transB)
                {
                    ReadOnlySpan<T> brow = b.Slice(p * ldb, n);
                    for (int j = 0; j < n; j++) crow[j] += av * brow[j];
                }
                else
                {
                    for (int j = 0; j < n; j++) crow[j] += av * b[j * ldb + p];
                }
            }
        }
    }

    /// <summary>
    /// A batch of independent GEMMs; matrix i of A starts at i·strideA (0 broadcasts one matrix to
    /// the whole batch), likewise B and C. Small matrices are spread over threads by batch.
    /// </summary>
    public static void ComputeStridedBatched<T>(int batch, bool transA, bool transB, int m, int n, int k,
        T alpha, ReadOnlySpan<T> a, int lda, int strideA, ReadOnlySpan<T> b, int ldb, int strideB,
        T beta, Span<T> c, int ldc, int strideC)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < batch; i++)
        {
            int aLen = transA ? (k - 1) * lda + m : (m - 1) * lda + k;
            int bLen = transB ? (n - 1) * ldb + k : (k - 1) * ldb + n;
            int cLen = (m - 1) * ldc + n;
            if (m == 0 || n == 0) continue;
            Compute(transA, transB, m, n, k, alpha,
                k == 0 ? default : a.Slice(i * strideA, aLen), lda,
                k == 0 ? default : b.Slice(i * strideB, bLen), ldb,
                beta, c.Slice(i * strideC, cLen), ldc);
        }
    }
}
