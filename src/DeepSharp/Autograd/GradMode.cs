namespace DeepSharp;

/// <summary>
/// Whether ops record the graph. The flag is async-local, so a <c>NoGrad</c> scope applies to the code
/// (and tasks) it encloses and never leaks to other threads.
/// </summary>
internal static class GradMode
{
    private static readonly AsyncLocal<bool> _disabled = new();

    public static bool IsEnabled => !_disabled.Value;

    // Open scopes of this thread: library-internal ones, and users' NoGrad scopes (see InUserNoGrad).
    [ThreadStatic] internal static int t_internalScopes, t_userNoGradScopes;

    /// <summary>True when this thread runs user code inside a user's <see cref="Autograd.NoGrad"/> scope and no
    /// library-internal scope (which may be inside an op) is open: the end of a library module's forward is then a
    /// recycling safe point (see <see cref="Recycler.AfterModule{T}"/>).</summary>
    public static bool InUserNoGrad => t_userNoGradScopes > 0 && t_internalScopes == 0 && !IsEnabled;

    /// <summary>Library-internal scope (never a recycling safe point: it may run inside an op).</summary>
    public static GradModeScope Set(bool enabled)
    {
        bool previous = IsEnabled;
        _disabled.Value = !enabled;
        t_internalScopes++;
        return new GradModeScope(previous, GradModeScope.Internal);
    }

    /// <summary>The scope users open (<see cref="Autograd.NoGrad"/>): its end, in user code, is a recycling safe point.</summary>
    public static GradModeScope SetPublic(bool enabled)
    {
        bool previous = IsEnabled;
        _disabled.Value = !enabled;
        if (!enabled) t_userNoGradScopes++;
        return new GradModeScope(previous, enabled ? GradModeScope.UserEnable : GradModeScope.UserNoGrad);
    }

    internal static void Restore(bool enabled) => _disabled.Value = !enabled;
}

/// <summary>Restores the previous grad mode when disposed. Returned by <see cref="Autograd.NoGrad"/>.</summary>
public readonly struct GradModeScope : IDisposable
{
    internal const byte Internal = 1, UserNoGrad = 2, UserEnable = 3;

    private readonly bool _previous;
    private readonly byte _kind;   // 0 for default(GradModeScope): disposing it changes nothing but the mode

    internal GradModeScope(bool previous, byte kind)
    {
        _previous = previous;
        _kind = kind;
    }

    /// <summary>Restores the grad mode in force before the scope began.</summary>
    public void Dispose()
    {
        GradMode.Restore(_previous);
        if (_kind == Internal) { if (GradMode.t_internalScopes > 0) GradMode.t_internalScopes--; return; }
        if (_kind == UserNoGrad && GradMode.t_userNoGradScopes > 0) GradMode.t_userNoGradScopes--;
        if (_kind >= UserNoGrad) Recycler.SafePoint();   // the end of a user's scope: no op of this thread is running
    }
}
