using DeepSharp.Examples.Translation;

// A live progress bar only when writing to a terminal; plain lines in CI or when redirected.
bool interactive = !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("TERM") != "dumb";
return TranslationApp.Execute(args, Console.Out, Console.Error, Console.In, interactive);
