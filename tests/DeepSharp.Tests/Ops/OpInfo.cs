using System.Globalization;
using System.Text;
using FsCheck;

namespace DeepSharp.Tests.Ops;

/// <summary>One concrete call of an op: its inputs (those that require grad are gradient-checked) and how to call it.</summary>
public sealed class OpSample(string description, Tensor[] inputs, Func<Tensor[], Tensor[]> call)
{
    public string Description { get; } = description;
    public Tensor[] Inputs { get; } = inputs;
    public Func<Tensor[], Tensor[]> Call { get; } = call;

    public OpSample(string description, Tensor[] inputs, Func<Tensor[], Tensor> call) : this(description, inputs, xs => [call(xs)]) { }

    public override string ToString()
    {
        var sb = new StringBuilder(Description);
        for (int i = 0; i < Inputs.Length; i++)
        {
            var t = Inputs[i];
            sb.Append(CultureInfo.InvariantCulture, $"\n  input {i}: shape [{string.Join(", ", t.Shape)}] strides [{string.Join(", ", t.Strides)}] offset {t.StorageOffset} {t.DType}{(t.RequiresGrad ? " requires grad" : "")}\n    {t}");
        }
        return sb.ToString();
    }
}

/// <summary>
/// A catalog entry (PyTorch's OpInfo): a name, a generator of samples over the op's valid domain, and the public
/// <see cref="Tensor"/> members it exercises (for the coverage test). Every entry is also second-order checked
/// (GradGradCheck); an op that cannot be would set GradGrad: false and be listed in docs/autograd.md with the reason.
/// </summary>
public sealed record OpInfo(string Name, Gen<OpSample> Samples, string[] Covers, int MaxTest = 15, bool GradGrad = true)
{
    public override string ToString() => Name;
}
