namespace DeepSharp.NN;

/// <summary>max(x, 0) (<c>nn.ReLU</c>).</summary>
public sealed class ReLU : Module<Tensor, Tensor>
{
    /// <summary>Applies ReLU element-wise.</summary>
    public override Tensor Forward(Tensor input) => Recycler.AfterModule(F.Relu(input));
}

/// <summary>x for x &gt; 0, negativeSlope·x otherwise (<c>nn.LeakyReLU</c>).</summary>
/// <param name="negativeSlope">The slope for negative inputs (default 0.01).</param>
public sealed class LeakyReLU(double negativeSlope = 0.01) : Module<Tensor, Tensor>
{
    /// <summary>The slope for negative inputs.</summary>
    public double NegativeSlope { get; } = negativeSlope;

    /// <summary>Applies LeakyReLU element-wise.</summary>
    public override Tensor Forward(Tensor input) => Recycler.AfterModule(F.LeakyRelu(input, NegativeSlope));

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"negative_slope={Py(NegativeSlope)}";
}

/// <summary>GELU (<c>nn.GELU</c>): x·Φ(x), exact ("none") or with the tanh approximation ("tanh").</summary>
public sealed class GELU : Module<Tensor, Tensor>
{
    /// <summary>Creates the layer; <paramref name="approximate"/> is "none" or "tanh".</summary>
    public GELU(string approximate = "none")
    {
        if (approximate is not ("none" or "tanh"))
            throw new ArgumentException($"GELU: approximate must be \"none\" or \"tanh\", got \"{approximate}\".");
        Approximate = approximate;
    }

    /// <summary>"none" or "tanh".</summary>
    public string Approximate { get; }

    /// <summary>Applies GELU element-wise.</summary>
    public override Tensor Forward(Tensor input) => Recycler.AfterModule(F.Gelu(input, Approximate));

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"approximate='{Approximate}'";
}

/// <summary>SiLU / swish, x·σ(x) (<c>nn.SiLU</c>).</summary>
public sealed class SiLU : Module<Tensor, Tensor>
{
    /// <summary>Applies SiLU element-wise.</summary>
    public override Tensor Forward(Tensor input) => Recycler.AfterModule(F.Silu(input));
}

/// <summary>Hyperbolic tangent (<c>nn.Tanh</c>).</summary>
public sealed class Tanh : Module<Tensor, Tensor>
{
    /// <summary>Applies tanh element-wise.</summary>
    public override Tensor Forward(Tensor input) => Recycler.AfterModule(F.Tanh(input));
}

/// <summary>Logistic sigmoid (<c>nn.Sigmoid</c>).</summary>
public sealed class Sigmoid : Module<Tensor, Tensor>
{
    /// <summary>Applies the sigmoid element-wise.</summary>
    public override Tensor Forward(Tensor input) => Recycler.AfterModule(F.Sigmoid(input));
}

/// <summary>Softplus, log(1 + e^(βx)) / β (<c>nn.Softplus</c>).</summary>
/// <param name="beta">β (default 1).</param>
/// <param name="threshold">Above β·x &gt; threshold the output is x (default 20).</param>
public sealed class Softplus(double beta = 1, double threshold = 20) : Module<Tensor, Tensor>
{
    /// <summary>β.</summary>
    public double Beta { get; } = beta;

    /// <summary>The linearisation threshold.</summary>
    public double Threshold { get; } = threshold;

    /// <summary>Applies softplus element-wise.</summary>
    public override Tensor Forward(Tensor input) => Recycler.AfterModule(F.Softplus(input, Beta, Threshold));

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"beta={Py(Beta)}, threshold={Py(Threshold)}";
}

/// <summary>Softmax along a dim (<c>nn.Softmax</c>).</summary>
/// <param name="dim">The dim along which the outputs sum to 1.</param>
public sealed class Softmax(int dim) : Module<Tensor, Tensor>
{
    /// <summary>The softmax dim.</summary>
    public int Dim { get; } = dim;

    /// <summary>Applies softmax along <see cref="Dim"/>.</summary>
    public override Tensor Forward(Tensor input) => Recycler.AfterModule(F.Softmax(input, Dim));

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"dim={Dim}";
}

/// <summary>Log-softmax along a dim (<c>nn.LogSoftmax</c>).</summary>
/// <param name="dim">The dim along which to normalise.</param>
public sealed class LogSoftmax(int dim) : Module<Tensor, Tensor>
{
    /// <summary>The normalisation dim.</summary>
    public int Dim { get; } = dim;

    /// <summary>Applies log-softmax along <see cref="Dim"/>.</summary>
    public override Tensor Forward(Tensor input) => Recycler.AfterModule(F.LogSoftmax(input, Dim));

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"dim={Dim}";
}

/// <summary>
/// Inverted dropout (<c>nn.Dropout</c>): in training mode each element is zeroed with probability p and the rest
/// are scaled by 1/(1 − p); in evaluation mode (or with p = 0) it is the identity.
/// </summary>
public sealed class Dropout : Module<Tensor, Tensor>
{
    private readonly Generator? _generator;

    /// <summary>Creates the layer.</summary>
    /// <param name="p">Probability of zeroing an element, in [0, 1].</param>
    /// <param name="generator">Random source for the masks (the default generator when null).</param>
    public Dropout(double p = 0.5, Generator? generator = null)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), $"Dropout: probability has to be between 0 and 1, but got {p}.");
        P = p;
        _generator = generator;
    }

    /// <summary>The drop probability.</summary>
    public double P { get; }

    /// <summary>Applies dropout when <see cref="Module.IsTraining"/>; otherwise returns the input.</summary>
    public override Tensor Forward(Tensor input) => Recycler.AfterModule(F.Dropout(input, P, IsTraining, _generator));

    /// <inheritdoc/>
    protected override string ExtraRepr() => $"p={Py(P)}";
}
