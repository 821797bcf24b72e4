using DeepSharp.Examples.Common;
using DeepSharp.Examples.Translation;

// A live progress bar only when writing to a terminal; plain lines in CI or when redirected.
return TranslationApp.Execute(args, Console.Out, Console.Error, Console.In, ExampleConsole.IsInteractive);
