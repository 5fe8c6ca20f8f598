using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace NatPunch.Testing;

/// <summary>
/// A self-signed certificate (ECDSA P-256) for a test server, written as the two PEM files
/// <c>natpunch server --tls-cert/--tls-key</c> take, in a directory of its own.
/// </summary>
public sealed class TestCertificate : IDisposable
{
    private TestCertificate(string directory, string certificatePath, string keyPath, byte[] sha256)
    {
        Directory = directory;
        CertificatePath = certificatePath;
        KeyPath = keyPath;
        Sha256 = sha256;
    }

    public string Directory { get; }

    public string CertificatePath { get; }

    public string KeyPath { get; }

    /// <summary>The SHA-256 of the certificate's DER bytes: what a client pins.</summary>
    public byte[] Sha256 { get; }

    public string Sha256Hex => Convert.ToHexString(Sha256);

    /// <param name="names">DNS names and IP addresses it is for (subject alternative names).</param>
    public static TestCertificate Create(params string[] names)
    {
        string directory = Path.Combine(Path.GetTempPath(), "natpunch-cert-" + Guid.NewGuid().ToString("N")[..8]);
        System.IO.Directory.CreateDirectory(directory);
        var certificate = new TestCertificate(directory, Path.Combine(directory, "cert.pem"), Path.Combine(directory, "key.pem"), []);
        return certificate.Rewrite(names);
    }

    /// <summary>The subject alternative names: DNS names, and IP addresses for what parses as one.</summary>
    internal static X509Extension AlternativeNames(IEnumerable<string> names)
    {
        var alternative = new SubjectAlternativeNameBuilder();
        foreach (string name in names)
        {
            if (IPAddress.TryParse(name, out IPAddress? address))
            {
                alternative.AddIpAddress(address);
            }
            else
            {
                alternative.AddDnsName(name);
            }
        }
        return alternative.Build();
    }

    /// <summary>A certificate made elsewhere (<see cref="TestAuthority.Issue"/>), written to <paramref name="directory"/>.</summary>
    internal static TestCertificate FromFiles(string directory, string keyPem, string certificatePem, byte[] sha256)
    {
        System.IO.Directory.CreateDirectory(directory);
        var certificate = new TestCertificate(directory, Path.Combine(directory, "cert.pem"), Path.Combine(directory, "key.pem"), sha256);
        File.WriteAllText(certificate.KeyPath, keyPem);
        File.WriteAllText(certificate.CertificatePath, certificatePem);
        return certificate;
    }

    /// <summary>Writes a new certificate over the files (a renewal); returns it.</summary>
    public TestCertificate Rewrite(params string[] names)
    {
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={(names.Length > 0 ? names[0] : "natpunch-test")}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(AlternativeNames(names));
        using X509Certificate2 created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        // The key first and the certificate last: a reader that sees the new certificate sees its key too.
        File.WriteAllText(KeyPath, key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(CertificatePath, created.ExportCertificatePem());
        return new TestCertificate(Directory, CertificatePath, KeyPath, created.GetCertHash(HashAlgorithmName.SHA256));
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
