using NatPunch.LabTests.Lab;

namespace NatPunch.LabTests.Peer;

/// <summary>
/// <c>natpunch listen</c> / <c>natpunch connect</c> through the lab's kernel NATs, for every pair of
/// the kinds that must connect directly (no NAT, full cone, address-restricted, port-restricted):
/// the listener on host 1 of the first kind, the connector on host 1 of the second; for a kind
/// with itself, hosts 1 and 2 behind the same NAT, which must find each other on their LAN (host
/// candidates: no kind of the lab hairpins). 20 MB each way at the same time, compared by SHA-256.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class DirectPairTests(LabFixture lab, TransferFiles files) : IClassFixture<TransferFiles>
{
    /// <summary>Every unordered pair of {open, full, addr, port}: listener, connector.</summary>
    public static TheoryData<string, string> Pairs => new()
    {
        { "open1", "open2" }, { "open1", "full1" }, { "open1", "addr1" }, { "open1", "port1" },
        { "full1", "full2" }, { "full1", "addr1" }, { "full1", "port1" },
        { "addr1", "addr2" }, { "addr1", "port1" },
        { "port1", "port2" },
    };

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task ConnectDirectlyAndMove20MegabytesEachWay(string listener, string connector)
    {
        lab.Require();
        TransferResult result = await Transfer.RunAsync(lab, files, Site.Parse(listener), Site.Parse(connector));
        LabReport.Write("direct-clean", result.Summary);
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task ConnectDirectlyAndMove20MegabytesEachWayAtFivePercentLoss(string listener, string connector)
    {
        lab.Require();
        Site l = Site.Parse(listener), c = Site.Parse(connector);
        // Behind one NAT the data goes over the LAN, which the internet's loss never touches: lose 5 % there too.
        string[] lan = l.Kind == c.Kind && l.Kind != "open" ? [l.Kind] : [];
        TransferResult result;
        long lanDrops = 0;
        await using (LabKnob loss = await LabKnob.LossAsync(lab, 5, lan))
        {
            result = await Transfer.RunAsync(lab, files, l, c, new PipeRunOptions { WorkDirectory = files.Directory.FullName, TimeoutSeconds = 30 },
                limit: TimeSpan.FromSeconds(180));
            if (lan.Length > 0)
            {
                lanDrops = await LabKnob.LanDropsAsync(lab, lan[0]);
            }
        }
        LabReport.Write("direct-loss5", result.Summary + (lan.Length > 0 ? $"; {lanDrops} frames dropped on the LAN" : ""));
        if (lan.Length > 0)
        {
            lanDrops.ShouldBeGreaterThan(0, "the LAN loss rule dropped nothing: the data did not go over the LAN, or the rule is wrong");
        }
    }
}
