using DeepSharp.Kernels;

namespace DeepSharp;

// Integer tensors and PyTorch's type promotion: Int64 (and Bool) arithmetic, floor division and remainder,
// and the promotions Int64 op Float → Float, Int64 op integer scalar → Int64, Int64 op double scalar → Float32
// (the default dtype), Int64 / Int64 → Float32 (true division).
public sealed partial class Tensor
{
    /// <summary>PyTorch's result type of two tensor operands: Float64 &gt; Float32 &gt; Int64 &gt; Bool.</summary>
    internal static DType PromoteTypes(DType a, DType b)
    {
        static int Rank(DType d) => d switch { DType.Bool => 0, DType.Int64 => 1, DType.Float32 => 2, _ => 3 };
        return Rank(a) >= Rank(b) ? a : b;
    }

    /// <summary>
    /// PyTorch's result type of two tensor operands (<c>torch.result_type</c>): the higher category wins
    /// (float over integer over Bool); within one category a tensor with dimensions wins over a 0-d one
    /// (<c>float32 tensor + float64 0-d tensor → float32</c>), else the wider dtype (<c>float32 + float64 → float64</c>).
    /// </summary>
    internal static DType ResultType(Tensor a, Tensor b)
    {
        if (a.DType == b.DType) return a.DType;
        static int Category(DType d) => d switch { DType.Bool => 0, DType.Int64 => 1, _ => 2 };
        if (Category(a.DType) == Category(b.DType) && (a.Dim == 0) != (b.Dim == 0)) return a.Dim == 0 ? b.DType : a.DType;
        return PromoteTypes(a.DType, b.DType);
    }

    /// <summary>The forward of a binary op whose operands are not both of one floating dtype: promotes, or runs
    /// the Int64 kernel. Float32 with Float64 computes in the result type (<see cref="ResultType"/>); the autograd
    /// engine casts each gradient back to its input's dtype.</summary>
    private static Tensor MixedBinaryForward<TOp>(Tensor a, Tensor b, string op) where TOp : struct, IBinaryOp
    {
        bool fa = a.DType.IsFloatingPoint(), fb = b.DType.IsFloatingPoint();
        if (fa && fb)
        {
            var common = ResultType(a, b);
            Tensor ca, cb;
            using (GradMode.Set(false)) { ca = a.To(common); cb = b.To(common); }
            return BinaryForward<TOp>(ca, cb, op);
        }
        if (fa || fb)
        {
            var dtype = fa ? a.DType : b.DType;
            return BinaryForward<TOp>(a.To(dtype), b.To(dtype), op);
        }
        // Both integral (Int64 or Bool): true division gives the default float dtype, the rest stay Int64.
        if (typeof(TOp) == typeof(DivOp)) return BinaryForward<TOp>(a.To(DType.Float32), b.To(DType.Float32), op);
        if (typeof(TOp) == typeof(AddOp)) return LongBinary<LongAdd>(a, b, op);
        if (typeof(TOp) == typeof(SubOp)) return LongBinary<LongSub>(a, b, op);
        if (typeof(TOp) == typeof(MulOp)) return LongBinary<LongMul>(a, b, op);
        if (typeof(TOp) == typeof(MaximumOp)) return LongBinary<LongMax>(a, b, op);
        if (typeof(TOp) == typeof(MinimumOp)) return LongBinary<LongMin>(a, b, op);
        if (typeof(TOp) == typeof(PowOp))
        {
            if (b.To(DType.Int64).Lt(0L).Any())
                throw new ArgumentException($"{op}: integers to negative integer powers are not allowed (exponent shape {ShapeUtil.Format(b._shape)}); convert to float first.");
            return LongBinary<LongPow>(a, b, op);
        }
        throw new ArgumentException($"{op}: not supported for {a.DType} and {b.DType} tensors; convert with To(DType.Float32).");
    }

    /// <summary>Int64 result of a broadcast binary op on integral tensors.</summary>
    private static Tensor LongBinary<TOp>(Tensor a, Tensor b, string op) where TOp : struct, ILongOp
    {
        var shape = ShapeUtil.Broadcast(a._shape, b._shape, op);
        Tensor ea, eb;
        using (GradMode.Set(false))
        {
            ea = a.To(DType.Int64).Expand(shape).Contiguous();
            eb = b.To(DType.Int64).Expand(shape).Contiguous();
        }
        var result = Empty(shape, DType.Int64, zeroed: false);
        IntegerKernels.Binary<TOp>(ea.ReadSpan<long>(), eb.ReadSpan<long>(), result.Span<long>());
        return result;
    }

    /// <summary>Int64 op integer scalar (either order), for Int64 and Bool tensors.</summary>
    private static Tensor LongScalar<TOp>(Tensor a, long s, bool scalarFirst) where TOp : struct, ILongOp
    {
        Tensor src;
        using (GradMode.Set(false)) src = a.To(DType.Int64).Contiguous();
        var result = Empty(a._shape, DType.Int64, zeroed: false);
        if (scalarFirst) IntegerKernels.Binary<TOp>(s, src.ReadSpan<long>(), result.Span<long>());
        else IntegerKernels.Binary<TOp>(src.ReadSpan<long>(), s, result.Span<long>());
        return result;
    }

    /// <summary>Adds an integer scalar: Int64 for an Int64 or Bool tensor (PyTorch's Python-int promotion), else as a double.</summary>
    public static Tensor operator +(Tensor a, long s) => a.DType.IsFloatingPoint() ? a + (double)s : LongScalar<LongAdd>(a, s, false);

    /// <summary>Adds an integer scalar.</summary>
    public static Tensor operator +(long s, Tensor a) => a + s;

    /// <summary>Subtracts an integer scalar.</summary>
    public static Tensor operator -(Tensor a, long s) => a.DType.IsFloatingPoint() ? a - (double)s : LongScalar<LongSub>(a, s, false);

    /// <summary>Subtracts from an integer scalar.</summary>
    public static Tensor operator -(long s, Tensor a) => a.DType.IsFloatingPoint() ? (double)s - a : LongScalar<LongSub>(a, s, true);

    /// <summary>Multiplies by an integer scalar.</summary>
    public static Tensor operator *(Tensor a, long s) => a.DType.IsFloatingPoint() ? a * (double)s : LongScalar<LongMul>(a, s, false);

    /// <summary>Multiplies by an integer scalar.</summary>
    public static Tensor operator *(long s, Tensor a) => a * s;

    /// <summary>True division by an integer scalar: a floating result (Float32 for an Int64 tensor), as PyTorch's <c>/</c>.</summary>
    public static Tensor operator /(Tensor a, long s) => a / (double)s;

    /// <summary>True division of an integer scalar by each element.</summary>
    public static Tensor operator /(long s, Tensor a) => (double)s / a;

    /// <summary>Remainder with the divisor's sign (<c>%</c> as in Python and PyTorch, not C#'s truncated remainder).</summary>
    public static Tensor operator %(Tensor a, Tensor b) => a.Remainder(b);

    /// <summary>Remainder by a scalar, with the divisor's sign.</summary>
    public static Tensor operator %(Tensor a, double s) => a.Remainder(s);

    /// <summary>Remainder by an integer scalar (Int64 for an Int64 tensor).</summary>
    public static Tensor operator %(Tensor a, long s) => a.Remainder(s);

    /// <summary>Element-wise remainder with the sign of the divisor (<c>torch.remainder</c>, Python's <c>%</c>);
    /// differentiable for floating tensors (d/da = 1, d/db = −floor(a / b)). Integer division by zero throws.</summary>
    public Tensor Remainder(Tensor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var (a, b) = PromotePair(this, other, "Remainder");
        if (!a.DType.IsFloatingPoint())
        {
            CheckNoZeroDivisor(b, "Remainder");
            return LongBinary<LongRemainder>(a, b, "Remainder");
        }
        var result = FloatDivision(a, b, remainder: true, "Remainder");
        return Node.Record(result, "RemainderBackward", [a, b], g =>
            [g, b.RequiresGrad ? -g * FloatDivision(a, b, remainder: false, "Remainder") : null], a, b);
    }

    /// <summary>Remainder by a scalar, with the divisor's sign (a floating result for a double divisor).</summary>
    public Tensor Remainder(double other) => Remainder(ScalarOperand(other));

    /// <summary>Remainder by an integer scalar (Int64 for an Int64 tensor).</summary>
    public Tensor Remainder(long other) => Remainder(IntegerOperand(other));

    /// <summary>Element-wise floor division, rounding toward −∞ (<c>torch.floor_divide</c>, Python's <c>//</c>).
    /// Int64 for integer operands (division by zero throws); not differentiable (the result is piecewise constant).</summary>
    public Tensor FloorDivide(Tensor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var (a, b) = PromotePair(this, other, "FloorDivide");
        if (a.DType.IsFloatingPoint())
        {
            using (GradMode.Set(false)) return FloatDivision(a, b, remainder: false, "FloorDivide");
        }
        CheckNoZeroDivisor(b, "FloorDivide");
        return LongBinary<LongFloorDiv>(a, b, "FloorDivide");
    }

    /// <summary>Floor division by a scalar (a floating result for a double divisor).</summary>
    public Tensor FloorDivide(double other) => FloorDivide(ScalarOperand(other));

    /// <summary>Floor division by an integer scalar (Int64 for an Int64 tensor).</summary>
    public Tensor FloorDivide(long other) => FloorDivide(IntegerOperand(other));

    // A double scalar operand: the tensor's dtype if floating, else the default Float32 (PyTorch's promotion).
    private Tensor ScalarOperand(double value) => Scalar(value, DType.IsFloatingPoint() ? DType : DType.Float32);

    // An integer scalar operand: Int64 next to an integral tensor, else the tensor's floating dtype.
    private Tensor IntegerOperand(long value)
    {
        if (DType.IsFloatingPoint()) return Scalar(value, DType);
        var t = Empty([], DType.Int64, zeroed: false);
        t.Span<long>()[0] = value;
        return t;
    }

    private static (Tensor A, Tensor B) PromotePair(Tensor a, Tensor b, string op)
    {
        if (a.DType == b.DType)
            return a.DType == DType.Bool ? (a.To(DType.Int64), b.To(DType.Int64)) : (a, b);
        var dtype = ResultType(a, b);
        if (dtype == DType.Bool) dtype = DType.Int64;
        return (a.To(dtype), b.To(dtype));
    }

    private static void CheckNoZeroDivisor(Tensor b, string op)
    {
        if (b.Eq(0L).Any())
            throw new ArgumentException($"{op}: integer division by zero (divisor shape {ShapeUtil.Format(b._shape)}).");
    }

    /// <summary>PyTorch's floating floor division (div_floor_floating) or remainder, broadcast, no graph.</summary>
    private static Tensor FloatDivision(Tensor a, Tensor b, bool remainder, string op)
    {
        var shape = ShapeUtil.Broadcast(a._shape, b._shape, op);
        Tensor ea, eb;
        using (GradMode.Set(false)) { ea = a.Expand(shape).Contiguous(); eb = b.Expand(shape).Contiguous(); }
        var result = Empty(shape, a.DType, zeroed: false);
        DispatchFloat(a.DType, op, new FloatDivisionCore(ea, eb, result, remainder));
        return result;
    }

    private readonly record struct FloatDivisionCore(Tensor A, Tensor B, Tensor Result, bool Remainder) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, System.Numerics.IFloatingPointIeee754<T> =>
            IntegerKernels.FloorDivideOrRemainder(A.ReadSpan<T>(), B.ReadSpan<T>(), Result.Span<T>(), Remainder);
    }

    /// <summary>Exact Int64 sum of an Int64 or Bool tensor (no graph: integers are not differentiable).</summary>
    private Tensor LongSum(int[]? dims, bool keepDim)
    {
        var mask = ReducedDims(dims, "Sum");
        Tensor x;
        using (GradMode.Set(false)) x = To(DType.Int64);
        var keptShape = x.KeptShape(mask, true);
        var result = Empty(keptShape, DType.Int64, zeroed: true);
        if (x.Dim == 0 || !mask.Contains(true)) result = x.Contiguous().Clone();
        else if (x.NumEl > 0)
        {
            var (src, outer, r, inner) = x.ReduceLayout(mask);
            IntegerKernels.Sum(src.ReadSpan<long>(), result.Span<long>(), outer, r, inner);
        }
        var outShape = x.KeptShape(mask, keepDim);
        return new Tensor(result._storage, outShape, ShapeUtil.ContiguousStrides(outShape), 0);
    }

    /// <summary>Max or min along a dim of an Int64 or Bool tensor: values in the tensor's dtype and Int64 indices.</summary>
    private (Tensor Values, Tensor Indices) LongExtreme(int dim, bool keepDim, bool max, string op)
    {
        int d = ShapeUtil.WrapDim(dim, Dim, op);
        if (Dim > 0 && _shape[d] == 0) throw new ArgumentException($"{op}: cannot reduce over dimension {d} of size 0 (shape {ShapeUtil.Format(_shape)}).");
        var x = To(DType.Int64);
        var mask = new bool[Dim];
        if (Dim > 0) mask[d] = true;
        var keptShape = KeptShape(mask, true);
        var values = Empty(keptShape, DType.Int64, zeroed: false);
        var indices = Empty(keptShape, DType.Int64, zeroed: false);
        if (Dim == 0) { values = x.Clone(); indices = Zeros([], DType.Int64); }
        else
        {
            var (src, outer, r, inner) = x.ReduceLayout(mask);
            IntegerKernels.ArgExtreme(src.ReadSpan<long>(), values.Span<long>(), indices.Span<long>(), outer, r, inner, max);
        }
        var outShape = KeptShape(mask, keepDim);
        return (values.Reshape(outShape).To(DType), indices.Reshape(outShape));
    }
}
