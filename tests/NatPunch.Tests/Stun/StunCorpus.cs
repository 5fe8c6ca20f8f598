namespace NatPunch.Tests.Stun;

/// <summary>
/// One file of Corpus/stun: hex bytes (whitespace allowed) and comment lines starting with '#'.
/// Comment lines of the form <c># key: value</c> are directives, e.g. <c># stun: ok</c> or
/// <c># stun: LengthMismatch at 2</c>; see <see cref="StunCorpusTests"/> for the keys.
/// </summary>
internal sealed record StunCorpusEntry(string Name, byte[] Bytes, IReadOnlyDictionary<string, string> Directives)
{
    public string? this[string key] => Directives.TryGetValue(key, out string? value) ? value : null;

    /// <summary>The key named by <c># integrity: … key=HEX</c> (or the SHA-256 one), if any.</summary>
    public byte[]? IntegrityKey => KeyIn(this["integrity"]) ?? KeyIn(this["integrity-sha256"]);

    public static byte[]? KeyIn(string? directive) =>
        directive?.Split(' ').FirstOrDefault(part => part.StartsWith("key=", StringComparison.Ordinal)) is { } part
            ? Convert.FromHexString(part["key=".Length..]) : null;
}

internal static class StunCorpus
{
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "Corpus", "stun");

    public static IEnumerable<string> FileNames =>
        System.IO.Directory.EnumerateFiles(Directory, "*.hex").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal);

    public static IReadOnlyList<StunCorpusEntry> LoadAll() => FileNames.Select(Load).ToList();

    public static StunCorpusEntry Load(string fileName)
    {
        var directives = new Dictionary<string, string>(StringComparer.Ordinal);
        var hex = new List<string>();
        foreach (string line in File.ReadLines(Path.Combine(Directory, fileName)))
        {
            string trimmed = line.Trim();
            if (trimmed.StartsWith('#'))
            {
                string comment = trimmed[1..].Trim();
                int colon = comment.IndexOf(':');
                if (colon > 0 && !comment[..colon].Contains(' '))
                {
                    directives[comment[..colon]] = comment[(colon + 1)..].Trim();
                }
            }
            else
            {
                hex.Add(trimmed);
            }
        }
        return new StunCorpusEntry(fileName, Hex.Parse(string.Concat(hex)), directives);
    }
}
