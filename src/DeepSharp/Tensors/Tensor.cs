using System.Numerics;
using System.Runtime.InteropServices;

namespace DeepSharp;

/// <summary>
/// An n-dimensional array with reverse-mode automatic differentiation, like <c>torch.Tensor</c>.
/// A tensor is a view (shape, strides, offset) onto a <see cref="Storage"/> that views share.
/// This file holds the layout and autograd state; ops live in the <c>Ops/</c> folder as partials.
/// </summary>
public sealed partial class Tensor : IDisposable
{
    internal readonly Storage _storage;
    internal readonly int[] _shape;
    internal readonly int[] _strides;
    internal readonly int _offset;
    internal readonly bool _isContiguous;

    // Autograd state. A tensor with a GradFn is the output of a recorded op; a leaf has none.
    internal Node? _gradFn;
    private bool _requiresGrad;

    /// <summary>The tensor this one is a view of, if any (PyTorch's <c>._base</c>).</summary>
    internal Tensor? _base;

    /// <summary>For a view: its base's history when the view's own history was made. When an in-place op changes
    /// the base's history (on the base or through another view), the view's history is regenerated from the base
    /// on next use (<see cref="RefreshViewHistory"/>), as PyTorch does.</summary>
    internal Node? _viewOfBaseFn;

    internal Tensor(Storage storage, int[] shape, int[] strides, int offset)
    {
        _storage = storage;
        _shape = shape;
        _strides = strides;
        _offset = offset;
        _isContiguous = ShapeUtil.IsContiguous(shape, strides);
    }

    /// <summary>A new contiguous tensor over a fresh (zeroed) storage.</summary>
    internal static Tensor Empty(ReadOnlySpan<int> shape, DType dtype, bool zeroed = true)
    {
        ShapeUtil.CheckShape(shape, "Empty");
        int n = ShapeUtil.Numel(shape);
        var storage = zeroed ? Storage.Allocate(dtype, n) : Storage.AllocateUninitialized(dtype, n);
        return new Tensor(storage, shape.ToArray(), ShapeUtil.ContiguousStrides(shape), 0);
    }

    internal static Tensor Wrap<T>(T[] data, int[] shape) where T : unmanaged =>
        new(new Storage<T>(data), shape, ShapeUtil.ContiguousStrides(shape), 0);

    /// <summary>The element type.</summary>
    public DType DType => _storage.DType;

    /// <summary>The sizes of each dimension, as a <see cref="DeepSharp.Size"/> (<c>torch.Size</c>) that prints as
    /// <c>[2, 3]</c>; use <see cref="Size(int)"/> for one dim and <see cref="DeepSharp.Size.ToArray"/> for an array.</summary>
    public DeepSharp.Size Shape => DeepSharp.Size.Own(_shape);

    /// <summary>The strides of each dimension, in elements (a copy).</summary>
    public int[] Strides => (int[])_strides.Clone();

    /// <summary>The offset of the first element in the underlying storage.</summary>
    public int StorageOffset => _offset;

    /// <summary>The number of dimensions (<c>dim()</c> in PyTorch).</summary>
    public int Dim => _shape.Length;

    /// <summary>The number of elements (<c>numel()</c>).</summary>
    public int NumEl => ShapeUtil.Numel(_shape);

    /// <summary>The size of one dimension; negative dims count from the end.</summary>
    public int Size(int dim) => _shape[ShapeUtil.WrapExistingDim(dim, Dim, "Size")];

    /// <summary>True when the elements are laid out in row-major order without gaps.</summary>
    public bool IsContiguous => _isContiguous;

    /// <summary>The storage version, bumped by every in-place write (PyTorch's <c>_version</c>).</summary>
    public int Version => _storage.Version;

    // ---------------------------------------------------------------- autograd state

    /// <summary>
    /// Whether gradients are computed for this tensor. Settable only on leaves (as PyTorch); outputs of
    /// recorded ops require grad when any input does.
    /// </summary>
    public bool RequiresGrad
    {
        get
        {
            if (_base is not null) RefreshViewHistory();
            return _requiresGrad || _gradFn is not null;
        }
        set
        {
            if (_gradFn is not null && !value)
                throw new InvalidOperationException("RequiresGrad: you can only change requires_grad flags of leaf tensors; use Detach() to get a tensor that does not require grad.");
            if (value && !DType.IsFloatingPoint())
                throw new InvalidOperationException($"RequiresGrad: only floating-point tensors can require gradients (this tensor is {DType}).");
            _requiresGrad = value;
        }
    }

    /// <summary>Sets <see cref="RequiresGrad"/> in place and returns this tensor (PyTorch's <c>requires_grad_()</c>).</summary>
    public Tensor RequiresGrad_(bool requiresGrad = true)
    {
        RequiresGrad = requiresGrad;
        return this;
    }

    /// <summary>The accumulated gradient of a leaf after <see cref="Backward"/>, or null. A gradient belongs to its
    /// tensor: it is never released by a <see cref="DisposeScope"/>.</summary>
    public Tensor? Grad
    {
        get => _grad;
        set => _grad = DisposeScope.Keep(value);
    }

    private Tensor? _grad;

    /// <summary>The node that produced this tensor in the autograd graph (null for leaves).</summary>
    public Node? GradFn
    {
        get
        {
            RefreshViewHistory();
            return _gradFn;
        }
    }

    /// <summary>True when this tensor was not produced by a recorded op.</summary>
    public bool IsLeaf => _gradFn is null;

    /// <summary>A tensor that shares storage with this one but is cut from the graph.</summary>
    public Tensor Detach() => new(_storage, _shape, _strides, _offset);

    /// <summary>Runs reverse-mode differentiation from this tensor, accumulating into leaves' <see cref="Grad"/>.</summary>
    /// <param name="gradient">d(something)/d(this); may be omitted only for a single-element tensor.</param>
    /// <param name="retainGraph">Keep the saved tensors so the graph can be differentiated again.</param>
    /// <param name="createGraph">Record the backward pass itself, for higher-order gradients.</param>
    public void Backward(Tensor? gradient = null, bool retainGraph = false, bool createGraph = false)
    {
        RefreshViewHistory();
        Engine.Backward(this, gradient, retainGraph, createGraph);
        Recycler.SafePoint();   // called from user code: no op of this thread is running (see Recycler)
    }

    // ---------------------------------------------------------------- typed access (internal)

    internal T[] Data<T>() where T : unmanaged
    {
        var storage = (Storage<T>)_storage;
        storage.NoteAccess();
        var data = storage.Data;
        if (data.Length == 0 && _storage.IsReleased) ThrowDisposed();
        return data;
    }

    internal void ThrowIfDisposed()
    {
        _storage.NoteAccess();
        if (_storage.IsReleased) ThrowDisposed();
    }

    private static void ThrowDisposed() =>
        throw new ObjectDisposedException(nameof(Tensor), "The tensor's storage was released (Tensor.Dispose() on it or on a view sharing its storage).");

    /// <summary>
    /// Releases the storage now, so a large buffer goes back to DeepSharp's buffer pool instead of waiting for
    /// the GC. Every tensor sharing the storage (views, <see cref="Detach"/>ed copies, the base) becomes unusable
    /// and throws <see cref="ObjectDisposedException"/> on access. Optional: tensors you do not dispose are
    /// reclaimed by the GC as usual. Do not dispose a tensor that an autograd graph still needs (a saved input of
    /// an op whose backward has not run) or that another thread is using. See docs/performance.md.
    /// </summary>
    public void Dispose() => _storage.Release();

    /// <summary>True once this tensor's storage was released by <see cref="Dispose"/>.</summary>
    public bool IsDisposed => _storage.IsReleased;

    /// <summary>Moves this tensor's storage from the <see cref="DisposeScope"/> that owns it to the enclosing one (or
    /// out of every scope), so it survives the end of the owning scope (TorchSharp's name). Returns this tensor.</summary>
    public Tensor MoveToOuterDisposeScope() => _storage.Scope is { } scope ? scope.MoveToOuter(this) : this;

    /// <summary>Takes this tensor's storage out of every <see cref="DisposeScope"/>: it lives until the GC finds it
    /// unreachable or it is disposed (TorchSharp's name). Returns this tensor.</summary>
    public Tensor DetachFromDisposeScope() => DisposeScope.Keep(this)!;

    /// <summary>The elements of a contiguous tensor as a span (caller guarantees contiguity).</summary>
    internal Span<T> Span<T>() where T : unmanaged
    {
        System.Diagnostics.Debug.Assert(_isContiguous);
        return Data<T>().AsSpan(_offset, NumEl);
    }

    internal ReadOnlySpan<T> ReadSpan<T>() where T : unmanaged => Span<T>();

    internal void BumpVersion() => _storage.Version++;

    internal void CheckFloating(string op)
    {
        if (!DType.IsFloatingPoint())
            throw NotFloating(op, DType);
    }

    internal static void CheckSameDType(Tensor a, Tensor b, string op)
    {
        if (a.DType != b.DType)
            throw new ArgumentException($"{op}: expected both tensors to have the same dtype, but got {a.DType} and {b.DType}; convert one explicitly with To(DType).");
    }

    /// <summary>
    /// The one dtype dispatch: runs <c>f.Run&lt;float&gt;()</c> or <c>f.Run&lt;double&gt;()</c> for a floating
    /// <paramref name="dtype"/>. Each op writes its body once as a generic <c>Run&lt;T&gt;</c> of a small struct.
    /// </summary>
    internal static void DispatchFloat<F>(DType dtype, string op, F f) where F : struct, IFloatFunc
    {
        switch (dtype)
        {
            case DType.Float32: f.Run<float>(); break;
            case DType.Float64: f.Run<double>(); break;
            default: throw NotFloating(op, dtype);
        }
    }

    /// <summary>Like <see cref="DispatchFloat{F}"/> for a body that returns a value.</summary>
    internal static TResult DispatchFloat<F, TResult>(DType dtype, string op, F f) where F : struct, IFloatFunc<TResult> =>
        dtype switch
        {
            DType.Float32 => f.Run<float>(),
            DType.Float64 => f.Run<double>(),
            _ => throw NotFloating(op, dtype),
        };

    private static ArgumentException NotFloating(string op, DType dtype) =>
        new($"{op}: expected a floating-point tensor (Float32 or Float64) but got {dtype}; convert with To(DType.Float32).");
}

/// <summary>An op body written once for float and double (see <see cref="Tensor.DispatchFloat{F}"/>).</summary>
internal interface IFloatFunc
{
    /// <summary>The body for element type <typeparamref name="T"/>.</summary>
    void Run<T>() where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>An op body returning a value, written once for float and double.</summary>
internal interface IFloatFunc<out TResult>
{
    /// <summary>The body for element type <typeparamref name="T"/>.</summary>
    TResult Run<T>() where T : unmanaged, IFloatingPointIeee754<T>;
}
