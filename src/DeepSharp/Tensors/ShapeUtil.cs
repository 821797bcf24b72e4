using System.Text;

namespace DeepSharp;

/// <summary>Shape arithmetic shared by tensors and ops: element counts, strides, broadcasting, dim wrapping.</summary>
internal static class ShapeUtil
{
    public static int Numel(ReadOnlySpan<int> shape)
    {
        // Any zero makes the tensor empty, whatever the other sizes; otherwise stop multiplying once past the limit so
        // that many large dims cannot wrap around a long. The limit is the largest .NET array, not int.MaxValue.
        foreach (int d in shape) if (d == 0) return 0;
        long n = 1;
        foreach (int d in shape)
        {
            n *= d;
            if (n > Array.MaxLength || n < 0)
                throw new ArgumentException($"A tensor of shape {Format(shape)} has more than {Array.MaxLength} elements, the most a .NET array holds.");
        }
        return (int)n;
    }

    public static int[] ContiguousStrides(ReadOnlySpan<int> shape)
    {
        var strides = new int[shape.Length];
        int s = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = s;
            s *= Math.Max(shape[i], 1);
        }
        return strides;
    }

    public static bool IsContiguous(ReadOnlySpan<int> shape, ReadOnlySpan<int> strides)
    {
        int expected = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            if (shape[i] == 1) continue;
            if (strides[i] != expected) return false;
            expected *= shape[i];
        }
        return true;
    }

    public static string Format(ReadOnlySpan<int> shape)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < shape.Length; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append(shape[i]);
        }
        return sb.Append(']').ToString();
    }

    /// <summary>Wraps a possibly negative dim into [0, rank); throws naming the op when out of range.</summary>
    public static int WrapDim(int dim, int rank, string op)
    {
        int r = Math.Max(rank, 1); // a 0-d tensor accepts dim 0 and -1, as PyTorch
        if (dim < -r || dim >= r)
            throw new ArgumentOutOfRangeException(nameof(dim), $"{op}: dimension {dim} is out of range for a tensor of rank {rank} (expected to be in [{-r}, {r - 1}]).");
        return dim < 0 ? dim + r : dim;
    }

    /// <summary>Like <see cref="WrapDim"/> for ops that index the shape at the dim (size, narrow, slice, split, …),
    /// which have no dim to index on a 0-d tensor.</summary>
    public static int WrapExistingDim(int dim, int rank, string op)
    {
        if (rank == 0)
            throw new ArgumentException($"{op}: dimension specified as {dim} but the tensor has no dimensions (it is 0-d).");
        return WrapDim(dim, rank, op);
    }

    /// <summary>The NumPy/PyTorch broadcast of two shapes.</summary>
    public static int[] Broadcast(ReadOnlySpan<int> a, ReadOnlySpan<int> b, string op)
    {
        int rank = Math.Max(a.Length, b.Length);
        var result = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            int db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException($"{op}: shapes {Format(a)} and {Format(b)} cannot be broadcast together (dimension {i}: {da} vs {db}).");
            result[i] = da == 1 ? db : da;
        }
        return result;
    }

    /// <summary>Strides that read a tensor of (shape, strides) as if expanded to <paramref name="target"/> (0 on broadcast dims).</summary>
    public static int[] BroadcastStrides(ReadOnlySpan<int> shape, ReadOnlySpan<int> strides, ReadOnlySpan<int> target)
    {
        var result = new int[target.Length];
        int lead = target.Length - shape.Length;
        for (int i = 0; i < target.Length; i++)
        {
            if (i < lead) { result[i] = 0; continue; }
            int d = shape[i - lead];
            result[i] = d == 1 && target[i] != 1 ? 0 : strides[i - lead];
        }
        return result;
    }

    public static bool SameShape(ReadOnlySpan<int> a, ReadOnlySpan<int> b) => a.SequenceEqual(b);

    /// <summary>Resolves a single -1 in a requested shape and checks the element count.</summary>
    public static int[] InferShape(ReadOnlySpan<int> requested, int numel, string op, ReadOnlySpan<int> from)
    {
        var shape = requested.ToArray();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == -1)
            {
                if (infer >= 0) throw new ArgumentException($"{op}: only one dimension can be inferred (-1) in {Format(requested)}.");
                infer = i;
            }
            else if (shape[i] < 0) throw new ArgumentException($"{op}: invalid size {shape[i]} in shape {Format(requested)}.");
            else known *= shape[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || numel % known != 0)
                throw new ArgumentException($"{op}: shape {Format(requested)} is invalid for input of shape {Format(from)} ({numel} elements).");
            shape[infer] = (int)(numel / known);
        }
        else if (known != numel)
            throw new ArgumentException($"{op}: shape {Format(requested)} is invalid for input of shape {Format(from)} ({numel} elements).");
        return shape;
    }

    public static void CheckShape(ReadOnlySpan<int> shape, string op)
    {
        foreach (int d in shape)
            if (d < 0) throw new ArgumentException($"{op}: negative dimension {d} in shape {Format(shape)}.");
        Numel(shape);
    }
}
