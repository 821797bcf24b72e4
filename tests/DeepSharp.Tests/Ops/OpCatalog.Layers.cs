using DeepSharp.Testing;
using FsCheck;
using FsCheck.Fluent;

namespace DeepSharp.Tests.Ops;

public static partial class OpCatalog
{
    /// <summary>Functional forms of layers: convolutions, normalisations, recurrent cells, padding and resampling.</summary>
    private static IEnumerable<OpInfo> LayerOps()
    {
        yield break;
    }
}
