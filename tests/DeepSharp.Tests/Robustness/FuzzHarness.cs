using System.Reflection;
using DeepSharp.NN;
using Module = DeepSharp.NN.Module;

namespace DeepSharp.Tests.Robustness;

/// <summary>
/// Builds calls to public DeepSharp APIs with arguments drawn from pools of good and bad values, runs each on its own
/// thread with a timeout, and classifies the outcome. Allowed outcomes: a result, or an ArgumentException,
/// InvalidOperationException or NotSupportedException (or subclasses). Anything else — IndexOutOfRange, NullReference,
/// InvalidCast, DivideByZero, Overflow, OutOfMemory, AggregateException from a worker, a hang — is a leak.
/// </summary>
internal static class FuzzHarness
{
    // Generous: a hang never ends, while a legitimate large case on a loaded 2-core CI machine can take seconds.
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Tensors good and bad: dtypes, ranks 0–4, empty, non-contiguous, expanded, NaN/∞, requiring grad.</summary>
    private static readonly Func<Tensor>[] TensorPool =
    [
        () => Tensor.Randn([2, 3], DType.Float32, new Generator(1)),
        () => Tensor.Randn([3], DType.Float64, new Generator(2)),
        () => Tensor.Randn([2, 3], DType.Float64, new Generator(3), requiresGrad: true),
        () => Tensor.Randn([1, 2, 4, 4], DType.Float32, new Generator(4)),
        () => Tensor.Randn([2, 2, 3, 3], DType.Float64, new Generator(5), requiresGrad: true),
        () => Tensor.Randn([3, 2], DType.Float32, new Generator(6)).T,
        () => Tensor.Randn([1, 3], DType.Float32, new Generator(7)).Expand(4, 3),
        () => Tensor.Randn([4, 6], DType.Float64, new Generator(8)).Slice(1, 0, 6, 2),
        () => Tensor.Scalar(2.5),
        () => Tensor.Scalar(-1, DType.Float64, requiresGrad: true),
        () => Tensor.Zeros([0, 3], DType.Float32),
        () => Tensor.Zeros([0], DType.Float64),
        () => Tensor.FromArray(new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity, -0f, 1e38f, -1e-45f }),
        () => Tensor.FromArray(new long[] { 0, 2, 1 }),
        () => Tensor.FromArray(new long[,] { { -1, 5 }, { 3, long.MaxValue } }),
        () => Tensor.FromArray(new long[] { long.MinValue }),
        () => Tensor.FromArray(new[] { true, false, true }),
        () => Tensor.FromArray(new bool[2, 3]),
        () => Tensor.Ones([2, 3, 4], DType.Float32),
        () => Tensor.Ones([1], DType.Float64),
    ];

    private static readonly int[] IntPool = [0, 1, 2, 3, -1, -2, 4, -5, 7, 100, int.MaxValue, int.MinValue, 65536];
    private static readonly long[] LongPool = [0, 1, 3, -1, long.MaxValue, long.MinValue, int.MaxValue + 1L];
    private static readonly double[] DoublePool = [0, 1, -1, 0.5, 2, 1e-12, -3.5, double.NaN, double.PositiveInfinity, double.NegativeInfinity, 1e300, double.Epsilon];
    private static readonly string[] StringPool = ["mean", "sum", "none", "", "bogus", "weight", "0"];

    private static readonly NullabilityInfoContext Nullability = new();

    /// <summary>An argument for <paramref name="parameter"/>, or false when the type is not supported.</summary>
    public static bool TryMakeArgument(ParameterInfo parameter, Random rng, out object? value)
    {
        var type = parameter.ParameterType;
        value = null;
        // Optional parameters take their default a third of the time.
        if (parameter.HasDefaultValue && rng.Next(3) == 0)
        {
            value = parameter.DefaultValue;
            if (value is null && type.IsValueType && Nullable.GetUnderlyingType(type) is null) value = Activator.CreateInstance(type);
            return true;
        }
        // Null only where the signature allows it (a null for a non-nullable parameter breaks the caller's contract).
        bool nullable = Nullable.GetUnderlyingType(type) is not null
            || (!type.IsValueType && Nullability.Create(parameter).WriteState == NullabilityState.Nullable);
        if (nullable && rng.Next(4) == 0) return true;
        type = Nullable.GetUnderlyingType(type) ?? type;
        // A layer count of 2^31 is valid and builds 2^31 layers, as in PyTorch: that is slow, not a hang, so the
        // counts of stacked layers stay small (negative ones still come: they must be refused).
        if (type == typeof(int) && parameter.Name is { } name && name.StartsWith("num", StringComparison.Ordinal) && name.EndsWith("Layers", StringComparison.Ordinal))
        {
            value = rng.Next(-3, 7);
            return true;
        }
        bool isParams = parameter.GetCustomAttribute<ParamArrayAttribute>() is not null;
        return TryMake(type, rng, isParams, out value);
    }

    private static bool TryMake(Type type, Random rng, bool isParams, out object? value)
    {
        value = null;
        if (type == typeof(Tensor)) { value = TensorPool[rng.Next(TensorPool.Length)](); return true; }
        if (type == typeof(int)) { value = rng.Next(4) == 0 ? IntPool[rng.Next(IntPool.Length)] : rng.Next(-3, 5); return true; }
        if (type == typeof(long)) { value = rng.Next(3) == 0 ? LongPool[rng.Next(LongPool.Length)] : (long)rng.Next(-3, 5); return true; }
        if (type == typeof(double)) { value = DoublePool[rng.Next(DoublePool.Length)]; return true; }
        if (type == typeof(float)) { value = (float)DoublePool[rng.Next(DoublePool.Length)]; return true; }
        if (type == typeof(bool)) { value = rng.Next(2) == 0; return true; }
        if (type == typeof(string)) { value = StringPool[rng.Next(StringPool.Length)]; return true; }
        if (type == typeof(Generator)) { value = new Generator(rng.Next()); return true; }
        if (type == typeof(Index)) { value = new Index(rng.Next(0, 4), fromEnd: rng.Next(3) == 0); return true; }
        if (type == typeof(Range))
        {
            value = new Range(new Index(rng.Next(0, 4), rng.Next(4) == 0), new Index(rng.Next(0, 5), rng.Next(4) == 0));
            return true;
        }
        if (type.IsEnum)
        {
            var values = Enum.GetValues(type);
            value = rng.Next(6) == 0 ? Enum.ToObject(type, 97) : values.GetValue(rng.Next(values.Length));
            return true;
        }
        if (type == typeof(int[]))
        {
            int n = isParams ? rng.Next(0, 4) : rng.Next(0, 5);
            var a = new int[n];
            for (int i = 0; i < n; i++) a[i] = rng.Next(5) == 0 ? IntPool[rng.Next(IntPool.Length)] : rng.Next(-2, 5);
            value = a;
            return true;
        }
        if (type == typeof(long[]) || type == typeof(ulong[]))
        {
            int n = rng.Next(0, 8);
            value = type == typeof(long[]) ? Enumerable.Range(0, n).Select(_ => (long)rng.Next(-2, 5)).ToArray()
                : Enumerable.Range(0, n).Select(_ => (ulong)rng.NextInt64()).ToArray();
            return true;
        }
        if (type == typeof(double[])) { value = Enumerable.Range(0, rng.Next(0, 4)).Select(_ => DoublePool[rng.Next(DoublePool.Length)]).ToArray(); return true; }
        if (type == typeof(Tensor[]) || type == typeof(IEnumerable<Tensor>) || type == typeof(IReadOnlyList<Tensor>) || type == typeof(Tensor?[]))
        {
            value = Enumerable.Range(0, rng.Next(0, 4)).Select(_ => TensorPool[rng.Next(TensorPool.Length)]()).ToArray();
            return true;
        }
        if (type.IsArray && type.GetElementType() is { IsPrimitive: true } element)
        {
            int n = rng.Next(0, 7);
            var arr = Array.CreateInstance(element, n);
            for (int i = 0; i < n; i++) arr.SetValue(Convert.ChangeType(rng.Next(-2, 3), element, System.Globalization.CultureInfo.InvariantCulture), i);
            value = arr;
            return true;
        }
        if (type == typeof(Index[])) { value = Enumerable.Range(0, rng.Next(0, 4)).Select(_ => new Index(rng.Next(0, 4), rng.Next(3) == 0)).ToArray(); return true; }
        if (type == typeof(Array))
        {
            value = rng.Next(5) switch
            {
                0 => new float[,] { { 1, 2 }, { 3, 4 } },
                1 => new double[] { 1, double.NaN },
                2 => new int[0, 3],
                3 => new string[] { "x" },
                _ => new long[2, 1, 2],
            };
            return true;
        }
        if (type == typeof(ValueTuple<int, int>)) { value = (rng.Next(-1, 4), rng.Next(-1, 4)); return true; }
        if (type == typeof(ValueTuple<double, double>)) { value = (DoublePool[rng.Next(DoublePool.Length)], DoublePool[rng.Next(DoublePool.Length)]); return true; }
        return false;
    }

    public enum Outcome { Result, AllowedException, Leak, Timeout }

    /// <summary>Runs <paramref name="call"/> on its own thread; a call that outlives <see cref="CallTimeout"/> is a hang.</summary>
    public static (Outcome Outcome, Exception? Error) Run(Func<object?> call)
    {
        Exception? error = null;
        object? result = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = call();
                // A result must be usable: its shape consistent and its values readable.
                if (result is Tensor t) Check(t);
                else if (result is Tensor[] ts) foreach (var x in ts) Check(x);
                else if (result is ValueTuple<Tensor, Tensor> pair) { Check(pair.Item1); Check(pair.Item2); }
            }
            catch (TargetInvocationException e) { error = e.InnerException ?? e; }
            catch (Exception e) { error = e; }
        }, maxStackSize: 16 << 20) { IsBackground = true };
        thread.Start();
        if (!thread.Join(CallTimeout)) return (Outcome.Timeout, null);
        if (error is null) return (Outcome.Result, null);
        return (IsAllowed(error) ? Outcome.AllowedException : Outcome.Leak, error);
    }

    private static void Check(Tensor t)
    {
        long numel = 1;
        foreach (int d in t.Shape) numel *= d;
        if (numel != t.NumEl || t.Shape.Any(d => d < 0)) throw new InternalErrorException($"inconsistent shape {string.Join(",", t.Shape)} numel {t.NumEl}");
        _ = t.ToString();
    }

    public static bool IsAllowed(Exception e) =>
        e is ArgumentException or InvalidOperationException or NotSupportedException
        && e is not InternalErrorException;

    private sealed class InternalErrorException(string message) : Exception(message);

    /// <summary>Public methods of the public op surface: Tensor (instance and static) and F.</summary>
    public static MethodInfo[] OpMethods()
    {
        var exclude = new HashSet<string>
        {
            // Wait on or print to the outside world, or are covered by their own tests.
            nameof(object.GetHashCode), nameof(object.GetType), nameof(object.Equals),
        };
        return new[] { typeof(Tensor), typeof(F) }
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Where(m => !exclude.Contains(m.Name) && !m.IsSpecialName || m.Name.StartsWith("op_", StringComparison.Ordinal) || m.Name is "get_Item" or "get_T" or "get_MT" or "get_Shape")
            .Where(m => !m.ReturnType.IsByRefLike && !m.GetParameters().Any(p => p.ParameterType.IsByRefLike || p.ParameterType.IsByRef || p.ParameterType.IsPointer))
            .Where(m => !m.GetParameters().Any(p => typeof(Delegate).IsAssignableFrom(p.ParameterType)))
            .OrderBy(m => m.DeclaringType!.Name).ThenBy(m => m.ToString(), StringComparer.Ordinal)
            .ToArray();
    }

    /// <summary>Instantiates a generic method with a random element type (supported or not).</summary>
    public static MethodInfo Close(MethodInfo m, Random rng)
    {
        if (!m.IsGenericMethodDefinition) return m;
        Type[] choices = [typeof(float), typeof(double), typeof(long), typeof(bool), typeof(int), typeof(short)];
        var args = m.GetGenericArguments().Select(_ => choices[rng.Next(choices.Length)]).ToArray();
        try { return m.MakeGenericMethod(args); }
        catch (ArgumentException) { return m.MakeGenericMethod(m.GetGenericArguments().Select(_ => typeof(float)).ToArray()); }
    }

    /// <summary>Every concrete public module with a public Forward (any number of tensor, mask and option arguments).</summary>
    public static Type[] ModuleTypes() =>
        typeof(Module).Assembly.GetExportedTypes()
            .Where(t => !t.IsAbstract && !t.IsGenericTypeDefinition && typeof(Module).IsAssignableFrom(t) && ForwardMethods(t).Length > 0)
            .OrderBy(t => t.FullName, StringComparer.Ordinal)
            .ToArray();

    private static MethodInfo[] ForwardMethods(Type t) =>
        t.GetMethods(BindingFlags.Public | BindingFlags.Instance).Where(m => m.Name == "Forward" && !m.IsGenericMethodDefinition).ToArray();

    /// <summary>Calls one of the module's Forward overloads with random arguments (tensors from the pool, masks,
    /// nulls where allowed); the exception a Forward throws is rethrown as is, not wrapped by reflection.</summary>
    public static object? Forward(Module module, Random rng)
    {
        var overloads = ForwardMethods(module.GetType());
        var method = overloads[rng.Next(overloads.Length)];
        var parameters = method.GetParameters();
        var args = new object?[parameters.Length];
        for (int i = 0; i < parameters.Length; i++)
            if (!TryMakeArgument(parameters[i], rng, out args[i])) return null;
        try { return method.Invoke(module, args); }
        catch (TargetInvocationException e) when (e.InnerException is { } inner)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(inner).Throw();
            throw;
        }
    }
}
