using System.Numerics;
using DeepSharp.Kernels;

namespace DeepSharp;

// More element-wise math: log1p/expm1/erfinv, rounding, NaN/∞ tests and replacement, lerp, hypot, atan2.
// Backwards are written with differentiable ops, so every one supports higher-order gradients.
public sealed partial class Tensor
{
    /// <summary>log(1 + x), accurate for small x (<c>torch.log1p</c>).</summary>
    public Tensor Log1p()
    {
        var x = this;
        return Node.Record(UnaryForward<Log1pOp>(x, "Log1p"), "Log1pBackward", [x], g => [g / (x + 1.0)], x);
    }

    /// <summary>eˣ − 1, accurate for small x (<c>torch.expm1</c>).</summary>
    public Tensor Expm1()
    {
        var result = UnaryForward<Expm1Op>(this, "Expm1");
        return Node.Record(result, "Expm1Backward", [this], g => [g * (result + 1.0)], result);
    }

    /// <summary>The inverse error function on (−1, 1) (±∞ at ±1, NaN outside; <c>torch.erfinv</c>).</summary>
    public Tensor Erfinv()
    {
        var result = UnaryForward<ErfinvOp>(this, "Erfinv");
        // d/dy erfinv(y) = √π/2 · e^(erfinv(y)²)
        return Node.Record(result, "ErfinvBackward", [this], g => [g * (result * result).Exp() * (Math.Sqrt(Math.PI) / 2)], result);
    }

    /// <summary>Largest integer ≤ x, element-wise (zero gradient, as PyTorch).</summary>
    public Tensor Floor() => Rounding<FloorOp>("Floor");

    /// <summary>Smallest integer ≥ x (zero gradient).</summary>
    public Tensor Ceil() => Rounding<CeilOp>("Ceil");

    /// <summary>Rounds half to even, as <c>torch.round</c> (zero gradient).</summary>
    public Tensor Round() => Rounding<RoundOp>("Round");

    /// <summary>Rounds to <paramref name="decimals"/> decimal places (half to even; <c>torch.round(x, decimals=d)</c>).</summary>
    public Tensor Round(int decimals)
    {
        if (decimals == 0) return Round();
        CheckFloating("Round");
        double scale = Math.Pow(10, Math.Abs(decimals));
        Tensor result;
        using (GradMode.Set(false)) result = decimals > 0 ? (this * scale).Round() / scale : (this / scale).Round() * scale;
        return Node.Record(result, "RoundBackward", [this], g => [ZerosLike(g)]);
    }

    /// <summary>Rounds toward zero (zero gradient).</summary>
    public Tensor Trunc() => Rounding<TruncOp>("Trunc");

    private Tensor Rounding<TOp>(string op) where TOp : struct, IUnaryOp
    {
        if (DType == DType.Int64) return Clone();   // integers are already whole, as torch.floor on a LongTensor
        var result = UnaryForward<TOp>(this, op);
        return Node.Record(result, op + "Backward", [this], g => [ZerosLike(g)]);
    }

    /// <summary>True where the element is NaN (a Bool tensor).</summary>
    public Tensor IsNan() => Classify("IsNan", FloatClass.NaN);

    /// <summary>True where the element is +∞ or −∞.</summary>
    public Tensor IsInf() => Classify("IsInf", FloatClass.Infinite);

    /// <summary>True where the element is neither NaN nor ±∞.</summary>
    public Tensor IsFinite() => Classify("IsFinite", FloatClass.Finite);

    private Tensor Classify(string op, FloatClass kind)
    {
        var result = Empty(_shape, DType.Bool, zeroed: false);
        var d = result.Span<bool>();
        if (!DType.IsFloatingPoint())
        {
            d.Fill(kind == FloatClass.Finite);   // integers and bools are always finite, never NaN or ∞
            return result;
        }
        DispatchFloat(DType, op, new ClassifyCore(Contiguous(), result, kind));
        return result;
    }

    /// <summary>Replaces NaN by <paramref name="nan"/>, +∞ by <paramref name="posInf"/> and −∞ by <paramref name="negInf"/>
    /// (by default the dtype's largest and smallest finite values; <c>torch.nan_to_num</c>). The gradient flows where
    /// the input is finite.</summary>
    public Tensor NanToNum(double nan = 0, double? posInf = null, double? negInf = null)
    {
        CheckFloating("NanToNum");
        double hi = posInf ?? (DType == DType.Float32 ? float.MaxValue : double.MaxValue);
        double lo = negInf ?? (DType == DType.Float32 ? float.MinValue : double.MinValue);
        var x = this;
        var result = MapForward(x, "NanToNum", v => double.IsNaN(v) ? nan : double.IsPositiveInfinity(v) ? hi : double.IsNegativeInfinity(v) ? lo : v);
        return Node.Record(result, "NanToNumBackward", [x], g => [g * x.IsFinite().To(g.DType)], x);
    }

    /// <summary>this + weight·(end − this), broadcast (<c>torch.lerp</c> with a scalar weight).</summary>
    public Tensor Lerp(Tensor end, double weight)
    {
        ArgumentNullException.ThrowIfNull(end);
        CheckSameDType(this, end, "Lerp");
        ShapeUtil.Broadcast(_shape, end._shape, "Lerp");
        return this + (end - this) * weight;
    }

    /// <summary>this + weight·(end − this), all three broadcast (<c>torch.lerp</c> with a tensor weight).</summary>
    public Tensor Lerp(Tensor end, Tensor weight)
    {
        ArgumentNullException.ThrowIfNull(end);
        ArgumentNullException.ThrowIfNull(weight);
        CheckSameDType(this, end, "Lerp");
        CheckSameDType(this, weight, "Lerp");
        ShapeUtil.Broadcast(ShapeUtil.Broadcast(_shape, end._shape, "Lerp"), weight._shape, "Lerp");
        return this + weight * (end - this);
    }

    /// <summary>Linear interpolation <paramref name="start"/> + weight·(end − start) (<c>torch.lerp</c>).</summary>
    public static Tensor Lerp(Tensor start, Tensor end, double weight) => start.Lerp(end, weight);

    /// <summary>Linear interpolation with a tensor weight (<c>torch.lerp</c>).</summary>
    public static Tensor Lerp(Tensor start, Tensor end, Tensor weight) => start.Lerp(end, weight);

    /// <summary>√(a² + b²) without overflow, broadcast (<c>torch.hypot</c>).</summary>
    public Tensor Hypot(Tensor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var a = this;
        var result = BinaryForward<HypotOp>(a, other, "Hypot");
        // As PyTorch: grad·a/r, which is NaN where both are 0.
        return Node.Record(result, "HypotBackward", [a, other],
            g => [a.RequiresGrad ? g * a / result : null, other.RequiresGrad ? g * other / result : null], a, other, result);
    }

    /// <summary>√(a² + b²), broadcast (<c>torch.hypot</c>).</summary>
    public static Tensor Hypot(Tensor a, Tensor b) => (a ?? throw new ArgumentNullException(nameof(a))).Hypot(b);

    /// <summary>The angle of (x = <paramref name="other"/>, y = this) in (−π, π], broadcast (<c>torch.atan2(self, other)</c>).</summary>
    public Tensor Atan2(Tensor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var y = this;
        var result = BinaryForward<Atan2Op>(y, other, "Atan2");
        return Node.Record(result, "Atan2Backward", [y, other], g =>
        {
            var r2 = y * y + other * other;
            return [y.RequiresGrad ? g * other / r2 : null, other.RequiresGrad ? -g * y / r2 : null];
        }, y, other);
    }

    /// <summary>atan2(y, x), broadcast (<c>torch.atan2</c>).</summary>
    public static Tensor Atan2(Tensor y, Tensor x) => (y ?? throw new ArgumentNullException(nameof(y))).Atan2(x);

    private readonly record struct ClassifyCore(Tensor Src, Tensor Result, FloatClass Kind) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            FloatClassKernels.Classify(Src.ReadSpan<T>(), Result.Span<bool>(), Kind);
    }
}
