using System.Text;
using System.Text.Json;

namespace DeepSharp.Optim;

/// <summary>
/// Base class of learning-rate schedulers (PyTorch's <c>torch.optim.lr_scheduler.LRScheduler</c>). Construction
/// records each group's <c>initial_lr</c> (the base lr) and applies the epoch-0 rate; each <see cref="Step"/>
/// advances <see cref="LastEpoch"/> by one and sets every group's lr. Call it after <c>optimizer.Step()</c>.
/// Rates are computed in closed form from the base lrs (PyTorch's <c>_get_closed_form_lr</c>), so a scheduler
/// owns its optimizer's lr: it overwrites rather than composes with another scheduler's changes.
/// </summary>
public abstract class LRScheduler
{
    private double[] _baseLrs;
    private double[] _lastLrs = [];

    /// <summary>Attaches to <paramref name="optimizer"/> and applies the rate for epoch 0.</summary>
    /// <param name="optimizer">The optimizer whose groups' lr this scheduler sets.</param>
    protected LRScheduler(Optimizer optimizer) : this(optimizer, applyInitial: true) { }

    private protected LRScheduler(Optimizer optimizer, bool applyInitial)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        Optimizer = optimizer;
        foreach (var g in optimizer.ParamGroups)
            if (!g.Has("initial_lr")) g["initial_lr"] = g.Lr;
        _baseLrs = optimizer.ParamGroups.Select(g => g["initial_lr"]).ToArray();
        LastEpoch = -1;
        if (applyInitial) Step();
    }

    /// <summary>The optimizer being scheduled.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>The number of <see cref="Step"/> calls since construction (0 right after construction).</summary>
    public int LastEpoch { get; private set; }

    /// <summary>The base (initial) lr of each group.</summary>
    public IReadOnlyList<double> BaseLrs => _baseLrs;

    /// <summary>Advances one epoch (or iteration) and sets each group's learning rate.</summary>
    public virtual void Step() => ApplyEpoch(LastEpoch + 1);

    /// <summary>The learning rates last set, one per group (PyTorch's <c>get_last_lr()</c>).</summary>
    public double[] GetLastLr() => (double[])_lastLrs.Clone();

    /// <summary>The closed-form learning rate of group <paramref name="group"/> at <paramref name="epoch"/>.</summary>
    protected abstract double ComputeLr(int group, double baseLr, int epoch);

    internal void ApplyEpoch(int epoch)
    {
        LastEpoch = epoch;
        var groups = Optimizer.ParamGroups;
        if (groups.Count != _baseLrs.Length)
            throw new InvalidOperationException($"{GetType().Name}: the optimizer has {groups.Count} parameter groups but the scheduler was set up for {_baseLrs.Length}.");
        var lrs = new double[groups.Count];
        for (int i = 0; i < lrs.Length; i++) groups[i].Lr = lrs[i] = ComputeLr(i, _baseLrs[i], epoch);
        _lastLrs = lrs;
    }

    /// <summary>A snapshot for resuming: last epoch, base lrs and last lrs (plus nested schedulers' state).</summary>
    public virtual LRSchedulerState StateDict() => new(LastEpoch, (double[])_baseLrs.Clone(), GetLastLr(), []);

    /// <summary>Restores a snapshot from <see cref="StateDict"/> and re-applies its last lrs to the optimizer.</summary>
    /// <exception cref="ArgumentException">The snapshot has a different number of groups.</exception>
    public virtual void LoadStateDict(LRSchedulerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        int n = Optimizer.ParamGroups.Count;
        if (state.BaseLrs.Length != n || state.LastLrs.Length != n)
            throw new ArgumentException($"{GetType().Name}.LoadStateDict: the state has {state.BaseLrs.Length} base lrs and {state.LastLrs.Length} last lrs; the optimizer has {n} parameter groups.");
        LastEpoch = state.LastEpoch;
        _baseLrs = (double[])state.BaseLrs.Clone();
        _lastLrs = (double[])state.LastLrs.Clone();
        for (int i = 0; i < n; i++)
        {
            Optimizer.ParamGroups[i]["initial_lr"] = _baseLrs[i];
            Optimizer.ParamGroups[i].Lr = _lastLrs[i];
        }
    }
}

/// <summary>A scheduler's resumable state (see <see cref="LRScheduler.StateDict"/>); JSON via <see cref="ToJson"/>/<see cref="FromJson"/>.</summary>
/// <param name="LastEpoch">Steps taken.</param>
/// <param name="BaseLrs">Base lr per group.</param>
/// <param name="LastLrs">Last lr set per group.</param>
/// <param name="Children">States of nested schedulers (for <see cref="SequentialLR"/>).</param>
public sealed record LRSchedulerState(int LastEpoch, double[] BaseLrs, double[] LastLrs, LRSchedulerState[] Children)
{
    /// <summary>The state as JSON: <c>{"last_epoch":n,"base_lrs":[…],"last_lrs":[…],"children":[…]}</c>.</summary>
    public string ToJson()
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms)) Write(w);
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    private void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteNumber("last_epoch", LastEpoch);
        w.WriteStartArray("base_lrs");
        foreach (var v in BaseLrs) JsonNumbers.Write(w, v);
        w.WriteEndArray();
        w.WriteStartArray("last_lrs");
        foreach (var v in LastLrs) JsonNumbers.Write(w, v);
        w.WriteEndArray();
        w.WriteStartArray("children");
        foreach (var c in Children) c.Write(w);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>Parses <see cref="ToJson"/> output.</summary>
    /// <exception cref="FormatException">Malformed JSON.</exception>
    public static LRSchedulerState FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            using var doc = JsonDocument.Parse(json);
            return Read(doc.RootElement);
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new FormatException($"LRSchedulerState: malformed scheduler state JSON: {ex.Message}", ex);
        }
    }

    private static LRSchedulerState Read(JsonElement e) => new(
        e.GetProperty("last_epoch").GetInt32(),
        e.GetProperty("base_lrs").EnumerateArray().Select(JsonNumbers.Read).ToArray(),
        e.GetProperty("last_lrs").EnumerateArray().Select(JsonNumbers.Read).ToArray(),
        e.GetProperty("children").EnumerateArray().Select(Read).ToArray());

    /// <inheritdoc/>
    public override string ToString() => ToJson();
}
