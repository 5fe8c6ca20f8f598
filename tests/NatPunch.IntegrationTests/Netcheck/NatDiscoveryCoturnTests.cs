using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using NatPunch.Discovery;
using NatPunch.IntegrationTests.Coturn;
using NatPunch.Testing;

namespace NatPunch.IntegrationTests.Netcheck;

/// <summary>NAT behaviour discovery against coturn on loopback, where there is no NAT, and against coturn's own RFC 5780 client.</summary>
public partial class NatDiscoveryCoturnTests(Rfc5780CoturnFixture coturn) : IClassFixture<Rfc5780CoturnFixture>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task LoopbackHasNoNatAndEndpointIndependentBehaviour()
    {
        CoturnServer server = coturn.Require();
        var progress = new List<string>();

        NatReport report = await new NatDiscovery().RunAsync(server.Primary, new SynchronousProgress(progress), Cancel);

        report.ServerReachable.ShouldBeTrue();
        report.UdpWorks.ShouldBeTrue();
        report.TcpWorks.ShouldBe(true);
        report.SupportsRfc5780.ShouldBeTrue();
        report.OtherAddress.ShouldBe(server.Alternate);
        report.NatDetected.ShouldBe(false);
        report.LocalEndPoint!.Address.ShouldBe(IPAddress.Loopback);
        report.PublicEndPoint.ShouldBe(report.LocalEndPoint);
        report.Mapping.ShouldBe(NatBehavior.EndpointIndependent);
        report.Filtering.ShouldBe(NatBehavior.EndpointIndependent, report.FilteringReason);
        report.Hairpinning.ShouldBe(true, report.HairpinningReason);
        report.NatType.ShouldBe(NatType.OpenInternet);
        report.RoundTripTime.ShouldNotBeNull();
        report.RoundTripSamples.ShouldBeGreaterThanOrEqualTo(1);
        report.ServerSoftware!.ShouldContain("Coturn");
        report.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(5));
        progress.ShouldContain(p => p.Contains("filtering test II", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task MappingLifetimeSearchUsesResponsePort()
    {
        CoturnServer server = coturn.Require();
        var options = NatDiscoveryOptions.Default with
        {
            MappingLifetime = new MappingLifetimeOptions
            {
                MaxIdle = TimeSpan.FromSeconds(2),
                ProbesPerRound = 2,
                Resolution = TimeSpan.FromSeconds(1),
                Budget = TimeSpan.FromSeconds(10),
            },
        };

        NatReport report = await new NatDiscovery(options).RunAsync(server.Primary, null, Cancel);

        MappingLifetimeEstimate lifetime = report.MappingLifetime.ShouldNotBeNull();
        lifetime.AtLeast.ShouldBe(TimeSpan.FromSeconds(2), lifetime.Note);
        lifetime.AtMost.ShouldBeNull();
        lifetime.Probes.ShouldBe(2);
        report.Elapsed.ShouldBeGreaterThanOrEqualTo(TimeSpan.FromSeconds(2));
        report.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(8));
    }

    [Fact]
    public async Task PaddedTestsAgree()
    {
        CoturnServer server = coturn.Require();
        var options = NatDiscoveryOptions.Default with { PaddingLength = Stun.StunRequest.FullMtuPadding };

        NatReport report = await new NatDiscovery(options).RunAsync(server.Primary, null, Cancel);

        report.Filtering.ShouldBe(NatBehavior.EndpointIndependent, report.FilteringReason);
    }

    [Fact]
    public async Task HostAndPortNamesResolve()
    {
        CoturnServer server = coturn.Require();

        NatReport report = await new NatDiscovery().RunAsync($"localhost:{server.Port}", null, Cancel);

        report.Server.ShouldBe(server.Primary);
        report.UdpWorks.ShouldBeTrue();
    }

    [Fact]
    public async Task AgreesWithTurnutilsNatdiscovery()
    {
        CoturnServer server = coturn.Require();
        Requires.Tool("turnutils_natdiscovery");

        NatReport ours = await new NatDiscovery().RunAsync(server.Primary, null, Cancel);
        string theirs = await RunNatdiscoveryAsync(server);

        Match mapping = MappingVerdict().Match(theirs);
        Match filtering = FilteringVerdict().Match(theirs);
        mapping.Success.ShouldBeTrue($"no mapping verdict in:\n{theirs}");
        filtering.Success.ShouldBeTrue($"no filtering verdict in:\n{theirs}");
        ParseVerdict(mapping.Groups["kind"].Value).ShouldBe(ours.Mapping);
        ParseVerdict(filtering.Groups["kind"].Value).ShouldBe(ours.Filtering);
        // Both saw the server's alternate address.
        theirs.ShouldContain($"Other addr: : {server.Alternate}");
    }

    private static NatBehavior ParseVerdict(string kind) => kind switch
    {
        "Endpoint Independent" => NatBehavior.EndpointIndependent,
        "Address Dependent" => NatBehavior.AddressDependent,
        "Address and Port Dependent" => NatBehavior.AddressAndPortDependent,
        _ => NatBehavior.Unknown,
    };

    /// <summary>"NAT with Endpoint Independent Mapping!" or "No NAT! (Endpoint Independent Mapping)".</summary>
    [GeneratedRegex(@"(?<kind>Endpoint Independent|Address and Port Dependent|Address Dependent) Mapping")]
    private static partial Regex MappingVerdict();

    [GeneratedRegex(@"(?<kind>Endpoint Independent|Address and Port Dependent|Address Dependent) Filtering")]
    private static partial Regex FilteringVerdict();

    private static async Task<string> RunNatdiscoveryAsync(CoturnServer server)
    {
        var start = new ProcessStartInfo(Requires.FindOnPath("turnutils_natdiscovery")!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[] { "-m", "-f", "-p", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), server.Primary.Address.ToString() })
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync(Cancel);
        Task<string> error = process.StandardError.ReadToEndAsync(Cancel);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        return await output + await error;
    }
}

/// <summary>Collects progress sentences as they are reported.</summary>
internal sealed class SynchronousProgress(List<string> sink) : IProgress<string>
{
    // Guards sink.
    private readonly Lock _lock = new();

    public void Report(string value)
    {
        lock (_lock)
        {
            sink.Add(value);
        }
    }
}

/// <summary>Against a plain STUN server (RFC 5780 off): what can still be found out.</summary>
public class NatDiscoveryPlainServerTests(PlainCoturnFixture coturn) : IClassFixture<PlainCoturnFixture>
{
    [Fact]
    public async Task WithoutRfc5780NoNatIsStillRecognised()
    {
        CoturnServer server = coturn.Require();

        NatReport report = await new NatDiscovery().RunAsync(server.Primary, null, TestContext.Current.CancellationToken);

        report.UdpWorks.ShouldBeTrue();
        report.SupportsRfc5780.ShouldBeFalse();
        report.OtherAddress.ShouldBeNull();
        report.NatDetected.ShouldBe(false);
        report.Mapping.ShouldBe(NatBehavior.EndpointIndependent);
        report.Filtering.ShouldBe(NatBehavior.Unknown);
        report.FilteringReason!.ShouldContain("RFC 5780");
        report.NatType.ShouldBe(NatType.NoNat);
        NatAdvice.For(report).ShouldContain(a => a.Contains("RFC 5780"));
    }
}
