using System.Reflection;

namespace DeepSharp.Tests.Ops;

/// <summary>A new public op cannot escape the gradient checks: it must be in <see cref="OpCatalog"/> or exempt here, with a reason.</summary>
[TestFixture]
public class OpCoverageTests
{
    /// <summary>Public members returning tensors that are not differentiable ops, and why.</summary>
    private static readonly Dictionary<string, string> Exempt = new()
    {
        ["Detach"] = "cuts the graph by definition",
        ["MoveToOuterDisposeScope"] = "returns this tensor (memory ownership, no computation); DisposeScopeTests",
        ["DetachFromDisposeScope"] = "returns this tensor (memory ownership, no computation); DisposeScopeTests",
        ["Float"] = "Float32 results cannot be gradient-checked (too coarse); the conversion's backward is tested in ConversionTests",
        ["Long"] = "Int64 result, not differentiable",
        ["Eq"] = "Bool result", ["Ne"] = "Bool result", ["Gt"] = "Bool result", ["Ge"] = "Bool result", ["Lt"] = "Bool result", ["Le"] = "Bool result",
        ["LogicalAnd"] = "Bool result", ["LogicalOr"] = "Bool result", ["LogicalXor"] = "Bool result", ["LogicalNot"] = "Bool result",
        ["ArgMax"] = "Int64 result", ["ArgMin"] = "Int64 result",
        ["op_LessThan"] = "Bool result", ["op_LessThanOrEqual"] = "Bool result", ["op_GreaterThan"] = "Bool result", ["op_GreaterThanOrEqual"] = "Bool result",
        ["FloorDivide"] = "piecewise constant (PyTorch's floor_divide is not differentiable); values in IntegerArithmeticTests",
        ["RequiresGrad_"] = "sets a flag",
        ["Grad"] = "the accumulated gradient, not an op",
        ["Zeros"] = "creation", ["Ones"] = "creation", ["Full"] = "creation", ["Scalar"] = "creation", ["ZerosLike"] = "creation",
        ["OnesLike"] = "creation", ["FullLike"] = "creation", ["RandLike"] = "creation", ["RandnLike"] = "creation", ["Arange"] = "creation",
        ["Linspace"] = "creation", ["Eye"] = "creation", ["Rand"] = "creation", ["Randn"] = "creation", ["RandInt"] = "creation",
        ["RandPerm"] = "creation", ["FromArray"] = "creation", ["FromBuffer"] = "creation",
        ["IsNan"] = "Bool result", ["IsInf"] = "Bool result", ["IsFinite"] = "Bool result",
        ["Nonzero"] = "Int64 coordinates, not differentiable (values in PyTorchIndexingReferenceTests)",
        ["op_Implicit"] = "a number as a 0-d Float64 tensor (Full); values in AdvancedIndexingTests.ANumberAssignsThroughMasksAndStaysInTheTensorsDType",
        ["ArgSort"] = "Int64 result", ["Multinomial"] = "Int64 samples, not differentiable",
        ["Floor"] = "piecewise constant: zero gradient, as PyTorch (TensorFunctionValueTests checks it)",
        ["Ceil"] = "piecewise constant: zero gradient, as PyTorch (TensorFunctionValueTests checks it)",
        ["Round"] = "piecewise constant: zero gradient, as PyTorch (TensorFunctionValueTests checks it)",
        ["Trunc"] = "piecewise constant: zero gradient, as PyTorch (TensorFunctionValueTests checks it)",
        ["FromTensor"] = "interop creation (shares the buffer)", ["FromTensorSpan"] = "interop creation (a copy)",
    };

    /// <summary>Public methods, operators and properties of <see cref="Tensor"/> that return a tensor, tensors or a tuple holding one.</summary>
    internal static SortedSet<string> TensorReturningMembers()
    {
        static bool ReturnsTensor(Type t) =>
            t == typeof(Tensor) || t == typeof(Tensor[]) ||
            (t.IsGenericType && (t.FullName ?? t.Name).StartsWith("System.ValueTuple", StringComparison.Ordinal) && t.GetGenericArguments().Any(ReturnsTensor));
        var flags = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var m in typeof(Tensor).GetMethods(flags))
            if (!m.IsSpecialName || m.Name.StartsWith("op_", StringComparison.Ordinal))
                if (ReturnsTensor(m.ReturnType)) names.Add(m.Name);
        foreach (var p in typeof(Tensor).GetProperties(flags))
            if (ReturnsTensor(p.PropertyType) || p.PropertyType == typeof(Tensor)) names.Add(p.Name);
        return names;
    }

    [Test]
    public void EveryPublicOpIsInTheCatalogOrExempt()
    {
        var covered = OpCatalog.All.SelectMany(o => o.Covers).ToHashSet();
        var missing = TensorReturningMembers().Where(n => !covered.Contains(n) && !Exempt.ContainsKey(n)).ToList();
        Assert.That(missing, Is.Empty,
            "These public Tensor members return tensors but are neither gradient-checked in OpCatalog nor listed in OpCoverageTests.Exempt: " + string.Join(", ", missing));
    }

    [Test]
    public void CatalogAndExemptListNameOnlyRealMembers()
    {
        var members = TensorReturningMembers();
        var stale = OpCatalog.All.SelectMany(o => o.Covers).Concat(Exempt.Keys).Where(n => !members.Contains(n)).Distinct().ToList();
        Assert.That(stale, Is.Empty, "Catalog or exempt entries that name no public tensor-returning member: " + string.Join(", ", stale));
        Assert.That(OpCatalog.All.Select(o => o.Name), Is.Unique);
        Assert.That(OpCatalog.All.Count(o => o.GradGrad), Is.GreaterThanOrEqualTo(12));
    }
}
