using System.Globalization;
using System.Security.Cryptography;
using DeepSharp;
using DeepSharp.Distributed;
using DeepSharp.NN;
using DeepSharp.Optim;

// Scenarios for tests/DeepSharp.Distributed.Tests, one per run: each rank prints "rank R: …" lines; a failed check throws.
//   collectives                 all-reduce (sum, average, max, min) and broadcast against values computed here
//   hooks                       DDP bucket order and overlap: the events of one backward
//   train [--accumulate N] [--threads T] [--steps S]   a small conv + LayerNorm + dropout model; prints weights_sha256
//   syncbn                      SyncBatchNorm over the ranks' slices against BatchNorm of the whole batch in one process
//   throw                       rank 1 throws while rank 0 waits in a barrier
//   bandwidth [--mib M] [--iterations K]   all-reduce timings of an M MiB bucket (docs/distributed.md; not a test)
string scenario = args.Length > 0 ? args[0] : "collectives";
int Option(string name, int fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}
Torch.SetNumThreads(Option("--threads", 1));
Distributed.InitProcessGroup();
int rank = Distributed.Rank, world = Distributed.WorldSize;
void Say(string line) { Console.WriteLine($"rank {rank}: {line}"); Console.Out.Flush(); }

switch (scenario)
{
    case "collectives": Collectives(); break;
    case "hooks": Hooks(); break;
    case "train": Train(Option("--accumulate", 1), Option("--steps", 6)); break;
    case "syncbn": SyncBn(); break;
    case "bandwidth": Bandwidth(Option("--mib", 25), Option("--iterations", 20)); break;
    case "throw":
        if (rank == 1) throw new InvalidOperationException("rank 1 failed on purpose in its training step");
        Distributed.Barrier();
        Say("passed the barrier");
        break;
    default: throw new ArgumentException($"unknown scenario '{scenario}'");
}
Distributed.DestroyProcessGroup();
return 0;

// Values whose float sum depends on the order: (a + b) + c != a + (b + c) for these.
static float Value(int r, int i) => (float)(Math.Pow(10, (r * 7 + i) % 9 - 4) * (1 + 0.1234567 * r + 0.01 * i) * ((r + i) % 3 == 0 ? -1 : 1));

void Collectives()
{
    const int n = 1001;   // not a multiple of the world size: the chunks are padded
    var sum = Tensor.FromBuffer(Enumerable.Range(0, n).Select(i => Value(rank, i)).ToArray(), n);
    var avg = sum.Clone();
    var max = sum.Clone();
    var min = sum.Clone();
    var dbl = sum.To(DType.Float64);
    Distributed.AllReduce(sum, ReduceOp.Sum);
    Distributed.AllReduce(avg, ReduceOp.Average);
    Distributed.AllReduce(max, ReduceOp.Max);
    Distributed.AllReduce(min, ReduceOp.Min);
    Distributed.AllReduce(dbl, ReduceOp.Sum);
    int orderMatters = 0;
    for (int i = 0; i < n; i++)
    {
        float expect = Value(0, i), mx = Value(0, i), mn = Value(0, i);
        double expectD = Value(0, i);
        for (int r = 1; r < world; r++)
        {
            expect += Value(r, i);
            expectD += Value(r, i);
            mx = Math.Max(mx, Value(r, i));
            mn = Math.Min(mn, Value(r, i));
        }
        float reversed = Value(world - 1, i);
        for (int r = world - 2; r >= 0; r--) reversed += Value(r, i);
        if (reversed != expect) orderMatters++;
        Check(sum, i, expect, "Sum");
        Check(avg, i, expect / world, "Average");
        Check(max, i, mx, "Max");
        Check(min, i, mn, "Min");
        if (dbl.ToArray<double>()[i] != expectD) throw new InvalidOperationException($"Sum (float64) element {i}: {dbl.ToArray<double>()[i]:R}, expected {expectD:R}");
    }
    var b = rank == 1 ? Tensor.Arange(0, 6, dtype: DType.Int64).Reshape(2, 3) : Tensor.Zeros([2, 3], DType.Int64);
    Distributed.Broadcast(b, src: 1 % world);
    var expectB = world > 1 ? new long[] { 0, 1, 2, 3, 4, 5 } : new long[6];
    if (!b.ToArray<long>().SequenceEqual(expectB)) throw new InvalidOperationException($"Broadcast: got {string.Join(",", b.ToArray<long>())}");
    Say($"collectives ok over {world} ranks ({orderMatters} sums where the reverse order gives other bits)");
}

static void Check(Tensor t, int i, float expect, string op)
{
    float got = t.ToArray<float>()[i];
    if (BitConverter.SingleToInt32Bits(got) != BitConverter.SingleToInt32Bits(expect))
        throw new InvalidOperationException($"{op} element {i}: got {got:R}, expected {expect:R}");
}

void Hooks()
{
    Torch.ManualSeed(3);
    var model = new Sequential(new Linear(16, 64), new ReLU(), new Linear(64, 64), new ReLU(), new Linear(64, 64), new ReLU(), new Linear(64, 4));
    // 0.01 MiB buckets: a 64×64 layer (16 KiB) fills one, so the model spans several buckets.
    using var ddp = new DistributedDataParallel(model, bucketCapMiB: 0.01, firstBucketMiB: 0.01);
    var x = Tensor.Randn([8, 16], DType.Float32, new Generator(100 + rank));
    ddp.Forward(x).Square().Mean().Backward();
    Say("buckets " + string.Join(" | ", ddp.Buckets.Select(b => string.Join(",", b))));
    Say("events " + string.Join(" ", ddp.LastBackwardEvents.Select(e => e.Kind == "Wait" ? "W" : $"{e.Kind[0]}{e.Index}")));
    Say($"grad checksum {Checksum(model.Parameters().Select(p => p.Grad!))}");
}

void Train(int accumulate, int steps)
{
    if (accumulate > 1 && world > 1) throw new ArgumentException("train: --accumulate is for a single process");
    int shards = Math.Max(accumulate, world), batch = 4;
    Torch.ManualSeed(7);
    var dropoutGenerator = new Generator(0);
    var model = new Sequential(
        new Conv2d(2, 8, 3, padding: 1), new ReLU(), new Flatten(), new Linear(8 * 6 * 6, 128),
        new LayerNorm([128]), new ReLU(), new Dropout(0.25, dropoutGenerator), new Linear(128, 3));
    // Three buckets: the head and LayerNorm, the 288×128 weight (144 KiB) alone, the convolution. With 3 ranks the middle
    // one is reduced in two phases (all-to-all, ordered sum, all-gather) and the small ones in one (an all-gather of the
    // whole bucket), so both forms and their order across the ranks are checked against --accumulate.
    Module<Tensor, Tensor> net = world > 1 ? new DistributedDataParallel(model, bucketCapMiB: 0.05, firstBucketMiB: 0.01) : model;
    var optimizer = new Adam(model.Parameters(), lr: 1e-2);
    Say($"initial_sha256 {Checksum(model.Parameters())}");
    var data = Tensor.Randn([50, 2, 6, 6], DType.Float32, new Generator(5));
    var labels = Tensor.FromBuffer(Enumerable.Range(0, 50).Select(i => (long)(i % 3)).ToArray(), 50);
    var lossFn = new CrossEntropyLoss();
    var samplers = Enumerable.Range(0, shards).Select(s => new DistributedSampler(50, batch, shards, s, seed: 9, dropLast: true)).ToArray();
    long step = 0;
    for (int epoch = 0; step < steps; epoch++)
    {
        foreach (var s in samplers) s.SetEpoch(epoch);
        var iterators = (world > 1 ? [samplers[rank]] : samplers).Select(s => s.Batches().GetEnumerator()).ToArray();
        while (step < steps && iterators.All(it => it.MoveNext()))
        {
            optimizer.ZeroGrad();
            for (int k = 0; k < iterators.Length; k++)
            {
                int shard = world > 1 ? rank : k;
                dropoutGenerator.ManualSeed(Distributed.SeedFor(9, step, shard));
                var index = Tensor.FromBuffer(iterators[k].Current.Select(i => (long)i).ToArray(), iterators[k].Current.Length);
                lossFn.Forward(net.Forward(data.IndexSelect(0, index)), labels.IndexSelect(0, index)).Backward();
            }
            if (accumulate > 1) DistributedDataParallel.AverageAccumulatedGradients(model.Parameters(), accumulate);
            optimizer.Step();
            step++;
        }
    }
    Say($"weights_sha256 {Checksum(model.Parameters())} world_size {world} accumulate {accumulate} threads {Torch.GetNumThreads()}");
}

void SyncBn()
{
    int per = 2, n = per * world;
    var x = Tensor.Randn([n, 3, 4, 4], DType.Float64, new Generator(21));
    var w = Tensor.Randn([n, 3, 4, 4], DType.Float64, new Generator(22));
    // Reference: BatchNorm over the whole batch, in this process.
    var full = x.Clone().RequiresGrad_();
    var bn = new BatchNorm2d(3, dtype: DType.Float64);
    var yFull = bn.Forward(full);
    (yFull * w).Sum().Backward();
    var expectY = yFull.Detach().Narrow(0, rank * per, per);
    var expectGrad = full.Grad!.Narrow(0, rank * per, per);
    var mine = x.Narrow(0, rank * per, per).Clone().RequiresGrad_();
    var sync = new SyncBatchNorm(3, dtype: DType.Float64);
    var y = sync.Forward(mine);
    (y * w.Narrow(0, rank * per, per)).Sum().Backward();
    double dy = (y.Detach() - expectY).Abs().Max().Item(), dg = (mine.Grad! - expectGrad).Abs().Max().Item();
    double dm = (sync.StateDict()["running_mean"] - bn.StateDict()["running_mean"]).Abs().Max().Item();
    Say(string.Create(CultureInfo.InvariantCulture, $"syncbn max |y - y_full| {dy:E2} max |dx - dx_full| {dg:E2} max |running_mean - full| {dm:E2}"));
}

unsafe void Bandwidth(int mib, int iterations)
{
    int count = mib * (1 << 20) / sizeof(float);
    var group = Distributed.World;
    int padded = group.ChunkLength(count) * world;
    using var data = new NativeBuffer<float>(padded);
    using var scratch = new NativeBuffer<float>(padded);
    var tensor = Tensor.Ones([count], DType.Float32);
    double bus = 2.0 * (world - 1) / world * count * sizeof(float);
    void Time(string name, Action call)
    {
        call();
        var times = new double[iterations];
        for (int i = 0; i < iterations; i++)
        {
            group.Barrier();
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            call();
            times[i] = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        Array.Sort(times);
        double median = times[iterations / 2];
        if (rank == 0) Say(string.Create(CultureInfo.InvariantCulture, $"{name} {mib} MiB x {world} ranks: median {median * 1e3:F2} ms, bus bandwidth {bus / median / 1e9:F2} GB/s"));
    }
    Time("DDP bucket (rank-ordered: all-to-all, ordered sum, all-gather)", () => group.ReduceInRankOrder(data.Pointer, scratch.Pointer, padded / world, ReduceOp.Average));
    Time("Distributed.AllReduce(tensor, Sum) (rank-ordered, with copies)", () => Distributed.AllReduce(tensor, ReduceOp.Sum));
    Time("Distributed.AllReduce(tensor, Max) (Open MPI's MPI_Allreduce)", () => Distributed.AllReduce(tensor, ReduceOp.Max));
}

static string Checksum(IEnumerable<Tensor> tensors)
{
    using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    foreach (var t in tensors) sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.Contiguous().ToArray<float>().AsSpan()));
    return Convert.ToHexStringLower(sha.GetHashAndReset());
}
