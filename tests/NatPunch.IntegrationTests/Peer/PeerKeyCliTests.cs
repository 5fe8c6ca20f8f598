using System.Net;
using System.Text;
using System.Text.Json;
using NatPunch.IntegrationTests.Netcheck;
using NatPunch.Server;

namespace NatPunch.IntegrationTests.Peer;

/// <summary>
/// Peers are their keys, not their names, as processes on loopback: `natpunch id`, a pinned
/// connect, a name squatter who gets nothing, the known-peers file refusing a changed key, and
/// `listen --allow`. Each process has its own identity file unless a test shares one.
/// </summary>
public sealed class PeerKeyCliTests : IAsyncLifetime
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);
    private readonly string _directory = Directory.CreateTempSubdirectory("natpunch-keys-").FullName;
    private NatPunchServer _server = null!;

    public ValueTask InitializeAsync()
    {
        _server = new NatPunchServer(new NatPunchServerOptions { Listen = [new IPEndPoint(IPAddress.Loopback, 0)] });
        _server.Start();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private string ServerAddress => _server.UdpEndPoints[0].ToString();

    private string IdentityPath(string who) => Path.Combine(_directory, who + ".identity");

    private async Task<string> KeyOfAsync(string who)
    {
        NatpunchProcess.Result id = await NatpunchProcess.RunAsync(Limit, TestContext.Current.CancellationToken, "id", "--identity", IdentityPath(who));
        id.ExitCode.ShouldBe(0, id.Error);
        string key = id.Output.Trim();
        key.Length.ShouldBe(43);
        return key;
    }

    private Task<PipeProcess.Result> Listen(string who, string name, byte[] input, params string[] extra) =>
        PipeProcess.RunAsync(input, Limit, TestContext.Current.CancellationToken,
            ["listen", "--server", ServerAddress, "--id", name, "--identity", IdentityPath(who), "--allow-loopback", "--json", .. extra]);

    private Task<PipeProcess.Result> Connect(string who, string name, string peer, byte[] input, params string[] extra) =>
        PipeProcess.RunAsync(input, Limit, TestContext.Current.CancellationToken,
            ["connect", "--server", ServerAddress, "--id", name, "--peer", peer, "--identity", IdentityPath(who), "--allow-loopback", "--json", .. extra]);

    [Fact]
    public async Task IdPrintsTheSameKeyEachTimeAndTheFileIsPrivate()
    {
        string first = await KeyOfAsync("carol");
        (await KeyOfAsync("carol")).ShouldBe(first);
        if (OperatingSystem.IsWindows())
        {
            return; // no Unix modes to check
        }
        File.GetUnixFileMode(IdentityPath("carol")).ShouldBe(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.SetUnixFileMode(IdentityPath("carol"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        NatpunchProcess.Result refused = await NatpunchProcess.RunAsync(Limit, TestContext.Current.CancellationToken, "id", "--identity", IdentityPath("carol"));
        refused.ExitCode.ShouldBe(1);
        refused.Error.ShouldContain("chmod 600");
    }

    [Fact]
    public async Task APinnedConnectReachesTheRightPeerAndBothEventsCarryTheOthersKey()
    {
        string bobKey = await KeyOfAsync("bob");
        string aliceKey = await KeyOfAsync("alice");
        Task<PipeProcess.Result> bob = Listen("bob", "bob-pin", "from bob"u8.ToArray(), "--allow", aliceKey);
        await Task.Delay(1500, TestContext.Current.CancellationToken);
        PipeProcess.Result alice = await Connect("alice", "alice-pin", "bob-pin", "from alice"u8.ToArray(), "--peer-key", bobKey);
        PipeProcess.Result bobResult = await bob;
        alice.ExitCode.ShouldBe(0, alice.Error);
        bobResult.ExitCode.ShouldBe(0, bobResult.Error);
        Encoding.UTF8.GetString(alice.Output).ShouldBe("from bob");
        Encoding.UTF8.GetString(bobResult.Output).ShouldBe("from alice");
        Connected(alice.Error).GetProperty("peer_key").GetString().ShouldBe(bobKey);
        Connected(bobResult.Error).GetProperty("peer_key").GetString().ShouldBe(aliceKey);
    }

    [Fact]
    public async Task ANameSquatterIsRefusedByAPinnedConnectAndReceivesNothing()
    {
        string bobKey = await KeyOfAsync("bob");
        string malloryKey = await KeyOfAsync("mallory");
        // Mallory registered bob's name first.
        Task<PipeProcess.Result> mallory = Listen("mallory", "bob-squat", []);
        await Task.Delay(1500, TestContext.Current.CancellationToken);
        PipeProcess.Result alice = await Connect("alice", "alice-squat", "bob-squat", "the secret plan"u8.ToArray(), "--peer-key", bobKey);
        alice.ExitCode.ShouldBe(1, alice.Error);
        alice.Error.ShouldContain(bobKey);
        alice.Error.ShouldContain(malloryKey);
        PipeProcess.Result malloryResult = await mallory;
        malloryResult.Output.ShouldBeEmpty();
        malloryResult.ExitCode.ShouldNotBe(0);
    }

    [Fact]
    public async Task TheKnownPeersFileRecordsFirstUseAndRefusesAChangedKeyLoudly()
    {
        string knownPeers = Path.Combine(_directory, "alice.known_peers");
        string bobKey = await KeyOfAsync("bob");
        string malloryKey = await KeyOfAsync("mallory");
        Task<PipeProcess.Result> bob = Listen("bob", "bob-known", "hi"u8.ToArray());
        await Task.Delay(1500, TestContext.Current.CancellationToken);
        PipeProcess.Result first = await Connect("alice", "alice-known", "bob-known", [], "--known-peers", knownPeers);
        first.ExitCode.ShouldBe(0, first.Error);
        (await bob).ExitCode.ShouldBe(0);
        File.ReadAllText(knownPeers).ShouldBe($"bob-known {bobKey}\n");

        // The name now belongs to someone else: refused, naming both keys and the file.
        Task<PipeProcess.Result> mallory = Listen("mallory", "bob-known", []);
        await Task.Delay(1500, TestContext.Current.CancellationToken);
        PipeProcess.Result second = await Connect("alice", "alice-known", "bob-known", "the secret plan"u8.ToArray(), "--known-peers", knownPeers);
        second.ExitCode.ShouldBe(1, second.Error);
        second.Error.ShouldContain("HAS CHANGED");
        second.Error.ShouldContain(bobKey);
        second.Error.ShouldContain(malloryKey);
        second.Error.ShouldContain(knownPeers);
        (await mallory).Output.ShouldBeEmpty();
        File.ReadAllText(knownPeers).ShouldBe($"bob-known {bobKey}\n");
    }

    [Fact]
    public async Task AListenerWithAllowRefusesAnotherKeyAndTheConnectorLearnsItWasRefused()
    {
        string aliceKey = await KeyOfAsync("alice");
        string malloryKey = await KeyOfAsync("mallory");
        Task<PipeProcess.Result> bob = Listen("bob", "bob-allow", "for alice only"u8.ToArray(), "--allow", aliceKey);
        await Task.Delay(1500, TestContext.Current.CancellationToken);
        PipeProcess.Result mallory = await Connect("mallory", "mallory-allow", "bob-allow", []);
        PipeProcess.Result bobResult = await bob;
        bobResult.ExitCode.ShouldBe(1, bobResult.Error);
        bobResult.Error.ShouldContain(malloryKey);
        bobResult.Error.ShouldContain(aliceKey);
        mallory.ExitCode.ShouldBe(1, mallory.Error);
        mallory.Error.ShouldContain("refused our key");
        mallory.Output.ShouldBeEmpty();
    }

    private static JsonElement Connected(string stderr) =>
        stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement)
            .First(e => e.GetProperty("event").GetString() == "connected");
}
