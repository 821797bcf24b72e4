using DeepSharp.Testing;
using FsCheck;
using FsCheck.Fluent;

namespace DeepSharp.Tests.Ops;

public static partial class OpCatalog
{
    /// <summary>Boolean-mask and integer-tensor indexing, IndexPut_, and ops whose gradients flow through integer index tensors.</summary>
    private static IEnumerable<OpInfo> IndexingAndIntegerOps()
    {
        yield break;
    }
}
