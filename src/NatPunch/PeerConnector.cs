using System.Net;
using System.Net.Sockets;
using NatPunch.Net;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Protocol.Stun;
using NatPunch.Relay;
using NatPunch.Rendezvous;
using NatPunch.Security;
using NatPunch.Session;
using NatPunch.Traversal;

namespace NatPunch;

/// <summary>
/// The one call that connects two peers: gather candidates on a fresh UDP socket, meet through
/// the rendezvous service, punch, and return a <see cref="PeerConnection"/> on the best direct path.
/// </summary>
public static class PeerConnector
{
    /// <summary>Registers <see cref="PeerOptions.Name"/> and waits for one peer to connect.</summary>
    public static Task<PeerConnection> ListenAsync(PeerOptions options, IProgress<ConnectionProgress>? progress, CancellationToken cancellationToken) =>
        RunAsync(options, peer: null, progress, cancellationToken);

    /// <summary>Connects to the peer registered as <paramref name="peer"/>, waiting for it up to the timeout.</summary>
    public static Task<PeerConnection> ConnectAsync(PeerOptions options, string peer, IProgress<ConnectionProgress>? progress, CancellationToken cancellationToken) =>
        RunAsync(options, peer, progress, cancellationToken);

    private static async Task<PeerConnection> RunAsync(PeerOptions options, string? peer, IProgress<ConnectionProgress>? progress, CancellationToken cancellationToken)
    {
        TimeProvider time = options.TimeProvider;
        long started = time.GetTimestamp();
        if (!HostAndPort.TryParse(options.Server, StunConstants.DefaultPort, out HostAndPort server, out string parseError))
        {
            throw new ConnectException($"--server: {parseError}");
        }
        IPEndPoint[] serverEndPoints;
        try
        {
            serverEndPoints = [await server.ResolveAsync(cancellationToken: cancellationToken).ConfigureAwait(false)];
        }
        catch (SocketException e)
        {
            throw new ConnectException($"cannot resolve {server.Host}: {e.Message}", e);
        }

        RelayServer? ownTurn = await ResolveTurnServerAsync(options, cancellationToken).ConfigureAwait(false);

        Socket socket = BindSocket(options.LocalPort);
        int port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        bool dualStack = socket.AddressFamily == AddressFamily.InterNetworkV6;
        // With --relay only, no direct candidate is offered or used: the relayed one is all there is.
        bool relayOnly = options.Relay == RelayMode.Only;
        IPEndPoint[] hosts = relayOnly ? [] : LocalAddresses.Get(options.IncludeLoopbackCandidates, includeIPv6: dualStack)
            .Select(a => new IPEndPoint(a, port)).ToArray();
        IPEndPoint[] stunServers = relayOnly ? [] : serverEndPoints.Where(e => dualStack || e.AddressFamily == AddressFamily.InterNetwork).Take(2).ToArray();
        IceRole role = IceRole.Controlling;
        // Builds the agent for the first attempt and for every restart, in the role the rendezvous assigned.
        IceAgent NewAgent(TimeSpan now) => new(role, IceCredentials.NewRandom(), hosts, stunServers, options.Ice, now)
        {
            IgnoreRelayedRemotes = options.Relay == RelayMode.Never,
        };
        var link = new PeerLink(socket, NewAgent, time);
        var relayFailed = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        // With --relay only, a relay that cannot be had ends the attempt: this task then fails with why.
        Task relayOnlyFailed = options.Relay == RelayMode.Only
            ? FailWithAsync(relayFailed.Task)
            : Task.Delay(Timeout.Infinite, cancellationToken);
        link.RelayChanged += status =>
        {
            switch (status)
            {
                case RelayStatus.Ready ready:
                    progress?.Report(new ConnectionProgress.RelayReady(ready.Relayed, ready.Server, ready.Transport == TurnServerTransport.Tcp ? "tcp" : "udp"));
                    break;
                case RelayStatus.Failed failed:
                    progress?.Report(new ConnectionProgress.RelayUnavailable(failed.Reason));
                    relayFailed.TrySetResult(failed.Reason);
                    break;
                case RelayStatus.Lost lost:
                    // Not the end, even with --relay only: the link is allocating a new one.
                    progress?.Report(new ConnectionProgress.RelayUnavailable(lost.Reason));
                    break;
            }
        };
        RendezvousClient? rendezvous = null;
        try
        {
            if (ownTurn is not null)
            {
                await link.StartRelayAsync(ownTurn).ConfigureAwait(false); // --turn: no need to wait for the rendezvous
            }
            PeerOffer offer = await GatherAsync(link, options, progress, cancellationToken).ConfigureAwait(false);
            rendezvous = new RendezvousClient(new RendezvousClientOptions
            {
                Server = options.Server,
                Name = options.Name,
                Token = options.Token,
                TimeProvider = time,
                ConnectTimeout = peer is null ? TimeSpan.FromSeconds(10) : options.Timeout,
            });
            rendezvous.StatusChanged += message => progress?.Report(new ConnectionProgress.Status(message));
            rendezvous.RegisteredAgain += registered => UseFreshGrant(link, options, registered, ownTurn);
            IntroduceMessage introduction;
            if (peer is null)
            {
                RegisteredMessage registered = await Rendezvous(() => rendezvous.StartAsync(offer, cancellationToken)).ConfigureAwait(false);
                progress?.Report(new ConnectionProgress.Registered(registered.Name, registered.Observed));
                await StartGrantedRelayAsync(link, options, registered, serverEndPoints[0], ownTurn, relayFailed, progress).ConfigureAwait(false);
                progress?.Report(new ConnectionProgress.WaitingForPeer(null));
                introduction = await WaitForIntroductionAsync(link, rendezvous, options, relayOnlyFailed, cancellationToken).ConfigureAwait(false);
                // The time limit of a listener runs from the introduction on.
                started = time.GetTimestamp();
            }
            else
            {
                RegisteredMessage registered = await Rendezvous(() => rendezvous.StartAsync(null, cancellationToken)).ConfigureAwait(false);
                progress?.Report(new ConnectionProgress.Registered(registered.Name, registered.Observed));
                await StartGrantedRelayAsync(link, options, registered, serverEndPoints[0], ownTurn, relayFailed, progress).ConfigureAwait(false);
                if (relayOnlyFailed.IsCompleted)
                {
                    await relayOnlyFailed.ConfigureAwait(false); // throws why
                }
                progress?.Report(new ConnectionProgress.WaitingForPeer(peer));
                TimeSpan wait = options.Timeout - time.GetElapsedTime(started);
                introduction = await Rendezvous(() => rendezvous.ConnectToPeerAsync(peer, offer, wait > TimeSpan.Zero ? wait : TimeSpan.Zero, cancellationToken)).ConfigureAwait(false);
            }

            role = introduction.Role;
            PeerConnection connection = await PunchAsync(link, rendezvous, introduction, connecting: peer is not null, options, started, NewAgent, relayOnlyFailed, progress, cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await link.DisposeAsync().ConfigureAwait(false);
            if (rendezvous is not null)
            {
                await rendezvous.DisposeAsync().ConfigureAwait(false);
            }
            throw;
        }
    }

    /// <summary>The TURN server named with <c>--turn</c>, resolved; null when the NatPunch server's own relay is to be used.</summary>
    private static async Task<RelayServer?> ResolveTurnServerAsync(PeerOptions options, CancellationToken cancellationToken)
    {
        if (options.Relay == RelayMode.Never || options.TurnServer is not { } uri)
        {
            return null;
        }
        if (options.TurnCredentials is not { } credentials)
        {
            throw new ConnectException($"--turn {uri}: credentials are needed (--turn-user or --turn-secret)");
        }
        try
        {
            IPEndPoint endPoint = await uri.Server.ResolveAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            return new RelayServer(endPoint, credentials, Udp: uri.Transport == TurnServerTransport.Udp, Tcp: uri.Transport == TurnServerTransport.Tcp);
        }
        catch (SocketException e)
        {
            throw new ConnectException($"cannot resolve the TURN server {uri.Server.Host}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Zero configuration: the rendezvous grants short-lived credentials for the server's own TURN
    /// relay (same address and port, UDP or TCP). Without a grant there is no relay to fall back on.
    /// </summary>
    private static async Task StartGrantedRelayAsync(PeerLink link, PeerOptions options, RegisteredMessage registered, IPEndPoint server,
        RelayServer? ownTurn, TaskCompletionSource<string> relayFailed, IProgress<ConnectionProgress>? progress)
    {
        if (options.Relay == RelayMode.Never || ownTurn is not null)
        {
            return;
        }
        if (registered.Turn is not { } grant)
        {
            const string reason = "the NatPunch server offers no TURN relay (it runs with --no-turn); name another one with --turn";
            progress?.Report(new ConnectionProgress.RelayUnavailable(reason));
            relayFailed.TrySetResult(reason);
            return;
        }
        // No STUN answer over UDP by now: UDP is probably blocked, so TCP need not wait its turn.
        bool udpSilent = options.Relay != RelayMode.Only && !await link.InvokeAsync((agent, _) => agent.StunServerAnswered).ConfigureAwait(false);
        await link.StartRelayAsync(new RelayServer(server, new TurnCredentials(grant.Username, grant.Password))
        {
            TcpAfter = udpSilent ? TimeSpan.Zero : RelayServer.DefaultTcpAfter,
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// Registered again (a reconnect, a server restart): the grant is fresh, and after a server restart
    /// it is the only one that works (a new random secret), so the relay allocates with it from now on.
    /// </summary>
    private static void UseFreshGrant(PeerLink link, PeerOptions options, RegisteredMessage registered, RelayServer? ownTurn)
    {
        if (options.Relay != RelayMode.Never && ownTurn is null && registered.Turn is { } grant)
        {
            _ = link.UseRelayCredentialsAsync(new TurnCredentials(grant.Username, grant.Password));
        }
    }

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

    /// <summary>
    /// Waits for the STUN server's answers, but at most <see cref="PeerOptions.GatherWait"/>: on a
    /// network that drops UDP no answer comes, and registering (and so getting a relay) should not
    /// wait for the whole gathering timeout. A server-reflexive candidate learnt later is sent after
    /// the offer (an updated offer while listening, a trickled candidate once introduced).
    /// </summary>
    private static async Task<PeerOffer> GatherAsync(PeerLink link, PeerOptions options, IProgress<ConnectionProgress>? progress, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(options.GatherWait);
        try
        {
            while (await link.Events.WaitToReadAsync(limit.Token).ConfigureAwait(false))
            {
                while (link.Events.TryPeek(out IceEvent? e))
                {
                    if (e is IceEvent.GatheringComplete)
                    {
                        link.Events.TryRead(out _);
                        return await OfferAsync(link, progress).ConfigureAwait(false);
                    }
                    link.Events.TryRead(out _);
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return await OfferAsync(link, progress).ConfigureAwait(false);
        }
        throw new ConnectException("the connection was closed while gathering candidates");
    }

    private static Task<PeerOffer> OfferAsync(PeerLink link, IProgress<ConnectionProgress>? progress) =>
        link.InvokeAsync((agent, _) =>
        {
            IReadOnlyList<Candidate> candidates = agent.LocalCandidates;
            Candidate? reflexive = candidates.FirstOrDefault(c => c.Type == CandidateType.ServerReflexive);
            IPEndPoint? publicAddress = reflexive?.EndPoint ?? candidates.FirstOrDefault()?.EndPoint;
            progress?.Report(new ConnectionProgress.Gathered(
                candidates.Count(c => c.Type == CandidateType.Host),
                candidates.Count(c => c.Type == CandidateType.ServerReflexive),
                publicAddress));
            return agent.CreateOffer();
        });

    /// <summary>Waits for an introduction while keeping our NAT mapping (and so our offer) alive.</summary>
    private static async Task<IntroduceMessage> WaitForIntroductionAsync(PeerLink link, RendezvousClient rendezvous, PeerOptions options,
        Task relayOnlyFailed, CancellationToken cancellationToken)
    {
        Task<IntroduceMessage> introduction = rendezvous.WaitForIntroductionAsync(cancellationToken);
        Task tick = Task.Delay(options.KeepAliveInterval, options.TimeProvider, cancellationToken);
        Task<bool> events = link.Events.WaitToReadAsync(cancellationToken).AsTask();
        string? lastReflexive = null;
        while (true)
        {
            Task done = await Task.WhenAny(introduction, tick, relayOnlyFailed, events).ConfigureAwait(false);
            if (done == introduction)
            {
                return await Rendezvous(() => introduction).ConfigureAwait(false);
            }
            if (done == relayOnlyFailed)
            {
                await relayOnlyFailed.ConfigureAwait(false); // throws why
            }
            if (done == tick)
            {
                await link.InvokeAsync((agent, now) => agent.Regather(now)).ConfigureAwait(false);
                tick = Task.Delay(options.KeepAliveInterval, options.TimeProvider, cancellationToken);
                continue;
            }
            // A server-reflexive candidate that came after the offer, or a changed mapping: offer it.
            while (link.Events.TryRead(out IceEvent? e))
            {
                if (e is IceEvent.CandidateGathered { Candidate.Type: CandidateType.ServerReflexive } gathered)
                {
                    string address = Candidate.Format(gathered.Candidate.EndPoint);
                    if (address != lastReflexive)
                    {
                        lastReflexive = address;
                        PeerOffer offer = await link.InvokeAsync((agent, _) => agent.CreateOffer()).ConfigureAwait(false);
                        await rendezvous.UpdateOfferAsync(offer, cancellationToken).ConfigureAwait(false);
                    }
                }
            }
            events = await events.ConfigureAwait(false)
                ? link.Events.WaitToReadAsync(cancellationToken).AsTask()
                : Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith(_ => false, TaskScheduler.Default); // link closed
        }
    }

    private static async Task<PeerConnection> PunchAsync(PeerLink link, RendezvousClient rendezvous, IntroduceMessage introduction, bool connecting,
        PeerOptions options, long started, Func<TimeSpan, IceAgent> newAgent, Task relayOnlyFailed, IProgress<ConnectionProgress>? progress,
        CancellationToken cancellationToken)
    {
        TimeProvider time = options.TimeProvider;
        if (relayOnlyFailed.IsCompleted)
        {
            await relayOnlyFailed.ConfigureAwait(false); // throws why
        }
        var remoteCandidates = new List<Candidate>();
        foreach (CandidateInfo info in introduction.Offer.Candidates)
        {
            if (Candidate.TryFromInfo(info, out Candidate candidate))
            {
                remoteCandidates.Add(candidate);
            }
        }
        TimeSpan startIn = TimeSpan.FromMilliseconds(Math.Clamp(introduction.StartInMs, 0, 5000));
        progress?.Report(new ConnectionProgress.Introduced(introduction.Peer, introduction.Session, remoteCandidates.Count, startIn));
        rendezvous.SetSession(introduction.Session, introduction.Peer); // from now on, a reconnect resumes it
        // The side ICE makes controlling starts the handshake: one side each, also when both connect at once.
        bool initiator = introduction.Role == IceRole.Controlling;
        var policy = new PeerKeyPolicy(introduction.Peer, connecting ? options.PeerKey : null, connecting ? [] : options.AllowedKeys, options.KnownPeers);
        PeerIdentity identity = options.Identity ?? PeerIdentity.Generate();
        (int pairs, List<Candidate> relayed, IceCredentials local) = await link.InvokeAsync((agent, now) =>
        {
            agent.SetRole(introduction.Role);
            agent.SetRemoteCredentials(new IceCredentials(introduction.Offer.Ufrag, introduction.Offer.Pwd));
            agent.AddRemoteCandidates(remoteCandidates, now);
            agent.StartChecks(now + startIn);
            return (agent.Pairs.Count, agent.RelayedCandidates.ToList(), agent.Local);
        }).ConfigureAwait(false);
        // The handshake is bound to the session and both sides' ICE credentials, initiator's first.
        var remote = new IceCredentials(introduction.Offer.Ufrag, introduction.Offer.Pwd);
        (IceCredentials first, IceCredentials second) = initiator ? (local, remote) : (remote, local);
        byte[] prologue = SessionPrologue.Build(introduction.Session, first.Ufrag, first.Pwd, second.Ufrag, second.Pwd);
        progress?.Report(new ConnectionProgress.Punching(pairs));
        // Relayed candidates come after the offer (the grant arrives with the registration): trickle them.
        foreach (Candidate candidate in relayed)
        {
            await rendezvous.SendSessionMessageAsync(new CandidateMessage(introduction.Session, candidate.ToInfo()), cancellationToken).ConfigureAwait(false);
        }

        TimeSpan left = options.Timeout - time.GetElapsedTime(started);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(left > TimeSpan.Zero ? left : TimeSpan.Zero);
        Task trickle = RelaySessionMessagesAsync(link, rendezvous, introduction.Session, limit.Token);
        Task<HandshakeOutcome> secured = new TaskCompletionSource<HandshakeOutcome>().Task; // until a path is selected
        PeerPath? path = null;
        try
        {
            while (true)
            {
                Task<bool> ready = link.Events.WaitToReadAsync(limit.Token).AsTask();
                Task done = await Task.WhenAny(ready, trickle, relayOnlyFailed, secured).ConfigureAwait(false);
                if (done == secured && path is not null)
                {
                    switch (await secured.ConfigureAwait(false))
                    {
                        case HandshakeOutcome.Established established:
                            policy.Record(established.PeerKey);
                            TimeSpan elapsed = time.GetElapsedTime(started);
                            progress?.Report(new ConnectionProgress.Connected(path, elapsed, established.PeerKey));
                            return new PeerConnection(link, rendezvous, path, introduction.Peer, established.PeerKey, introduction.Session, elapsed, time, newAgent, progress,
                                Streams.ReliableStreamOptions.Default with { PeerTimeout = options.StreamPeerTimeout });
                        case HandshakeOutcome.Failed failed:
                            throw new ConnectException(failed.KeyRefused ? failed.Reason : $"no secure session with '{introduction.Peer}': {failed.Reason}");
                    }
                }
                if (done == trickle)
                {
                    await trickle.ConfigureAwait(false); // throws why the peer went away
                    trickle = Task.Delay(Timeout.Infinite, limit.Token); // rendezvous closed: nothing more to relay
                }
                if (done == relayOnlyFailed)
                {
                    await relayOnlyFailed.ConfigureAwait(false); // throws why
                }
                if (!await ready.ConfigureAwait(false))
                {
                    break;
                }
                while (link.Events.TryRead(out IceEvent? e))
                {
                    switch (e)
                    {
                        case IceEvent.CandidateGathered gathered when gathered.Candidate.Type is CandidateType.Relayed or CandidateType.ServerReflexive:
                            await rendezvous.SendSessionMessageAsync(new CandidateMessage(introduction.Session, gathered.Candidate.ToInfo()), cancellationToken).ConfigureAwait(false);
                            break;
                        case IceEvent.Selected selected:
                            // The first path: prove both keys on it before any data moves (and report it once that is done).
                            if (path is null)
                            {
                                secured = link.StartHandshakeAsync(now => new SessionHandshake(initiator, identity, policy.Expected, prologue, policy.Authorize, now, options.Handshake));
                            }
                            path = PeerPath.FromSelection(selected.Local, selected.Remote, link.RelayTransport);
                            break;
                        case IceEvent.Failed failed:
                            throw new ConnectException($"no path to '{introduction.Peer}': {failed.Reason}{WhyNoRelay(options, link)}");
                    }
                }
            }
            throw new ConnectException("the connection was closed while punching");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            int tried = await link.InvokeAsync((agent, _) => agent.Pairs.Count).ConfigureAwait(false);
            throw new ConnectException($"no path to '{introduction.Peer}' within {options.Timeout.TotalSeconds:0} s after trying {tried} candidate pairs{WhyNoRelay(options, link)}");
        }
        catch (PeerGoneException gone)
        {
            throw new ConnectException($"'{introduction.Peer}' left during the introduction: {gone.Message}");
        }
        finally
        {
            limit.Cancel();
            try
            {
                await trickle.ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or PeerGoneException or RendezvousException)
            {
            }
        }
    }

    private static async Task FailWithAsync(Task<string> relayFailed) =>
        throw new ConnectException($"--relay only, but no relay: {await relayFailed.ConfigureAwait(false)}");

    /// <summary>The end of a failure message: what the relay could or could not do.</summary>
    private static string WhyNoRelay(PeerOptions options, PeerLink link) =>
        options.Relay == RelayMode.Never ? " (both NATs may be symmetric, or UDP is blocked; --relay never forbids the relay)"
        : link.RelayFailure is { } failure ? $" (no relay either: {failure})"
        : link.RelayTransport is null ? " (the relay was not ready in time)"
        : " (not even through the relay: the peer's side may have no relay)";

    /// <summary>Forwards trickled candidates into the agent; a peer that leaves ends the attempt.</summary>
    private static async Task RelaySessionMessagesAsync(PeerLink link, RendezvousClient rendezvous, string session, CancellationToken cancellationToken)
    {
        await foreach (RendezvousMessage message in rendezvous.SessionMessages.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            switch (message)
            {
                case CandidateMessage candidate when candidate.Session == session && Candidate.TryFromInfo(candidate.Candidate, out Candidate parsed):
                    await link.InvokeAsync((agent, now) => agent.AddRemoteCandidates([parsed], now)).ConfigureAwait(false);
                    break;
                case PeerGoneMessage gone when gone.Session == session:
                    throw new PeerGoneException(gone.Reason);
            }
        }
    }

    private static async Task<T> Rendezvous<T>(Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (RendezvousException e)
        {
            throw new ConnectException(e.Message, e);
        }
    }

    private sealed class PeerGoneException(string reason) : Exception(reason);
}
