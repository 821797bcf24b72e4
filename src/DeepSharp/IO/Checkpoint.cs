using System.Globalization;
using System.Text.Json;
using DeepSharp.Data;
using DeepSharp.Optim;

namespace DeepSharp.IO;

/// <summary>
/// Everything needed to resume training, saved by <see cref="Checkpoint.Save"/> as one safetensors file: named tensor
/// dictionaries (the model's state dict, the optimizer's state buffers, …), named JSON documents (optimizer
/// hyper-parameters, scheduler state, anything else), RNG states, and the epoch and step counters.
/// </summary>
/// <example><code>
/// var state = new CheckpointState { Epoch = epoch, Step = step };
/// state.Tensors["model"] = model.StateDict();
/// state.SetOptimizer(optimizer.StateDict());
/// state.SetScheduler(scheduler.StateDict());
/// state.RngStates["torch"] = Torch.GetRngState();
/// Checkpoint.Save(state, "run/last.safetensors");
/// </code></example>
public sealed class CheckpointState
{
    /// <summary>Named tensor dictionaries, e.g. <c>"model"</c> → the model's state dict. Names must not contain '/'.</summary>
    public Dictionary<string, IReadOnlyDictionary<string, Tensor>> Tensors { get; } = [];

    /// <summary>Named JSON documents (each must be valid JSON), e.g. <c>"scheduler"</c> → <see cref="LRSchedulerState.ToJson"/>.</summary>
    public Dictionary<string, string> Json { get; } = [];

    /// <summary>Named RNG states from <see cref="Generator.GetState"/> or <see cref="Torch.GetRngState"/>.</summary>
    public Dictionary<string, ulong[]> RngStates { get; } = [];

    /// <summary>The epoch counter.</summary>
    public long Epoch { get; set; }

    /// <summary>The step (iteration) counter.</summary>
    public long Step { get; set; }

    /// <summary>Stores an optimizer snapshot: its buffers in <see cref="Tensors"/> and its groups and step counts in <see cref="Json"/>, both under <paramref name="name"/>.</summary>
    public void SetOptimizer(OptimizerStateDict stateDict, string name = "optimizer")
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        Tensors[name] = stateDict.ToTensors();
        Json[name] = stateDict.ToJson();
    }

    /// <summary>The optimizer snapshot stored by <see cref="SetOptimizer"/>, for <see cref="Optimizer.LoadStateDict"/>.</summary>
    /// <exception cref="KeyNotFoundException">No optimizer state under <paramref name="name"/>.</exception>
    public OptimizerStateDict GetOptimizer(string name = "optimizer") =>
        OptimizerStateDict.FromParts(GetJson(name), Tensors.TryGetValue(name, out var t) ? t : new Dictionary<string, Tensor>());

    /// <summary>Stores a scheduler snapshot as JSON under <paramref name="name"/>.</summary>
    public void SetScheduler(LRSchedulerState state, string name = "scheduler")
    {
        ArgumentNullException.ThrowIfNull(state);
        Json[name] = state.ToJson();
    }

    /// <summary>The scheduler snapshot stored by <see cref="SetScheduler"/>, for <see cref="LRScheduler.LoadStateDict"/>.</summary>
    public LRSchedulerState GetScheduler(string name = "scheduler") => LRSchedulerState.FromJson(GetJson(name));

    /// <summary>Stores a data loader's position as JSON under <paramref name="name"/>.</summary>
    public void SetDataLoader(DataLoaderState state, string name = "data_loader")
    {
        ArgumentNullException.ThrowIfNull(state);
        Json[name] = JsonSerializerFree.WriteDataLoader(state);
    }

    /// <summary>The data loader position stored by <see cref="SetDataLoader"/>.</summary>
    public DataLoaderState GetDataLoader(string name = "data_loader") => JsonSerializerFree.ReadDataLoader(GetJson(name));

    private string GetJson(string name) => Json.TryGetValue(name, out var j) ? j
        : throw new KeyNotFoundException($"CheckpointState: no JSON entry '{name}' (entries: {string.Join(", ", Json.Keys)}).");
}

/// <summary>
/// Saves and loads <see cref="CheckpointState"/> as a single safetensors file, atomically: tensors are stored as
/// <c>{dictionary}/{name}</c> and everything else as strings in <c>__metadata__</c> (<c>format</c>, <c>epoch</c>,
/// <c>step</c>, <c>tensor_dicts</c>, <c>json.{name}</c>, <c>rng.{name}</c>), so the file also opens with any
/// safetensors reader.
/// </summary>
public static class Checkpoint
{
    private const string Format = "deepsharp.checkpoint/1";

    /// <summary>
    /// Writes <paramref name="state"/> to <paramref name="path"/>, replacing any previous file only once fully written
    /// (object first, path second, as <c>torch.save(obj, f)</c> and <see cref="SafeTensors.Save"/>).
    /// </summary>
    /// <exception cref="ArgumentException">A dictionary name contains '/' or a JSON entry is not valid JSON.</exception>
    public static void Save(CheckpointState state, string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(state);
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (dict, entries) in state.Tensors)
        {
            if (string.IsNullOrEmpty(dict) || dict.Contains('/'))
                throw new ArgumentException($"Checkpoint.Save: tensor dictionary name '{dict}' must be non-empty and must not contain '/'.");
            foreach (var (name, t) in entries) tensors[$"{dict}/{name}"] = t;
        }
        var metadata = new Dictionary<string, string>
        {
            ["format"] = Format,
            ["epoch"] = state.Epoch.ToString(CultureInfo.InvariantCulture),
            ["step"] = state.Step.ToString(CultureInfo.InvariantCulture),
            ["tensor_dicts"] = JsonSerializerFree.WriteStrings(state.Tensors.Keys),
        };
        foreach (var (name, json) in state.Json)
        {
            try { using var _ = JsonDocument.Parse(json); }
            catch (JsonException ex) { throw new ArgumentException($"Checkpoint.Save: JSON entry '{name}' is not valid JSON: {ex.Message}", ex); }
            metadata[$"json.{name}"] = json;
        }
        foreach (var (name, rng) in state.RngStates)
            metadata[$"rng.{name}"] = "[" + string.Join(",", rng.Select(v => v.ToString(CultureInfo.InvariantCulture))) + "]";
        SafeTensors.Save(tensors, path, metadata);
    }

    /// <summary>
    /// Reads a checkpoint written by <see cref="Save"/>. Resuming is where a killed save shows: its temporary file
    /// next to <paramref name="path"/> is removed here (<see cref="AtomicFile.RemoveStaleTemporaries"/>).
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not a valid DeepSharp checkpoint.</exception>
    public static CheckpointState Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        AtomicFile.RemoveStaleTemporaries(path);
        var (tensors, metadata) = SafeTensors.LoadWithMetadata(path);
        if (!metadata.TryGetValue("format", out var format) || format != Format)
            throw new InvalidDataException($"Checkpoint file '{path}': not a DeepSharp checkpoint (metadata 'format' is '{format ?? "missing"}', expected '{Format}').");
        var state = new CheckpointState();
        try
        {
            state.Epoch = long.Parse(metadata["epoch"], CultureInfo.InvariantCulture);
            state.Step = long.Parse(metadata["step"], CultureInfo.InvariantCulture);
            var dicts = new Dictionary<string, Dictionary<string, Tensor>>();
            foreach (var d in JsonSerializerFree.ReadStrings(metadata["tensor_dicts"])) dicts[d] = [];
            foreach (var (key, t) in tensors)
            {
                int slash = key.IndexOf('/');
                if (slash <= 0 || !dicts.TryGetValue(key[..slash], out var dict))
                    throw new InvalidDataException($"Checkpoint file '{path}': tensor '{key}' belongs to no listed dictionary.");
                dict[key[(slash + 1)..]] = t;
            }
            foreach (var (d, dict) in dicts) state.Tensors[d] = dict;
            foreach (var (k, v) in metadata)
            {
                if (k.StartsWith("json.", StringComparison.Ordinal)) state.Json[k[5..]] = v;
                else if (k.StartsWith("rng.", StringComparison.Ordinal))
                {
                    using var doc = JsonDocument.Parse(v);
                    state.RngStates[k[4..]] = doc.RootElement.EnumerateArray().Select(e => e.GetUInt64()).ToArray();
                }
            }
        }
        catch (Exception ex) when (ex is KeyNotFoundException or FormatException or OverflowException or JsonException or InvalidOperationException)
        {
            throw new InvalidDataException($"Checkpoint file '{path}': malformed checkpoint metadata: {ex.Message}", ex);
        }
        return state;
    }
}

/// <summary>Small hand-written JSON helpers (no reflection, trimming/AOT safe).</summary>
internal static class JsonSerializerFree
{
    public static string WriteStrings(IEnumerable<string> values)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartArray();
            foreach (var v in values) w.WriteStringValue(v);
            w.WriteEndArray();
        }
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }

    public static string[] ReadStrings(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.EnumerateArray().Select(e => e.GetString() ?? throw new FormatException("null string")).ToArray();
    }

    public static string WriteDataLoader(DataLoaderState s)
    {
        var rng = s.GeneratorState is null ? "null" : "[" + string.Join(",", s.GeneratorState.Select(v => v.ToString(CultureInfo.InvariantCulture))) + "]";
        return $"{{\"generator_state\":{rng},\"batches_consumed\":{s.BatchesConsumed.ToString(CultureInfo.InvariantCulture)}}}";
    }

    public static DataLoaderState ReadDataLoader(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var g = doc.RootElement.GetProperty("generator_state");
            ulong[]? rng = g.ValueKind == JsonValueKind.Null ? null : g.EnumerateArray().Select(e => e.GetUInt64()).ToArray();
            return new DataLoaderState(rng, doc.RootElement.GetProperty("batches_consumed").GetInt32());
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new FormatException($"DataLoaderState: malformed JSON: {ex.Message}", ex);
        }
    }
}
