namespace DeepSharp.Tests.Ops;

/// <summary>
/// Bad shapes, dims, indices, dtypes and arguments to every public op: the exception must be an ArgumentException or
/// InvalidOperationException (or a subclass) whose message names the op and the offending shapes or values — never an
/// internal IndexOutOfRange/NullReference/InvalidCast exception.
/// </summary>
[TestFixture]
public class BadInputTests
{
    private static Tensor F(params int[] shape) => Tensor.Zeros(shape, DType.Float32);
    private static Tensor D(params int[] shape) => Tensor.Zeros(shape, DType.Float64);
    private static Tensor L(params long[] values) => Tensor.FromArray(values);
    private static Tensor B(params bool[] values) => Tensor.FromArray(values);

    private static TestCaseData Case(string name, Func<object?> call, params string[] mustContain) =>
        new TestCaseData(call, mustContain).SetName("BadInput_" + name);

    public static IEnumerable<TestCaseData> Cases()
    {
        // Shapes that do not fit.
        yield return Case("MatMul inner dims", () => F(128, 784).MatMul(F(512, 10)), "MatMul: shapes [128, 784] and [512, 10] cannot be multiplied (128x784 and 512x10).");
        yield return Case("MatMul 1-D", () => F(3).MatMul(F(4)), "MatMul", "[3]", "[4]");
        yield return Case("MatMul 1-D by 2-D", () => F(3).MatMul(F(4, 2)), "MatMul", "[3]", "[4, 2]");
        yield return Case("MatMul 0-d", () => F().MatMul(F(2)), "MatMul", "[]", "[2]");
        yield return Case("MatMul batch", () => F(2, 3, 4).MatMul(F(3, 4, 5)), "MatMul", "[2]", "[3]");
        yield return Case("Mm rank", () => F(2, 3, 4).Mm(F(4, 2)), "Mm", "[2, 3, 4]", "[4, 2]");
        yield return Case("Bmm batch", () => F(2, 3, 4).Bmm(F(3, 4, 5)), "Bmm", "[2, 3, 4]", "[3, 4, 5]");
        yield return Case("Add broadcast", () => F(2, 3) + F(4), "Add", "[2, 3]", "[4]");
        yield return Case("Mul broadcast", () => F(2, 3).Mul(F(2)), "Mul", "[2, 3]", "[2]");
        yield return Case("Maximum broadcast", () => Tensor.Maximum(F(3), F(2)), "Maximum", "[3]", "[2]");
        yield return Case("Pow broadcast", () => F(3).Pow(F(2)), "Pow", "[3]", "[2]");
        yield return Case("Where broadcast", () => Tensor.Where(B(true, false), F(3), F(3)), "Where", "[2]", "[3]");
        yield return Case("MaskedFill broadcast", () => F(2, 3).MaskedFill(Tensor.FromArray(new bool[2, 1, 3]), 0), "MaskedFill", "[2, 1, 3]", "[2, 3]");
        yield return Case("In-place broadcast", () => F(3).Add_(F(2, 3)), "Add_", "[3]", "[2, 3]");
        yield return Case("Copy_ broadcast", () => F(3).Copy_(F(4)), "Copy_", "[3]", "[4]");

        // Reshapes.
        yield return Case("Reshape numel", () => F(2, 3).Reshape(4, 2), "Reshape", "[4, 2]", "[2, 3]");
        yield return Case("Reshape two -1", () => F(2, 3).Reshape(-1, -1), "Reshape", "[-1, -1]");
        yield return Case("Reshape negative", () => F(2, 3).Reshape(-2, 3), "Reshape", "-2");
        yield return Case("Reshape -1 with zero", () => F(0, 3).Reshape(0, -1), "Reshape", "[0, -1]");
        yield return Case("View non-viewable", () => F(2, 3).T.View(6), "View", "[6]", "Reshape");
        yield return Case("View numel", () => F(2, 3).View(5), "View", "[5]", "[2, 3]");
        yield return Case("ViewAs", () => F(2, 3).ViewAs(F(7)), "View", "[7]", "[2, 3]");
        yield return Case("Flatten order", () => F(2, 3, 4).Flatten(2, 1), "Flatten", "2", "1");
        yield return Case("Unflatten sizes", () => F(2, 3).Unflatten(1, 4, 2), "Unflatten", "[4, 2]", "[3]");
        yield return Case("Expand", () => F(2, 3).Expand(4, 3), "Expand", "[2, 3]", "[4, 3]");
        yield return Case("Expand fewer dims", () => F(2, 3).Expand(3), "Expand", "[2, 3]", "[3]");
        yield return Case("Expand -1 leading", () => F(3).Expand(-1, 3), "Expand", "-1");
        yield return Case("T of rank 3", () => F(2, 3, 4).T, "T", "[2, 3, 4]");
        yield return Case("MT of rank 1", () => F(3).MT, "mT", "[3]");

        // Dims out of range.
        yield return Case("Sum dim", () => D(2, 3).Sum(2), "Sum", "dimension 2", "rank 2");
        yield return Case("Sum dims repeated", () => D(2, 3).Sum([0, -2]), "Sum", "dim -2");
        yield return Case("Mean dim", () => D(2, 3).Mean(-3), "Mean", "-3");
        yield return Case("Var dim", () => D(2, 3).Var(5), "Var", "5");
        yield return Case("Std dim", () => D(2, 3).Std([3]), "Std", "3");
        yield return Case("Max dim", () => D(2, 3).Max(2), "Max", "2");
        yield return Case("Min dim", () => D(2, 3).Min(-4), "Min", "-4");
        yield return Case("Amax dim", () => D(2, 3).Amax(3), "Amax", "3");
        yield return Case("ArgMax dim", () => D(2, 3).ArgMax(3), "ArgMax", "3");
        yield return Case("Softmax dim", () => D(2, 3).Softmax(2), "Softmax", "2");
        yield return Case("LogSoftmax dim", () => D(2).LogSoftmax(1), "LogSoftmax", "1");
        yield return Case("LogSumExp dim", () => D(2).LogSumExp(1), "LogSumExp", "1");
        yield return Case("Transpose dim", () => F(2, 3).Transpose(0, 2), "Transpose", "2");
        yield return Case("Permute length", () => F(2, 3).Permute(0), "Permute", "[2, 3]");
        yield return Case("Permute repeated", () => F(2, 3).Permute(1, 1), "Permute", "[1, 1]");
        yield return Case("Squeeze dim", () => F(2, 1).Squeeze(2), "Squeeze", "2");
        yield return Case("Unsqueeze dim", () => F(2, 1).Unsqueeze(4), "Unsqueeze", "4");
        yield return Case("Narrow range", () => F(2, 3).Narrow(1, 2, 2), "Narrow", "2", "size 3");
        yield return Case("Narrow dim", () => F(2, 3).Narrow(2, 0, 1), "Narrow", "2");
        yield return Case("Slice step", () => F(2, 3).Slice(1, 0, 2, 0), "Slice", "step", "0");
        yield return Case("Select index", () => F(2, 3).Select(1, 3), "Select", "index 3", "size 3");
        yield return Case("Select 0-d", () => F().Select(0, 0), "Select");
        yield return Case("Indexer int", () => F(2, 3)[2], "Select", "index 2", "size 2");
        yield return Case("Indexer too many", () => F(2, 3)[0, 0, 0], "Index", "3", "[2, 3]");
        yield return Case("Indexer from end", () => F(2, 3)[^3], "Index", "^3", "size 2");
        yield return Case("Indexer ^0", () => F(2, 3)[^0], "Index", "^0", "size 2");
        yield return Case("Indexer negative int", () => F(2, 3)[-3], "Select", "index -3");
        yield return Case("Size", () => F(2, 3).Size(2), "Size", "2");
        yield return Case("Cat dim", () => Tensor.Cat([F(2), F(2)], 1), "Cat", "1");
        yield return Case("Stack dim", () => Tensor.Stack([F(2), F(2)], 3), "Stack", "3");
        yield return Case("Split dim", () => F(2).Split(1, 1), "Split", "1");
        yield return Case("Chunk dim", () => F(2).Chunk(1, -2), "Chunk", "-2");
        yield return Case("Gather dim", () => D(2).Gather(1, L(0)), "Gather", "1");

        // Lists and sizes.
        yield return Case("Cat empty", () => Tensor.Cat([]), "Cat", "non-empty");
        yield return Case("Cat shapes", () => Tensor.Cat([F(2, 3), F(2, 4)]), "Cat", "[2, 3]", "[2, 4]");
        yield return Case("Cat ranks", () => Tensor.Cat([F(2, 3), F(3)]), "Cat", "[2, 3]", "[3]");
        yield return Case("Cat 0-d", () => Tensor.Cat([F(), F()]), "Cat", "zero-dimensional");
        yield return Case("Cat mixed dtypes and ranks", () => Tensor.Cat([F(2, 1), D(2)]), "Cat", "[2, 1]", "[2]");
        yield return Case("Stack empty", () => Tensor.Stack([]), "Stack", "non-empty");
        yield return Case("Stack shapes", () => Tensor.Stack([F(2), F(3)]), "Stack", "[2]", "[3]");
        yield return Case("Split size", () => F(4).Split(0), "Split", "0");
        yield return Case("Split sizes", () => F(4).Split([1, 2]), "Split", "[1, 2]", "4");
        yield return Case("Split negative sizes", () => F(4).Split([5, -1]), "Split", "[5, -1]");
        yield return Case("Split sizes overflowing int", () => F(3).Split([1, int.MaxValue]), "Split", "[1, 2147483647]", "3");
        yield return Case("Chunk count", () => F(4).Chunk(0), "Chunk", "0");

        // Indices.
        yield return Case("Gather index range", () => D(2, 3).Gather(1, Tensor.FromArray(new long[,] { { 0, 3 } })), "Gather", "index 3", "size 3");
        yield return Case("Gather negative index", () => D(2, 3).Gather(0, Tensor.FromArray(new long[,] { { -1 } })), "Gather", "-1");
        yield return Case("Gather index dtype", () => D(2, 3).Gather(1, F(2, 3)), "Gather", "Int64", "Float32");
        yield return Case("Gather index rank", () => D(2, 3).Gather(1, L(0)), "Gather", "[1]", "[2, 3]");
        yield return Case("Gather index size", () => D(2, 3).Gather(1, Tensor.Zeros([3, 1], DType.Int64)), "Gather", "[3, 1]", "[2, 3]");
        yield return Case("ScatterAdd index range", () => D(2, 3).ScatterAdd(0, Tensor.FromArray(new long[,] { { 2 } }), D(1, 1)), "ScatterAdd", "index 2", "size 2");
        yield return Case("ScatterAdd rank", () => D(2, 3).ScatterAdd(0, L(0), D(1)), "ScatterAdd", "[1]", "[2, 3]");
        yield return Case("ScatterAdd src too small", () => D(2, 3).ScatterAdd(0, Tensor.Zeros([2, 2], DType.Int64), D(1, 2)), "ScatterAdd", "[2, 2]", "[1, 2]");
        yield return Case("ScatterAdd dtype", () => D(2).ScatterAdd(0, L(0), F(1)), "ScatterAdd", "Float64", "Float32");
        yield return Case("IndexSelect range", () => D(2, 3).IndexSelect(1, L(0, 3)), "IndexSelect", "index 3", "size 3");
        yield return Case("IndexSelect negative range", () => D(2, 3).IndexSelect(0, L(-3)), "IndexSelect", "-3");
        yield return Case("IndexSelect negative index (torch rejects it)", () => D(2, 3).IndexSelect(0, L(-1)), "IndexSelect", "-1", "[0, 2)");
        yield return Case("IndexSelect index rank", () => D(2, 3).IndexSelect(0, Tensor.Zeros([1, 1], DType.Int64)), "IndexSelect", "[1, 1]");
        yield return Case("IndexSelect index dtype", () => D(2, 3).IndexSelect(0, F(1)), "IndexSelect", "Int64", "Float32");
        yield return Case("IndexAdd range", () => D(2, 3).IndexAdd(0, L(2), D(1, 3)), "IndexAdd", "index 2", "size 2");
        yield return Case("IndexAdd src count", () => D(2, 3).IndexAdd(0, L(0, 1), D(1, 3)), "IndexAdd", "[1, 3]", "[2, 3]");
        yield return Case("IndexAdd src other dims", () => D(2, 3).IndexAdd(0, L(0), D(1, 4)), "IndexAdd", "[1, 4]", "[2, 3]");
        yield return Case("IndexAdd src rank", () => D(2, 3).IndexAdd(0, L(0), D(3)), "IndexAdd", "[3]", "[2, 3]");
        yield return Case("IndexAdd index rank", () => D(2, 3).IndexAdd(0, Tensor.Zeros([1, 1], DType.Int64), D(1, 3)), "IndexAdd", "[1, 1]");
        yield return Case("IndexAdd index dtype", () => D(2, 3).IndexAdd(0, F(1), D(1, 3)), "IndexAdd", "Int64");
        yield return Case("IndexAdd dtype", () => D(2, 3).IndexAdd(0, L(0), F(1, 3)), "IndexAdd", "Float64", "Float32");

        // Dtypes.
        yield return Case("MatMul dtypes", () => F(2, 2).MatMul(D(2, 2)), "MatMul: expected both tensors to have the same dtype, but got Float32 and Float64");
        yield return Case("Conv2d dtypes", () => F(1, 1, 3, 3).Conv2d(D(1, 1, 1, 1)), "Conv2d: expected both tensors to have the same dtype, but got Float32 and Float64");
        yield return Case("Lerp dtypes", () => F(2).Lerp(D(2), 0.5), "Lerp", "Float32", "Float64");
        yield return Case("Exp of Int64", () => L(1, 2).Exp(), "Exp", "Int64");
        yield return Case("Softmax of Bool", () => B(true).Softmax(0), "Softmax", "Bool");
        yield return Case("MatMul of Int64", () => L(1, 2).MatMul(L(1, 2)), "MatMul", "Int64");
        yield return Case("Neg of Bool", () => -B(true), "Neg", "Bool");
        yield return Case("Relu of Int64", () => L(1).Relu(), "Relu", "Int64");
        yield return Case("MaskedFill mask dtype", () => F(2).MaskedFill(F(2), 0), "MaskedFill", "Bool", "Float32");
        yield return Case("ToArray dtype", () => F(2).ToArray<long>(), "ToArray", "Float32");
        yield return Case("Item of many elements", () => F(2).Item<double>(), "Item<Double>", "[2]");
        yield return Case("Item type", () => F(1).Item<int>(), "Item<Int32>");
        yield return Case("RequiresGrad Int64", () => L(1).RequiresGrad_(), "RequiresGrad", "Int64");
        yield return Case("Backward dtype", () => { var x = D(2).RequiresGrad_(); (x * 2.0).Backward(F(2)); return null; }, "Backward", "Float64", "Float32");

        // Values and arguments.
        yield return Case("Clamp bounds", () => F(2).Clamp(2, 1), "Clamp", "2", "1");
        yield return Case("Clamp none", () => F(2).Clamp(), "Clamp");
        yield return Case("Clamp_ bounds", () => F(2).Clamp_(3, -3), "Clamp", "3", "-3");
        yield return Case("Gelu approximate", () => F(2).Gelu("fast"), "Gelu", "fast");
        yield return Case("Max of empty", () => F(0).Max(), "Max", "empty");
        yield return Case("Max over empty dim", () => F(2, 0).Max(1), "Max", "[2, 0]");
        yield return Case("Item of many", () => F(2, 2).Item(), "Item", "[2, 2]");
        yield return Case("Backward non-scalar", () => { (D(2).RequiresGrad_() * 2.0).Backward(); return null; }, "Backward", "[2]");
        yield return Case("Backward no grad", () => { D(2).Sum().Backward(); return null; }, "Backward", "does not require grad");
        yield return Case("Backward gradient shape", () => { (D(2).RequiresGrad_() * 2.0).Backward(D(3)); return null; }, "Backward", "[3]", "[2]");

        // Creation.
        yield return Case("Zeros negative", () => Tensor.Zeros(2, -1), "negative dimension -1", "[2, -1]");
        yield return Case("Full negative", () => Tensor.Full([-3], 1), "-3");
        yield return Case("FromArray count", () => Tensor.FromArray(new[] { 1f, 2f, 3f }, 2, 2), "FromArray", "3 values", "[2, 2]");
        yield return Case("FromArray type", () => Tensor.FromArray(new[] { "a" }), "FromArray", "String");
        yield return Case("FromBuffer count", () => Tensor.FromBuffer(new[] { 1f }, 2), "FromBuffer", "[2]");
        yield return Case("Arange step", () => Tensor.Arange(0, 1, 0), "Arange", "step");
        yield return Case("Arange sign", () => Tensor.Arange(0, 5, -1), "Arange", "step");
        yield return Case("Arange NaN", () => Tensor.Arange(0, double.NaN), "Arange", "NaN");
        yield return Case("Linspace steps", () => Tensor.Linspace(0, 1, -1), "Linspace", "-1");
        yield return Case("Eye negative", () => Tensor.Eye(-2), "Eye", "-2");
        yield return Case("Rand Int64", () => Tensor.Rand([2], DType.Int64), "Rand", "Int64");
        yield return Case("Randn negative", () => Tensor.Randn(-1), "-1");
        yield return Case("RandInt range", () => Tensor.RandInt(3, 3, [2]), "RandInt", "3");
        yield return Case("RandPerm negative", () => Tensor.RandPerm(-1), "RandPerm", "-1");
        yield return Case("SetRngState", () => { Torch.SetRngState([1, 2]); return null; }, "SetState", "2");
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
