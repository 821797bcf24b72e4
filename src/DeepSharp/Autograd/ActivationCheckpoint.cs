namespace DeepSharp;

public static partial class Autograd
{
    /// <summary>
    /// Activation checkpointing (PyTorch's <c>torch.utils.checkpoint</c>, reentrant form): runs
    /// <paramref name="function"/> without recording its graph, so none of its intermediate activations are kept, and
    /// runs it again during backward to get its gradients. Memory for a block of layers drops to its inputs and output,
    /// for one more forward of the block. The default generator's state (and that of each of
    /// <paramref name="generators"/>, e.g. the one a module's dropout draws from) is replayed for the recomputation,
    /// so dropout masks are the same; the generators end where the forward left them.
    /// </summary>
    /// <param name="function">The block; it must compute the same thing when run twice on the same inputs (no side effects).</param>
    /// <param name="inputs">The block's tensor inputs. Parameters the block uses receive gradients in <c>Grad</c> when at
    /// least one input requires grad; when none does, the block runs normally (recorded), so its parameters still learn.</param>
    /// <param name="generators">Random generators the block draws from besides the default one.</param>
    /// <returns>The block's output; its backward recomputes the block.</returns>
    /// <remarks>As in PyTorch's reentrant checkpoint, <c>createGraph</c> through a checkpointed block is not supported
    /// (it throws), and <see cref="Grad(Tensor[], Tensor[], Tensor?[], bool?, bool, bool)"/> through one gives the
    /// gradients of its inputs only (its parameters' gradients are not reachable from outside it).</remarks>
    public static Tensor Checkpoint(Func<Tensor[], Tensor> function, Tensor[] inputs, params Generator[] generators)
    {
        ArgumentNullException.ThrowIfNull(function);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(generators);
        bool anyGrad = false;
        foreach (var t in inputs)
        {
            if (t is null) throw new ArgumentException("Checkpoint: inputs must not contain null.", nameof(inputs));
            anyGrad |= t.RequiresGrad;
        }
        if (!GradMode.IsEnabled || !anyGrad) return function(inputs);

        var gens = new List<Generator> { Generator.Default };
        foreach (var g in generators)
            if (g is not null && !gens.Contains(g)) gens.Add(g);
        var states = SaveStates(gens);
        Tensor output;
        using (GradMode.Set(false)) output = function(inputs);
        if (output is null) throw new InvalidOperationException("Checkpoint: the function returned null.");
        output = output.Detach();   // a fresh tensor even when the block returns one of its inputs
        if (!output.DType.IsFloatingPoint())
            throw new InvalidOperationException($"Checkpoint: the function must return a floating-point tensor, got {output.DType}.");

        return Node.Record(output, "CheckpointFunctionBackward", inputs, gradOut =>
        {
            if (GradMode.IsEnabled)
                throw new NotSupportedException("Checkpoint: createGraph (higher-order gradients) through a checkpointed block is not supported.");
            var after = SaveStates(gens);
            RestoreStates(gens, states);
            var detached = new Tensor[inputs.Length];
            for (int i = 0; i < inputs.Length; i++)
                detached[i] = inputs[i].RequiresGrad ? inputs[i].Detach().RequiresGrad_() : inputs[i];
            Tensor recomputed;
            try
            {
                using (GradMode.Set(true)) recomputed = function(detached);
            }
            finally { RestoreStates(gens, after); }
            if (!ShapeUtil.SameShape(recomputed._shape, gradOut._shape))
                throw new InvalidOperationException($"Checkpoint: the recomputed output has shape {ShapeUtil.Format(recomputed._shape)} but the forward gave {ShapeUtil.Format(gradOut._shape)}; the function must be deterministic.");
            var grads = new Tensor?[inputs.Length];
            if (!recomputed.RequiresGrad) return grads;
            if (Engine.IsCapturing)
            {
                // Autograd.Grad: the inputs' gradients only; nothing is accumulated into any Grad.
                var wanted = Enumerable.Range(0, inputs.Length).Where(i => inputs[i].RequiresGrad).ToArray();
                var got = Engine.Grad([recomputed], [gradOut], wanted.Select(i => detached[i]).ToArray(), retainGraph: false, createGraph: false, allowUnused: true);
                for (int k = 0; k < wanted.Length; k++) grads[wanted[k]] = got[k];
                return grads;
            }
            Engine.Backward(recomputed, gradOut, retainGraph: false, createGraph: false);
            for (int i = 0; i < inputs.Length; i++)
                if (inputs[i].RequiresGrad) grads[i] = detached[i].Grad;
            return grads;
        });
    }

    private static ulong[][] SaveStates(List<Generator> gens)
    {
        var states = new ulong[gens.Count][];
        for (int i = 0; i < gens.Count; i++)
            lock (Generator.DefaultLock) states[i] = gens[i].GetState();
        return states;
    }

    private static void RestoreStates(List<Generator> gens, ulong[][] states)
    {
        for (int i = 0; i < gens.Count; i++)
            lock (Generator.DefaultLock) gens[i].SetState(states[i]);
    }
}
