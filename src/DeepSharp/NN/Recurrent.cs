namespace DeepSharp.NN;

/// <summary>
/// The shared part of <see cref="LSTM"/> and <see cref="GRU"/> (PyTorch's <c>nn.RNNBase</c>): parameters named as
/// PyTorch's (<c>weight_ih_l0</c>, <c>weight_hh_l0</c>, <c>bias_ih_l0</c>, <c>bias_hh_l0</c>, with a
/// <c>_reverse</c> suffix for the backward direction), so PyTorch state dicts load; every weight and bias initialised
/// U(−1/√hidden, 1/√hidden) as PyTorch. Input is [T, B, inputSize] ([B, T, inputSize] with <c>batchFirst</c>) or
/// unbatched [T, inputSize]; the output is [T, B, D·hiddenSize] with D = 2 when bidirectional.
/// </summary>
/// <typeparam name="TState">The recurrent state: the hidden state (GRU) or (hidden, cell) (LSTM).</typeparam>
public abstract class RecurrentBase<TState> : Module<Tensor, (Tensor Output, TState State)>
{
    private readonly int _gates;

    private protected RecurrentBase(int gates, int inputSize, int hiddenSize, int numLayers, bool bias, bool batchFirst, double dropout,
        bool bidirectional, DType dtype, Generator? generator, Generator? dropoutGenerator)
    {
        if (inputSize <= 0 || hiddenSize <= 0)
            throw new ArgumentOutOfRangeException(nameof(inputSize), $"{TypeName}: inputSize and hiddenSize must be positive, got {inputSize} and {hiddenSize}.");
        if (numLayers <= 0) throw new ArgumentOutOfRangeException(nameof(numLayers), $"{TypeName}: numLayers must be positive, got {numLayers}.");
        if (!(dropout >= 0 && dropout <= 1))
            throw new ArgumentOutOfRangeException(nameof(dropout), $"{TypeName}: dropout should be a number in range [0, 1], got {dropout}.");
        _gates = gates;
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        NumLayers = numLayers;
        HasBias = bias;
        BatchFirst = batchFirst;
        Dropout = dropout;
        Bidirectional = bidirectional;
        DropoutGenerator = dropoutGenerator;
        double k = 1 / Math.Sqrt(hiddenSize);
        int directions = bidirectional ? 2 : 1;
        for (int layer = 0; layer < numLayers; layer++)
            for (int dir = 0; dir < directions; dir++)
            {
                string suffix = $"_l{layer}{(dir == 1 ? "_reverse" : "")}";
                int layerInput = layer == 0 ? inputSize : hiddenSize * directions;
                foreach (var (name, shape) in new (string, int[])[]
                         {
                             ("weight_ih", [gates * hiddenSize, layerInput]), ("weight_hh", [gates * hiddenSize, hiddenSize]),
                             ("bias_ih", [gates * hiddenSize]), ("bias_hh", [gates * hiddenSize]),
                         })
                {
                    if (!bias && name.StartsWith("bias", StringComparison.Ordinal)) continue;
                    var t = RegisterParameter(name + suffix, Tensor.Zeros(shape, dtype))!;
                    Init.Uniform(t, -k, k, generator);
                }
            }
    }

    /// <summary>Features of each input step.</summary>
    public int InputSize { get; }

    /// <summary>Features of the hidden state.</summary>
    public int HiddenSize { get; }

    /// <summary>Stacked layers.</summary>
    public int NumLayers { get; }

    /// <summary>Whether the layers have biases.</summary>
    public bool HasBias { get; }

    /// <summary>Whether input and output are [B, T, *] (the state stays [layers·D, B, H], as PyTorch).</summary>
    public bool BatchFirst { get; }

    /// <summary>Dropout probability on the outputs of every layer but the last, in training mode.</summary>
    public double Dropout { get; }

    /// <summary>Whether each layer also runs backward in time.</summary>
    public bool Bidirectional { get; }

    private protected Generator? DropoutGenerator { get; }

    /// <summary>1, or 2 when bidirectional.</summary>
    public int NumDirections => Bidirectional ? 2 : 1;

    /// <summary>The parameter named e.g. <c>weight_ih_l0</c> or <c>bias_hh_l1_reverse</c>, or null.</summary>
    public Tensor? Parameter(string name) => GetParameter(name);

    /// <summary>Checks the input and puts it time-major and batched: [T, B, inputSize].</summary>
    private protected (Tensor X, bool Unbatched) PrepareInput(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Dim is not (2 or 3) || input.Shape[^1] != InputSize)
            throw new ArgumentException($"{TypeName}: expected input of shape {(BatchFirst ? "[B, T" : "[T, B")}, {InputSize}] (or unbatched [T, {InputSize}]), got {ShapeUtil.Format(input._shape)}.");
        var w = GetParameter("weight_ih_l0")!;
        if (input.DType != w.DType)
            throw new ArgumentException($"{TypeName}: input dtype {input.DType} does not match the parameters' dtype {w.DType}.");
        if (input.Dim == 2) return (input.Unsqueeze(1), true);
        return (BatchFirst ? input.Transpose(0, 1) : input, false);
    }

    /// <summary>Checks an initial state tensor and returns it batched [layers·D, B, H] (or zeros when null).</summary>
    private protected Tensor PrepareState(Tensor? state, string name, int batch, bool unbatched, DType dtype)
    {
        int layers = NumLayers * NumDirections;
        if (state is null) return Tensor.Zeros([layers, batch, HiddenSize], dtype);
        int[] expected = unbatched ? [layers, HiddenSize] : [layers, batch, HiddenSize];
        if (!ShapeUtil.SameShape(state._shape, expected))
            throw new ArgumentException($"{TypeName}: expected {name} of shape {ShapeUtil.Format(expected)} for input batch {batch}, got {ShapeUtil.Format(state._shape)}.");
        if (state.DType != dtype)
            throw new ArgumentException($"{TypeName}: {name} dtype {state.DType} does not match the input dtype {dtype}.");
        return unbatched ? state.Unsqueeze(1) : state;
    }

    /// <summary>Runs every layer and direction. <paramref name="step"/> maps (input projection of one step, state) to
    /// the new state, whose first tensor is the step's output.</summary>
    private protected (Tensor Output, Tensor[][] Final) RunLayers(Tensor x, Tensor[] initial, Func<Tensor, Tensor[], Tensor, Tensor?, Tensor[]> step)
    {
        int steps = x.Shape[0], batch = x.Shape[1], directions = NumDirections;
        var final = new Tensor[initial.Length][];
        for (int s = 0; s < initial.Length; s++) final[s] = new Tensor[NumLayers * directions];
        var layerInput = x;
        for (int layer = 0; layer < NumLayers; layer++)
        {
            var dirOutputs = new Tensor[directions];
            for (int dir = 0; dir < directions; dir++)
            {
                string suffix = $"_l{layer}{(dir == 1 ? "_reverse" : "")}";
                var wIh = GetParameter("weight_ih" + suffix)!;
                var wHh = GetParameter("weight_hh" + suffix)!;
                var bIh = GetParameter("bias_ih" + suffix);
                var bHh = GetParameter("bias_hh" + suffix);
                int inFeatures = layerInput.Shape[2];
                // One GEMM for the input projections of all steps; only the hidden projection is sequential.
                var projected = F.Linear(layerInput.Reshape(steps * batch, inFeatures), wIh, bIh).View(steps, batch, _gates * HiddenSize);
                int index = layer * directions + dir;
                var state = initial.Select(t => t.Select(0, index)).ToArray();
                var outputs = new Tensor[steps];
                for (int i = 0; i < steps; i++)
                {
                    int t = dir == 0 ? i : steps - 1 - i;
                    state = step(projected.Select(0, t), state, wHh, bHh);
                    outputs[t] = state[0];
                }
                for (int s = 0; s < state.Length; s++) final[s][index] = state[s];
                dirOutputs[dir] = steps == 0 ? Tensor.Zeros([0, batch, HiddenSize], x.DType) : Tensor.Stack(outputs);
            }
            layerInput = directions == 1 ? dirOutputs[0] : Tensor.Cat(dirOutputs, 2);
            if (layer < NumLayers - 1 && Dropout > 0) layerInput = F.Dropout(layerInput, Dropout, IsTraining, DropoutGenerator);
        }
        return (layerInput, final);
    }

    /// <summary>Puts the output back in the caller's layout.</summary>
    private protected Tensor FinishOutput(Tensor output, bool unbatched) =>
        unbatched ? output.Squeeze(1) : BatchFirst ? output.Transpose(0, 1) : output;

    /// <summary>Stacks final states to [layers·D, B, H] (or [layers·D, H] unbatched).</summary>
    private protected static Tensor FinishState(Tensor[] states, bool unbatched)
    {
        var s = Tensor.Stack(states);
        return unbatched ? s.Squeeze(1) : s;
    }

    /// <inheritdoc/>
    protected override string ExtraRepr()
    {
        var s = $"{InputSize}, {HiddenSize}";
        if (NumLayers != 1) s += $", num_layers={NumLayers}";
        if (!HasBias) s += ", bias=False";
        if (BatchFirst) s += ", batch_first=True";
        if (Dropout != 0) s += $", dropout={Py(Dropout)}";
        if (Bidirectional) s += ", bidirectional=True";
        return s;
    }

    internal static Tensor[] LstmStep(Tensor projected, Tensor[] state, Tensor wHh, Tensor? bHh)
    {
        var gates = (projected + F.Linear(state[0], wHh, bHh)).Chunk(4, -1);
        var i = gates[0].Sigmoid();
        var f = gates[1].Sigmoid();
        var g = gates[2].Tanh();
        var o = gates[3].Sigmoid();
        var c = f * state[1] + i * g;
        return [o * c.Tanh(), c];
    }

    internal static Tensor[] GruStep(Tensor projected, Tensor[] state, Tensor wHh, Tensor? bHh)
    {
        var h = state[0];
        var x = projected.Chunk(3, -1);
        var hh = F.Linear(h, wHh, bHh).Chunk(3, -1);
        var r = (x[0] + hh[0]).Sigmoid();
        var z = (x[1] + hh[1]).Sigmoid();
        var n = (x[2] + r * hh[2]).Tanh();
        return [n + z * (h - n)];
    }
}

/// <summary>
/// A multi-layer long short-term memory network (<c>nn.LSTM</c>). Per step, with gates in PyTorch's order i, f, g, o:
/// i = σ(W_ii x + b_ii + W_hi h + b_hi), f = σ(…), g = tanh(…), o = σ(…), c' = f·c + i·g, h' = o·tanh(c').
/// Returns (output, (h_n, c_n)): output [T, B, D·H] holds every step's h of the last layer; h_n and c_n are
/// [layers·D, B, H]. See <see cref="RecurrentBase{TState}"/> for shapes and parameter names.
/// </summary>
public sealed class LSTM : RecurrentBase<(Tensor H, Tensor C)>
{
    /// <summary>Creates the network.</summary>
    /// <param name="inputSize">Features of each input step.</param>
    /// <param name="hiddenSize">Features of the hidden and cell states.</param>
    /// <param name="numLayers">Stacked layers (default 1).</param>
    /// <param name="bias">Whether to learn biases (default true).</param>
    /// <param name="batchFirst">Input and output as [B, T, *] (default false).</param>
    /// <param name="dropout">Dropout on the outputs of every layer but the last, in training mode (default 0).</param>
    /// <param name="bidirectional">Whether to add a backward-in-time direction (default false).</param>
    /// <param name="dtype">Element type of the parameters.</param>
    /// <param name="generator">Random source for the initialisation.</param>
    /// <param name="dropoutGenerator">Random source for the dropout masks.</param>
    public LSTM(int inputSize, int hiddenSize, int numLayers = 1, bool bias = true, bool batchFirst = false, double dropout = 0,
        bool bidirectional = false, DType dtype = DType.Float32, Generator? generator = null, Generator? dropoutGenerator = null)
        : base(4, inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, dtype, generator, dropoutGenerator) { }

    /// <summary>Runs the network from zero states.</summary>
    public override (Tensor Output, (Tensor H, Tensor C) State) Forward(Tensor input) => Forward(input, null);

    /// <summary>Runs the network from (h_0, c_0), each [layers·D, B, H] ([layers·D, H] for unbatched input), or zeros when null.</summary>
    public (Tensor Output, (Tensor H, Tensor C) State) Forward(Tensor input, (Tensor H, Tensor C)? state)
    {
        var (x, unbatched) = PrepareInput(input);
        int batch = x.Shape[1];
        var h0 = PrepareState(state?.H, "h_0", batch, unbatched, x.DType);
        var c0 = PrepareState(state?.C, "c_0", batch, unbatched, x.DType);
        var (output, final) = RunLayers(x, [h0, c0], LstmStep);
        return (FinishOutput(output, unbatched), (FinishState(final[0], unbatched), FinishState(final[1], unbatched)));
    }
}

/// <summary>
/// A multi-layer gated recurrent unit network (<c>nn.GRU</c>). Per step, with gates in PyTorch's order r, z, n:
/// r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(…), n = tanh(W_in x + b_in + r·(W_hn h + b_hn)), h' = (1 − z)·n + z·h.
/// Returns (output, h_n): output [T, B, D·H], h_n [layers·D, B, H]. See <see cref="RecurrentBase{TState}"/>.
/// </summary>
public sealed class GRU : RecurrentBase<Tensor>
{
    /// <summary>Creates the network.</summary>
    /// <param name="inputSize">Features of each input step.</param>
    /// <param name="hiddenSize">Features of the hidden state.</param>
    /// <param name="numLayers">Stacked layers (default 1).</param>
    /// <param name="bias">Whether to learn biases (default true).</param>
    /// <param name="batchFirst">Input and output as [B, T, *] (default false).</param>
    /// <param name="dropout">Dropout on the outputs of every layer but the last, in training mode (default 0).</param>
    /// <param name="bidirectional">Whether to add a backward-in-time direction (default false).</param>
    /// <param name="dtype">Element type of the parameters.</param>
    /// <param name="generator">Random source for the initialisation.</param>
    /// <param name="dropoutGenerator">Random source for the dropout masks.</param>
    public GRU(int inputSize, int hiddenSize, int numLayers = 1, bool bias = true, bool batchFirst = false, double dropout = 0,
        bool bidirectional = false, DType dtype = DType.Float32, Generator? generator = null, Generator? dropoutGenerator = null)
        : base(3, inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, dtype, generator, dropoutGenerator) { }

    /// <summary>Runs the network from a zero state.</summary>
    public override (Tensor Output, Tensor State) Forward(Tensor input) => Forward(input, null);

    /// <summary>Runs the network from h_0 [layers·D, B, H] ([layers·D, H] for unbatched input), or zeros when null.</summary>
    public (Tensor Output, Tensor State) Forward(Tensor input, Tensor? h0)
    {
        var (x, unbatched) = PrepareInput(input);
        var h = PrepareState(h0, "h_0", x.Shape[1], unbatched, x.DType);
        var (output, final) = RunLayers(x, [h], GruStep);
        return (FinishOutput(output, unbatched), FinishState(final[0], unbatched));
    }
}
