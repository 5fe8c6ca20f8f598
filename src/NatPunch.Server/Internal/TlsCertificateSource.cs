using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace NatPunch.Server.Internal;

/// <summary>
/// The server's TLS certificate from two PEM files (the certificate, optionally followed by its chain,
/// and the private key), reloaded when either file changes: a renewed certificate (certbot,
/// cert-manager) is used from the next handshake on, with no restart. A file that does not load is
/// reported and the certificate in use stays.
/// </summary>
internal sealed class TlsCertificateSource
{
    /// <summary>The files are looked at, at a handshake, at most this often.</summary>
    private static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(1);

    private readonly string _certificatePath;
    private readonly string _keyPath;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private SslStreamCertificateContext _current;
    private (DateTime, long, DateTime, long) _loadedVersion;
    private long _checkedAt;

    /// <summary>Loads the files now; throws <see cref="InvalidDataException"/> with a clear message if they do not make a certificate with its key.</summary>
    public TlsCertificateSource(string certificatePath, string keyPath, ILogger logger, TimeProvider? time = null)
    {
        _certificatePath = certificatePath;
        _keyPath = keyPath;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        try
        {
            // Read before loading: a change made meanwhile is then seen, and loaded, at the next check.
            _loadedVersion = Version();
        }
        catch (IOException e)
        {
            throw new InvalidDataException($"cannot load the TLS certificate {certificatePath} with the key {keyPath}: {e.Message}", e);
        }
        _current = Load(certificatePath, keyPath);
        _checkedAt = _time.GetTimestamp();
        ServerLog.TlsCertificate(_logger, Describe(_current.TargetCertificate), certificatePath);
    }

    /// <summary>The certificate to present now (reloaded first if the files changed).</summary>
    public SslStreamCertificateContext Current
    {
        get
        {
            lock (_gate)
            {
                if (_time.GetElapsedTime(_checkedAt) >= CheckInterval)
                {
                    _checkedAt = _time.GetTimestamp();
                    ReloadIfChanged();
                }
                return _current;
            }
        }
    }

    private void ReloadIfChanged()
    {
        (DateTime, long, DateTime, long) version;
        try
        {
            version = Version();
        }
        catch (IOException e)
        {
            ServerLog.TlsReloadFailed(_logger, _certificatePath, e.Message);
            return;
        }
        if (version == _loadedVersion)
        {
            return;
        }
        _loadedVersion = version;
        try
        {
            _current = Load(_certificatePath, _keyPath);
            ServerLog.TlsCertificate(_logger, Describe(_current.TargetCertificate), _certificatePath);
        }
        catch (InvalidDataException e)
        {
            // Half-written files (a renewal in progress) come here too: the next change is tried again.
            ServerLog.TlsReloadFailed(_logger, _certificatePath, e.Message);
        }
    }

    private (DateTime, long, DateTime, long) Version()
    {
        var certificate = new FileInfo(_certificatePath);
        var key = new FileInfo(_keyPath);
        if (!certificate.Exists || !key.Exists)
        {
            throw new IOException($"{(certificate.Exists ? _keyPath : _certificatePath)} does not exist");
        }
        return (certificate.LastWriteTimeUtc, certificate.Length, key.LastWriteTimeUtc, key.Length);
    }

    private static SslStreamCertificateContext Load(string certificatePath, string keyPath)
    {
        X509Certificate2 leaf;
        var chain = new X509Certificate2Collection();
        try
        {
            leaf = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
            chain.ImportFromPemFile(certificatePath);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new InvalidDataException($"cannot load the TLS certificate {certificatePath} with the key {keyPath}: {e.Message}", e);
        }
        if (!leaf.HasPrivateKey)
        {
            throw new InvalidDataException($"{keyPath} holds no private key for {certificatePath}");
        }
        // The file's first certificate is the server's own; the rest is the chain sent with it.
        var intermediates = new X509Certificate2Collection();
        foreach (X509Certificate2 certificate in chain)
        {
            if (certificate.Thumbprint != leaf.Thumbprint)
            {
                intermediates.Add(certificate);
            }
        }
        return SslStreamCertificateContext.Create(leaf, intermediates, offline: true);
    }

    private static string Describe(X509Certificate2 certificate) =>
        $"{certificate.Subject}, valid until {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm} UTC, SHA-256 {Convert.ToHexStringLower(certificate.GetCertHash(HashAlgorithmName.SHA256))}";
}
