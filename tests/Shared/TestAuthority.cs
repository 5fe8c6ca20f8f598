using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace NatPunch.Testing;

/// <summary>
/// A certificate authority of its own for a test (ECDSA P-256), written as a PEM file that a client
/// process can be told to trust (OpenSSL's <c>SSL_CERT_FILE</c>, which .NET on Linux reads for its
/// root store), and the server certificates it issues, as <see cref="TestCertificate"/>'s files.
/// </summary>
public sealed class TestAuthority : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly X509Certificate2 _certificate;

    public TestAuthority()
    {
        Directory = Path.Combine(Path.GetTempPath(), "natpunch-ca-" + Guid.NewGuid().ToString("N")[..8]);
        System.IO.Directory.CreateDirectory(Directory);
        var request = new CertificateRequest("CN=NatPunch Test Authority", _key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        _certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        CertificatePath = Path.Combine(Directory, "ca.pem");
        File.WriteAllText(CertificatePath, _certificate.ExportCertificatePem());
    }

    public string Directory { get; }

    /// <summary>The authority's certificate (PEM): the trust store a client is given.</summary>
    public string CertificatePath { get; }

    /// <summary>A server certificate for <paramref name="names"/> (DNS names, IP addresses), its chain after it, in files of its own.</summary>
    public TestCertificate Issue(params string[] names)
    {
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={names[0]}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(TestCertificate.AlternativeNames(names));
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false)); // serverAuth
        byte[] serial = RandomNumberGenerator.GetBytes(12);
        using X509Certificate2 issued = request.Create(_certificate, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(12), serial);
        return TestCertificate.FromFiles(Path.Combine(Directory, $"{names[0]}-{Convert.ToHexString(serial)[..8]}"),
            key.ExportPkcs8PrivateKeyPem(), issued.ExportCertificatePem() + "\n" + _certificate.ExportCertificatePem(), issued.GetCertHash(HashAlgorithmName.SHA256));
    }

    public void Dispose()
    {
        _certificate.Dispose();
        _key.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
