namespace NatPunch.LabTests.Peer;

/// <summary>
/// Two random 20 MB files to send (one per direction) and a working directory for what arrives,
/// made once per test class in /tmp and removed afterwards.
/// </summary>
public class TransferFiles : IDisposable
{
    public const int Size = 20 * 1000 * 1000;

    public TransferFiles() : this(knownText: null)
    {
    }

    /// <param name="knownText">Null: random bytes. Else both files are this text repeated (a known plaintext to look for on the wire).</param>
    protected TransferFiles(string? knownText)
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("natpunch-labpairs-");
        FromListener = Make("from-listener.bin", seed: 1, knownText);
        FromConnector = Make("from-connector.bin", seed: 2, knownText);
        FromListenerHash = PipeChecks.Hash(FromListener);
        FromConnectorHash = PipeChecks.Hash(FromConnector);
    }

    public DirectoryInfo Directory { get; }

    /// <summary>What the listener sends.</summary>
    public string FromListener { get; }

    /// <summary>What the connector sends.</summary>
    public string FromConnector { get; }

    public string FromListenerHash { get; }

    public string FromConnectorHash { get; }

    private string Make(string name, int seed, string? knownText)
    {
        string path = Path.Combine(Directory.FullName, name);
        byte[] bytes = new byte[Size];
        if (knownText is null)
        {
            new Random(seed).NextBytes(bytes);
        }
        else
        {
            byte[] text = System.Text.Encoding.ASCII.GetBytes(knownText);
            for (int i = 0; i < bytes.Length; i++)
            {
                bytes[i] = text[i % text.Length];
            }
        }
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Removes a run's output files (they are 20 MB each).</summary>
    public static void Remove(PipeRun run)
    {
        foreach (string? file in new[] { run.Listener?.OutputFile, run.Connector?.OutputFile })
        {
            if (file is not null)
            {
                File.Delete(file);
            }
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
