using System.Globalization;
using System.Text.Json;
using NatPunch.LabTests.Lab;
using NatPunch.Testing;

namespace NatPunch.LabTests.Discovery;

/// <summary>
/// Behind each kind of the lab's kernel NATs, <c>natpunch netcheck</c> must report what the kind is
/// built to be, and coturn's RFC 5780 client <c>turnutils_natdiscovery</c> must agree — against our
/// server (which tests our server's RFC 5780 answers too) and against coturn's turnserver (which
/// tests our client against an independent server). natdiscovery agreeing with the kind also
/// verifies the lab itself, as lab/verify.sh does.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class NatBehaviourTests(LabFixture lab)
{
    public static TheoryData<string> Kinds => [.. LabFixture.Kinds, .. LabFixture.ClashingKinds];

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task NetcheckAndNatdiscoveryAgreeAgainstOurServer(string kind)
    {
        lab.Require();
        Requires.Tool("turnutils_natdiscovery");

        await CheckAsync(kind, LabFixture.OurPort, lab.Server);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task NetcheckAndNatdiscoveryAgreeAgainstCoturn(string kind)
    {
        lab.RequireCoturn();
        Requires.Tool("turnutils_natdiscovery");

        await CheckAsync(kind, LabFixture.CoturnPort, lab.Coturn);
    }

    private async Task CheckAsync(string kind, int port, BackgroundProcess? server)
    {
        var expected = KindExpectation.For(kind);
        string publicIp = lab.PublicIp(kind);
        DiscoveryRun run = await DiscoveryRun.RunAsync(lab, kind, host: 1, port, withNatdiscovery: true);

        var problems = new List<string>();
        if (run.Netcheck.TimedOut || run.Netcheck.ExitCode != 0)
        {
            problems.Add($"netcheck exited {run.Netcheck.ExitCode}{(run.Netcheck.TimedOut ? " (timed out)" : "")}, want 0");
        }
        if (run.NatdiscoveryResult!.TimedOut)
        {
            problems.Add("natdiscovery timed out");
        }
        Verdict theirs = run.Theirs!;
        if (theirs.ToString() != expected.Verdict)
        {
            problems.Add($"natdiscovery reports {theirs}, but kind {kind} is built as {expected.Verdict} (the lab or the server is wrong)");
        }
        if (theirs.PublicAddress is { } seen && !seen.StartsWith(publicIp + ":", StringComparison.Ordinal))
        {
            problems.Add($"natdiscovery was seen as {seen}, want {publicIp}:*");
        }
        if (run.Ours is not { } ours)
        {
            problems.Add($"netcheck printed no usable JSON: {run.ParseError}");
        }
        else
        {
            if (ours.ToString() != expected.Verdict)
            {
                problems.Add($"netcheck reports {ours}, but kind {kind} is built as {expected.Verdict}");
            }
            if (ours.ToString() != theirs.ToString())
            {
                problems.Add($"netcheck ({ours}) and natdiscovery ({theirs}) disagree");
            }
            if (run.String("nat_type") != expected.NatType)
            {
                problems.Add($"nat_type is {run.String("nat_type")}, want {expected.NatType}");
            }
            if (run.Bool("udp") != expected.Udp)
            {
                problems.Add($"udp is {run.Bool("udp")}, want {expected.Udp}");
            }
            if (run.Bool("tcp") != true)
            {
                problems.Add($"tcp is {run.Bool("tcp")?.ToString() ?? "null"} ({run.String("tcp_reason")}), want true");
            }
            if (run.String("public_address") is not { } address || !address.StartsWith(publicIp + ":", StringComparison.Ordinal))
            {
                problems.Add($"public_address is {run.String("public_address") ?? "null"}, want {publicIp}:*");
            }
            if (run.Bool("hairpinning") != expected.Hairpinning)
            {
                problems.Add($"hairpinning is {run.Bool("hairpinning")?.ToString() ?? "null"} ({run.String("hairpinning_reason")}), want {expected.Hairpinning?.ToString() ?? "null"}");
            }
            if (run.Report?.GetProperty("port_mapping") is { ValueKind: JsonValueKind.Object } mapping)
            {
                foreach (string protocol in new[] { "pcp", "nat_pmp", "upnp" })
                {
                    if (mapping.GetProperty(protocol).GetBoolean() != expected.PortMapping)
                    {
                        problems.Add($"port_mapping.{protocol} is {mapping.GetProperty(protocol).GetBoolean()} ({mapping.GetProperty(protocol + "_reason")}), want {expected.PortMapping}");
                    }
                }
            }
            else
            {
                problems.Add("port_mapping is missing: netcheck did not ask the gateway");
            }
            string otherAddress = $"{LabFixture.ServerIp2}:{(port + 1).ToString(CultureInfo.InvariantCulture)}";
            if (expected.Udp && run.String("other_address") != otherAddress)
            {
                problems.Add($"other_address is {run.String("other_address") ?? "null"}, want {otherAddress}");
            }
        }

        string summary = $"{kind,-9} netcheck {run.Ours?.ToString() ?? "-",-10} ({run.String("nat_type")}, public {run.String("public_address")}, "
            + $"elapsed {run.Report?.GetProperty("elapsed_ms").GetRawText()} ms)  natdiscovery {theirs,-10} (seen as {theirs.PublicAddress ?? "-"})  "
            + $"kind built as {expected.Verdict}  server {run.Server}";
        TestContext.Current.TestOutputHelper?.WriteLine(summary);
        if (problems.Count > 0)
        {
            Assert.Fail($"{summary}\n{string.Join('\n', problems.Select(p => "  - " + p))}\n{run.Diagnostics(server)}");
        }
    }
}
