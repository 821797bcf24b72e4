namespace DeepSharp;

// Einstein summation. One path for every equation: diagonals of repeated labels and labels summed away are
// taken per operand, then operands are contracted left to right, each pair permuted and reshaped into one
// batched MatMul [batch, left, k] × [batch, k, right] (the GEMM), and the result permuted to the output order.
// Everything is built from differentiable ops, so einsum supports higher-order gradients.
public sealed partial class Tensor
{
    /// <summary>
    /// Einstein summation (<c>torch.einsum</c>), e.g. <c>"bij,bjk->bik"</c> (batched matmul), <c>"i,j->ij"</c> (outer
    /// product), <c>"ij->ji"</c>, <c>"ii->"</c> (trace), <c>"ij->"</c>, <c>"...ij,...jk"</c>. Without <c>-&gt;</c> the output is
    /// the labels that appear once, in alphabetical order. Size-1 dims broadcast against the same label's size.
    /// </summary>
    public static Tensor Einsum(string equation, params Tensor[] operands)
    {
        ArgumentNullException.ThrowIfNull(equation);
        ArgumentNullException.ThrowIfNull(operands);
        var eq = equation.Replace(" ", "", StringComparison.Ordinal);
        int arrow = eq.IndexOf("->", StringComparison.Ordinal);
        var lhs = arrow >= 0 ? eq[..arrow] : eq;
        var inputs = lhs.Split(',');
        if (inputs.Length != operands.Length)
            throw new ArgumentException($"Einsum: the equation \"{equation}\" names {inputs.Length} operand(s) but {operands.Length} were given.");
        if (operands.Length == 0) throw new ArgumentException("Einsum: at least one operand is required.");
        string Shapes() => string.Join(", ", operands.Select(o => ShapeUtil.Format(o._shape)));
        foreach (var o in operands) CheckSameDType(operands[0], o, "Einsum");

        // Labels as ints: letters by char code, ellipsis dims as 1000 + (position from the right).
        int ellipsisRank = 0;
        var labels = new List<int>[operands.Length];
        for (int k = 0; k < operands.Length; k++)
        {
            labels[k] = ParseLabels(inputs[k], operands[k].Dim, equation, Shapes);
            ellipsisRank = Math.Max(ellipsisRank, labels[k].Count(l => l >= 1000));
        }
        List<int> output;
        if (arrow >= 0)
        {
            output = ParseLabels(eq[(arrow + 2)..], -1, equation, Shapes, ellipsisRank);
            if (output.Distinct().Count() != output.Count)
                throw new ArgumentException($"Einsum: output subscript in \"{equation}\" names a label more than once.");
            foreach (int l in output)
                if (l < 1000 && !labels.Any(ls => ls.Contains(l)))
                    throw new ArgumentException($"Einsum: output label '{(char)l}' in \"{equation}\" does not appear in any input.");
        }
        else
        {
            var counts = labels.SelectMany(ls => ls.Where(l => l < 1000)).GroupBy(l => l).Where(g => g.Count() == 1).Select(g => g.Key).Order();
            output = [.. Enumerable.Range(0, ellipsisRank).Select(i => 1000 + ellipsisRank - 1 - i), .. counts];
        }

        // One size per label; size-1 dims broadcast.
        var size = new Dictionary<int, int>();
        for (int k = 0; k < operands.Length; k++)
            for (int i = 0; i < labels[k].Count; i++)
            {
                int l = labels[k][i], s = operands[k]._shape[i];
                if (!size.TryGetValue(l, out int have) || have == 1) size[l] = s;
                else if (s != have && s != 1)
                    throw new ArgumentException($"Einsum: label {LabelName(l)} has size {have} in one place and {s} in another (equation \"{equation}\", operand shapes {Shapes()}).");
            }
        foreach (int l in output) size.TryAdd(l, 1);

        var ts = new Tensor[operands.Length];
        for (int k = 0; k < operands.Length; k++)
        {
            var t = operands[k].Expand(labels[k].Select(l => size[l]).ToArray());
            var ls = labels[k];
            t = TakeDiagonals(t, ls);
            // Labels no other operand and not the output needs are summed away now.
            var alone = ls.Where(l => !output.Contains(l) && !Enumerable.Range(0, operands.Length).Any(j => j != k && labels[j].Contains(l))).ToList();
            if (alone.Count > 0)
            {
                t = t.Sum(alone.Select(l => ls.IndexOf(l)).ToArray());
                ls = ls.Where(l => !alone.Contains(l)).ToList();
            }
            ts[k] = t;
            labels[k] = ls;
        }

        var acc = ts[0];
        var accLabels = labels[0];
        for (int k = 1; k < ts.Length; k++)
        {
            var needed = new HashSet<int>(output);
            for (int j = k + 1; j < ts.Length; j++) needed.UnionWith(labels[j]);
            (acc, accLabels) = Contract(acc, accLabels, ts[k], labels[k], needed, size);
        }
        // Whatever the output does not name is summed (a single operand's "ij->i"), then dims are put in output order.
        var extra = accLabels.Where(l => !output.Contains(l)).ToList();
        if (extra.Count > 0)
        {
            acc = acc.Sum(extra.Select(l => accLabels.IndexOf(l)).ToArray());
            accLabels = accLabels.Where(l => !extra.Contains(l)).ToList();
        }
        foreach (int l in output)
            if (!accLabels.Contains(l)) { acc = acc.Unsqueeze(acc.Dim); accLabels.Add(l); }   // ellipsis dims no input had
        var perm = output.Select(l => accLabels.IndexOf(l)).ToArray();
        var result = acc.Permute(perm);
        return ReferenceEquals(result, operands[0]) ? result.Clone() : result;
    }

    private static string LabelName(int l) => l >= 1000 ? $"... dim {l - 1000}" : $"'{(char)l}'";

    /// <summary>Subscript letters as labels; "..." expands to the ellipsis labels (rank known for inputs, given for the output).</summary>
    private static List<int> ParseLabels(string s, int rank, string equation, Func<string> shapes, int outputEllipsis = 0)
    {
        int dots = s.IndexOf("...", StringComparison.Ordinal);
        var letters = dots >= 0 ? s.Remove(dots, 3) : s;
        if (letters.Contains('.', StringComparison.Ordinal))
            throw new ArgumentException($"Einsum: invalid subscript \"{s}\" in \"{equation}\" (an ellipsis is written '...', once per operand).");
        foreach (char c in letters)
            if (!char.IsAsciiLetter(c))
                throw new ArgumentException($"Einsum: invalid subscript character '{c}' in \"{equation}\"; labels are the letters a-z and A-Z.");
        int ell = dots < 0 ? 0 : rank < 0 ? outputEllipsis : rank - letters.Length;
        if (rank >= 0 && (dots < 0 ? letters.Length != rank : ell < 0))
            throw new ArgumentException($"Einsum: subscript \"{s}\" in \"{equation}\" names {letters.Length} dims but its operand has {rank} (operand shapes {shapes()}).");
        var result = new List<int>();
        int before = dots < 0 ? letters.Length : dots;
        for (int i = 0; i < before; i++) result.Add(letters[i]);
        for (int i = 0; i < ell; i++) result.Add(1000 + ell - 1 - i);
        for (int i = before; i < letters.Length; i++) result.Add(letters[i]);
        return result;
    }

    /// <summary>For a label repeated within one operand, keeps only its diagonal (mask with the identity, sum one copy away).</summary>
    private static Tensor TakeDiagonals(Tensor t, List<int> ls)
    {
        for (int i = 0; i < ls.Count; i++)
        {
            int j;
            while ((j = ls.IndexOf(ls[i], i + 1)) >= 0)
            {
                int n = t._shape[i];
                var maskShape = Enumerable.Repeat(1, t.Dim).ToArray();
                maskShape[i] = n; maskShape[j] = n;
                var eye = Eye(n, null, DType.Int64).Eq(1.0).Reshape(maskShape);
                t = Where(eye, t, 0.0).Sum(j);
                ls.RemoveAt(j);
            }
        }
        return t;
    }

    /// <summary>Contracts two labelled operands through one batched MatMul; keeps the labels in <paramref name="needed"/>.</summary>
    private static (Tensor, List<int>) Contract(Tensor a, List<int> la, Tensor b, List<int> lb, HashSet<int> needed, Dictionary<int, int> size)
    {
        // Labels only one side has and nothing later needs are summed first.
        (a, la) = SumUnneeded(a, la, lb, needed);
        (b, lb) = SumUnneeded(b, lb, la, needed);
        var batch = la.Where(l => lb.Contains(l) && needed.Contains(l)).ToList();
        var summed = la.Where(l => lb.Contains(l) && !needed.Contains(l)).ToList();
        var left = la.Where(l => !lb.Contains(l)).ToList();
        var right = lb.Where(l => !la.Contains(l)).ToList();
        int Prod(List<int> ls) => ls.Aggregate(1, (p, l) => p * size[l]);
        var am = a.Permute([.. batch.Concat(left).Concat(summed).Select(l => la.IndexOf(l))]).Reshape(Prod(batch), Prod(left), Prod(summed));
        var bm = b.Permute([.. batch.Concat(summed).Concat(right).Select(l => lb.IndexOf(l))]).Reshape(Prod(batch), Prod(summed), Prod(right));
        var c = am.MatMul(bm);
        var outLabels = batch.Concat(left).Concat(right).ToList();
        return (c.Reshape(outLabels.Select(l => size[l]).ToArray()), outLabels);
    }

    private static (Tensor, List<int>) SumUnneeded(Tensor t, List<int> ls, List<int> other, HashSet<int> needed)
    {
        var drop = ls.Where(l => !other.Contains(l) && !needed.Contains(l)).ToList();
        if (drop.Count == 0) return (t, ls);
        return (t.Sum(drop.Select(l => ls.IndexOf(l)).ToArray()), ls.Where(l => !drop.Contains(l)).ToList());
    }
}
