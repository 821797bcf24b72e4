using DeepSharp.Examples;

QuickStartExample.Run(Console.Out);
