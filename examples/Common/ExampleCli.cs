using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Parsing;

namespace DeepSharp.Examples.Common;

/// <summary>A command-line mistake: reported with a hint to run <c>--help</c>, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>
/// Parses an example's command line with System.CommandLine and turns its errors into <see cref="UsageException"/>s
/// with the messages the examples have always printed ("Unknown option '--x'.", "--epochs needs an integer ≥ 1, got 'zero'.").
/// </summary>
public static class ExampleCli
{
    /// <summary>
    /// Parses <paramref name="args"/> against <paramref name="root"/>; a first argument <c>help</c> means <c>--help</c>.
    /// Returns the parse result (check <see cref="IsHelp"/>); throws <see cref="UsageException"/> on the first error.
    /// </summary>
    /// <param name="misplaced">Names an option that exists, but not for the command given (e.g. a training flag after
    /// <c>predict</c>); return null to fall back to "Option X does not apply to COMMAND."</param>
    public static ParseResult Parse(Command root, IReadOnlyList<string> args, Func<string, string, string?>? misplaced = null)
    {
        if (args.Count > 0 && args[0] == "help") args = ["--help", .. args.Skip(1)];
        // A command without an action (the root of an example whose default command is train) is still valid alone.
        foreach (var c in Commands(root)) c.Action ??= NoAction;
        var result = root.Parse(args);
        if (IsHelp(result) || result.Errors.Count == 0) return result;

        string command = result.CommandResult.Command.Name;
        foreach (var token in result.UnmatchedTokens)
        {
            if (!token.StartsWith('-')) throw new UsageException($"Unexpected argument '{token}'.");
            if (OwnerOf(root, token) is null) throw new UsageException($"Unknown option '{token}'.");
            throw new UsageException(misplaced?.Invoke(token, command) ?? $"Option {token} does not apply to {command}.");
        }
        throw new UsageException(result.Errors[0].Message);
    }

    /// <summary>True when the command line asked for help (<c>-h</c>, <c>--help</c>, <c>-?</c> or a first word <c>help</c>).</summary>
    public static bool IsHelp(ParseResult result) => result.Action is HelpAction;

    /// <summary>The help text of the command that <paramref name="result"/> parsed (options, defaults, subcommands).</summary>
    public static string HelpText(ParseResult result)
    {
        // Re-parsed from the root so the usage line names the whole command path (e.g. "Mnist predict [options]").
        var path = new List<string>();
        for (var r = result.CommandResult; r.Parent is CommandResult parent; r = parent) path.Insert(0, r.Command.Name);
        var text = new StringWriter();
        result.RootCommandResult.Command.Parse([.. path, "--help"]).Invoke(new InvocationConfiguration { Output = text, Error = text });
        return text.ToString();
    }

    /// <summary>The help text of <paramref name="root"/>.</summary>
    public static string HelpText(Command root) => HelpText(root.Parse(["--help"]));

    /// <summary>The value of <paramref name="option"/>, or <paramref name="fallback"/> when it was not on the command line.</summary>
    public static T ValueOr<T>(this ParseResult result, Option<T> option, T fallback) =>
        result.GetResult(option) is { Implicit: false } ? result.GetValue(option)! : fallback;

    /// <summary>True when <paramref name="option"/> was given on the command line (not just defaulted).</summary>
    public static bool Given(this ParseResult result, Option option) => result.GetResult(option) is { Implicit: false };

    private static readonly System.CommandLine.Invocation.SynchronousCommandLineAction NoAction = new Nothing();

    private sealed class Nothing : System.CommandLine.Invocation.SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult) => 0;
    }

    private static IEnumerable<Command> Commands(Command command) => command.Subcommands.SelectMany(Commands).Prepend(command);

    private static Command? OwnerOf(Command command, string name)
    {
        if (command.Options.Any(o => o.Name == name || o.Aliases.Contains(name))) return command;
        foreach (var sub in command.Subcommands)
            if (OwnerOf(sub, name) is { } owner) return owner;
        return null;
    }
}
