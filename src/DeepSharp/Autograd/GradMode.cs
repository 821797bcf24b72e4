namespace DeepSharp;

/// <summary>
/// Whether ops record the graph. The flag is async-local, so a <c>NoGrad</c> scope applies to the code
/// (and tasks) it encloses and never leaks to other threads.
/// </summary>
internal static class GradMode
{
    private static readonly AsyncLocal<bool> _disabled = new();

    public static bool IsEnabled => !_disabled.Value;

    /// <summary>Library-internal scope (never a recycling safe point: it may run inside an op).</summary>
    public static GradModeScope Set(bool enabled)
    {
        bool previous = IsEnabled;
        _disabled.Value = !enabled;
        return new GradModeScope(previous, safePoint: false);
    }

    /// <summary>The scope users open (<see cref="Autograd.NoGrad"/>): its end, in user code, is a recycling safe point.</summary>
    public static GradModeScope SetPublic(bool enabled)
    {
        bool previous = IsEnabled;
        _disabled.Value = !enabled;
        return new GradModeScope(previous, safePoint: true);
    }

    internal static void Restore(bool enabled) => _disabled.Value = !enabled;
}

/// <summary>Restores the previous grad mode when disposed. Returned by <see cref="Autograd.NoGrad"/>.</summary>
public readonly struct GradModeScope : IDisposable
{
    private readonly bool _previous, _safePoint;

    internal GradModeScope(bool previous, bool safePoint)
    {
        _previous = previous;
        _safePoint = safePoint;
    }

    /// <summary>Restores the grad mode in force before the scope began.</summary>
    public void Dispose()
    {
        GradMode.Restore(_previous);
        if (_safePoint) Recycler.SafePoint();   // the end of a user's scope: no op of this thread is running
    }
}
