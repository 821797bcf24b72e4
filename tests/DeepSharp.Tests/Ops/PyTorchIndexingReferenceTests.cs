
namespace DeepSharp.Tests.Ops;

/// <summary>
/// Differential test of advanced indexing against PyTorch 1.13: docs/pytorch-reference/record_indexing.py wrote inputs,
/// outputs and the gradients of sum(out · w) (float64) into PyTorchReference/indexing.safetensors; each case here runs
/// the DeepSharp spelling on the same inputs (indices and masks stored as float64, converted back) and compares values
/// and gradients.
/// </summary>
[TestFixture]
public class PyTorchIndexingReferenceTests
{
    private static Tensor L(Tensor t) => t.Detach().Long();
    private static Tensor B(Tensor t) => t.Detach().Ne(0);
    private static readonly TensorIndex All = TensorIndex.Colon;

    private static Tensor SetItem(Tensor x, TensorIndex[] key, Tensor v)
    {
        var y = x.Clone();
        y[key] = v;
        return y;
    }

    private static readonly Dictionary<string, Func<Tensor[], Tensor>> Ops = new()
    {
        ["get_dim0"] = x => x[0][L(x[1])],
        ["get_index_2d"] = x => x[0][L(x[1])],
        ["get_dim1"] = x => x[0][All, L(x[1])],
        ["get_last_dim"] = x => x[0][TensorIndex.Ellipsis, L(x[1])],
        ["get_adjacent_pair"] = x => x[0][.., L(x[1]), L(x[2])],
        ["get_non_adjacent"] = x => x[0][L(x[1]), .., L(x[2])],
        ["get_int_then_index"] = x => x[0][1, .., L(x[1])],
        ["get_index_int_index"] = x => x[0][L(x[1]), 2, L(x[2])],
        ["get_slice_newaxis"] = x => x[0][1..3, TensorIndex.NewAxis, L(x[1])],
        ["get_scalar_index"] = x => x[0][.., L(x[1])],
        ["get_int64"] = x => L(x[0])[L(x[1])].Double(),
        ["mask_all"] = x => x[0][B(x[1])],
        ["mask_leading"] = x => x[0][B(x[1])],
        ["mask_dim1"] = x => x[0][.., B(x[1])],
        ["mask_with_index"] = x => x[0][.., B(x[1]), L(x[2])],
        ["mask_none_true"] = x => x[0][B(x[1])],
        ["put_rows"] = x => x[0].IndexPut([L(x[1])], x[2]),
        ["put_rows_broadcast"] = x => x[0].IndexPut([L(x[1])], x[2]),
        ["put_accumulate_duplicates"] = x => x[0].IndexPut([L(x[1])], x[2], accumulate: true),
        ["put_pair"] = x => x[0].IndexPut([L(x[1]), L(x[2])], x[3]),
        ["put_pair_accumulate"] = x => x[0].IndexPut([L(x[1]), L(x[2])], x[3], accumulate: true),
        ["put_mask"] = x => x[0].IndexPut([B(x[1])], x[2]),
        ["setitem_dim1"] = x => SetItem(x[0], [All, L(x[1])], x[2]),
        ["setitem_mask_scalar"] = x => SetItem(x[0], [B(x[1])], Tensor.Scalar(0.5, DType.Float64)),
        ["setitem_non_adjacent"] = x => SetItem(x[0], [L(x[1]), All, L(x[2])], x[3]),
        ["setitem_int_and_mask"] = x => SetItem(x[0], [1, B(x[1])], x[2]),
        ["get_non_adjacent_inner"] = x => x[0][All, L(x[1]), All, L(x[2])],
        ["mask_non_adjacent_inner"] = x => x[0][All, B(x[1]), All, L(x[2])],
        ["setitem_non_adjacent_inner"] = x => SetItem(x[0], [All, L(x[1]), All, L(x[2])], x[3]),
        ["masked_select"] = x => x[0].MaskedSelect(B(x[1])),
        ["masked_select_broadcast"] = x => Torch.MaskedSelect(x[0], B(x[1])),
        ["masked_scatter"] = x => x[0].MaskedScatter(B(x[1]), x[2]),
        ["masked_scatter_broadcast"] = x => Torch.MaskedScatter(x[0], B(x[1]), x[2]),
        ["nonzero"] = x => x[0].Nonzero().Double(),
        ["nonzero_3d"] = x => Torch.Nonzero(x[0]).Double(),
    };

    private static readonly Lazy<Dictionary<string, Tensor>> Recorded = new(() => RecordedPyTorchCases.Load("indexing.safetensors"));

    public static IEnumerable<string> Cases => Ops.Keys;

    [Test]
    public void EveryRecordedCaseHasAnOpAndTheOtherWayRound() =>
        Assert.That(RecordedPyTorchCases.CaseNames(Recorded.Value), Is.EquivalentTo(Ops.Keys));

    [TestCaseSource(nameof(Cases))]
    public void MatchesPyTorch(string name) => RecordedPyTorchCases.Check(Recorded.Value, name, Ops[name]);
}
