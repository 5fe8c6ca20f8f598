using System.Net;
using System.Net.Sockets;
using NatPunch.Net;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Relay;
using NatPunch.Rendezvous;
using NatPunch.Security;
using NatPunch.Traversal;

namespace NatPunch.Session;

/// <summary>
/// One session in the making: its own UDP socket and <see cref="PeerLink"/>, its candidates and relay,
/// its offer, and then the punching and the handshake that turn an introduction into a
/// <see cref="PeerConnection"/>. A node makes one for each peer it connects to and one for each peer
/// that may connect to it (the offer it registers). Disposing it before it became a connection closes the socket.
/// </summary>
internal sealed partial class PeerAttempt : IAsyncDisposable
{
    private readonly PeerNode _node;
    private readonly IPEndPoint[] _hosts;
    private readonly IPEndPoint[] _stunServers;
    private readonly TaskCompletionSource<string> _relayFailed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // The role the rendezvous assigned; every agent of this session (first and restarts) takes it.
    private IceRole _role = IceRole.Controlling;
    private volatile bool _handedOver; // set by the session loop, read by DisposeAsync
    private bool _serverOffersNoRelay;

    public PeerAttempt(PeerNode node)
    {
        _node = node;
        PeerOptions options = node.Options;
        Socket socket = BindSocket(node.TakeLocalPort());
        int port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        bool dualStack = socket.AddressFamily == AddressFamily.InterNetworkV6;
        // Relay only: no direct candidate is offered or used: the relayed one is all there is.
        bool relayOnly = options.Relay == RelayMode.Only;
        _hosts = relayOnly ? [] : LocalAddresses.Get(options.IncludeLoopbackCandidates, includeIPv6: dualStack)
            .Select(a => new IPEndPoint(a, port)).ToArray();
        _stunServers = relayOnly ? [] : node.ServerEndPoints.Where(e => dualStack || e.AddressFamily == AddressFamily.InterNetwork).Take(2).ToArray();
        Link = new PeerLink(socket, NewAgent, options.TimeProvider);
        TcpGathered = !relayOnly && options.TcpPunching
            ? Link.StartTcpAsync(_hosts, _stunServers.FirstOrDefault())
            : Task.CompletedTask;
        if (!relayOnly && node.ShouldTryPortMapping && node.ServerEndPoints.Any(e => !IPAddress.IsLoopback(e.Address)))
        {
            Link.StartPortMapping(node.Progress, node.PortMappingUnavailable);
        }
        // With relay only, a relay that cannot be had ends the attempt: this task then fails with why.
        RelayOnlyFailed = relayOnly ? FailWithAsync(_relayFailed.Task) : new TaskCompletionSource().Task;
        Link.RelayChanged += OnRelayChanged;
    }

    public PeerLink Link { get; }

    /// <summary>Done when the TCP port's candidates are known (or there are none): the offer waits for it, within the gathering's limit.</summary>
    private Task TcpGathered { get; }

    /// <summary>Fails (with why) when relaying is the only way allowed and no relay can be had; never completes otherwise.</summary>
    public Task RelayOnlyFailed { get; }

    /// <summary>Builds the agent for the first attempt and for every restart, in the role the rendezvous assigned.</summary>
    /// <summary>Whether this side initiated the handshake (ICE's controlling side): it opens even stream ids.</summary>
    public bool Initiator => _role == IceRole.Controlling;

    public IceAgent NewAgent(TimeSpan now) => new(_role, IceCredentials.NewRandom(), _hosts, _stunServers, _node.Options.Ice, now)
    {
        IgnoreRelayedRemotes = _node.Options.Relay == RelayMode.Never,
    };

    private void OnRelayChanged(RelayStatus status)
    {
        IProgress<ConnectionProgress>? progress = _node.Progress;
        switch (status)
        {
            case RelayStatus.Ready ready:
                progress?.Report(new ConnectionProgress.RelayReady(ready.Relayed, ready.Server, ready.Transport == TurnServerTransport.Tcp ? "tcp" : "udp"));
                break;
            case RelayStatus.Failed failed:
                progress?.Report(new ConnectionProgress.RelayUnavailable(failed.Reason));
                _relayFailed.TrySetResult(failed.Reason);
                break;
            case RelayStatus.Lost lost:
                // Not the end, even when relaying only: the link is allocating a new one.
                progress?.Report(new ConnectionProgress.RelayUnavailable(lost.Reason));
                break;
        }
    }

    /// <summary>A TURN server named in the options: started at once, it needs no registration.</summary>
    public async Task StartConfiguredRelayAsync()
    {
        if (_node.Options.Relay != RelayMode.Never && _node.ConfiguredTurn is { } turn)
        {
            await Link.StartRelayAsync(turn).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Zero configuration: the rendezvous grants short-lived credentials for the server's own TURN
    /// relay (same address and port, UDP or TCP). Without a grant there is no relay to fall back on.
    /// </summary>
    public async Task StartGrantedRelayAsync(TurnGrant? grant)
    {
        if (_node.Options.Relay == RelayMode.Never || _node.ConfiguredTurn is not null)
        {
            return;
        }
        if (grant is null)
        {
            const string reason = "the NatPunch server offers no TURN relay (it runs without one); name another TURN server";
            _node.Progress?.Report(new ConnectionProgress.RelayUnavailable(reason));
            _serverOffersNoRelay = true;
            _relayFailed.TrySetResult(reason);
            return;
        }
        // No STUN answer over UDP by now: UDP is probably blocked, so TCP need not wait its turn.
        bool udpSilent = _node.Options.Relay != RelayMode.Only && !await Link.InvokeAsync((agent, _) => agent.StunServerAnswered).ConfigureAwait(false);
        await Link.StartRelayAsync(new RelayServer(_node.ServerEndPoints[0], new TurnCredentials(grant.Username, grant.Password))
        {
            TcpAfter = udpSilent ? TimeSpan.Zero : RelayServer.DefaultTcpAfter,
            // TURN over TCP goes the rendezvous's way: TLS on 443, through the proxy, when that is how it got through.
            TcpRoute = _node.Rendezvous?.Route,
            Connection = _node.Options.ServerConnection,
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// Registered again (a reconnect, a server restart): the grant is fresh, and after a server restart
    /// it is the only one that works (a new random secret), so the relay allocates with it from now on.
    /// </summary>
    public void UseFreshGrant(TurnGrant? grant)
    {
        if (_node.Options.Relay != RelayMode.Never && _node.ConfiguredTurn is null && grant is not null)
        {
            _ = Link.UseRelayCredentialsAsync(new TurnCredentials(grant.Username, grant.Password));
        }
    }

    /// <summary>
    /// An attempt of a registered node, made ready to be offered: its relay started (a configured TURN
    /// server at once, else the server's own with <paramref name="grant"/>) and its candidates gathered.
    /// </summary>
    public async Task<PeerOffer> PrepareAsync(TurnGrant? grant, CancellationToken cancellationToken)
    {
        await StartConfiguredRelayAsync().ConfigureAwait(false); // no need to wait for the gathering
        PeerOffer offer = await GatherAsync(cancellationToken).ConfigureAwait(false);
        await StartGrantedRelayAsync(grant).ConfigureAwait(false);
        return offer;
    }

    /// <summary>
    /// Waits for the STUN server's answers, but at most <see cref="PeerOptions.GatherWait"/>: on a
    /// network that drops UDP no answer comes, and registering (and so getting a relay) should not
    /// wait for the whole gathering timeout. A server-reflexive candidate learnt later is sent after
    /// the offer (an updated offer while listening, a trickled candidate once introduced).
    /// </summary>
    public async Task<PeerOffer> GatherAsync(CancellationToken cancellationToken)
    {
        Task limit = Task.Delay(_node.Options.GatherWait, _node.Options.TimeProvider, cancellationToken);
        while (true)
        {
            Task<bool> ready = Link.Events.WaitToReadAsync(cancellationToken).AsTask();
            if (await Task.WhenAny(ready, limit).ConfigureAwait(false) == limit)
            {
                cancellationToken.ThrowIfCancellationRequested();
                await Task.WhenAny(TcpGathered, Task.Delay(TimeSpan.FromMilliseconds(100), _node.Options.TimeProvider, cancellationToken)).ConfigureAwait(false);
                return await OfferAsync().ConfigureAwait(false);
            }
            if (!await ready.ConfigureAwait(false))
            {
                throw new ConnectException("the connection was closed while gathering candidates");
            }
            while (Link.Events.TryRead(out IceEvent? e))
            {
                if (e is IceEvent.GatheringComplete)
                {
                    await Task.WhenAny(TcpGathered, limit).ConfigureAwait(false); // TCP's answer takes a round trip more
                    return await OfferAsync().ConfigureAwait(false);
                }
            }
        }
    }

    private Task<PeerOffer> OfferAsync() =>
        Link.InvokeAsync((agent, _) =>
        {
            IReadOnlyList<Candidate> candidates = agent.LocalCandidates;
            Candidate? reflexive = candidates.FirstOrDefault(c => c.Type == CandidateType.ServerReflexive);
            IPEndPoint? publicAddress = reflexive?.EndPoint ?? candidates.FirstOrDefault()?.EndPoint;
            _node.Progress?.Report(new ConnectionProgress.Gathered(
                candidates.Count(c => c.Type == CandidateType.Host && !c.IsTcp),
                candidates.Count(c => c.Type == CandidateType.ServerReflexive && !c.IsTcp),
                publicAddress));
            return agent.CreateOffer();
        });

    /// <summary>
    /// A listener's offer waits for an introduction: keeps our NAT mapping (and so the offer) alive,
    /// and offers again when the mapping changes.
    /// </summary>
    public async Task<IntroduceMessage> WaitForIntroductionAsync(RendezvousClient rendezvous, CancellationToken cancellationToken)
    {
        PeerOptions options = _node.Options;
        Task<IntroduceMessage> introduction = rendezvous.WaitForIntroductionAsync(cancellationToken);
        Task tick = Task.Delay(options.KeepAliveInterval, options.TimeProvider, cancellationToken);
        Task<bool> events = Link.Events.WaitToReadAsync(cancellationToken).AsTask();
        string? lastReflexive = null;
        while (true)
        {
            Task done = await Task.WhenAny(introduction, tick, RelayOnlyFailed, events).ConfigureAwait(false);
            if (done == introduction)
            {
                return await introduction.ConfigureAwait(false);
            }
            if (done == RelayOnlyFailed)
            {
                await RelayOnlyFailed.ConfigureAwait(false); // throws why
            }
            if (done == tick)
            {
                await Link.InvokeAsync((agent, now) => agent.Regather(now)).ConfigureAwait(false);
                tick = Task.Delay(options.KeepAliveInterval, options.TimeProvider, cancellationToken);
                continue;
            }
            // A server-reflexive candidate that came after the offer, or a changed mapping: offer it.
            while (Link.Events.TryRead(out IceEvent? e))
            {
                if (e is IceEvent.CandidateGathered { Candidate.Type: CandidateType.ServerReflexive } gathered)
                {
                    string address = Candidate.Format(gathered.Candidate.EndPoint);
                    if (address != lastReflexive)
                    {
                        lastReflexive = address;
                        PeerOffer offer = await Link.InvokeAsync((agent, _) => agent.CreateOffer()).ConfigureAwait(false);
                        await rendezvous.UpdateOfferAsync(offer, cancellationToken).ConfigureAwait(false);
                    }
                }
            }
            events = await events.ConfigureAwait(false)
                ? Link.Events.WaitToReadAsync(cancellationToken).AsTask()
                : new TaskCompletionSource<bool>().Task; // link closed
        }
    }

    private async Task FailWithAsync(Task<string> relayFailed)
    {
        string reason = await relayFailed.ConfigureAwait(false);
        throw new ConnectException($"relaying only, but no relay: {reason}", failure: _serverOffersNoRelay ? ConnectFailure.ServerOffersNoRelay : ConnectFailure.NoRelay);
    }

    /// <summary>The end of a failure message: what the relay could or could not do.</summary>
    private string WhyNoRelay() =>
        _node.Options.Relay == RelayMode.Never ? " (both NATs may be symmetric, or UDP is blocked, and relaying is not allowed)"
        : Link.RelayFailure is { } failure ? $" (no relay either: {failure})"
        : Link.RelayTransport is null ? " (the relay was not ready in time)"
        : " (not even through the relay: the peer's side may have no relay)";

    private static Socket BindSocket(int port)
    {
        if (Socket.OSSupportsIPv6)
        {
            try
            {
                var dual = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp) { DualMode = true };
                dual.Bind(new IPEndPoint(IPAddress.IPv6Any, port));
                Tune(dual);
                return dual;
            }
            catch (SocketException)
            {
                // IPv6 disabled on this host: fall back to IPv4 only.
            }
        }
        var v4 = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        v4.Bind(new IPEndPoint(IPAddress.Any, port));
        Tune(v4);
        return v4;
    }

    private static void Tune(Socket socket)
    {
        socket.ReceiveBufferSize = 4 * 1024 * 1024;
        socket.SendBufferSize = 4 * 1024 * 1024;
    }

    /// <summary>Closes the socket (and the session's path management with it), unless the attempt became a connection (which owns the link from then on).</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_handedOver)
        {
            _node.Forget(this);
            await Link.DisposeAsync().ConfigureAwait(false);
        }
    }

}
