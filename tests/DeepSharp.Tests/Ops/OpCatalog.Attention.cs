using DeepSharp.Testing;
using FsCheck;
using FsCheck.Fluent;

namespace DeepSharp.Tests.Ops;

public static partial class OpCatalog
{
    /// <summary>Attention and the fused activations on the Transformer hot path.</summary>
    private static IEnumerable<OpInfo> AttentionOps()
    {
        yield break;
    }
}
