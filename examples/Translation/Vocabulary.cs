using System.Text.Json;
using System.Text.RegularExpressions;

namespace DeepSharp.Examples.Translation;

/// <summary>Splits text into word and punctuation tokens ("It's 3 p.m., ok?" → It's 3 p . m . , ok ?).</summary>
public static partial class Tokenizer
{
    [GeneratedRegex(@"\w+(?:['’\-]\w+)*|[^\w\s]", RegexOptions.CultureInvariant)]
    private static partial Regex TokenPattern();

    public static string[] Tokenize(string text) =>
        TokenPattern().Matches(text ?? throw new ArgumentNullException(nameof(text))).Select(m => m.Value).ToArray();

    public static string Detokenize(IEnumerable<string> tokens) => string.Join(' ', tokens);
}

/// <summary>A token ↔ id table whose first four ids are the special tokens &lt;pad&gt;, &lt;bos&gt;, &lt;eos&gt;, &lt;unk&gt;.</summary>
public sealed class Vocabulary
{
    public const string Pad = "<pad>", Bos = "<bos>", Eos = "<eos>", Unk = "<unk>";
    public const int PadId = 0, BosId = 1, EosId = 2, UnkId = 3;

    private readonly List<string> _tokens;
    private readonly Dictionary<string, int> _ids;

    public Vocabulary(IEnumerable<string> tokens)
    {
        _tokens = [Pad, Bos, Eos, Unk];
        _ids = new Dictionary<string, int>(StringComparer.Ordinal) { [Pad] = PadId, [Bos] = BosId, [Eos] = EosId, [Unk] = UnkId };
        foreach (var t in tokens)
        {
            if (_ids.ContainsKey(t)) continue;
            _ids[t] = _tokens.Count;
            _tokens.Add(t);
        }
    }

    /// <summary>The vocabulary of tokenised sentences: tokens seen at least <paramref name="minCount"/> times, most
    /// frequent first (ties in order of first appearance).</summary>
    public static Vocabulary Build(IEnumerable<IReadOnlyList<string>> sentences, int minCount = 1)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var s in sentences)
            foreach (var t in s)
            {
                if (counts.TryGetValue(t, out int c)) counts[t] = c + 1;
                else { counts[t] = 1; order.Add(t); }
            }
        var kept = order.Where(t => counts[t] >= minCount).Select((t, i) => (t, i)).OrderByDescending(x => counts[x.t]).ThenBy(x => x.i).Select(x => x.t);
        return new Vocabulary(kept);
    }

    public int Count => _tokens.Count;

    public IReadOnlyList<string> Tokens => _tokens;

    public int this[string token] => _ids.TryGetValue(token, out int id) ? id : UnkId;

    public string this[int id] => id >= 0 && id < _tokens.Count ? _tokens[id] : Unk;

    public bool Contains(string token) => _ids.ContainsKey(token);

    /// <summary>Token ids of a tokenised sentence, with &lt;eos&gt; appended (and &lt;bos&gt; prepended if asked).</summary>
    public long[] Encode(IReadOnlyList<string> tokens, bool bos = false, bool eos = true)
    {
        var ids = new List<long>(tokens.Count + 2);
        if (bos) ids.Add(BosId);
        foreach (var t in tokens) ids.Add(this[t]);
        if (eos) ids.Add(EosId);
        return ids.ToArray();
    }

    /// <summary>The tokens of ids, stopping at &lt;eos&gt; and skipping &lt;pad&gt; and &lt;bos&gt;.</summary>
    public List<string> Decode(IEnumerable<long> ids)
    {
        var tokens = new List<string>();
        foreach (long id in ids)
        {
            if (id == EosId) break;
            if (id is PadId or BosId) continue;
            tokens.Add(this[(int)id]);
        }
        return tokens;
    }

    /// <summary>Writes the source and target vocabularies as one JSON file: {"source": [...], "target": [...]}.</summary>
    public static void Save(string path, Vocabulary source, Vocabulary target)
    {
        var json = JsonSerializer.Serialize(new Dictionary<string, IReadOnlyList<string>> { ["source"] = source.Tokens, ["target"] = target.Tokens },
            new JsonSerializerOptions { WriteIndented = false });
        File.WriteAllText(path, json);
    }

    public static (Vocabulary Source, Vocabulary Target) Load(string path)
    {
        var data = JsonSerializer.Deserialize<Dictionary<string, string[]>>(File.ReadAllText(path))
            ?? throw new InvalidDataException($"'{path}' is not a vocabulary file.");
        if (!data.TryGetValue("source", out var s) || !data.TryGetValue("target", out var t))
            throw new InvalidDataException($"'{path}' needs \"source\" and \"target\" token lists.");
        foreach (var list in new[] { s, t })
            if (list.Length < 4 || list[PadId] != Pad || list[BosId] != Bos || list[EosId] != Eos || list[UnkId] != Unk)
                throw new InvalidDataException($"'{path}': a token list must start with {Pad}, {Bos}, {Eos}, {Unk}.");
        return (new Vocabulary(s.Skip(4)), new Vocabulary(t.Skip(4)));
    }

    /// <summary>The vocabulary file that goes with a weights file: model.safetensors → model.vocab.json.</summary>
    public static string PathFor(string weightsPath) => Path.ChangeExtension(weightsPath, null) + ".vocab.json";
}
