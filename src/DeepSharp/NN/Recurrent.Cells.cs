namespace DeepSharp.NN;

/// <summary>
/// One step of a recurrent cell, the shared part of <see cref="LSTMCell"/> and <see cref="GRUCell"/> (PyTorch's
/// <c>nn.RNNCellBase</c>): parameters <c>weight_ih</c> [G·H, inputSize], <c>weight_hh</c> [G·H, H], <c>bias_ih</c>
/// and <c>bias_hh</c> [G·H], initialised U(−1/√H, 1/√H). Input is [B, inputSize] or unbatched [inputSize].
/// </summary>
public abstract class RecurrentCellBase : Module
{
    private protected RecurrentCellBase(int gates, int inputSize, int hiddenSize, bool bias, DType dtype, Generator? generator)
    {
        if (inputSize <= 0 || hiddenSize <= 0)
            throw new ArgumentOutOfRangeException(nameof(inputSize), $"{TypeName}: inputSize and hiddenSize must be positive, got {inputSize} and {hiddenSize}.");
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        double k = 1 / Math.Sqrt(hiddenSize);
        foreach (var (name, shape) in new (string, int[])[]
                 {
                     ("weight_ih", [gates * hiddenSize, inputSize]), ("weight_hh", [gates * hiddenSize, hiddenSize]),
                     ("bias_ih", [gates * hiddenSize]), ("bias_hh", [gates * hiddenSize]),
                 })
        {
            if (!bias && name.StartsWith("bias", StringComparison.Ordinal)) { RegisterParameter(name, null); continue; }
            Init.Uniform(RegisterParameter(name, Tensor.Zeros(shape, dtype))!, -k, k, generator);
        }
    }

    /// <summary>Features of the input.</summary>
    public int InputSize { get; }

    /// <summary>Features of the hidden state.</summary>
    public int HiddenSize { get; }

    /// <summary>Input-to-hidden weights (parameter <c>weight_ih</c>).</summary>
    public Tensor WeightIh => GetParameter("weight_ih")!;

    /// <summary>Hidden-to-hidden weights (parameter <c>weight_hh</c>).</summary>
    public Tensor WeightHh => GetParameter("weight_hh")!;

    /// <summary>Input-to-hidden bias (parameter <c>bias_ih</c>), or null.</summary>
    public Tensor? BiasIh => GetParameter("bias_ih");

    /// <summary>Hidden-to-hidden bias (parameter <c>bias_hh</c>), or null.</summary>
    public Tensor? BiasHh => GetParameter("bias_hh");

    /// <summary>Checks the input; returns it batched [B, inputSize].</summary>
    private protected (Tensor X, bool Unbatched) PrepareInput(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Dim is not (1 or 2) || input.Shape[^1] != InputSize)
            throw new ArgumentException($"{TypeName}: expected input of shape [B, {InputSize}] (or unbatched [{InputSize}]), got {ShapeUtil.Format(input._shape)}.");
        if (input.DType != WeightIh.DType)
            throw new ArgumentException($"{TypeName}: input dtype {input.DType} does not match the parameters' dtype {WeightIh.DType}.");
        return input.Dim == 1 ? (input.Unsqueeze(0), true) : (input, false);
    }

    /// <summary>Checks a state tensor ([B, H], or [H] unbatched); zeros when null.</summary>
    private protected Tensor PrepareState(Tensor? state, string name, Tensor x, bool unbatched)
    {
        if (state is null) return Tensor.Zeros([x.Shape[0], HiddenSize], x.DType);
        int[] expected = unbatched ? [HiddenSize] : [x.Shape[0], HiddenSize];
        if (!ShapeUtil.SameShape(state._shape, expected))
            throw new ArgumentException($"{TypeName}: expected {name} of shape {ShapeUtil.Format(expected)} for input {ShapeUtil.Format(x._shape)}, got {ShapeUtil.Format(state._shape)}.");
        if (state.DType != x.DType) throw new ArgumentException($"{TypeName}: {name} dtype {state.DType} does not match the input dtype {x.DType}.");
        return unbatched ? state.Unsqueeze(0) : state;
    }

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"{InputSize}, {HiddenSize}" + (BiasIh is null ? ", bias=False" : "");
}

/// <summary>One LSTM step (<c>nn.LSTMCell</c>), gates i, f, g, o as <see cref="LSTM"/>; returns (h', c').</summary>
public sealed class LSTMCell : RecurrentCellBase
{
    /// <summary>Creates the cell.</summary>
    /// <param name="inputSize">Features of the input.</param>
    /// <param name="hiddenSize">Features of the hidden and cell states.</param>
    /// <param name="bias">Whether to learn biases.</param>
    /// <param name="dtype">Element type of the parameters.</param>
    /// <param name="generator">Random source for the initialisation.</param>
    public LSTMCell(int inputSize, int hiddenSize, bool bias = true, DType dtype = DType.Float32, Generator? generator = null)
        : base(4, inputSize, hiddenSize, bias, dtype, generator) { }

    /// <summary>One step from (h, c) ([B, H] each, or [H] unbatched), or from zeros when null.</summary>
    public (Tensor H, Tensor C) Forward(Tensor input, (Tensor H, Tensor C)? state = null)
    {
        var (x, unbatched) = PrepareInput(input);
        var h = PrepareState(state?.H, "hx", x, unbatched);
        var c = PrepareState(state?.C, "cx", x, unbatched);
        var next = RecurrentBase<Tensor>.LstmStep(F.Linear(x, WeightIh, BiasIh), [h, c], WeightHh, BiasHh);
        return unbatched ? (next[0].Squeeze(0), next[1].Squeeze(0)) : (next[0], next[1]);
    }
}

/// <summary>One GRU step (<c>nn.GRUCell</c>), gates r, z, n as <see cref="GRU"/>; returns h'.</summary>
public sealed class GRUCell : RecurrentCellBase
{
    /// <summary>Creates the cell.</summary>
    /// <param name="inputSize">Features of the input.</param>
    /// <param name="hiddenSize">Features of the hidden state.</param>
    /// <param name="bias">Whether to learn biases.</param>
    /// <param name="dtype">Element type of the parameters.</param>
    /// <param name="generator">Random source for the initialisation.</param>
    public GRUCell(int inputSize, int hiddenSize, bool bias = true, DType dtype = DType.Float32, Generator? generator = null)
        : base(3, inputSize, hiddenSize, bias, dtype, generator) { }

    /// <summary>One step from h ([B, H], or [H] unbatched), or from zeros when null.</summary>
    public Tensor Forward(Tensor input, Tensor? hx = null)
    {
        var (x, unbatched) = PrepareInput(input);
        var h = PrepareState(hx, "hx", x, unbatched);
        var next = RecurrentBase<Tensor>.GruStep(F.Linear(x, WeightIh, BiasIh), [h], WeightHh, BiasHh)[0];
        return unbatched ? next.Squeeze(0) : next;
    }
}
