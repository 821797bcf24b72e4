using DeepSharp.Testing;
using FsCheck;
using FsCheck.Fluent;

namespace DeepSharp.Tests.Ops;

public static partial class OpCatalog
{
    /// <summary>Tensor functions: sorting, scans, rounding, norms, einsum and the other element-wise math.</summary>
    private static IEnumerable<OpInfo> TensorFunctionOps()
    {
        yield break;
    }
}
