using System.Numerics;
using DeepSharp.Kernels;

namespace DeepSharp;

// Factory functions (torch.zeros, torch.arange, torch.randn, torch.tensor, …).
public sealed partial class Tensor
{
    /// <summary>A float32 tensor of zeros.</summary>
    public static Tensor Zeros(params int[] shape) => Zeros(shape, DType.Float32);

    /// <summary>A tensor of zeros.</summary>
    public static Tensor Zeros(int[] shape, DType dtype, bool requiresGrad = false) =>
        Full(shape, 0.0, dtype, requiresGrad);

    /// <summary>A float32 tensor of ones.</summary>
    public static Tensor Ones(params int[] shape) => Ones(shape, DType.Float32);

    /// <summary>A tensor of ones.</summary>
    public static Tensor Ones(int[] shape, DType dtype, bool requiresGrad = false) => Full(shape, 1.0, dtype, requiresGrad);

    /// <summary>A tensor filled with <paramref name="value"/>.</summary>
    public static Tensor Full(int[] shape, double value, DType dtype = DType.Float32, bool requiresGrad = false)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var t = Empty(shape, dtype, zeroed: value == 0);
        if (value != 0) t.FillRaw(value);
        if (requiresGrad) t.RequiresGrad = true;
        return t;
    }

    /// <summary>A 0-d tensor holding one value.</summary>
    public static Tensor Scalar(double value, DType dtype = DType.Float32, bool requiresGrad = false) =>
        Full([], value, dtype, requiresGrad);

    /// <summary>
    /// A number where a tensor is expected becomes a 0-d Float64 tensor, as PyTorch wraps a Python number. So
    /// <c>x[mask] = 0.0</c> works (assignment converts to x's dtype), and a 0-d operand does not widen a tensor with
    /// dimensions (<c>Torch.Where(mask, x32, 0.0)</c> stays Float32).
    /// </summary>
    public static implicit operator Tensor(double value) => Full([], value, DType.Float64);

    /// <summary>Zeros with the shape and dtype of <paramref name="other"/>.</summary>
    public static Tensor ZerosLike(Tensor other, DType? dtype = null) => Zeros(other._shape, dtype ?? other.DType);

    /// <summary>Ones with the shape and dtype of <paramref name="other"/>.</summary>
    public static Tensor OnesLike(Tensor other, DType? dtype = null) => Ones(other._shape, dtype ?? other.DType);

    /// <summary>A constant with the shape and dtype of <paramref name="other"/>.</summary>
    public static Tensor FullLike(Tensor other, double value, DType? dtype = null) => Full(other._shape, value, dtype ?? other.DType);

    /// <summary>Uniform [0, 1) values with the shape and dtype of <paramref name="other"/>.</summary>
    public static Tensor RandLike(Tensor other, Generator? generator = null) => Rand(other._shape, other.DType, generator);

    /// <summary>Standard normal values with the shape and dtype of <paramref name="other"/>.</summary>
    public static Tensor RandnLike(Tensor other, Generator? generator = null) => Randn(other._shape, other.DType, generator);

    /// <summary>Values from <paramref name="start"/> (inclusive) to <paramref name="end"/> (exclusive) in steps (<c>torch.arange</c>).</summary>
    public static Tensor Arange(double start, double end, double step = 1, DType dtype = DType.Float32)
    {
        if (step == 0) throw new ArgumentException("Arange: step must be nonzero.");
        if (double.IsNaN(start) || double.IsNaN(end) || double.IsInfinity(start) || double.IsInfinity(end))
            throw new ArgumentException($"Arange: start ({start}) and end ({end}) must be finite.");
        if ((end - start) / step < 0)
            throw new ArgumentException($"Arange: upper bound and larger bound inconsistent with step sign (start {start}, end {end}, step {step}).");
        int n = (int)Math.Ceiling((end - start) / step);
        var t = Empty([n], dtype, zeroed: false);
        t.FillFromIndex(new ArangeValue(start, step));
        return t;
    }

    /// <summary>Integers 0, 1, …, end − 1 as Int64, as <c>torch.arange(end)</c> with an integer argument.</summary>
    public static Tensor Arange(long end) => Arange(0, end, 1);

    /// <summary>0, 1, … below a floating <paramref name="end"/>, Float32 by default (<c>torch.arange(3.0)</c>).</summary>
    public static Tensor Arange(double end, DType dtype = DType.Float32) => Arange(0, end, 1, dtype);

    /// <summary>Integers 0, 1, …, end − 1 in the given dtype.</summary>
    public static Tensor Arange(long end, DType dtype) => dtype == DType.Int64 ? Arange(end) : Arange(0, (double)end, 1, dtype);

    /// <summary>Integers from <paramref name="start"/> (inclusive) to <paramref name="end"/> (exclusive) in steps, as Int64
    /// (<c>torch.arange</c> with integer arguments; pass doubles or a dtype for floating values).</summary>
    public static Tensor Arange(long start, long end, long step = 1)
    {
        if (step == 0) throw new ArgumentException("Arange: step must be nonzero.");
        Int128 span = (Int128)end - start;   // end − start overflows long for extreme arguments
        if (span != 0 && (span > 0) != (step > 0))
            throw new ArgumentException($"Arange: upper bound and larger bound inconsistent with step sign (start {start}, end {end}, step {step}).");
        Int128 count = (span + step + (step > 0 ? -1 : 1)) / step;
        if (count > int.MaxValue) throw new ArgumentException($"Arange: {count} elements are too many (start {start}, end {end}, step {step}).");
        var t = Empty([(int)count], DType.Int64, zeroed: false);
        FillKernels.Arange(t.Span<long>(), start, step);   // in range: the last value lies between start and end
        return t;
    }

    /// <summary><paramref name="steps"/> evenly spaced values from start to end inclusive (<c>torch.linspace</c>).</summary>
    public static Tensor Linspace(double start, double end, int steps, DType dtype = DType.Float32)
    {
        if (steps < 0) throw new ArgumentException($"Linspace: number of steps must be non-negative, got {steps}.");
        var t = Empty([steps], dtype, zeroed: false);
        t.FillFromIndex(new LinspaceValue(start, end, steps));
        return t;
    }

    /// <summary>An identity matrix n × m (m defaults to n).</summary>
    public static Tensor Eye(int n, int? m = null, DType dtype = DType.Float32)
    {
        int cols = m ?? n;
        if (n < 0 || cols < 0) throw new ArgumentException($"Eye: n ({n}) and m ({cols}) must be non-negative.");
        var t = Empty([n, cols], dtype, zeroed: false);
        t.FillFromIndex(new EyeValue(cols));
        return t;
    }

    /// <summary>Uniform [0, 1) float32 values.</summary>
    public static Tensor Rand(params int[] shape) => Rand(shape, DType.Float32);

    /// <summary>Uniform [0, 1) values, from <paramref name="generator"/> or the default generator.</summary>
    public static Tensor Rand(int[] shape, DType dtype, Generator? generator = null, bool requiresGrad = false)
    {
        var t = Empty(shape, dtype, zeroed: false);
        t.CheckFloating("Rand");
        Generator.Use(generator, g => DispatchFloat(dtype, "Rand", new RandomFill(t, g, Normal: false)));
        if (requiresGrad) t.RequiresGrad = true;
        return t;
    }

    /// <summary>Standard normal float32 values.</summary>
    public static Tensor Randn(params int[] shape) => Randn(shape, DType.Float32);

    /// <summary>Standard normal values, from <paramref name="generator"/> or the default generator.</summary>
    public static Tensor Randn(int[] shape, DType dtype, Generator? generator = null, bool requiresGrad = false)
    {
        var t = Empty(shape, dtype, zeroed: false);
        t.CheckFloating("Randn");
        Generator.Use(generator, g => DispatchFloat(dtype, "Randn", new RandomFill(t, g, Normal: true)));
        if (requiresGrad) t.RequiresGrad = true;
        return t;
    }

    /// <summary>Uniform integers in [low, high) (<c>torch.randint</c>); Int64 by default.</summary>
    public static Tensor RandInt(long low, long high, int[] shape, DType dtype = DType.Int64, Generator? generator = null)
    {
        if (high <= low) throw new ArgumentException($"RandInt: high ({high}) must be greater than low ({low}).");
        var t = Empty(shape, dtype, zeroed: false);
        Generator.Use(generator, g =>
        {
            if (t.DType == DType.Int64) RandomKernels.Integers(t.Span<long>(), low, high, g);
            else t.FillFromIndex(new RandomIntegerValue(g, low, high));
        });
        return t;
    }

    /// <summary>A random permutation of 0 … n − 1 (<c>torch.randperm</c>), Int64.</summary>
    public static Tensor RandPerm(int n, Generator? generator = null)
    {
        if (n < 0) throw new ArgumentException($"RandPerm: n must be non-negative, got {n}.");
        ShapeUtil.CheckShape([n], "RandPerm");
        var data = new long[n];
        for (int i = 0; i < n; i++) data[i] = i;
        Generator.Use(generator, g => RandomKernels.Shuffle<long>(data, g));
        return Wrap(data, [n]);
    }

    /// <summary>
    /// A tensor from a .NET array of any rank (<c>float[]</c>, <c>double[,]</c>, <c>long[,,]</c>, <c>bool[]</c>, <c>int[]</c>
    /// → Int64), copying the data (<c>torch.tensor</c>).
    /// </summary>
    public static Tensor FromArray(Array data, bool requiresGrad = false)
    {
        ArgumentNullException.ThrowIfNull(data);
        var shape = new int[data.Rank];
        for (int i = 0; i < shape.Length; i++) shape[i] = data.GetLength(i);
        var elementType = data.GetType().GetElementType();
        Tensor t = elementType == typeof(float) ? Wrap(CopyFlat<float>(data), shape)
            : elementType == typeof(double) ? Wrap(CopyFlat<double>(data), shape)
            : elementType == typeof(long) ? Wrap(CopyFlat<long>(data), shape)
            : elementType == typeof(int) ? Wrap(CopyFlat<int>(data).Select(v => (long)v).ToArray(), shape)
            : elementType == typeof(bool) ? Wrap(CopyFlat<bool>(data), shape)
            : throw new ArgumentException($"FromArray: element type {elementType?.Name} is not supported (use float, double, long, int or bool).");
        if (requiresGrad) t.RequiresGrad = true;
        return t;
    }

    /// <summary>A tensor of the given shape from flat row-major data (copied); with no shape, a 1-D tensor.</summary>
    public static Tensor FromArray<T>(T[] data, params int[] shape) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Length == 0) shape = [data.Length];
        ShapeUtil.CheckShape(shape, "FromArray");
        if (ShapeUtil.Numel(shape) != data.Length)
            throw new ArgumentException($"FromArray: {data.Length} values cannot fill shape {ShapeUtil.Format(shape)} ({ShapeUtil.Numel(shape)} elements).");
        if (typeof(T) == typeof(int)) return Wrap(((int[])(object)data).Select(v => (long)v).ToArray(), (int[])shape.Clone());
        DTypeExtensions.Of<T>();
        return Wrap((T[])data.Clone(), (int[])shape.Clone());
    }

    /// <summary>Wraps an existing array without copying (the tensor and the array share memory).</summary>
    public static Tensor FromBuffer<T>(T[] data, params int[] shape) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        DTypeExtensions.Of<T>();
        ShapeUtil.CheckShape(shape, "FromBuffer");
        if (ShapeUtil.Numel(shape) != data.Length)
            throw new ArgumentException($"FromBuffer: {data.Length} values cannot fill shape {ShapeUtil.Format(shape)}.");
        return Wrap(data, (int[])shape.Clone());
    }

    private static T[] CopyFlat<T>(Array data)
    {
        var flat = new T[data.Length];
        int i = 0;
        foreach (T v in data) flat[i++] = v;
        return flat;
    }

    // Raw element writes used by creation code (contiguous, fresh tensors only).
    internal void SetRaw(int index, double value)
    {
        ThrowIfDisposed();
        switch (_storage)
        {
            case Storage<float> s: s.Data[_offset + index] = (float)value; break;
            case Storage<double> s: s.Data[_offset + index] = value; break;
            case Storage<long> s: s.Data[_offset + index] = (long)value; break;
            case Storage<bool> s: s.Data[_offset + index] = value != 0; break;
        }
    }

    internal void SetRaw(int index, long value)
    {
        ThrowIfDisposed();
        switch (_storage)
        {
            case Storage<long> s: s.Data[_offset + index] = value; break;
            default: SetRaw(index, (double)value); break;
        }
    }

    internal void FillRaw(double value)
    {
        ThrowIfDisposed();
        switch (_storage)
        {
            case Storage<float> s: s.Data.AsSpan(_offset, NumEl).Fill((float)value); break;
            case Storage<double> s: s.Data.AsSpan(_offset, NumEl).Fill(value); break;
            case Storage<long> s: s.Data.AsSpan(_offset, NumEl).Fill((long)value); break;
            case Storage<bool> s: s.Data.AsSpan(_offset, NumEl).Fill(value != 0); break;
        }
    }

    /// <summary>Fills this fresh contiguous tensor with v.At(i) at flat index i, converted to its dtype as <see cref="SetRaw(int, double)"/> does.</summary>
    private void FillFromIndex<TV>(TV v) where TV : struct, IIndexValue
    {
        switch (_storage)
        {
            case Storage<float>: FillKernels.FromIndex(Span<float>(), v); break;
            case Storage<double>: FillKernels.FromIndex(Span<double>(), v); break;
            case Storage<long>: FillKernels.FromIndex(Span<long>(), v); break;
            case Storage<bool>: FillKernels.FromIndex(Span<bool>(), v); break;
        }
    }

    /// <summary>Fills a fresh contiguous tensor with uniform [0, 1) or standard normal values from a generator.</summary>
    /// <summary>Fills this contiguous floating tensor in place with <paramref name="scale"/>·U[0, 1) + <paramref name="shift"/>
    /// (or ·N(0, 1) when <paramref name="normal"/>): the values <c>Rand(shape) * scale + shift</c> gives, bit for bit and
    /// from the same draws, without its two temporaries (initialising a model must not allocate its weights three times).
    /// No autograd: <c>nn.init</c> runs under no-grad.</summary>
    internal void FillRandomAffine_(bool normal, double scale, double shift, Generator? generator)
    {
        System.Diagnostics.Debug.Assert(_isContiguous);
        Generator.Use(generator, g => DispatchFloat(DType, normal ? "Randn" : "Rand", new RandomAffineFill(this, g, normal, scale, shift)));
        BumpVersion();
    }

    private readonly record struct RandomAffineFill(Tensor Target, Generator G, bool Normal, double Scale, double Shift) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            var span = Target.Span<T>();
            if (Normal) RandomKernels.Normal(span, G);
            else RandomKernels.Uniform(span, G);
            // The scalar ops of `* scale + shift`, in place (element-wise: the same roundings).
            MulOp.Apply((ReadOnlySpan<T>)span, T.CreateTruncating(Scale), span);
            AddOp.Apply((ReadOnlySpan<T>)span, T.CreateTruncating(Shift), span);
        }
    }

    private readonly record struct RandomFill(Tensor Target, Generator G, bool Normal) : IFloatFunc
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            if (Normal) RandomKernels.Normal(Target.Span<T>(), G);
            else RandomKernels.Uniform(Target.Span<T>(), G);
        }
    }
}
