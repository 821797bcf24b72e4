using DeepSharp.Examples.GradientFlow;

// A live progress bar only when writing to a terminal; plain lines in CI or when redirected.
bool interactive = !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("TERM") != "dumb";
return GradientFlowApp.Execute(args, Console.Out, Console.Error, interactive);
