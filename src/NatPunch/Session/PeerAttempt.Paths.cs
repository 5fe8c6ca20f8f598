using System.Threading.Channels;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Rendezvous;
using NatPunch.Security;
using NatPunch.Traversal;

namespace NatPunch.Session;

/// <summary>
/// The driver of the session's <see cref="PathManager"/>: one loop, from the introduction to the end of
/// the connection, that feeds it the agent's events, the peer's (opened) signalling, the handshake's
/// outcome and the time on the node's clock, and carries out what it asks on the link and the rendezvous.
/// </summary>
internal sealed partial class PeerAttempt
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource<PeerConnection> _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _loop = Task.CompletedTask;
    private long _epoch;
    private string _peer = "";
    private PeerKeyPolicy? _policy;
    private Func<TimeSpan, SessionHandshake>? _newHandshake;
    private PeerConnection? _connection;
    // The handshake on the first selected path, while it runs; touched only by the loop.
    private Task<HandshakeOutcome>? _handshake;

    /// <summary>Restarts and candidates from the rendezvous refused: not sealed by the peer.</summary>
    public long RefusedSignals => _signals?.Refused ?? 0;

    private SessionSignals? _signals;
    private ISignalingChannel _signaling = null!;

    private TimeSpan Now => _node.Options.TimeProvider.GetElapsedTime(_epoch);

    /// <summary>
    /// Punches the introduced session: checks every pair, and on the first selected path runs the
    /// handshake that proves both keys. Returns the connection once the peer's key is proven and
    /// accepted; throws <see cref="ConnectException"/> saying why not. The loop then carries on
    /// for the connection (restarts, upgrades, the peer leaving).
    /// </summary>
    /// <param name="started">Timestamp the time limit runs from.</param>
    public async Task<PeerConnection> PunchAsync(IntroduceMessage introduction, bool connecting, long started, CancellationToken cancellationToken)
    {
        PeerOptions options = _node.Options;
        ISignalingChannel rendezvous = _node.Rendezvous;
        if (RelayOnlyFailed.IsCompleted)
        {
            await RelayOnlyFailed.ConfigureAwait(false); // throws why
        }
        _epoch = started; // the session's clock, and its time limit, run from the start of the connect (a listener's: the introduction)
        _peer = introduction.Peer;
        _role = introduction.Role;
        int remoteCandidates = introduction.Offer.Candidates.Count(info => Candidate.TryFromInfo(info, out _));
        TimeSpan startIn = TimeSpan.FromMilliseconds(Math.Clamp(introduction.StartInMs, 0, 5000));
        _node.Progress?.Report(new ConnectionProgress.Introduced(introduction.Peer, introduction.Session, remoteCandidates, startIn));
        // The side ICE makes controlling starts the handshake: one side each, also when both connect at once.
        bool initiator = introduction.Role == IceRole.Controlling;
        _policy = new PeerKeyPolicy(introduction.Peer, connecting ? options.PeerKey : null, connecting ? [] : options.AllowedKeys, options.KnownPeers);
        PeerIdentity identity = options.Identity ?? _node.EphemeralIdentity;
        (List<Candidate> relayed, IceCredentials local) = await Link.InvokeAsync((agent, _) =>
        {
            agent.SetRole(introduction.Role);
            return (agent.RelayedCandidates.ToList(), agent.Local);
        }).ConfigureAwait(false);
        // The handshake is bound to the session and both sides' ICE credentials, initiator's first.
        var remote = new IceCredentials(introduction.Offer.Ufrag, introduction.Offer.Pwd);
        (IceCredentials first, IceCredentials second) = initiator ? (local, remote) : (remote, local);
        byte[] prologue = SessionPrologue.Build(introduction.Session, first.Ufrag, first.Pwd, second.Ufrag, second.Pwd);
        PeerKeyPolicy policy = _policy;
        _newHandshake = now => new SessionHandshake(initiator, identity, policy.Expected, prologue, policy.Authorize, now, options.Handshake);

        var paths = new PathManager(introduction.Session, introduction.Peer, options.Timeout, TimeSpan.Zero);
        // Relayed candidates come after the offer (the grant arrives with the registration): trickled from the start.
        paths.Start(introduction.Offer, startIn, relayed, Now);
        _signaling = rendezvous;
        _signals = new SessionSignals(rendezvous, introduction.Session, () => Link.Crypto?.Signals);
        ChannelReader<RendezvousMessage> messages = rendezvous.SessionMessages(introduction.Session);
        _loop = Task.Run(() => RunAsync(paths, introduction.Session, messages, _stopping.Token));
        try
        {
            return await _connected.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_connected.Task.IsCompletedSuccessfully)
        {
            await _connected.Task.Result.DisposeAsync().ConfigureAwait(false); // made just as the caller gave up: nobody else will close it
            throw;
        }
    }

    private async Task RunAsync(PathManager paths, string session, ChannelReader<RendezvousMessage> messages, CancellationToken cancellationToken)
    {
        TimeProvider time = _node.Options.TimeProvider;
        Task<bool> linkReady = Link.Events.WaitToReadAsync(cancellationToken).AsTask();
        Task<bool> messagesReady = messages.WaitToReadAsync(cancellationToken).AsTask();
        Task never = new TaskCompletionSource().Task;
        try
        {
            while (true)
            {
                await CarryOutAsync(paths, cancellationToken).ConfigureAwait(false);
                if (!await ReportEventsAsync(paths, session).ConfigureAwait(false) || paths.Over)
                {
                    return;
                }
                Task<HandshakeOutcome>? handshake = _handshake;
                TimeSpan? wake = paths.NextWakeUp;
                using var tick = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                Task timer = wake is { } at ? Task.Delay(Max(at - Now, TimeSpan.Zero), time, tick.Token) : never;
                Task relayOnly = paths.Established ? never : RelayOnlyFailed;
                Task done = await Task.WhenAny(linkReady, messagesReady, handshake ?? never, timer, relayOnly).ConfigureAwait(false);
                tick.Cancel();
                if (done == relayOnly)
                {
                    _connected.TrySetException(relayOnly.Exception?.InnerException ?? new ConnectException("relaying only, but no relay"));
                    return;
                }
                if (done == handshake)
                {
                    paths.HandleHandshake(await handshake.ConfigureAwait(false), Now);
                    _handshake = null;
                }
                else if (done == linkReady)
                {
                    if (!await linkReady.ConfigureAwait(false))
                    {
                        _connected.TrySetException(new ConnectException("the connection was closed while punching"));
                        return; // the link is closed
                    }
                    while (Link.Events.TryRead(out IceEvent? e))
                    {
                        paths.HandleIceEvent(e, Now);
                    }
                    linkReady = Link.Events.WaitToReadAsync(cancellationToken).AsTask();
                }
                else if (done == messagesReady)
                {
                    bool open;
                    try
                    {
                        open = await messagesReady.ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is RendezvousException or ChannelClosedException)
                    {
                        open = false;
                    }
                    if (!open)
                    {
                        // Rendezvous gone for good: a dead path can no longer be re-established.
                        messagesReady = new TaskCompletionSource<bool>().Task;
                        continue;
                    }
                    while (messages.TryRead(out RendezvousMessage? received))
                    {
                        if (_signals!.Open(received) is { } message)
                        {
                            paths.HandleSignal(message, Now);
                        }
                    }
                    messagesReady = messages.WaitToReadAsync(cancellationToken).AsTask();
                }
                else if (done == timer)
                {
                    paths.HandleTimeout(Now);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _connected.TrySetCanceled(cancellationToken);
        }
        catch (Exception e)
        {
            _connected.TrySetException(e);
        }
    }

    /// <summary>Does what the path manager asked, on the agent (through the link's loop) and the rendezvous.</summary>
    private async Task CarryOutAsync(PathManager paths, CancellationToken cancellationToken)
    {
        while (paths.TryPollAction(out PathAction action))
        {
            switch (action)
            {
                case PathAction.ApplyOffer apply:
                    var candidates = apply.Offer.Candidates.Select(c => Candidate.TryFromInfo(c, out Candidate parsed) ? parsed : null).OfType<Candidate>().ToList();
                    TimeSpan checksIn = Max(apply.ChecksAt - Now, TimeSpan.Zero);
                    int pairs = await Link.InvokeAsync((agent, now) =>
                    {
                        agent.SetRemoteCredentials(new IceCredentials(apply.Offer.Ufrag, apply.Offer.Pwd));
                        agent.AddRemoteCandidates(candidates, now);
                        agent.StartChecks(now + checksIn);
                        return agent.Pairs.Count;
                    }).ConfigureAwait(false);
                    if (paths.Round == 0)
                    {
                        _node.Progress?.Report(new ConnectionProgress.Punching(pairs));
                    }
                    break;
                case PathAction.AddCandidate add:
                    await Link.InvokeAsync((agent, now) => agent.AddRemoteCandidates([add.Candidate], now)).ConfigureAwait(false);
                    break;
                case PathAction.NewAgent:
                    await Link.RestartAgentAsync(NewAgent).ConfigureAwait(false);
                    break;
                case PathAction.MakeOffer make:
                    PeerOffer offer = await Link.InvokeAsync((agent, _) => agent.CreateOffer()).ConfigureAwait(false);
                    paths.HandleOurOffer(make.Round, offer, Now);
                    break;
                case PathAction.StartHandshake:
                    _handshake = Link.StartHandshakeAsync(_newHandshake!);
                    break;
                case PathAction.Send send:
                    await _signals!.SendAsync(send.Message, cancellationToken).ConfigureAwait(false);
                    break;
            }
        }
    }

    /// <summary>Turns the path manager's events into progress, the connection and its path changes. False: the loop is done.</summary>
    private async Task<bool> ReportEventsAsync(PathManager paths, string session)
    {
        IProgress<ConnectionProgress>? progress = _node.Progress;
        while (paths.TryPollEvent(out PathEvent e))
        {
            switch (e)
            {
                case PathEvent.Connected { First: true } first:
                    _policy!.Record(first.PeerKey!);
                    if (Link.Crypto is { } keys)
                    {
                        // From now on only this end, with the session keys, can resume the session at the server.
                        _ = _signaling.ProtectResumeAsync(session, keys.Signals.ResumeSeed, CancellationToken.None);
                    }
                    PeerPath path = PeerPath.FromSelection(first.Selection.Local, first.Selection.Remote, Link.RelayTransport);
                    progress?.Report(new ConnectionProgress.Connected(path, first.Took, first.PeerKey));
                    _handedOver = true;
                    _connection = new PeerConnection(this, _node, path, _peer, first.PeerKey!, session, first.Took);
                    _connected.TrySetResult(_connection);
                    break;
                case PathEvent.Connected later:
                    _connection?.PathSelected(PeerPath.FromSelection(later.Selection.Local, later.Selection.Remote, Link.RelayTransport), later.Took);
                    break;
                case PathEvent.Lost lost:
                    progress?.Report(new ConnectionProgress.PathLost(lost.Reason));
                    break;
                case PathEvent.Ended ended:
                    // Nobody will answer a restart: end now rather than at the stream's peer timeout.
                    progress?.Report(new ConnectionProgress.PathLost($"{ended.Reason}; the session ends"));
                    _connection?.AbortStream(ended.Reason);
                    return false;
                case PathEvent.Failed failed:
                    _connected.TrySetException(await ExplainAsync(failed).ConfigureAwait(false));
                    return false;
            }
        }
        return true;
    }

    /// <summary>A first attempt's failure, in words, with what the relay could or could not do where that explains it.</summary>
    private async Task<ConnectException> ExplainAsync(PathEvent.Failed failed)
    {
        switch (failed.Failure)
        {
            case PathFailure.Timeout:
                int tried = await Link.InvokeAsync((agent, _) => agent.Pairs.Count).ConfigureAwait(false);
                return new ConnectException($"{failed.Reason} after trying {tried} candidate pairs{WhyNoRelay()}", failure: ConnectFailure.NoPath);
            case PathFailure.NoPath:
                return new ConnectException($"no path to '{_peer}': {failed.Reason}{WhyNoRelay()}", failure: ConnectFailure.NoPath);
            default:
                return new ConnectException(failed.Reason);
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>Stops the loop (the connection closes, or the attempt is abandoned).</summary>
    public async Task StopAsync()
    {
        if (!_stopping.IsCancellationRequested)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
        }
        await _loop.ConfigureAwait(false);
    }
}
