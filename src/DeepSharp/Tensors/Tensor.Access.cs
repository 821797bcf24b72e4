using System.Globalization;
using System.Numerics.Tensors;
using System.Text;
using DeepSharp.Kernels;

using DeepSharp.Interop;

namespace DeepSharp;

// Copies, conversions and reading values back (contiguous, clone, to, toArray, item, ToString).
public sealed partial class Tensor
{
    /// <summary>This tensor if already contiguous, else a contiguous copy (differentiable).</summary>
    public Tensor Contiguous() => _isContiguous ? this : CopyLayout("CloneBackward");

    /// <summary>A contiguous copy with its own storage (differentiable, <c>clone()</c>).</summary>
    public Tensor Clone() => CopyLayout("CloneBackward");

    private Tensor CopyLayout(string name)
    {
        var result = Empty(_shape, DType, zeroed: false);
        ThrowIfDisposed();
        switch (_storage)
        {
            case Storage<float> s: ElementwiseKernels.Copy<float>(_shape, s.Data, _offset, _strides, result.Span<float>()); break;
            case Storage<double> s: ElementwiseKernels.Copy<double>(_shape, s.Data, _offset, _strides, result.Span<double>()); break;
            case Storage<long> s: ElementwiseKernels.Copy<long>(_shape, s.Data, _offset, _strides, result.Span<long>()); break;
            case Storage<bool> s: ElementwiseKernels.Copy<bool>(_shape, s.Data, _offset, _strides, result.Span<bool>()); break;
        }
        Tracing.Current?.Record("Identity", result, [this]);
        return Node.Record(result, name, [this], g => [g]);
    }

    /// <summary>Converts to another element type (a copy; this tensor when the dtype already matches).
    /// Conversions between floating types are differentiable.</summary>
    public Tensor To(DType dtype)
    {
        if (dtype == DType) return this;
        var src = Contiguous();
        var result = Empty(_shape, dtype, zeroed: false);
        int n = NumEl;
        ConvertStorage(src._storage, src._offset, result._storage, n);
        Tracing.Current?.Record("Cast", result, [this], dtype);
        if (!DType.IsFloatingPoint() || !dtype.IsFloatingPoint()) return result;
        var from = DType;
        return Node.Record(result, "ToCopyBackward", [this], g => [g.To(from)]);
    }

    private static void ConvertStorage(Storage from, int offset, Storage to, int n)
    {
        from.NoteAccess();
        to.NoteAccess();
        if (from.IsReleased || to.IsReleased) ThrowDisposed();
        switch (from, to)
        {
            case (Storage<float> a, Storage<double> b): TensorPrimitives.ConvertChecked<float, double>(a.Data.AsSpan(offset, n), b.Data.AsSpan(0, n)); break;
            case (Storage<double> a, Storage<float> b): TensorPrimitives.ConvertTruncating<double, float>(a.Data.AsSpan(offset, n), b.Data.AsSpan(0, n)); break;
            case (Storage<float> a, Storage<long> b): ConvertKernels.Convert<float, long>(a.Data.AsSpan(offset, n), b.Data); break;
            case (Storage<double> a, Storage<long> b): ConvertKernels.Convert<double, long>(a.Data.AsSpan(offset, n), b.Data); break;
            case (Storage<long> a, Storage<float> b): ConvertKernels.Convert<long, float>(a.Data.AsSpan(offset, n), b.Data); break;
            case (Storage<long> a, Storage<double> b): ConvertKernels.Convert<long, double>(a.Data.AsSpan(offset, n), b.Data); break;
            case (Storage<bool> a, Storage<float> b): ConvertKernels.FromBool<float>(a.Data.AsSpan(offset, n), b.Data); break;
            case (Storage<bool> a, Storage<double> b): ConvertKernels.FromBool<double>(a.Data.AsSpan(offset, n), b.Data); break;
            case (Storage<bool> a, Storage<long> b): ConvertKernels.FromBool<long>(a.Data.AsSpan(offset, n), b.Data); break;
            case (Storage<float> a, Storage<bool> b): ConvertKernels.ToBool<float>(a.Data.AsSpan(offset, n), b.Data); break;
            case (Storage<double> a, Storage<bool> b): ConvertKernels.ToBool<double>(a.Data.AsSpan(offset, n), b.Data); break;
            case (Storage<long> a, Storage<bool> b): ConvertKernels.ToBool<long>(a.Data.AsSpan(offset, n), b.Data); break;
            default: throw new NotSupportedException($"To: conversion from {from.DType} to {to.DType} is not supported.");
        }
    }

    /// <summary>Shorthand for <c>To(DType.Float32)</c>.</summary>
    public Tensor Float() => To(DType.Float32);

    /// <summary>Shorthand for <c>To(DType.Float64)</c>.</summary>
    public Tensor Double() => To(DType.Float64);

    /// <summary>Shorthand for <c>To(DType.Int64)</c>.</summary>
    public Tensor Long() => To(DType.Int64);

    /// <summary>The elements in row-major order as a new array. <typeparamref name="T"/> must match the dtype.</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        if (DTypeExtensions.Of<T>() != DType)
            throw new InvalidOperationException($"ToArray<{typeof(T).Name}>: the tensor's dtype is {DType}; call To(DType.{DTypeExtensions.Of<T>()}) first.");
        var result = new T[NumEl];
        ElementwiseKernels.Copy<T>(_shape, Data<T>(), _offset, _strides, result);
        return result;
    }

    /// <summary>The value of a one-element tensor, as double (<c>item()</c>).</summary>
    public double Item()
    {
        if (NumEl != 1)
            throw new InvalidOperationException($"Item: a tensor with {NumEl} elements (shape {ShapeUtil.Format(_shape)}) cannot be converted to a scalar.");
        return GetFlat(0);
    }

    /// <summary>The value of a one-element tensor converted to <typeparamref name="T"/> (float, double, long or bool),
    /// as PyTorch's <c>item()</c>: a Float32 tensor read as double, an Int64 as double, a float as long (truncated).</summary>
    public T Item<T>() where T : unmanaged
    {
        if (NumEl != 1)
            throw new InvalidOperationException($"Item<{typeof(T).Name}>: a tensor with {NumEl} elements (shape {ShapeUtil.Format(_shape)}) cannot be converted to a scalar.");
        var target = typeof(T) == typeof(float) || typeof(T) == typeof(double) || typeof(T) == typeof(long) || typeof(T) == typeof(bool)
            ? DTypeExtensions.Of<T>()
            : throw new InvalidOperationException($"Item<{typeof(T).Name}>: use float, double, long or bool.");
        if (target == DType) return ToArray<T>()[0];
        if (DType == DType.Int64 && target != DType.Bool)
        {
            long l = ToArray<long>()[0];   // exact for long; a double or float rounds as a conversion does
            return target == DType.Float64 ? (T)(object)(double)l : (T)(object)(float)l;
        }
        double v = GetFlat(0);
        return target switch
        {
            DType.Float64 => (T)(object)v,
            DType.Float32 => (T)(object)(float)v,
            DType.Int64 => (T)(object)(double.IsFinite(v) ? (long)v : throw new InvalidOperationException($"Item<Int64>: cannot convert {v} to an integer.")),
            _ => (T)(object)(v != 0),
        };
    }

    /// <summary>Reads the element at row-major position <paramref name="flat"/> of the view, as double.</summary>
    internal double GetFlat(int flat)
    {
        int off = _offset;
        for (int d = _shape.Length - 1; d >= 0; d--)
        {
            int size = _shape[d];
            off += flat % size * _strides[d];
            flat /= size;
        }
        ThrowIfDisposed();
        return _storage switch
        {
            Storage<float> s => s.Data[off],
            Storage<double> s => s.Data[off],
            Storage<long> s => s.Data[off],
            Storage<bool> s => s.Data[off] ? 1 : 0,
            _ => throw new InvalidOperationException(),
        };
    }

    /// <summary>True when no element is NaN or infinite.</summary>
    internal bool AllFinite()
    {
        var c = Contiguous();
        c.ThrowIfDisposed();
        return c._storage switch
        {
            Storage<float> => IsAllFinite(c.ReadSpan<float>()),
            Storage<double> => IsAllFinite(c.ReadSpan<double>()),
            _ => true,
        };

        static bool IsAllFinite<T>(ReadOnlySpan<T> s) where T : System.Numerics.IFloatingPointIeee754<T>
        {
            foreach (var v in s) if (!T.IsFinite(v)) return false;
            return true;
        }
    }

    /// <summary>PyTorch-style printout: values (summarised beyond 1000 elements), shape, dtype and grad_fn.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder("tensor(");
        bool summarise = NumEl > 1000;
        bool integral = !DType.IsFloatingPoint();
        bool allInts = integral || Enumerable.Range(0, Math.Min(NumEl, 1000)).All(i => { double v = GetFlat(i); return Math.Abs(v) < 1e15 && v == Math.Floor(v); });
        // An empty tensor prints as [] (walking a huge leading dim of an empty tensor would take forever).
        if (NumEl == 0) sb.Append("[]");
        else FormatDim(sb, 0, _offset, summarise, integral, allInts, indent: 7);
        sb.Append(")");
        sb.Insert(sb.Length - 1, $", shape={ShapeUtil.Format(_shape)}, dtype={DType}");
        if (_gradFn is not null) sb.Insert(sb.Length - 1, $", grad_fn={_gradFn}");
        else if (RequiresGrad) sb.Insert(sb.Length - 1, ", requires_grad=true");
        return sb.ToString();
    }

    private void FormatDim(StringBuilder sb, int dim, int offset, bool summarise, bool integral, bool allInts, int indent)
    {
        if (dim == _shape.Length)
        {
            ThrowIfDisposed();
            double v = _storage switch
            {
                Storage<float> s => s.Data[offset],
                Storage<double> s => s.Data[offset],
                Storage<long> s => s.Data[offset],
                Storage<bool> s => s.Data[offset] ? 1 : 0,
                _ => 0,
            };
            sb.Append(DType == DType.Bool ? (v != 0 ? "True" : "False")
                : integral ? ((long)v).ToString(CultureInfo.InvariantCulture)
                : allInts ? v.ToString("0", CultureInfo.InvariantCulture) + "."
                : v.ToString("0.0000", CultureInfo.InvariantCulture));
            return;
        }
        sb.Append('[');
        int n = _shape[dim];
        for (int i = 0; i < n; i++)
        {
            if (summarise && n > 6 && i == 3)
            {
                sb.Append("...");
                i = n - 3;
                sb.Append(dim == _shape.Length - 1 ? ", " : ",\n" + new string(' ', indent + dim + 1));
            }
            FormatDim(sb, dim + 1, offset + i * _strides[dim], summarise, integral, allInts, indent);
            if (i < n - 1) sb.Append(dim == _shape.Length - 1 ? ", " : "," + new string('\n', _shape.Length - dim - 1) + new string(' ', indent + dim + 1));
        }
        sb.Append(']');
    }
}
