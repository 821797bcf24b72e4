using DeepSharp.Examples.Mnist;

// A live progress bar only when writing to a terminal; plain lines in CI or when redirected.
bool interactive = !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("TERM") != "dumb";
return MnistApp.Execute(args, Console.Out, Console.Error, interactive);
