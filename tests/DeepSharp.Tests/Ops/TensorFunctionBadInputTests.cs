using DeepSharp.NN;

namespace DeepSharp.Tests.Ops;

/// <summary>Bad input to the tensor functions of issue 14: an ArgumentException (or InvalidOperationException) naming the op
/// and the shapes or values at fault, never an exception from inside a kernel.</summary>
[TestFixture]
public class TensorFunctionBadInputTests
{
    private static Tensor D(params int[] shape) => Tensor.Zeros(shape, DType.Float64);

    private static TestCaseData Case(string name, Func<object?> call, params string[] mustContain) =>
        new TestCaseData(call, mustContain).SetName("BadInput_" + name);

    public static IEnumerable<TestCaseData> Cases()
    {
        yield return Case("Cumsum dim", () => D(2, 3).Cumsum(2), "Cumsum", "dimension 2", "rank 2");
        yield return Case("Cumprod dim", () => D(2, 3).Cumprod(-3), "Cumprod", "-3");
        yield return Case("Cumsum Int64", () => Tensor.FromArray(new long[] { 1, 2 }).Cumsum(0), "Cumsum", "Int64");
        yield return Case("Prod dim", () => D(2).Prod(1), "Prod", "1");
        yield return Case("Sort dim", () => D(2, 3).Sort(2), "Sort", "2");
        yield return Case("ArgSort Bool", () => Tensor.FromArray(new[] { true }).ArgSort(), "ArgSort", "Bool");
        yield return Case("TopK k too large", () => D(2, 3).TopK(4), "TopK", "k (4)", "[2, 3]");
        yield return Case("TopK negative k", () => D(3).TopK(-1), "TopK", "-1");
        yield return Case("Flip repeated dim", () => D(2, 3).Flip(1, -1), "Flip", "-1");
        yield return Case("Flip dim", () => D(2, 3).Flip(3), "Flip", "3");
        yield return Case("Roll lengths", () => D(2, 3).Roll([1, 2], [0]), "Roll", "[1, 2]", "[0]");
        yield return Case("Roll flattened two shifts", () => D(2, 3).Roll([1, 2]), "Roll", "[1, 2]");
        yield return Case("Repeat too few sizes", () => D(2, 3).Repeat(2), "Repeat", "[2, 3]", "[2]");
        yield return Case("Repeat negative", () => D(2).Repeat(-1), "Repeat", "[-1]");
        yield return Case("RepeatInterleave counts", () => D(3, 2).RepeatInterleave(Tensor.FromArray(new long[] { 1, 2 }), 0), "RepeatInterleave", "[2]", "[3, 2]");
        yield return Case("RepeatInterleave negative", () => D(3).RepeatInterleave(-2), "RepeatInterleave", "-2");
        yield return Case("RepeatInterleave float repeats", () => D(3).RepeatInterleave(D(3), 0), "RepeatInterleave", "Float64");
        yield return Case("Tril 1-D", () => D(3).Tril(), "Tril", "[3]");
        yield return Case("Triu 0-d", () => D().Triu(), "Triu", "[]");
        yield return Case("Diag 3-D", () => D(2, 2, 2).Diag(), "Diag", "[2, 2, 2]");
        yield return Case("Outer 2-D", () => D(2, 2).Outer(D(2)), "Outer", "[2, 2]", "[2]");
        yield return Case("Hypot broadcast", () => D(2, 3).Hypot(D(2)), "Hypot", "[2, 3]", "[2]");
        yield return Case("Atan2 shapes", () => D(2).Atan2(D(3)), "Atan2", "[2]", "[3]");
        yield return Case("Lerp broadcast", () => D(3).Lerp(D(2), 0.5), "Lerp", "[3]", "[2]");
        yield return Case("Lerp weight broadcast", () => D(3).Lerp(D(3), D(4)), "Lerp", "[4]");
        yield return Case("Log1p Int64", () => Tensor.FromArray(new long[] { 1 }).Log1p(), "Log1p", "Int64");
        yield return Case("Erfinv Bool", () => Tensor.FromArray(new[] { true }).Erfinv(), "Erfinv", "Bool");
        yield return Case("NanToNum Int64", () => Tensor.FromArray(new long[] { 1 }).NanToNum(), "NanToNum", "Int64");
        yield return Case("Norm dim", () => D(2, 3).Norm(2, 2), "Norm", "2");
        yield return Case("Norm NaN p", () => D(2).Norm(double.NaN), "Norm", "NaN");
        yield return Case("Multinomial negative", () => Tensor.FromArray(new double[] { 1, -1 }).Multinomial(1), "Multinomial", "-1");
        yield return Case("Multinomial too many", () => Tensor.FromArray(new double[] { 1, 1 }).Multinomial(3), "Multinomial", "3", "[2]");
        yield return Case("Multinomial zero row", () => Tensor.FromArray(new double[] { 0, 0 }).Multinomial(1), "Multinomial", "zero");
        yield return Case("Multinomial rank", () => D(2, 2, 2).Multinomial(1), "Multinomial", "[2, 2, 2]");
        yield return Case("Multinomial few non-zero", () => Tensor.FromArray(new double[] { 1, 0, 0 }).Multinomial(2), "Multinomial", "only 1");
        yield return Case("Einsum operand count", () => Tensor.Einsum("ij,jk->ik", D(2, 2)), "Einsum", "2 operand", "1 were given");
        yield return Case("Einsum rank", () => Tensor.Einsum("ij->i", D(2, 2, 2)), "Einsum", "\"ij\"", "[2, 2, 2]");
        yield return Case("Einsum sizes", () => Tensor.Einsum("ij,jk->ik", D(2, 3), D(4, 2)), "Einsum", "'j'", "3", "4", "[2, 3], [4, 2]");
        yield return Case("Einsum output label", () => Tensor.Einsum("ij->k", D(2, 2)), "Einsum", "'k'");
        yield return Case("Einsum bad character", () => Tensor.Einsum("i1->i", D(2, 2)), "Einsum", "'1'");
        yield return Case("Pad odd length", () => F.Pad(D(2, 3), [1]), "Pad", "[1]", "[2, 3]");
        yield return Case("Pad mode", () => F.Pad(D(1, 2, 3), [1, 1], "mirror"), "Pad", "mirror");
        yield return Case("Pad reflect too large", () => F.Pad(D(1, 2, 3), [3, 0], "reflect"), "Pad", "reflect", "(3, 0)", "3");
        yield return Case("Pad reflect rank", () => F.Pad(D(3), [1, 1], "reflect"), "Pad", "[3]");
        yield return Case("Pad constant crop too much", () => F.Pad(D(2, 3), [-4, 0]), "Pad", "(-4, 0)", "3");
        yield return Case("Interpolate rank", () => F.Interpolate(D(2, 3), [4]), "Interpolate", "[2, 3]");
        yield return Case("Interpolate both", () => F.Interpolate(D(1, 1, 3), [4], [2.0]), "Interpolate", "exactly one");
        yield return Case("Interpolate bilinear on 3-D", () => F.Interpolate(D(1, 1, 3), [4], mode: "bilinear"), "Interpolate", "bilinear", "[1, 1, 3]");
        yield return Case("Interpolate alignCorners nearest", () => F.Interpolate(D(1, 1, 3), [4], alignCorners: true), "Interpolate", "alignCorners");
        yield return Case("Interpolate size length", () => F.Interpolate(D(1, 1, 3, 3), [4, 4, 4]), "Interpolate", "[4, 4, 4]");
        yield return Case("Interpolate zero size", () => F.Interpolate(D(1, 1, 3), [0]), "Interpolate", "[0]");
        yield return Case("Normalize dim", () => F.Normalize(D(2, 3), dim: 2), "Normalize", "2");
        yield return Case("Unfold rank", () => F.Unfold(D(2, 3), 2), "Unfold", "[2, 3]");
        yield return Case("Unfold kernel too large", () => F.Unfold(D(1, 1, 3, 3), 4), "Unfold", "[1, 1, 3, 3]");
        yield return Case("Fold blocks", () => F.Fold(D(1, 4, 5), (3, 3), 2), "Fold", "5", "2×2");
        yield return Case("Fold channels", () => F.Fold(D(1, 5, 4), (3, 3), 2), "Fold", "5", "[1, 5, 4]");
    }

    [TestCaseSource(nameof(Cases))]
    public void Throws_a_clear_error(Func<object?> call, string[] mustContain)
    {
        var ex = Assert.Catch(() => call());
        Assert.That(ex, Is.InstanceOf<ArgumentException>().Or.InstanceOf<InvalidOperationException>(),
            $"leaked {ex!.GetType().Name}: {ex.Message}");
        foreach (var s in mustContain) Assert.That(ex.Message, Does.Contain(s));
    }
}
