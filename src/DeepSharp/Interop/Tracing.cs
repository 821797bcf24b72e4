namespace DeepSharp.Interop;

/// <summary>
/// Receives the ops that run on the current thread while it is installed (see <see cref="Tracing"/>): the
/// exporter (DeepSharp.Onnx) uses it to record a module's forward as a graph.
/// </summary>
internal interface ITraceRecorder
{
    /// <summary>Op <paramref name="op"/> produced <paramref name="output"/> from <paramref name="inputs"/> (null for an
    /// absent optional input) with the given attributes (op-specific, positional).</summary>
    void Record(string op, Tensor output, Tensor?[] inputs, params object?[] attributes);
}

/// <summary>
/// The tracing hook: op entry points report to <see cref="Current"/> when it is set (one thread-static null check
/// otherwise). Off by default; only an exporter installs a recorder, for the duration of one traced forward.
/// </summary>
internal static class Tracing
{
    [ThreadStatic] private static ITraceRecorder? t_current;

    /// <summary>The recorder of the current thread, or null (the normal case).</summary>
    internal static ITraceRecorder? Current => t_current;

    /// <summary>Installs <paramref name="recorder"/> on this thread until the returned scope is disposed.</summary>
    internal static Scope Begin(ITraceRecorder recorder)
    {
        ArgumentNullException.ThrowIfNull(recorder);
        var previous = t_current;
        t_current = recorder;
        return new Scope(previous);
    }

    /// <summary>Restores the previous recorder when disposed.</summary>
    internal readonly struct Scope(ITraceRecorder? previous) : IDisposable
    {
        /// <summary>Uninstalls the recorder.</summary>
        public void Dispose() => t_current = previous;
    }
}
