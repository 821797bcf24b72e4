namespace DeepSharp;

/// <summary>The autograd entry points (PyTorch's <c>torch.autograd</c> and grad-mode context managers).</summary>
public static partial class Autograd
{
    /// <summary>Disables graph recording in the enclosed scope: <c>using (Autograd.NoGrad()) { … }</c>.
    /// The setting flows with async code and does not affect other threads.</summary>
    public static GradModeScope NoGrad() => GradMode.SetPublic(false);

    /// <summary>Re-enables graph recording inside a <see cref="NoGrad"/> scope.</summary>
    public static GradModeScope EnableGrad() => GradMode.SetPublic(true);

    /// <summary>Sets grad mode for the scope (PyTorch's <c>set_grad_enabled</c>).</summary>
    public static GradModeScope SetGradEnabled(bool enabled) => GradMode.Set(enabled);

    /// <summary>Whether ops currently record the graph.</summary>
    public static bool IsGradEnabled => GradMode.IsEnabled;

    /// <summary>Enables anomaly detection for the scope: the first NaN/infinity in forward or backward throws,
    /// naming the op and where it was built.</summary>
    public static AnomalyScope DetectAnomaly() => Anomaly.Enable();

    /// <summary>
    /// Computes and returns the gradients of <paramref name="outputs"/> with respect to <paramref name="inputs"/>
    /// without touching any <c>Grad</c> (PyTorch's <c>torch.autograd.grad</c>). With
    /// <paramref name="createGraph"/> the results are themselves differentiable (higher-order gradients).
    /// </summary>
    public static Tensor?[] Grad(Tensor[] outputs, Tensor[] inputs, Tensor?[]? gradOutputs = null,
        bool? retainGraph = null, bool createGraph = false, bool allowUnused = false)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(inputs);
        return Engine.Grad(outputs, gradOutputs, inputs, retainGraph ?? createGraph, createGraph, allowUnused);
    }

    /// <summary>Single-output, single-input form of <see cref="Grad(Tensor[], Tensor[], Tensor?[], bool?, bool, bool)"/>.</summary>
    public static Tensor Grad(Tensor output, Tensor input, Tensor? gradOutput = null, bool? retainGraph = null, bool createGraph = false) =>
        Engine.Grad([output], gradOutput is null ? null : [gradOutput], [input], retainGraph ?? createGraph, createGraph, allowUnused: false)[0]!;
}
