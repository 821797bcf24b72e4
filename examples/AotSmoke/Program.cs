// A small MLP (2 → 32 → 32 → 2) trained with Adam on two interleaving half circles, meant to be published with NativeAOT:
//   dotnet publish examples/AotSmoke -c Release -r linux-x64
//   examples/AotSmoke/bin/Release/net10.0/linux-x64/publish/AotSmoke [steps]
// It prints the loss as it trains and the final accuracy; with 0 steps it only builds the model (start-up time).
using System.Diagnostics;
using DeepSharp;
using DeepSharp.NN;
using DeepSharp.Optim;

var clock = Stopwatch.StartNew();
int steps = args.Length > 0 && int.TryParse(args[0], out int s) ? s : 300;

var g = new Generator(1);
const int perMoon = 100;
var xs = new float[2 * perMoon * 2];
var ys = new long[2 * perMoon];
for (int i = 0; i < perMoon; i++)
{
    double t = Math.PI * i / (perMoon - 1);
    xs[4 * i] = (float)(Math.Cos(t) + 0.1 * g.NextNormal());
    xs[4 * i + 1] = (float)(Math.Sin(t) + 0.1 * g.NextNormal());
    xs[4 * i + 2] = (float)(1 - Math.Cos(t) + 0.1 * g.NextNormal());
    xs[4 * i + 3] = (float)(0.5 - Math.Sin(t) + 0.1 * g.NextNormal());
    ys[2 * i + 1] = 1;
}
var x = Tensor.FromArray(xs, 2 * perMoon, 2);
var y = Tensor.FromArray(ys);

var model = new Sequential(
    new Linear(2, 32, generator: g), new Tanh(),
    new Linear(32, 32, generator: g), new ReLU(),
    new Linear(32, 2, generator: g));
var optimizer = new Adam(model.Parameters(), lr: 0.01);
var lossFn = new CrossEntropyLoss();
Console.WriteLine($"model ready: {model.ParameterCount()} parameters, {clock.Elapsed.TotalMilliseconds:F1} ms after Main");

double loss = double.NaN;
for (int step = 1; step <= steps; step++)
{
    optimizer.ZeroGrad();
    var l = lossFn.Forward(model.Forward(x), y);
    l.Backward();
    optimizer.Step();
    loss = l.Item();
    if (step == 1 || step % 50 == 0) Console.WriteLine($"step {step,4}  loss {loss:F4}");
}

double accuracy;
using (Autograd.NoGrad()) accuracy = model.Forward(x).ArgMax(1).Eq(y).To(DType.Float64).Mean().Item();
Console.WriteLine($"final loss {loss:F4}, accuracy {accuracy:P1}, {steps} steps in {clock.Elapsed.TotalMilliseconds:F0} ms");
return steps == 0 || accuracy >= 0.95 ? 0 : 1;
