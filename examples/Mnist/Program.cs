using DeepSharp.Examples.Common;
using DeepSharp.Examples.Mnist;

// A live progress bar only when writing to a terminal; plain lines in CI or when redirected.
return MnistApp.Execute(args, Console.Out, Console.Error, ExampleConsole.IsInteractive);
