namespace DeepSharp;

/// <summary>Process-wide functions in the spirit of the <c>torch</c> namespace.</summary>
public static partial class Torch
{
    /// <summary>Seeds the default generator (PyTorch's <c>torch.manual_seed</c>).</summary>
    public static void ManualSeed(long seed)
    {
        lock (Generator.DefaultLock) Generator.Default.ManualSeed(seed);
    }

    /// <summary>The default generator's state, for checkpoints.</summary>
    public static ulong[] GetRngState()
    {
        lock (Generator.DefaultLock) return Generator.Default.GetState();
    }

    /// <summary>Restores the default generator's state.</summary>
    public static void SetRngState(ulong[] state)
    {
        lock (Generator.DefaultLock) Generator.Default.SetState(state);
    }

    /// <summary>Threads the kernels use (PyTorch's <c>torch.set_num_threads</c>).</summary>
    public static void SetNumThreads(int threads) => Kernels.KernelSettings.NumThreads = threads;

    /// <summary>Threads the kernels use.</summary>
    public static int GetNumThreads() => Kernels.KernelSettings.NumThreads;
}
