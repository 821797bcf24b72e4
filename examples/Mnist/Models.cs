using DeepSharp;
using DeepSharp.NN;

namespace DeepSharp.Examples.Mnist;

/// <summary>A multilayer perceptron 784-256-256-10 with ReLU (PyTorch: <c>nn.Linear</c> ×3).</summary>
public sealed class Mlp : Module<Tensor, Tensor>
{
    private readonly Flatten _flatten;
    private readonly Linear _fc1, _fc2, _fc3;

    public Mlp()
    {
        _flatten = RegisterModule("flatten", new Flatten());
        _fc1 = RegisterModule("fc1", new Linear(28 * 28, 256));
        _fc2 = RegisterModule("fc2", new Linear(256, 256));
        _fc3 = RegisterModule("fc3", new Linear(256, 10));
    }

    public override Tensor Forward(Tensor x)
    {
        x = _flatten.Forward(x);              // [B, 1, 28, 28] → [B, 784]
        x = F.Relu(_fc1.Forward(x));
        x = F.Relu(_fc2.Forward(x));
        return _fc3.Forward(x);               // logits [B, 10]
    }
}

/// <summary>
/// The classic PyTorch MNIST example's network: Conv2d(1,32,3)–ReLU–Conv2d(32,64,3)–ReLU–MaxPool2d(2)–Flatten–
/// Linear(9216,128)–ReLU–Linear(128,10).
/// </summary>
public sealed class Cnn : Module<Tensor, Tensor>
{
    private readonly Conv2d _conv1, _conv2;
    private readonly Linear _fc1, _fc2;

    public Cnn()
    {
        _conv1 = RegisterModule("conv1", new Conv2d(1, 32, 3));
        _conv2 = RegisterModule("conv2", new Conv2d(32, 64, 3));
        _fc1 = RegisterModule("fc1", new Linear(9216, 128));
        _fc2 = RegisterModule("fc2", new Linear(128, 10));
    }

    public override Tensor Forward(Tensor x)
    {
        x = F.Relu(_conv1.Forward(x));        // [B, 32, 26, 26]
        x = F.Relu(_conv2.Forward(x));        // [B, 64, 24, 24]
        x = F.MaxPool2d(x, 2);                // [B, 64, 12, 12]
        x = x.Flatten(1);                     // [B, 9216]
        x = F.Relu(_fc1.Forward(x));
        return _fc2.Forward(x);
    }
}

/// <summary>
/// A small residual network: a 3×3 stem (Conv2d without bias, BatchNorm2d, ReLU), ResidualBlock(32), MaxPool2d(2),
/// ResidualBlock(32), global average pooling and Linear(32, 10).
/// </summary>
public sealed class ResNet : Module<Tensor, Tensor>
{
    private readonly Sequential _stem, _head;
    private readonly ResidualBlock _block1, _block2;
    private readonly MaxPool2d _pool;

    public ResNet()
    {
        _stem = RegisterModule("stem", new Sequential(
            new Conv2d(1, 32, 3, padding: 1, bias: false),
            new BatchNorm2d(32),
            new ReLU()));
        _block1 = RegisterModule("block1", new ResidualBlock(32, 32));
        _pool = RegisterModule("pool", new MaxPool2d(2));
        _block2 = RegisterModule("block2", new ResidualBlock(32, 32));
        _head = RegisterModule("head", new Sequential(
            new AdaptiveAvgPool2d(1),
            new Flatten(),
            new Linear(32, 10)));
    }

    public override Tensor Forward(Tensor x)
    {
        x = _stem.Forward(x);                 // [B, 32, 28, 28]
        x = _block1.Forward(x);
        x = _pool.Forward(x);                 // [B, 32, 14, 14]
        x = _block2.Forward(x);
        return _head.Forward(x);              // [B, 10]
    }
}

/// <summary>Creates the models by name and recognises them from a state dict.</summary>
public static class Models
{
    /// <summary>The model names accepted by <c>--model</c>.</summary>
    public static readonly string[] Names = ["mlp", "cnn", "resnet"];

    /// <summary>A freshly initialised model (uses the default generator, see <see cref="Torch.ManualSeed"/>).</summary>
    public static Module<Tensor, Tensor> Create(string name) => name switch
    {
        "mlp" => new Mlp(),
        "cnn" => new Cnn(),
        "resnet" => new ResNet(),
        _ => throw new MnistException($"Unknown model '{name}'; expected one of {string.Join(", ", Names)}."),
    };

    /// <summary>The architecture a state dict belongs to, from its parameter names and shapes, or null.</summary>
    public static string? Infer(IReadOnlyDictionary<string, Tensor> state)
    {
        if (state.ContainsKey("stem.0.weight") && state.ContainsKey("block1.conv1.weight")) return "resnet";
        if (state.TryGetValue("conv1.weight", out var conv) && conv.Shape.SequenceEqual([32, 1, 3, 3])) return "cnn";
        if (state.TryGetValue("fc1.weight", out var fc1) && fc1.Shape.SequenceEqual([256, 784])) return "mlp";
        return null;
    }
}
