namespace DeepSharp;

// The torch.xxx spellings of the tensor functions, forwarding to the Tensor methods (which hold the docs and checks).
public static partial class Torch
{
    /// <summary>log(1 + x) (<c>torch.log1p</c>).</summary>
    public static Tensor Log1p(Tensor input) => NotNull(input).Log1p();

    /// <summary>eˣ − 1 (<c>torch.expm1</c>).</summary>
    public static Tensor Expm1(Tensor input) => NotNull(input).Expm1();

    /// <summary>The inverse error function (<c>torch.erfinv</c>).</summary>
    public static Tensor Erfinv(Tensor input) => NotNull(input).Erfinv();

    /// <summary>Rounds down (<c>torch.floor</c>).</summary>
    public static Tensor Floor(Tensor input) => NotNull(input).Floor();

    /// <summary>Rounds up (<c>torch.ceil</c>).</summary>
    public static Tensor Ceil(Tensor input) => NotNull(input).Ceil();

    /// <summary>Rounds half to even (<c>torch.round</c>).</summary>
    public static Tensor Round(Tensor input, int decimals = 0) => NotNull(input).Round(decimals);

    /// <summary>Rounds toward zero (<c>torch.trunc</c>).</summary>
    public static Tensor Trunc(Tensor input) => NotNull(input).Trunc();

    /// <summary>True where NaN (<c>torch.isnan</c>).</summary>
    public static Tensor IsNan(Tensor input) => NotNull(input).IsNan();

    /// <summary>True where ±∞ (<c>torch.isinf</c>).</summary>
    public static Tensor IsInf(Tensor input) => NotNull(input).IsInf();

    /// <summary>True where finite (<c>torch.isfinite</c>).</summary>
    public static Tensor IsFinite(Tensor input) => NotNull(input).IsFinite();

    /// <summary>Replaces NaN and ±∞ (<c>torch.nan_to_num</c>).</summary>
    public static Tensor NanToNum(Tensor input, double nan = 0, double? posInf = null, double? negInf = null) => NotNull(input).NanToNum(nan, posInf, negInf);

    /// <summary>start + weight·(end − start) (<c>torch.lerp</c>).</summary>
    public static Tensor Lerp(Tensor start, Tensor end, double weight) => NotNull(start).Lerp(end, weight);

    /// <summary>start + weight·(end − start) with a tensor weight (<c>torch.lerp</c>).</summary>
    public static Tensor Lerp(Tensor start, Tensor end, Tensor weight) => NotNull(start).Lerp(end, weight);

    /// <summary>√(a² + b²) (<c>torch.hypot</c>).</summary>
    public static Tensor Hypot(Tensor a, Tensor b) => NotNull(a).Hypot(b);

    /// <summary>atan2(y, x) (<c>torch.atan2</c>).</summary>
    public static Tensor Atan2(Tensor y, Tensor x) => NotNull(y).Atan2(x);

    /// <summary>Cumulative sum (<c>torch.cumsum</c>).</summary>
    public static Tensor Cumsum(Tensor input, int dim) => NotNull(input).Cumsum(dim);

    /// <summary>Cumulative product (<c>torch.cumprod</c>).</summary>
    public static Tensor Cumprod(Tensor input, int dim) => NotNull(input).Cumprod(dim);

    /// <summary>Product of all elements (<c>torch.prod</c>).</summary>
    public static Tensor Prod(Tensor input) => NotNull(input).Prod();

    /// <summary>Product along dim (<c>torch.prod</c>).</summary>
    public static Tensor Prod(Tensor input, int dim, bool keepDim = false) => NotNull(input).Prod(dim, keepDim);

    /// <summary>The p-norm along dims, all when null (<c>torch.norm</c> / <c>torch.linalg.vector_norm</c>).</summary>
    public static Tensor Norm(Tensor input, double p = 2, int[]? dims = null, bool keepDim = false) => NotNull(input).Norm(p, dims, keepDim);

    /// <summary>Sorted values and their indices (<c>torch.sort</c>).</summary>
    public static (Tensor Values, Tensor Indices) Sort(Tensor input, int dim = -1, bool descending = false, bool stable = false) => NotNull(input).Sort(dim, descending, stable);

    /// <summary>The indices that sort the input (<c>torch.argsort</c>).</summary>
    public static Tensor ArgSort(Tensor input, int dim = -1, bool descending = false, bool stable = false) => NotNull(input).ArgSort(dim, descending, stable);

    /// <summary>The k largest (or smallest) values and indices (<c>torch.topk</c>).</summary>
    public static (Tensor Values, Tensor Indices) TopK(Tensor input, int k, int dim = -1, bool largest = true, bool sorted = true) => NotNull(input).TopK(k, dim, largest, sorted);

    /// <summary>Samples category indices (<c>torch.multinomial</c>).</summary>
    public static Tensor Multinomial(Tensor input, int numSamples, bool replacement = false, Generator? generator = null) => NotNull(input).Multinomial(numSamples, replacement, generator);

    /// <summary>Einstein summation (<c>torch.einsum</c>).</summary>
    public static Tensor Einsum(string equation, params Tensor[] operands) => Tensor.Einsum(equation, operands);

    /// <summary>The outer product (<c>torch.outer</c>).</summary>
    public static Tensor Outer(Tensor a, Tensor b) => NotNull(a).Outer(b);

    /// <summary>Diagonal matrix from a vector, or a matrix's diagonal (<c>torch.diag</c>).</summary>
    public static Tensor Diag(Tensor input, int diagonal = 0) => NotNull(input).Diag(diagonal);

    /// <summary>Lower triangle (<c>torch.tril</c>).</summary>
    public static Tensor Tril(Tensor input, int diagonal = 0) => NotNull(input).Tril(diagonal);

    /// <summary>Upper triangle (<c>torch.triu</c>).</summary>
    public static Tensor Triu(Tensor input, int diagonal = 0) => NotNull(input).Triu(diagonal);

    /// <summary>Reverses along dims (<c>torch.flip</c>).</summary>
    public static Tensor Flip(Tensor input, params int[] dims) => NotNull(input).Flip(dims);

    /// <summary>Rolls along dims, or the flattened tensor (<c>torch.roll</c>).</summary>
    public static Tensor Roll(Tensor input, int[] shifts, int[]? dims = null) => NotNull(input).Roll(shifts, dims);

    /// <summary>Repeats elements (<c>torch.repeat_interleave</c>).</summary>
    public static Tensor RepeatInterleave(Tensor input, int repeats, int? dim = null) => NotNull(input).RepeatInterleave(repeats, dim);

    private static Tensor NotNull(Tensor t) => t ?? throw new ArgumentNullException(nameof(t));
}
