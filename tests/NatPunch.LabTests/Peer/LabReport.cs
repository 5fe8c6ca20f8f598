namespace NatPunch.LabTests.Peer;

/// <summary>
/// Result lines of the pair tests: printed in the test output, and appended to
/// <c>$NATPUNCH_LAB_RESULTS/SECTION.txt</c> when that directory is set (how docs/lab-results.md is made).
/// </summary>
public static class LabReport
{
    private static readonly Lock FileLock = new(); // one writer at a time per process

    public static void Write(string section, string line)
    {
        TestContext.Current.TestOutputHelper?.WriteLine(line);
        if (Environment.GetEnvironmentVariable("NATPUNCH_LAB_RESULTS") is { Length: > 0 } directory)
        {
            lock (FileLock)
            {
                Directory.CreateDirectory(directory);
                File.AppendAllText(Path.Combine(directory, section + ".txt"), line + "\n");
            }
        }
    }
}
