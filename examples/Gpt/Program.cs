using DeepSharp.Examples.Common;
using DeepSharp.Examples.Gpt;

// A live progress bar only when writing to a terminal; plain lines in CI or when redirected.
return GptApp.Execute(args, Console.Out, Console.Error, ExampleConsole.IsInteractive);
