using System.Diagnostics;
using System.Net;
using NatPunch.IntegrationTests.Netcheck;
using NatPunch.Server;
using NatPunch.Testing;

namespace NatPunch.IntegrationTests.Tls;

/// <summary>
/// <c>--server tls://HOST:PORT</c> verifies the server's certificate against the system's trust store:
/// a certificate issued by an authority the store holds is accepted with no pin, and the same one
/// is refused by a client whose store does not hold it. The client is the CLI in a process of its
/// own whose store is one test authority (<c>SSL_CERT_FILE</c>, which .NET on Linux reads for its
/// roots; <c>SSL_CERT_DIR</c> pointed at an empty directory), so the machine's store is not touched.
/// </summary>
public sealed class TrustStoreTests : IAsyncLifetime
{
    private readonly TestAuthority _authority = new();
    private readonly string _emptyDirectory = Directory.CreateTempSubdirectory("natpunch-no-certs-").FullName;
    private NatPunchServer _server = null!;
    private TestCertificate _certificate = null!;

    public ValueTask InitializeAsync()
    {
        _certificate = _authority.Issue("localhost", "127.0.0.1");
        _server = new NatPunchServer(new NatPunchServerOptions
        {
            Listen = [new IPEndPoint(IPAddress.Loopback, 0)],
            TlsCertificateFile = _certificate.CertificatePath,
            TlsKeyFile = _certificate.KeyPath,
        });
        _server.Start();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _certificate.Dispose();
        _authority.Dispose();
        Directory.Delete(_emptyDirectory, recursive: true);
    }

    [Fact]
    public async Task ACertificateFromATrustedAuthorityIsAcceptedWithoutAPin()
    {
        (int exitCode, string error) = await ConnectAsync(trustTheAuthority: true);
        error.ShouldContain("\"event\":\"registered\"", Case.Sensitive, error);
        error.ShouldNotContain("does not verify", Case.Sensitive, error);
        exitCode.ShouldBe(1, error); // registered over verified TLS; then there is no such peer
        error.ShouldContain("nobody-here");
        _server.Counters.TlsHandshakes.ShouldBeGreaterThanOrEqualTo(1);
    }

    [Fact]
    public async Task TheSameCertificateIsRefusedByAClientThatDoesNotTrustItsAuthority()
    {
        (int exitCode, string error) = await ConnectAsync(trustTheAuthority: false);
        exitCode.ShouldBe(1, error);
        error.ShouldContain("does not verify", Case.Sensitive, error);
        error.ShouldContain(_certificate.Sha256Hex, Case.Insensitive, error);
        error.ShouldNotContain("\"event\":\"registered\"", Case.Sensitive, error);
    }

    private async Task<(int ExitCode, string Error)> ConnectAsync(bool trustTheAuthority)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        int port = _server.UdpEndPoints[0].Port;
        ProcessStartInfo start = NatpunchProcess.StartInfo(
            ["connect", "--server", $"tls://localhost:{port}", "--id", "trusting", "--peer", "nobody-here", "--timeout", "3", "--json"]);
        start.Environment["SSL_CERT_FILE"] = trustTheAuthority ? _authority.CertificatePath : Path.Combine(_emptyDirectory, "none.pem");
        start.Environment["SSL_CERT_DIR"] = _emptyDirectory;
        using var process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync(ct);
        Task<string> error = process.StandardError.ReadToEndAsync(ct);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(limit.Token);
        await output;
        return (process.ExitCode, await error);
    }
}
