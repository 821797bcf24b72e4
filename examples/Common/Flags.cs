using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace DeepSharp.Examples.Common;

/// <summary>
/// Option factories with the checks and messages every example uses, and the flags all trainers share
/// (<c>--seed --threads --json --save --epochs/--steps --lr --batch-size --plot --no-plot --out-dir</c>).
/// Adding a flag to an example is one declaration, e.g. <c>static readonly Option&lt;int&gt; Depth = Flags.Int("--depth", "hidden layers", 30, min: 1);</c>
/// </summary>
public static class Flags
{
    /// <summary>An integer ≥ <paramref name="min"/> with a default.</summary>
    public static Option<int> Int(string name, string description, int defaultValue, int min = 1) => new(name)
    {
        Description = description,
        HelpName = "N",
        DefaultValueFactory = _ => defaultValue,
        CustomParser = r => ParseInt(r, name, min) ?? defaultValue,
    };

    /// <summary>An integer ≥ <paramref name="min"/>, null when not given.</summary>
    public static Option<int?> OptionalInt(string name, string description, int min = 1) => new(name)
    {
        Description = description,
        HelpName = "N",
        CustomParser = r => ParseInt(r, name, min),
    };

    /// <summary>Any 64-bit integer (seeds).</summary>
    public static Option<long> Long(string name, string description, long defaultValue) => new(name)
    {
        Description = description,
        HelpName = "N",
        DefaultValueFactory = _ => defaultValue,
        CustomParser = r =>
        {
            string v = r.Tokens[0].Value;
            if (long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out long n)) return n;
            r.AddError($"{name} needs an integer, got '{v}'.");
            return defaultValue;
        },
    };

    /// <summary>A finite number &gt; 0.</summary>
    public static Option<double> Positive(string name, string description, double defaultValue) => new(name)
    {
        Description = description,
        HelpName = "X",
        DefaultValueFactory = _ => defaultValue,
        CustomParser = r =>
        {
            string v = r.Tokens[0].Value;
            if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) && x > 0 && !double.IsInfinity(x)) return x;
            r.AddError($"{name} needs a positive number, got '{v}'.");
            return defaultValue;
        },
    };

    /// <summary>A number in [<paramref name="min"/>, <paramref name="max"/>]; null when not given and no default.</summary>
    public static Option<double?> Real(string name, string description, double min, double max, double? defaultValue = null) => new(name)
    {
        Description = description,
        HelpName = "X",
        DefaultValueFactory = _ => defaultValue,
        CustomParser = r =>
        {
            string v = r.Tokens[0].Value;
            if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) && x >= min && x <= max) return x;
            r.AddError($"{name} needs a number in [{min.ToString(CultureInfo.InvariantCulture)}, {max.ToString(CultureInfo.InvariantCulture)}], got '{v}'.");
            return defaultValue;
        },
    };

    /// <summary>One of <paramref name="choices"/>; <paramref name="defaultValue"/> null means "not given" (the caller decides).</summary>
    public static Option<string?> Choice(string name, string description, IReadOnlyList<string> choices, string? defaultValue = null) => new(name)
    {
        Description = description,
        HelpName = string.Join('|', choices),
        DefaultValueFactory = _ => defaultValue,
        CustomParser = r =>
        {
            string v = r.Tokens[0].Value;
            if (choices.Contains(v)) return v;
            r.AddError($"{name} must be one of {string.Join(", ", choices)}, got '{v}'.");
            return defaultValue;
        },
    };

    /// <summary>A string (a path, a URL), null when not given.</summary>
    public static Option<string?> Text(string name, string description, string helpName = "PATH") => new(name)
    {
        Description = description,
        HelpName = helpName,
    };

    /// <summary>A repeatable string option (<c>--mirror A --mirror B</c>).</summary>
    public static Option<string[]> Repeated(string name, string description, string helpName) => new(name)
    {
        Description = description,
        HelpName = helpName,
        DefaultValueFactory = _ => [],
    };

    /// <summary>A flag without a value.</summary>
    public static Option<bool> Switch(string name, string description) => new(name) { Description = description };

    // ------------------------------------------------------------------------------------------------ the shared flags

    /// <summary><c>--seed N</c>: initialisation, dropout and shuffling.</summary>
    public static Option<long> Seed(long defaultValue = 1) => Long("--seed", "random seed for initialisation and shuffling", defaultValue);

    /// <summary><c>--threads N</c>: kernel threads; null keeps the default (all cores, or DEEPSHARP_NUM_THREADS).</summary>
    public static Option<int?> Threads() => OptionalInt("--threads", "kernel threads (default: all cores, or DEEPSHARP_NUM_THREADS)");

    /// <summary><c>--json</c>: end with one JSON line of results.</summary>
    public static Option<bool> Json(string what = "the results") => Switch("--json", $"end with one JSON line holding {what}");

    /// <summary><c>--save PATH</c>: write the trained weights (safetensors).</summary>
    public static Option<string?> Save(string description = "write the trained weights (state dict) as safetensors") => Text("--save", description);

    /// <summary><c>--epochs N</c>: passes over the training set.</summary>
    public static Option<int> Epochs(int defaultValue) => Int("--epochs", "passes over the training set", defaultValue);

    /// <summary><c>--epochs N</c> whose default depends on other flags (null when not given).</summary>
    public static Option<int?> OptionalEpochs(string defaultText) => OptionalInt("--epochs", $"passes over the training set (default {defaultText})");

    /// <summary><c>--steps N</c>: optimizer steps.</summary>
    public static Option<int> Steps(int defaultValue) => Int("--steps", "optimizer steps", defaultValue);

    /// <summary><c>--lr X</c>: the learning rate.</summary>
    public static Option<double> LearningRate(double defaultValue, string optimizer = "Adam") => Positive("--lr", $"{optimizer} learning rate", defaultValue);

    /// <summary><c>--batch-size N</c>.</summary>
    public static Option<int> BatchSize(int defaultValue, string what = "mini-batch size") => Int("--batch-size", what, defaultValue);

    /// <summary><c>--out-dir DIR</c>: where plots and other run files go unless a path is given (default <c>runs/</c>, ignored by git).</summary>
    public static Option<string> OutputDir() => new("--out-dir")
    {
        Description = "folder for plots and run files (ignored by git)",
        HelpName = "DIR",
        DefaultValueFactory = _ => RunFolder.Default,
    };

    /// <summary><c>--plot PATH</c>: the PNG of the training curves.</summary>
    public static Option<string?> Plot(string defaultText) => Text("--plot", $"PNG of the training curves (default {defaultText})");

    /// <summary><c>--no-plot</c>.</summary>
    public static Option<bool> NoPlot() => Switch("--no-plot", "do not write the PNG");

    private static int? ParseInt(ArgumentResult r, string name, int min)
    {
        string v = r.Tokens[0].Value;
        if (int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n >= min) return n;
        r.AddError($"{name} needs an integer ≥ {min.ToString(CultureInfo.InvariantCulture)}, got '{v}'.");
        return null;
    }
}
