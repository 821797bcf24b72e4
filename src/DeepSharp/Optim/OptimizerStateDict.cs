using System.Globalization;
using System.Text;
using System.Text.Json;

namespace DeepSharp.Optim;

/// <summary>
/// A plain snapshot of an optimizer (see <see cref="Optimizer.StateDict"/>): per-group hyper-parameters and
/// parameter indices, and per-parameter state by index. For checkpoints it splits into a JSON document
/// (<see cref="ToJson"/>: groups and step counts) and named tensors (<see cref="ToTensors"/>:
/// <c>state.{index}.{buffer}</c>), and is rebuilt with <see cref="FromParts"/>.
/// </summary>
public sealed class OptimizerStateDict
{
    /// <summary>The groups' hyper-parameters and parameter indices, in group order.</summary>
    public List<ParamGroupState> ParamGroups { get; } = [];

    /// <summary>Per-parameter state by index (parameters without state are absent).</summary>
    public SortedDictionary<int, ParamState> State { get; } = [];

    /// <summary>The non-tensor part as JSON: <c>{"param_groups":[{"options":{…},"params":[…]}],"state":{"0":{"step":n,"buffers":[…]}}}</c>.</summary>
    public string ToJson()
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteStartArray("param_groups");
            foreach (var g in ParamGroups)
            {
                w.WriteStartObject();
                w.WriteStartObject("options");
                foreach (var (k, v) in g.Options)
                {
                    w.WritePropertyName(k);
                    JsonNumbers.Write(w, v);
                }
                w.WriteEndObject();
                w.WriteStartArray("params");
                foreach (int i in g.Params) w.WriteNumberValue(i);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("state");
            foreach (var (i, s) in State)
            {
                w.WriteStartObject(i.ToString(CultureInfo.InvariantCulture));
                w.WriteNumber("step", s.Step);
                w.WriteStartArray("buffers");
                foreach (var k in s.Buffers.Keys) w.WriteStringValue(k);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>The state buffers by name <c>state.{index}.{buffer}</c> (the tensors themselves, not copies).</summary>
    public Dictionary<string, Tensor> ToTensors()
    {
        var result = new Dictionary<string, Tensor>();
        foreach (var (i, s) in State)
            foreach (var (k, t) in s.Buffers)
                result[$"state.{i.ToString(CultureInfo.InvariantCulture)}.{k}"] = t;
        return result;
    }

    /// <summary>Rebuilds a snapshot from <see cref="ToJson"/> and <see cref="ToTensors"/> output.</summary>
    /// <exception cref="FormatException">The JSON is malformed or a listed buffer is missing.</exception>
    public static OptimizerStateDict FromParts(string json, IReadOnlyDictionary<string, Tensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(tensors);
        var sd = new OptimizerStateDict();
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            foreach (var g in root.GetProperty("param_groups").EnumerateArray())
            {
                var options = new Dictionary<string, double>();
                foreach (var o in g.GetProperty("options").EnumerateObject()) options[o.Name] = JsonNumbers.Read(o.Value);
                var indices = g.GetProperty("params").EnumerateArray().Select(e => e.GetInt32()).ToArray();
                sd.ParamGroups.Add(new ParamGroupState(options, indices));
            }
            foreach (var e in root.GetProperty("state").EnumerateObject())
            {
                int i = int.Parse(e.Name, NumberStyles.None, CultureInfo.InvariantCulture);
                var s = new ParamState { Step = e.Value.GetProperty("step").GetInt64() };
                foreach (var b in e.Value.GetProperty("buffers").EnumerateArray())
                {
                    string k = b.GetString() ?? throw new FormatException("buffer name is null");
                    string key = $"state.{e.Name}.{k}";
                    s.Buffers[k] = tensors.TryGetValue(key, out var t) ? t
                        : throw new FormatException($"OptimizerStateDict: tensor '{key}' listed in the state is missing.");
                }
                sd.State[i] = s;
            }
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or OverflowException)
        {
            throw new FormatException($"OptimizerStateDict: malformed optimizer state JSON: {ex.Message}", ex);
        }
        return sd;
    }
}

/// <summary>One parameter group in an <see cref="OptimizerStateDict"/>: its hyper-parameters and parameter indices.</summary>
/// <param name="Options">The hyper-parameters by PyTorch name.</param>
/// <param name="Params">Indices of the group's parameters, numbered across all groups in order.</param>
public sealed record ParamGroupState(Dictionary<string, double> Options, int[] Params);

/// <summary>JSON numbers that survive non-finite values (written as the strings "NaN", "Infinity", "-Infinity").</summary>
internal static class JsonNumbers
{
    public static void Write(Utf8JsonWriter w, double v)
    {
        if (double.IsFinite(v)) w.WriteNumberValue(v);
        else w.WriteStringValue(v.ToString(CultureInfo.InvariantCulture));
    }

    public static double Read(JsonElement e) => e.ValueKind == JsonValueKind.String
        ? double.Parse(e.GetString()!, NumberStyles.Float, CultureInfo.InvariantCulture)
        : e.GetDouble();
}
