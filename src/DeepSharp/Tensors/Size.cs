using System.Collections;
using System.Globalization;
using System.Text;

namespace DeepSharp;

/// <summary>
/// The sizes of a tensor's dimensions, like <c>torch.Size</c>: an immutable list of ints that prints as
/// <c>[2, 3]</c>. <see cref="Tensor.Shape"/> returns one. It indexes (<c>shape[0]</c>, <c>shape[^1]</c>), slices
/// (<c>shape[1..]</c>), enumerates, compares equal to another <see cref="Size"/> or to an <c>int[]</c> with the same
/// values, and converts implicitly to <c>int[]</c> (a copy) and <c>ReadOnlySpan&lt;int&gt;</c>, so it can be passed
/// wherever a shape is taken (<c>Tensor.Zeros(x.Shape)</c>, <c>y.Reshape(x.Shape)</c>).
/// </summary>
/// <remarks>The default value is the empty size <c>[]</c> (a scalar's shape).</remarks>
public readonly struct Size : IReadOnlyList<int>, IEquatable<Size>, IEquatable<int[]>
{
    private readonly int[]? _dims;

    /// <summary>A size with the given dimensions (copied).</summary>
    public Size(params int[] dims) => _dims = dims.Length == 0 ? null : (int[])dims.Clone();

    /// <summary>A size with the given dimensions (copied).</summary>
    public Size(ReadOnlySpan<int> dims) => _dims = dims.IsEmpty ? null : dims.ToArray();

    // Takes ownership of an array nobody else writes to.
    private Size(int[] dims, bool owned) => _dims = dims.Length == 0 ? null : dims;

    internal static Size Own(int[] dims) => new(dims, owned: true);

    private ReadOnlySpan<int> Dims => _dims;

    /// <summary>The number of dimensions (<c>len(size)</c>).</summary>
    public int Length => _dims?.Length ?? 0;

    /// <summary>The number of dimensions (same as <see cref="Length"/>).</summary>
    public int Count => Length;

    /// <summary>The size of dimension <paramref name="dim"/>.</summary>
    /// <exception cref="IndexOutOfRangeException">When <paramref name="dim"/> is not in <c>[0, Length)</c>.</exception>
    public int this[int dim]
    {
        get
        {
            if ((uint)dim >= (uint)Length)
                throw new IndexOutOfRangeException($"Size: index {dim} is out of range for a size {this} of {Length} dimension(s).");
            return _dims![dim];
        }
    }

    /// <summary>The size of a dimension counted from either end (<c>shape[^1]</c> is the last).</summary>
    public int this[Index dim] => this[dim.GetOffset(Length)];

    /// <summary>A slice of the sizes (<c>shape[1..]</c>), as a new <see cref="Size"/>.</summary>
    public Size this[Range range]
    {
        get
        {
            var (start, len) = range.GetOffsetAndLength(Length);
            return new Size(Dims.Slice(start, len));
        }
    }

    /// <summary>The number of elements a tensor of this size holds (<c>size.numel()</c>).</summary>
    public int NumEl
    {
        get
        {
            int n = 1;
            foreach (int d in Dims) n *= d;
            return n;
        }
    }

    /// <summary>A new array holding the sizes.</summary>
    public int[] ToArray() => Dims.ToArray();

    /// <summary>The sizes as a read-only span (no copy).</summary>
    public ReadOnlySpan<int> AsSpan() => Dims;

    /// <summary>A copy of the sizes as an <c>int[]</c>, for APIs that take arrays.</summary>
    public static implicit operator int[](Size size) => size.ToArray();

    /// <summary>The sizes as a read-only span (no copy).</summary>
    public static implicit operator ReadOnlySpan<int>(Size size) => size.Dims;

    /// <summary>A size holding the given dimensions (copied).</summary>
    public static implicit operator Size(int[] dims) => new(dims);

    /// <summary>True when both have the same number of dimensions with the same sizes.</summary>
    public bool Equals(Size other) => Dims.SequenceEqual(other.Dims);

    /// <summary>True when <paramref name="other"/> holds the same sizes.</summary>
    public bool Equals(int[]? other) => other is not null && Dims.SequenceEqual(other);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj switch
    {
        Size s => Equals(s),
        int[] a => Equals(a),
        _ => false,
    };

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (int d in Dims) h.Add(d);
        return h.ToHashCode();
    }

    /// <summary>Equal sizes.</summary>
    public static bool operator ==(Size a, Size b) => a.Equals(b);

    /// <summary>Different sizes.</summary>
    public static bool operator !=(Size a, Size b) => !a.Equals(b);

    /// <summary>The sizes in brackets, as PyTorch prints them inside <c>torch.Size(...)</c>: <c>[2, 3]</c>.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < Length; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append(_dims![i].ToString(CultureInfo.InvariantCulture));
        }
        return sb.Append(']').ToString();
    }

    /// <summary>An enumerator over the sizes (no allocation in <c>foreach</c>).</summary>
    public Enumerator GetEnumerator() => new(_dims);

    IEnumerator<int> IEnumerable<int>.GetEnumerator() => ((IEnumerable<int>)(_dims ?? [])).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => ((IEnumerable<int>)this).GetEnumerator();

    /// <summary>Enumerates the sizes of a <see cref="Size"/>.</summary>
    public struct Enumerator
    {
        private readonly int[]? _dims;
        private int _i;

        internal Enumerator(int[]? dims)
        {
            _dims = dims;
            _i = -1;
        }

        /// <summary>The current size.</summary>
        public readonly int Current => _dims![_i];

        /// <summary>Moves to the next size.</summary>
        public bool MoveNext() => ++_i < (_dims?.Length ?? 0);
    }
}
