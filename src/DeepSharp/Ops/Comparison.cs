using System.Numerics;
using DeepSharp.Kernels;

using DeepSharp.Interop;

namespace DeepSharp;

// Comparisons and logical ops: Bool results, not differentiable.
public sealed partial class Tensor
{
    /// <summary>Element-wise ==, broadcast; a Bool tensor.</summary>
    public Tensor Eq(Tensor other) => Compare(this, other, CompareOp.Eq, "Eq");
    /// <summary>Element-wise !=.</summary>
    public Tensor Ne(Tensor other) => Compare(this, other, CompareOp.Ne, "Ne");
    /// <summary>Element-wise &gt;.</summary>
    public Tensor Gt(Tensor other) => Compare(this, other, CompareOp.Gt, "Gt");
    /// <summary>Element-wise ≥.</summary>
    public Tensor Ge(Tensor other) => Compare(this, other, CompareOp.Ge, "Ge");
    /// <summary>Element-wise &lt;.</summary>
    public Tensor Lt(Tensor other) => Compare(this, other, CompareOp.Lt, "Lt");
    /// <summary>Element-wise ≤.</summary>
    public Tensor Le(Tensor other) => Compare(this, other, CompareOp.Le, "Le");
    /// <summary>Element-wise == scalar.</summary>
    public Tensor Eq(double value) => Compare(this, ScalarLike(value), CompareOp.Eq, "Eq");
    /// <summary>Element-wise != scalar.</summary>
    public Tensor Ne(double value) => Compare(this, ScalarLike(value), CompareOp.Ne, "Ne");
    /// <summary>Element-wise &gt; scalar.</summary>
    public Tensor Gt(double value) => Compare(this, ScalarLike(value), CompareOp.Gt, "Gt");
    /// <summary>Element-wise ≥ scalar.</summary>
    public Tensor Ge(double value) => Compare(this, ScalarLike(value), CompareOp.Ge, "Ge");
    /// <summary>Element-wise &lt; scalar.</summary>
    public Tensor Lt(double value) => Compare(this, ScalarLike(value), CompareOp.Lt, "Lt");
    /// <summary>Element-wise ≤ scalar.</summary>
    public Tensor Le(double value) => Compare(this, ScalarLike(value), CompareOp.Le, "Le");

    // An integral tensor compares with a fractional scalar in Float64 (x.Gt(2.5) on Int64 must not compare with 2).
    private Tensor ScalarLike(double value) =>
        Scalar(value, DType.IsFloatingPoint() ? DType : value == Math.Floor(value) && Math.Abs(value) < 9.2e18 ? DType.Int64 : DType.Float64);

    /// <summary>Element-wise logical and (inputs are read as nonzero = true).</summary>
    public Tensor LogicalAnd(Tensor other) => Logical(this, other, (a, b) => a && b, "LogicalAnd");
    /// <summary>Element-wise logical or.</summary>
    public Tensor LogicalOr(Tensor other) => Logical(this, other, (a, b) => a || b, "LogicalOr");
    /// <summary>Element-wise logical xor.</summary>
    public Tensor LogicalXor(Tensor other) => Logical(this, other, (a, b) => a ^ b, "LogicalXor");
    /// <summary>Element-wise logical not.</summary>
    public Tensor LogicalNot()
    {
        var src = To(DType.Bool).Contiguous();
        var result = Empty(_shape, DType.Bool, zeroed: false);
        CompareKernels.Not(src.ReadSpan<bool>(), result.Span<bool>());
        return result;
    }

    /// <summary>True when every element is nonzero.</summary>
    public bool All() { var s = To(DType.Bool).Contiguous().ReadSpan<bool>(); foreach (var v in s) if (!v) return false; return true; }

    /// <summary>True when any element is nonzero.</summary>
    public bool Any() { var s = To(DType.Bool).Contiguous().ReadSpan<bool>(); foreach (var v in s) if (v) return true; return false; }

    /// <summary>True when both tensors have the same shape, dtype and exactly equal elements (<c>torch.equal</c>).</summary>
    public bool Equal(Tensor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (DType != other.DType || !ShapeUtil.SameShape(_shape, other._shape)) return false;
        var a = Contiguous();
        var b = other.Contiguous();
        return DType switch
        {
            DType.Float32 => a.ReadSpan<float>().SequenceEqual(b.ReadSpan<float>()),
            DType.Float64 => a.ReadSpan<double>().SequenceEqual(b.ReadSpan<double>()),
            DType.Int64 => a.ReadSpan<long>().SequenceEqual(b.ReadSpan<long>()),
            _ => a.ReadSpan<bool>().SequenceEqual(b.ReadSpan<bool>()),
        };
    }

    /// <summary>True when both tensors have the same shape and all elements are within atol + rtol·|other|.</summary>
    public bool AllClose(Tensor other, double rtol = 1e-5, double atol = 1e-8)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (!ShapeUtil.SameShape(_shape, other._shape)) return false;
        using (GradMode.Set(false))
        {
            if (DType == other.DType && DType.IsFloatingPoint())
                return DispatchFloat<AllCloseCore, bool>(DType, "AllClose", new AllCloseCore(Contiguous(), other.Contiguous(), rtol, atol));
            // Mixed or non-float dtypes: compared in double, into which every element converts exactly.
            return CompareKernels.AllClose(To(DType.Float64).Contiguous().ReadSpan<double>(), other.To(DType.Float64).Contiguous().ReadSpan<double>(), rtol, atol);
        }
    }

    /// <summary>y = 1 where x &gt; threshold else 0, in x's dtype (a derivative mask; no graph).</summary>
    internal Tensor StepMask(double threshold)
    {
        var src = Contiguous();
        var result = Empty(_shape, DType, zeroed: false);
        DispatchFloat(DType, "StepMask", new StepMaskCore(src, threshold, result));
        return result;
    }

    private readonly record struct StepMaskCore(Tensor Src, double Threshold, Tensor Result) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            ConvertKernels.StepMask(Src.ReadSpan<T>(), T.CreateTruncating(Threshold), Result.Span<T>());
    }

    private static Tensor Compare(Tensor a, Tensor b, CompareOp cmp, string op)
    {
        if (a.DType != b.DType)
        {
            // Compared in the promoted type, as PyTorch (Int64 vs Float32 in Float32; Bool vs Int64 in Int64).
            var dtype = PromoteTypes(a.DType, b.DType);
            using (GradMode.Set(false)) { a = a.To(dtype); b = b.To(dtype); }
        }
        var shape = ShapeUtil.Broadcast(a._shape, b._shape, op);
        var ea = a.Expand(shape).Contiguous();
        var eb = b.Expand(shape).Contiguous();
        var result = Empty(shape, DType.Bool, zeroed: false);
        var d = result.Span<bool>();
        switch (a.DType)
        {
            case DType.Float32: CompareKernels.Compare(ea.ReadSpan<float>(), eb.ReadSpan<float>(), d, cmp); break;
            case DType.Float64: CompareKernels.Compare(ea.ReadSpan<double>(), eb.ReadSpan<double>(), d, cmp); break;
            case DType.Int64: CompareKernels.Compare(ea.ReadSpan<long>(), eb.ReadSpan<long>(), d, cmp); break;
            default:
                CompareKernels.Compare(ea.To(DType.Int64).ReadSpan<long>(), eb.To(DType.Int64).ReadSpan<long>(), d, cmp); break;
        }
        Tracing.Current?.Record(op, result, [a, b]);
        return result;
    }

    private static Tensor Logical(Tensor a, Tensor b, Func<bool, bool, bool> f, string op)
    {
        var shape = ShapeUtil.Broadcast(a._shape, b._shape, op);
        var ea = a.To(DType.Bool).Expand(shape).Contiguous().ReadSpan<bool>();
        var eb = b.To(DType.Bool).Expand(shape).Contiguous().ReadSpan<bool>();
        var result = Empty(shape, DType.Bool, zeroed: false);
        CompareKernels.Logical(ea, eb, result.Span<bool>(), f);
        return result;
    }

    private readonly record struct AllCloseCore(Tensor A, Tensor B, double Rtol, double Atol) : IFloatFunc<bool>
    {
        public bool Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            CompareKernels.AllClose(A.ReadSpan<T>(), B.ReadSpan<T>(), Rtol, Atol);
    }
}
