namespace DeepSharp;

/// <summary>
/// A seedable pseudo-random generator (xoshiro256**), like <c>torch.Generator</c>. Pass one explicitly to
/// creation functions, modules and data loaders for reproducibility independent of other code, or seed the
/// process-wide default with <see cref="Torch.ManualSeed"/>. An instance is not thread-safe; the default
/// generator is locked.
/// </summary>
public sealed class Generator
{
    private ulong _s0, _s1, _s2, _s3;
    private double? _spareNormal;

    /// <summary>A generator seeded with <paramref name="seed"/>.</summary>
    public Generator(long seed) => ManualSeed(seed);

    /// <summary>A generator seeded from the system clock and a counter.</summary>
    public Generator() : this(Environment.TickCount64 ^ (long)Interlocked.Increment(ref _instances) * 0x2545F4914F6CDD1DL) { }

    private static long _instances;

    /// <summary>The seed last given to <see cref="ManualSeed"/>.</summary>
    public long InitialSeed { get; private set; }

    /// <summary>Resets the state from a seed.</summary>
    public Generator ManualSeed(long seed)
    {
        InitialSeed = seed;
        ulong x = (ulong)seed;
        _s0 = SplitMix(ref x); _s1 = SplitMix(ref x); _s2 = SplitMix(ref x); _s3 = SplitMix(ref x);
        _spareNormal = null;
        return this;
    }

    /// <summary>The full state, for checkpoints (see <see cref="SetState"/>).</summary>
    public ulong[] GetState() => [_s0, _s1, _s2, _s3, _spareNormal is { } s ? (ulong)BitConverter.DoubleToInt64Bits(s) : 0UL, _spareNormal is null ? 0UL : 1UL, (ulong)InitialSeed];

    /// <summary>Restores a state returned by <see cref="GetState"/>.</summary>
    public void SetState(ulong[] state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Length != 7) throw new ArgumentException($"Generator.SetState: expected 7 state words, got {state.Length}.");
        (_s0, _s1, _s2, _s3) = (state[0], state[1], state[2], state[3]);
        _spareNormal = state[5] != 0 ? BitConverter.Int64BitsToDouble((long)state[4]) : null;
        InitialSeed = (long)state[6];
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [low, high).</summary>
    public long NextInt64(long low, long high)
    {
        if (high <= low) throw new ArgumentException($"RandInt: high ({high}) must be greater than low ({low}).");
        ulong range = (ulong)(high - low);
        // Rejection sampling avoids modulo bias.
        ulong limit = ulong.MaxValue - ulong.MaxValue % range;
        ulong r;
        do r = NextUInt64(); while (r >= limit);
        return low + (long)(r % range);
    }

    /// <summary>Standard normal (Box–Muller; pairs are cached).</summary>
    public double NextNormal()
    {
        if (_spareNormal is { } s)
        {
            _spareNormal = null;
            return s;
        }
        double u1;
        do u1 = NextDouble(); while (u1 <= double.Epsilon);
        double u2 = NextDouble();
        double r = Math.Sqrt(-2.0 * Math.Log(u1));
        _spareNormal = r * Math.Sin(2 * Math.PI * u2);
        return r * Math.Cos(2 * Math.PI * u2);
    }

    // ---------------------------------------------------------------- the process-wide default

    private static readonly Generator _default = new(0);
    private static readonly Lock _defaultLock = new();

    /// <summary>Runs <paramref name="body"/> with the given generator, or the locked default when null.</summary>
    internal static void Use(Generator? generator, Action<Generator> body)
    {
        if (generator is not null) { body(generator); return; }
        lock (_defaultLock) body(_default);
    }

    internal static Generator Default => _default;
    internal static Lock DefaultLock => _defaultLock;
}
