namespace NatPunch.Security;

/// <summary>
/// The keys of peers met before, by name, as ssh's known_hosts keeps host keys: the first session
/// with a name records the key it proved, and from then on that name must prove the same key. One
/// line per peer, <c>NAME KEY</c>; '#' starts a comment. Default file:
/// <c>$XDG_CONFIG_HOME/natpunch/known_peers</c>.
/// </summary>
public sealed class KnownPeers
{
    // Guards the file: two sessions of one process may record at once.
    private static readonly Lock FileLock = new();

    public KnownPeers(string path) => Path = path;

    public static string DefaultPath => System.IO.Path.Combine(IdentityFile.ConfigDirectory, "known_peers");

    public string Path { get; }

    /// <summary>The key recorded for <paramref name="name"/>, or null if none.</summary>
    /// <exception cref="IdentityFileException">A line of the file is malformed (with its number).</exception>
    public PeerKey? Lookup(string name)
    {
        lock (FileLock)
        {
            return ReadAll().TryGetValue(name, out PeerKey? key) ? key : null;
        }
    }

    /// <summary>Records <paramref name="key"/> for <paramref name="name"/> (first use); a name already recorded is left alone.</summary>
    public void Remember(string name, PeerKey key)
    {
        lock (FileLock)
        {
            if (ReadAll().ContainsKey(name))
            {
                return;
            }
            try
            {
                string? directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path));
                if (directory is not null)
                {
                    Directory.CreateDirectory(directory);
                }
                File.AppendAllText(Path, $"{name} {key}\n");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new IdentityFileException($"cannot record the key of '{name}' in {Path}: {e.Message}", e);
            }
        }
    }

    private Dictionary<string, PeerKey> ReadAll()
    {
        var keys = new Dictionary<string, PeerKey>(StringComparer.Ordinal);
        if (!File.Exists(Path))
        {
            return keys;
        }
        string[] lines;
        try
        {
            lines = File.ReadAllLines(Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IdentityFileException($"cannot read the known-peers file {Path}: {e.Message}", e);
        }
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            string[] parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2)
            {
                throw new IdentityFileException($"{Path}:{i + 1}: expected 'NAME KEY'");
            }
            if (!PeerKey.TryParse(parts[1], out PeerKey? key, out string error))
            {
                throw new IdentityFileException($"{Path}:{i + 1}: the key of '{parts[0]}': {error}");
            }
            keys.TryAdd(parts[0], key);
        }
        return keys;
    }
}
