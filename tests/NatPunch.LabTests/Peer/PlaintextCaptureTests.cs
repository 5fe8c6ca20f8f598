using NatPunch.LabTests.Lab;
using NatPunch.Testing;

namespace NatPunch.LabTests.Peer;

/// <summary>20 MB each way of a text repeated over and over: the known plaintext to look for.</summary>
public sealed class KnownPlaintextFiles() : TransferFiles(PlaintextCaptureTests.KnownText);

/// <summary>
/// End-to-end encryption as an observer sees it: during a direct session and a <c>--relay only</c>
/// one, tcpdump captures every packet in the server's namespace (the rendezvous and the TURN relay)
/// and on the lab's internet (its bridge and every router's uplink). The capture must have seen the
/// transfer (more bytes than were sent) and must contain none of the known plaintext.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class PlaintextCaptureTests(LabFixture lab, KnownPlaintextFiles files) : IClassFixture<KnownPlaintextFiles>
{
    public const string KnownText = "NATPUNCH-KNOWN-PLAINTEXT: attack at dawn, bring the secret plans. ";
    private static readonly byte[] Needle = System.Text.Encoding.ASCII.GetBytes("attack at dawn");

    [Theory]
    [InlineData("direct")]
    [InlineData("relay")]
    public async Task NoneOfTheKnownPlaintextIsOnTheServerOrTheInternet(string path)
    {
        lab.Require();
        Requires.Tool("tcpdump");
        Site listener = new("open", 1), connector = new("port", 1);
        string serverPcap = Path.Combine(files.Directory.FullName, $"server-{path}.pcap");
        string internetPcap = Path.Combine(files.Directory.FullName, $"internet-{path}.pcap");
        TransferResult result;
        await using (BackgroundProcess serverCapture = lab.StartBackground(lab.ServerNamespace, ["tcpdump", "-Z", "root", "-i", "any", "-U", "-s", "0", "-n", "-w", serverPcap]))
        await using (BackgroundProcess internetCapture = lab.StartBackground(lab.InternetNamespace, ["tcpdump", "-Z", "root", "-i", "any", "-U", "-s", "0", "-n", "-w", internetPcap]))
        {
            await Task.Delay(TimeSpan.FromSeconds(1.5)); // tcpdump attaches
            serverCapture.HasExited.ShouldBeFalse(serverCapture.Log);
            internetCapture.HasExited.ShouldBeFalse(internetCapture.Log);
            result = await Transfer.RunAsync(lab, files, listener, connector,
                new PipeRunOptions { WorkDirectory = files.Directory.FullName, TimeoutSeconds = 30, Relay = path == "relay" ? "only" : null },
                limit: TimeSpan.FromSeconds(120),
                connectorPaths: path == "relay" ? [ExpectedPath.Relay(lab, listener, "udp")] : null,
                listenerPaths: path == "relay" ? [ExpectedPath.Relay(lab, connector, "udp")] : null);
            await Task.Delay(TimeSpan.FromSeconds(0.5));
        }
        byte[] internet = File.ReadAllBytes(internetPcap);
        byte[] server = File.ReadAllBytes(serverPcap);
        // The internet carried both directions (at least once; through the relay twice); the server's namespace saw the relayed bytes.
        internet.Length.ShouldBeGreaterThan(2 * TransferFiles.Size, "the internet capture did not see the transfer");
        if (path == "relay")
        {
            server.Length.ShouldBeGreaterThan(2 * TransferFiles.Size, "the server's capture did not see the relayed transfer");
        }
        internet.AsSpan().IndexOf(Needle).ShouldBe(-1, "known plaintext on the internet");
        server.AsSpan().IndexOf(Needle).ShouldBe(-1, "known plaintext in the server's namespace");
        LabReport.Write("capture", $"{result.Summary}; captured {internet.Length / 1e6:0.0} MB on the internet, {server.Length / 1e6:0.0} MB at the server: no known plaintext");
        File.Delete(internetPcap);
        File.Delete(serverPcap);
    }
}
