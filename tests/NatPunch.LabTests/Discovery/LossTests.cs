using NatPunch.LabTests.Lab;

namespace NatPunch.LabTests.Discovery;

/// <summary>
/// Random loss on the lab's internet (lab.sh loss, an nftables rule on the bridge): netcheck's
/// retransmissions (RFC 8489 §6.2.1) must still find the real behaviour, not mistake a lost answer
/// for filtering or a lost request for a changed mapping.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class LossTests(LabFixture lab)
{
    private static readonly TimeSpan KnobTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task PortRestrictedConeIsStillRecognisedAtFivePercentLoss()
    {
        lab.Require();
        var expected = KindExpectation.For("port");

        DiscoveryRun[] runs;
        try
        {
            var loss = await lab.LabAsync(KnobTimeout, "loss", "5", lab.Prefix);
            loss.ExitCode.ShouldBe(0, loss.ToString());
            var rule = await lab.Exec(lab.InternetNamespace, ["nft", "list", "table", "bridge", "loss"], KnobTimeout);
            rule.StandardOutput.ShouldContain("numgen random mod 100 < 5 drop", customMessage: rule.ToString());

            // Both hosts of the kind at once: twice the packets exposed to loss for the same time.
            runs = await Task.WhenAll(
                DiscoveryRun.RunAsync(lab, "port", host: 1, LabFixture.OurPort, withNatdiscovery: false),
                DiscoveryRun.RunAsync(lab, "port", host: 2, LabFixture.OurPort, withNatdiscovery: false));
        }
        finally
        {
            var off = await lab.LabAsync(KnobTimeout, "loss", "0", lab.Prefix);
            off.ExitCode.ShouldBe(0, off.ToString());
        }

        foreach (DiscoveryRun run in runs)
        {
            string summary = $"{run.Host} at 5 % loss: netcheck {run.Ours?.ToString() ?? "-"} ({run.String("nat_type")}, rtt samples {run.Report?.GetProperty("rtt_samples").GetRawText()}, elapsed {run.Report?.GetProperty("elapsed_ms").GetRawText()} ms)";
            TestContext.Current.TestOutputHelper?.WriteLine(summary);
            string why = $"{summary}\n{run.Diagnostics(lab.Server)}";
            run.Netcheck.ExitCode.ShouldBe(0, why);
            run.Ours.ShouldNotBeNull(why);
            run.Ours.ToString().ShouldBe(expected.Verdict, why);
            run.String("nat_type").ShouldBe(expected.NatType, why);
            run.Bool("udp").ShouldBe(true, why);
        }
        var after = await lab.Exec(lab.InternetNamespace, ["nft", "list", "tables"], KnobTimeout);
        after.StandardOutput.ShouldNotContain("bridge loss", customMessage: "loss 0 left the rule in place");
    }
}
