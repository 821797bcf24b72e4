using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace DeepSharp;

// Interoperation with spans, arrays and System.Numerics.Tensors (Tensor<T>, TensorSpan<T>), sharing memory wherever
// the layout allows. Every DeepSharp tensor lives in a managed T[] (its storage) at an offset with non-negative strides,
// which is exactly the layout Tensor<T> and TensorSpan<T> describe, so conversions to them never copy.
public sealed partial class Tensor
{
    /// <summary>
    /// The elements of a contiguous tensor as a writable span over its storage — no copy (like <c>x.numpy()</c>).
    /// </summary>
    /// <typeparam name="T">The element type matching <see cref="DType"/>: float, double, long or bool.</typeparam>
    /// <remarks>
    /// Writes through the span change this tensor and every view sharing its storage, but autograd does not see them:
    /// the version counter is not bumped, so do not write into tensors saved for backward. Call <see cref="Contiguous"/>
    /// first for a non-contiguous view (that copies).
    /// </remarks>
    /// <exception cref="ArgumentException"><typeparamref name="T"/> does not match the tensor's dtype.</exception>
    /// <exception cref="InvalidOperationException">The tensor is not contiguous.</exception>
    public Span<T> AsSpan<T>() where T : unmanaged
    {
        CheckElementType<T>("AsSpan");
        if (!_isContiguous)
            throw new InvalidOperationException($"AsSpan: the tensor (shape {ShapeUtil.Format(_shape)}, strides {ShapeUtil.Format(_strides)}) is not contiguous; call Contiguous() first (a copy) or use AsTensorSpan<T>(), which handles any layout.");
        _storage.MarkExposed();     // the caller may keep the span after dropping the tensor
        return Data<T>().AsSpan(_offset, NumEl);
    }

    /// <summary>The elements of a contiguous tensor as a read-only span — no copy. See <see cref="AsSpan{T}"/>.</summary>
    public ReadOnlySpan<T> AsReadOnlySpan<T>() where T : unmanaged => AsSpan<T>();

    /// <summary>
    /// A <see cref="TensorSpan{T}"/> over this tensor's storage with its shape and strides — no copy, any layout
    /// (transposed, sliced, expanded). A 0-d tensor becomes a span of shape [1]. Writes are not seen by autograd
    /// (see <see cref="AsSpan{T}"/>).
    /// </summary>
    /// <exception cref="ArgumentException"><typeparamref name="T"/> does not match the tensor's dtype.</exception>
    public TensorSpan<T> AsTensorSpan<T>() where T : unmanaged
    {
        CheckElementType<T>("AsTensorSpan");
        var (start, lengths, strides) = InteropLayout();
        _storage.MarkExposed();
        return new TensorSpan<T>(Data<T>(), start, lengths, strides);
    }

    /// <summary>A read-only <see cref="ReadOnlyTensorSpan{T}"/> over this tensor — no copy. See <see cref="AsTensorSpan{T}"/>.</summary>
    public ReadOnlyTensorSpan<T> AsReadOnlyTensorSpan<T>() where T : unmanaged => AsTensorSpan<T>();

    /// <summary>
    /// A <see cref="System.Numerics.Tensors.Tensor{T}"/> that shares this tensor's storage, shape and strides — no copy,
    /// any layout. A 0-d tensor becomes shape [1] (Tensor&lt;T&gt; has no rank 0). The result is a plain buffer: it does
    /// not carry the autograd graph, and writes to it are not seen by autograd (see <see cref="AsSpan{T}"/>).
    /// </summary>
    /// <exception cref="ArgumentException"><typeparamref name="T"/> does not match the tensor's dtype.</exception>
    public System.Numerics.Tensors.Tensor<T> ToTensor<T>() where T : unmanaged
    {
        CheckElementType<T>("ToTensor");
        var (start, lengths, strides) = InteropLayout();
        _storage.MarkExposed();
        return System.Numerics.Tensors.Tensor.Create(Data<T>(), start, lengths, strides);
    }

    /// <summary>
    /// A DeepSharp tensor over the same memory as <paramref name="tensor"/> (same lengths and strides) when its
    /// layout allows — every <see cref="System.Numerics.Tensors.Tensor{T}"/> created over a managed array does — and
    /// otherwise (a future System.Numerics.Tensors whose internals differ, or lengths/strides beyond int) a contiguous copy.
    /// <see cref="SharesMemory{T}"/> tells which happened. The result is a leaf that does not require grad.
    /// </summary>
    /// <typeparam name="T">float, double, long or bool.</typeparam>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not a DeepSharp element type.</exception>
    public static Tensor FromTensor<T>(System.Numerics.Tensors.Tensor<T> tensor) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(tensor);
        DTypeExtensions.Of<T>();
        if (TensorInternals<T>.TryGetBuffer(tensor, out var array, out int start)
            && TryIntLayout(tensor.Lengths, tensor.Strides, out var shape, out var strides)
            && FitsIn(array.Length, start, shape, strides))
            return new Tensor(new Storage<T>(array), shape, strides, start);
        return FromTensorSpan<T>(tensor.AsReadOnlyTensorSpan());
    }

    /// <summary>
    /// A new contiguous DeepSharp tensor holding a copy of <paramref name="span"/>'s elements (spans cannot be kept, so
    /// this always copies). The result is a leaf that does not require grad.
    /// </summary>
    /// <exception cref="ArgumentException">A length does not fit in an int.</exception>
    public static Tensor FromTensorSpan<T>(ReadOnlyTensorSpan<T> span) where T : unmanaged
    {
        var dtype = DTypeExtensions.Of<T>();
        var shape = new int[span.Rank];
        for (int i = 0; i < shape.Length; i++)
        {
            nint len = span.Lengths[i];
            if (len > int.MaxValue) throw new ArgumentException($"FromTensorSpan: length {len} of dimension {i} exceeds the largest DeepSharp dimension ({int.MaxValue}).");
            shape[i] = (int)len;
        }
        var result = Empty(shape, dtype, zeroed: false);
        if (result.NumEl > 0) span.FlattenTo(result.Data<T>());
        return result;
    }

    /// <summary>
    /// True when <paramref name="tensor"/> and this tensor share memory (what <see cref="FromTensor{T}"/> and
    /// <see cref="ToTensor{T}"/> promise when they do not copy).
    /// </summary>
    public bool SharesMemory<T>(System.Numerics.Tensors.Tensor<T> tensor) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return DType == DTypeExtensions.Of<T>() && TensorInternals<T>.TryGetBuffer(tensor, out var array, out _)
            && ReferenceEquals(array, _storage is Storage<T> s ? s.Data : null);
    }

    private void CheckElementType<T>(string op) where T : unmanaged
    {
        var requested = DTypeExtensions.Of<T>();
        if (requested != DType)
            throw new ArgumentException($"{op}: the tensor holds {DType} but {typeof(T).Name} ({requested}) was requested; convert first with To(DType.{requested}).");
    }

    private (int Start, nint[] Lengths, nint[] Strides) InteropLayout()
    {
        if (_shape.Length == 0) return (_offset, [1], [0]);
        var lengths = new nint[_shape.Length];
        var strides = new nint[_shape.Length];
        bool empty = NumEl == 0;
        for (int i = 0; i < lengths.Length; i++)
        {
            lengths[i] = _shape[i];
            // System.Numerics.Tensors 10 rejects a nonzero stride on a dimension of length 1 and an empty view at the
            // end of its array; those strides (and, with no elements, the start) are never used, so pass 0.
            strides[i] = empty || _shape[i] == 1 ? 0 : _strides[i];
        }
        return (empty ? 0 : _offset, lengths, strides);
    }

    private static bool TryIntLayout(ReadOnlySpan<nint> lengths, ReadOnlySpan<nint> strides, out int[] shape, out int[] intStrides)
    {
        shape = new int[lengths.Length];
        intStrides = new int[lengths.Length];
        for (int i = 0; i < lengths.Length; i++)
        {
            if (lengths[i] < 0 || lengths[i] > int.MaxValue || strides[i] < 0 || strides[i] > int.MaxValue) return false;
            shape[i] = (int)lengths[i];
            intStrides[i] = (int)strides[i];
        }
        return true;
    }

    private static bool FitsIn(int arrayLength, int start, int[] shape, int[] strides)
    {
        if (start < 0 || start > arrayLength) return false;
        long last = start;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == 0) return true;
            last += (long)(shape[i] - 1) * strides[i];
        }
        return last < arrayLength;
    }

    /// <summary>Reads Tensor&lt;T&gt;'s backing array and start (private fields in System.Numerics.Tensors 10) without
    /// reflection, so that it also works trimmed and under NativeAOT; reports false if the fields are gone.</summary>
    private static class TensorInternals<T>
    {
        private static bool _unavailable;

        [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_values")]
        private static extern ref T[] Values(System.Numerics.Tensors.Tensor<T> tensor);

        [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_start")]
        private static extern ref int Start(System.Numerics.Tensors.Tensor<T> tensor);

        public static bool TryGetBuffer(System.Numerics.Tensors.Tensor<T> tensor, out T[] array, out int start)
        {
            array = [];
            start = 0;
            if (_unavailable) return false;
            try
            {
                array = Values(tensor);
                start = Start(tensor);
                return array is not null;
            }
            catch (MissingFieldException)
            {
                _unavailable = true;
                return false;
            }
        }
    }
}
