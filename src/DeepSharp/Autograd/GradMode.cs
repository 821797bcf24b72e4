namespace DeepSharp;

/// <summary>
/// Whether ops record the graph. The flag is async-local, so a <c>NoGrad</c> scope applies to the code
/// (and tasks) it encloses and never leaks to other threads.
/// </summary>
internal static class GradMode
{
    private static readonly AsyncLocal<bool> _disabled = new();

    public static bool IsEnabled => !_disabled.Value;

    public static GradModeScope Set(bool enabled)
    {
        bool previous = IsEnabled;
        _disabled.Value = !enabled;
        return new GradModeScope(previous);
    }

    internal static void Restore(bool enabled) => _disabled.Value = !enabled;
}

/// <summary>Restores the previous grad mode when disposed. Returned by <see cref="Autograd.NoGrad"/>.</summary>
public readonly struct GradModeScope : IDisposable
{
    private readonly bool _previous;
    internal GradModeScope(bool previous) => _previous = previous;

    /// <summary>Restores the grad mode in force before the scope began.</summary>
    public void Dispose() => GradMode.Restore(_previous);
}
