using System.Diagnostics;
using NatPunch.Tests.Stun;

namespace NatPunch.Tests.Fuzz;

/// <summary>
/// Feeds one parser deterministic inputs (fixed seeds): first every file of its corpus
/// (<c>Corpus/&lt;target&gt;/*.hex</c>: hex, whitespace and <c>#</c> comment lines allowed), then random
/// bytes and mutations of valid inputs (<see cref="StunMutator"/>'s byte-level operations: flips,
/// interesting values, insertions, deletions, splices). How many: <c>NATPUNCH_FUZZ_INPUTS</c> per
/// target, else <see cref="DefaultInputs"/> (the bounded run CI does; docs/fuzzing.md has the
/// million-input run). A failing input is reported in hex, ready to become a corpus file.
/// </summary>
internal static class FuzzRunner
{
    public const int DefaultInputs = 20_000;

    public static int Inputs =>
        int.TryParse(Environment.GetEnvironmentVariable("NATPUNCH_FUZZ_INPUTS"), out int inputs) && inputs > 0 ? inputs : DefaultInputs;

    /// <summary>Runs <paramref name="check"/> over the corpus and <see cref="Inputs"/> generated inputs; returns a line for the test output.</summary>
    public static string Run(string target, int seed, IReadOnlyList<byte[]> validInputs, Action<byte[]> check, int maxRandomLength = 600)
    {
        var stopwatch = Stopwatch.StartNew();
        int corpus = 0;
        foreach (byte[] input in Corpus(target))
        {
            Feed(target, input, check);
            corpus++;
        }
        var random = new Random(seed);
        int inputs = Inputs;
        for (int i = 0; i < inputs; i++)
        {
            byte[] input = validInputs.Count == 0 || random.Next(10) < 3
                ? RandomStunMessages.RandomBytes(random, random.Next(0, maxRandomLength + 1))
                : StunMutator.Mutate(validInputs[random.Next(validInputs.Count)], random, validInputs);
            Feed(target, input, check);
        }
        foreach (byte[] valid in validInputs)
        {
            Feed(target, valid, check);
        }
        return $"{target}: {corpus} corpus files, {inputs} generated and {validInputs.Count} valid inputs in {stopwatch.Elapsed.TotalSeconds:0.0} s";
    }

    private static void Feed(string target, byte[] input, Action<byte[]> check)
    {
        try
        {
            check(input);
        }
        catch (Exception e)
        {
            Assert.Fail($"{target} failed on input {Convert.ToHexString(input)}: {e}");
        }
    }

    private static IEnumerable<byte[]> Corpus(string target)
    {
        string directory = Path.Combine(AppContext.BaseDirectory, "Corpus", target);
        if (!Directory.Exists(directory))
        {
            yield break;
        }
        foreach (string file in Directory.EnumerateFiles(directory, "*.hex").Order(StringComparer.Ordinal))
        {
            string hex = string.Concat(File.ReadLines(file).Select(l => l.Trim()).Where(l => !l.StartsWith('#')));
            yield return Hex.Parse(hex);
        }
    }
}
