namespace NatPunch.Security;

/// <summary>
/// Where a peer keeps its long-term key pair: a small text file, created on first use with mode
/// 0600 in a 0700 directory; a file that others may read or write is refused, as ssh refuses
/// such a private key. The default lives under the user's config directory
/// (<c>$XDG_CONFIG_HOME/natpunch/identity</c>, usually <c>~/.config/natpunch/identity</c>).
/// </summary>
public static class IdentityFile
{
    private const string PrivateKeyField = "private-key:";
    private const UnixFileMode OthersMayTouch = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>The config directory NatPunch keeps its files in.</summary>
    public static string ConfigDirectory => Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.ApplicationData, Environment.SpecialFolderOption.DoNotVerify), "natpunch");

    public static string DefaultPath => Path.Combine(ConfigDirectory, "identity");

    /// <summary>Loads the identity in <paramref name="path"/>, creating it (and its directory) if there is none.</summary>
    /// <exception cref="IdentityFileException">The file is readable by others, malformed or cannot be written; the message says which and what to do.</exception>
    public static PeerIdentity LoadOrCreate(string path, out bool created)
    {
        created = false;
        if (File.Exists(path))
        {
            return Load(path);
        }
        try
        {
            string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
            if (directory is not null && !Directory.Exists(directory))
            {
                if (OperatingSystem.IsWindows())
                {
                    Directory.CreateDirectory(directory);
                }
                else
                {
                    Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                }
            }
            PeerIdentity identity = PeerIdentity.Generate();
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }
            using (var writer = new StreamWriter(path, System.Text.Encoding.ASCII, options))
            {
                writer.Write(
                    "# NatPunch identity: this peer's private key. Keep it secret; peers know us by the public key.\n"
                    + $"public-key: {identity.PublicKey}\n"
                    + $"{PrivateKeyField} {System.Buffers.Text.Base64Url.EncodeToString(identity.ExportPrivateKey())}\n");
            }
            created = true;
            return identity;
        }
        catch (IOException) when (File.Exists(path))
        {
            return Load(path); // another process created it first
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IdentityFileException($"cannot create the identity file {path}: {e.Message}", e);
        }
    }

    /// <summary>Loads an existing identity file.</summary>
    public static PeerIdentity Load(string path)
    {
        if (!OperatingSystem.IsWindows())
        {
            UnixFileMode mode;
            try
            {
                mode = File.GetUnixFileMode(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new IdentityFileException($"cannot read the identity file {path}: {e.Message}", e);
            }
            if ((mode & OthersMayTouch) != 0)
            {
                throw new IdentityFileException(
                    $"the identity file {path} is accessible by others (mode {Convert.ToString((int)mode, 8).PadLeft(4, '0')}); "
                    + $"its private key must be private: chmod 600 {path}");
            }
        }
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IdentityFileException($"cannot read the identity file {path}: {e.Message}", e);
        }
        foreach (string line in lines)
        {
            string trimmed = line.Trim();
            if (!trimmed.StartsWith(PrivateKeyField, StringComparison.Ordinal))
            {
                continue;
            }
            byte[] key = new byte[34];
            if (Internal.Base64UrlText.TryDecode(trimmed[PrivateKeyField.Length..].Trim(), key, out int written) && written == 32)
            {
                PeerIdentity identity = PeerIdentity.FromPrivateKey(key.AsSpan(0, 32));
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(key);
                return identity;
            }
            break;
        }
        throw new IdentityFileException($"the identity file {path} holds no valid '{PrivateKeyField}' line (32 bytes of base64url); move it away to have a new identity made");
    }
}

/// <summary>An identity file that cannot be used; the message says why and what to do.</summary>
public sealed class IdentityFileException(string message, Exception? inner = null) : Exception(message, inner);
