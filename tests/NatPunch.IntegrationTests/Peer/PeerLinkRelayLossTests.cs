using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Protocol.Stun;
using NatPunch.Relay;
using NatPunch.Server;
using NatPunch.Server.Turn;
using NatPunch.Session;
using NatPunch.Traversal;

namespace NatPunch.IntegrationTests.Peer;

/// <summary>
/// A <see cref="PeerLink"/>'s relay on our server on loopback, when the server goes away mid-session:
/// the loss is reported, the agent forgets the relayed candidate, and a new allocation is asked for
/// with back-off until the server is back.
/// </summary>
public sealed class PeerLinkRelayLossTests : IAsyncDisposable
{
    private static readonly TurnCredentials Credentials = LoopbackTurnServer.Credentials;
    private NatPunchServer? _server;
    private PeerLink? _link;

    /// <summary>A link whose agent has no candidate of its own (as with <c>--relay only</c>), and its relay statuses.</summary>
    private (PeerLink Link, Channel<RelayStatus> Statuses) StartLink()
    {
        var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp) { DualMode = true };
        socket.Bind(new IPEndPoint(IPAddress.IPv6Any, 0));
        _link = new PeerLink(socket, NewAgent);
        var statuses = Channel.CreateUnbounded<RelayStatus>();
        _link.RelayChanged += status => statuses.Writer.TryWrite(status);
        return (_link, statuses);
    }

    private static IceAgent NewAgent(TimeSpan now) => new(IceRole.Controlling, IceCredentials.NewRandom(), [], [], IceAgentOptions.Default, now);

    private RelayServer Relay(bool udp) => new(_server!.UdpEndPoints[0], Credentials, Udp: udp, Tcp: !udp)
    {
        ReallocateAfter = TimeSpan.FromMilliseconds(200),
        MaxReallocateAfter = TimeSpan.FromMilliseconds(800),
        AllocateTimeout = TimeSpan.FromMilliseconds(500),
        ConfirmTimeout = TimeSpan.FromMilliseconds(500),
        QuietAfter = TimeSpan.Zero,
    };

    private static async Task<T> NextAsync<T>(Channel<RelayStatus> statuses, TimeSpan within) where T : RelayStatus
    {
        RelayStatus status = await statuses.Reader.ReadAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(within, TestContext.Current.CancellationToken);
        return status.ShouldBeOfType<T>();
    }

    private Task<IPEndPoint[]> RelayedCandidatesAsync() =>
        _link!.InvokeAsync((agent, _) => agent.RelayedCandidates.Select(c => c.EndPoint).ToArray());

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ARelayLostToAServerRestartIsAllocatedAgainAndOnlyTheLiveCandidateIsOffered(bool udp)
    {
        _server = LoopbackTurnServer.Start(0);
        int port = _server.UdpEndPoints[0].Port;
        (PeerLink link, Channel<RelayStatus> statuses) = StartLink();
        await link.StartRelayAsync(Relay(udp));
        RelayStatus.Ready first = await NextAsync<RelayStatus.Ready>(statuses, TimeSpan.FromSeconds(10));
        (await RelayedCandidatesAsync()).ShouldBe([first.Relayed]);

        await _server.DisposeAsync();
        _server = LoopbackTurnServer.Start(port);
        // Over TCP the closed connection says it at once; over UDP only a question does: an ICE
        // restart asks the quiet server before the new agent gets the relay.
        if (udp)
        {
            await link.RestartAgentAsync(NewAgent);
            (await RelayedCandidatesAsync()).ShouldBeEmpty(); // held back until the server answers
        }

        RelayStatus.Lost lost = await NextAsync<RelayStatus.Lost>(statuses, TimeSpan.FromSeconds(10));
        lost.Reason.ShouldStartWith("the relay was lost: ");
        (await RelayedCandidatesAsync()).ShouldBeEmpty();
        RelayStatus.Ready again = await NextAsync<RelayStatus.Ready>(statuses, TimeSpan.FromSeconds(10));
        again.Transport.ShouldBe(udp ? TurnServerTransport.Udp : TurnServerTransport.Tcp);
        (await RelayedCandidatesAsync()).ShouldBe([again.Relayed]);
        link.RelayFailure.ShouldBeNull();
    }

    [Fact]
    public async Task ARelayThatAnswersTheQuestionIsKeptAndOfferedToTheNewAgent()
    {
        _server = LoopbackTurnServer.Start(0);
        (PeerLink link, Channel<RelayStatus> statuses) = StartLink();
        await link.StartRelayAsync(Relay(udp: true));
        RelayStatus.Ready ready = await NextAsync<RelayStatus.Ready>(statuses, TimeSpan.FromSeconds(10));

        await link.RestartAgentAsync(NewAgent);
        await Task.Delay(1000, TestContext.Current.CancellationToken);
        (await RelayedCandidatesAsync()).ShouldBe([ready.Relayed]);
        statuses.Reader.TryRead(out RelayStatus? more).ShouldBeFalse(more?.ToString());
    }

    /// <summary>While the server is down, the rounds of Allocate come further and further apart (doubling, capped).</summary>
    [Fact]
    public async Task ReallocationBacksOffWhileTheServerIsDown()
    {
        _server = LoopbackTurnServer.Start(0);
        IPEndPoint address = _server.UdpEndPoints[0];
        (PeerLink link, Channel<RelayStatus> statuses) = StartLink();
        await link.StartRelayAsync(Relay(udp: true));
        await NextAsync<RelayStatus.Ready>(statuses, TimeSpan.FromSeconds(10));

        await _server.DisposeAsync();
        _server = null;
        // A silent stand-in on the server's port: it only notes when each new Allocate arrives.
        using var standIn = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        standIn.Bind(address);
        await link.RestartAgentAsync(NewAgent);
        await NextAsync<RelayStatus.Lost>(statuses, TimeSpan.FromSeconds(5));

        var allocates = new List<(TransactionId Id, DateTime At)>();
        byte[] buffer = new byte[2048];
        using var listening = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        listening.CancelAfter(TimeSpan.FromSeconds(6));
        try
        {
            while (true)
            {
                int length = await standIn.ReceiveAsync(buffer, SocketFlags.None, listening.Token);
                if (StunMessage.TryParse(buffer.AsSpan(0, length), out StunMessage message, out _)
                    && message.Type == new StunMessageType(StunMethod.Allocate, StunClass.Request))
                {
                    TransactionId id = message.TransactionId;
                    if (!allocates.Exists(a => a.Id == id))
                    {
                        allocates.Add((id, DateTime.UtcNow));
                    }
                }
            }
        }
        catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
        {
        }

        // Each round: 0.5 s without an answer, then a wait of 0.4 s, 0.8 s, 0.8 s… (the first round came 0.2 s after the loss).
        allocates.Count.ShouldBeInRange(3, 6);
        TimeSpan[] gaps = allocates.Zip(allocates.Skip(1), (a, b) => b.At - a.At).ToArray();
        gaps[0].ShouldBeInRange(TimeSpan.FromSeconds(0.8), TimeSpan.FromSeconds(1.5));
        gaps[1].ShouldBeInRange(TimeSpan.FromSeconds(1.2), TimeSpan.FromSeconds(2));
        gaps[^1].ShouldBeLessThan(TimeSpan.FromSeconds(2)); // capped
        (await RelayedCandidatesAsync()).ShouldBeEmpty();
    }

    public async ValueTask DisposeAsync()
    {
        if (_link is not null)
        {
            await _link.DisposeAsync();
        }
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
