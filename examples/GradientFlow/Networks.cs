using DeepSharp;
using DeepSharp.NN;

namespace DeepSharp.Examples.GradientFlow;

/// <summary>How the blocks of a <see cref="DeepMlp"/> are connected.</summary>
public enum MlpKind
{
    /// <summary>h ← act(W h + b).</summary>
    Plain,
    /// <summary>h ← h + act(W h + b).</summary>
    Residual,
    /// <summary>h ← h + act(W LN(h) + b) (pre-norm), and a final LayerNorm before the head.</summary>
    ResidualLayerNorm,
}

/// <summary>
/// A deep fully connected classifier: a linear stem (inputs → width), <c>depth</c> hidden blocks of width × width
/// (children <c>layers.i</c>, with <c>norms.i</c> for <see cref="MlpKind.ResidualLayerNorm"/>), and a linear head.
/// Every <see cref="Linear"/> keeps PyTorch's default initialisation (Kaiming-uniform with a = √5, i.e.
/// U(−1/√fan_in, 1/√fan_in)), the "standard init" of the experiment.
/// </summary>
public sealed class DeepMlp : Module<Tensor, Tensor>
{
    public DeepMlp(int inputs, int width, int depth, int classes, MlpKind kind, string activation, Generator? generator = null)
    {
        if (activation is not ("tanh" or "relu")) throw new ArgumentException($"activation must be tanh or relu, got '{activation}'.");
        Kind = kind;
        Activation = activation;
        RegisterModule("stem", new Linear(inputs, width, generator: generator));
        var layers = RegisterModule("layers", new ModuleList<Linear>());
        for (int i = 0; i < depth; i++) layers.Add(new Linear(width, width, generator: generator));
        if (kind == MlpKind.ResidualLayerNorm)
        {
            var norms = RegisterModule("norms", new ModuleList<LayerNorm>());
            for (int i = 0; i < depth; i++) norms.Add(new LayerNorm(width));
            RegisterModule("final_norm", new LayerNorm(width));
        }
        RegisterModule("head", new Linear(width, classes, generator: generator));
    }

    public MlpKind Kind { get; }
    public string Activation { get; }
    public ModuleList<Linear> Layers => (ModuleList<Linear>)GetChild("layers")!;
    public Linear Stem => (Linear)GetChild("stem")!;
    public Linear Head => (Linear)GetChild("head")!;

    private Tensor Act(Tensor x) => Activation == "tanh" ? x.Tanh() : x.Relu();

    public override Tensor Forward(Tensor input)
    {
        var h = Stem.Forward(input);
        var norms = (ModuleList<LayerNorm>?)GetChild("norms");
        for (int i = 0; i < Layers.Count; i++)
        {
            var layer = Layers[i];
            h = Kind switch
            {
                MlpKind.Plain => Act(layer.Forward(h)),
                MlpKind.Residual => h + Act(layer.Forward(h)),
                _ => h + Act(layer.Forward(norms![i].Forward(h))),
            };
        }
        if (GetChild("final_norm") is LayerNorm final) h = final.Forward(h);
        return Head.Forward(h);
    }
}

/// <summary>
/// An encoder-only Transformer for per-position classification: scaled token embedding plus sinusoidal positions,
/// a <see cref="TransformerEncoder"/> of post-LN or pre-LN blocks (the pre-LN stack ends with a LayerNorm, the post-LN
/// one already does), and a linear head. Every matrix is initialised Xavier-uniform, as <c>nn.Transformer</c> does; no dropout.
/// </summary>
public sealed class EncoderStack : Module<Tensor, Tensor>
{
    public EncoderStack(int vocab, int dModel, int heads, int layers, int feedForward, bool normFirst, int maxLen, Generator? generator = null)
    {
        NormFirst = normFirst;
        RegisterModule("embed", new TokenEmbedding(vocab, dModel, generator: generator));
        RegisterModule("pos", new PositionalEncoding(dModel, 0, maxLen, batchFirst: true, generator: generator));
        var block = new TransformerEncoderLayer(dModel, heads, feedForward, dropout: 0, batchFirst: true, normFirst: normFirst, generator: generator);
        RegisterModule("encoder", new TransformerEncoder(block, layers, normFirst ? new LayerNorm(dModel) : null));
        RegisterModule("head", new Linear(dModel, vocab, generator: generator));
        foreach (var p in Parameters())
            if (p.Dim > 1) Init.XavierUniform(p, generator: generator);
    }

    public bool NormFirst { get; }
    public TransformerEncoder Encoder => (TransformerEncoder)GetChild("encoder")!;

    /// <summary>Logits [N, S, vocab] for token ids [N, S].</summary>
    public override Tensor Forward(Tensor tokens)
    {
        var x = ((PositionalEncoding)GetChild("pos")!).Forward(((TokenEmbedding)GetChild("embed")!).Forward(tokens));
        return ((Linear)GetChild("head")!).Forward(Encoder.Forward(x));
    }
}
