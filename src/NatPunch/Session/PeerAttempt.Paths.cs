using NatPunch.Protocol.Rendezvous;
using NatPunch.Rendezvous;
using NatPunch.Security;
using NatPunch.Traversal;

namespace NatPunch.Session;

/// <summary>
/// From the introduction on, the session's path management runs on the link's loop
/// (<see cref="PeerLink.RunPaths"/>); the attempt hears what it reports (<see cref="IPathHost"/>) and turns
/// it into progress, the <see cref="PeerConnection"/>, its path changes and, when the session ends, an
/// aborted stream.
/// </summary>
internal sealed partial class PeerAttempt : IPathHost
{
    private readonly TaskCompletionSource<PeerConnection> _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string _peer = "";
    private string _session = "";
    private PeerKeyPolicy? _policy;
    private PeerConnection? _connection;
    private SessionSignals? _signals;
    private ISignalingChannel _signaling = null!;

    /// <summary>Restarts and candidates from the rendezvous refused: not sealed by the peer.</summary>
    public long RefusedSignals => _signals?.Refused ?? 0;

    /// <summary>
    /// Punches the introduced session: checks every pair, and on the first selected path runs the
    /// handshake that proves both keys. Returns the connection once the peer's key is proven and
    /// accepted; throws <see cref="ConnectException"/> saying why not. The path manager then carries
    /// on for the connection (restarts, upgrades, the peer leaving).
    /// </summary>
    /// <param name="started">Timestamp the time limit runs from.</param>
    public async Task<PeerConnection> PunchAsync(IntroduceMessage introduction, bool connecting, long started, CancellationToken cancellationToken)
    {
        PeerOptions options = _node.Options;
        if (RelayOnlyFailed.IsCompleted)
        {
            await RelayOnlyFailed.ConfigureAwait(false); // throws why
        }
        _peer = introduction.Peer;
        _session = introduction.Session;
        _role = introduction.Role;
        int remoteCandidates = introduction.Offer.Candidates.Count(info => Candidate.TryFromInfo(info, out _));
        TimeSpan startIn = TimeSpan.FromMilliseconds(Math.Clamp(introduction.StartInMs, 0, 5000));
        _node.Progress?.Report(new ConnectionProgress.Introduced(introduction.Peer, introduction.Session, remoteCandidates, startIn));
        // The side ICE makes controlling starts the handshake: one side each, also when both connect at once.
        bool initiator = introduction.Role == IceRole.Controlling;
        _policy = new PeerKeyPolicy(introduction.Peer, connecting ? options.PeerKey : null, connecting ? [] : options.AllowedKeys, options.KnownPeers);
        PeerKeyPolicy policy = _policy;
        PeerIdentity identity = options.Identity ?? _node.EphemeralIdentity;
        IceCredentials local = await Link.InvokeAsync((agent, _) =>
        {
            agent.SetRole(introduction.Role);
            return agent.Local;
        }).ConfigureAwait(false);
        // The handshake is bound to the session and both sides' ICE credentials, initiator's first.
        var remote = new IceCredentials(introduction.Offer.Ufrag, introduction.Offer.Pwd);
        (IceCredentials first, IceCredentials second) = initiator ? (local, remote) : (remote, local);
        byte[] prologue = SessionPrologue.Build(introduction.Session, first.Ufrag, first.Pwd, second.Ufrag, second.Pwd);

        _signaling = _node.Rendezvous;
        _signals = new SessionSignals(_signaling, introduction.Session, () => Link.Crypto?.Signals, () => Link.PlainCandidatesWelcome);
        Link.RunPaths(introduction.Session, introduction.Peer, introduction.Offer, startIn, options.Timeout, started,
            _signals, _signaling.SessionMessages(introduction.Session),
            now => new SessionHandshake(initiator, identity, policy.Expected, prologue, policy.Authorize, now, options.Handshake),
            plainCandidateGrace: options.Handshake.Timeout, this);
        try
        {
            Task done = await Task.WhenAny(_connected.Task, RelayOnlyFailed).WaitAsync(cancellationToken).ConfigureAwait(false);
            if (done == RelayOnlyFailed && !_connected.Task.IsCompleted)
            {
                await RelayOnlyFailed.ConfigureAwait(false); // throws why
            }
            return await _connected.Task.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_connected.Task.IsCompletedSuccessfully)
        {
            await _connected.Task.Result.DisposeAsync().ConfigureAwait(false); // made just as the caller gave up: nobody else will close it
            throw;
        }
    }

    void IPathHost.Punching(int pairs) => _node.Progress?.Report(new ConnectionProgress.Punching(pairs));

    /// <summary>On the link's loop: progress, the connection and its path changes. Quick, and never back into the link.</summary>
    void IPathHost.PathEvent(PathEvent e, int pairsTried)
    {
        IProgress<ConnectionProgress>? progress = _node.Progress;
        switch (e)
        {
            case PathEvent.Connected { First: true } first:
                _policy!.Record(first.PeerKey!);
                if (Link.Crypto is { } keys)
                {
                    // From now on only this end, with the session keys, can resume the session at the server.
                    _ = _signaling.ProtectResumeAsync(_session, keys.Signals.ResumeSeed, CancellationToken.None);
                }
                PeerPath path = PeerPath.FromSelection(first.Selection.Local, first.Selection.Remote, Link.RelayTransport);
                progress?.Report(new ConnectionProgress.Connected(path, first.Took, first.PeerKey, path.Direct ? null : Link.AgentOnLoop.WhyNoDirectPath,
                    Link.AgentOnLoop.Probing, Link.AgentOnLoop.RouteToPeer, Link.AgentOnLoop.HeldForPeerOpening));
                _handedOver = true;
                _connection = new PeerConnection(this, _node, path, _peer, first.PeerKey!, _session, first.Took);
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
                _connection?.AbortStreams(ended.Reason);
                break;
            case PathEvent.Failed failed:
                _connected.TrySetException(Explain(failed, pairsTried, Link.AgentOnLoop.WhyNoDirectPath));
                break;
        }
    }

    /// <summary>
    /// A first attempt's failure, in words: why no direct path, when the mapping tests say (symmetric
    /// NATs), and what the relay could or could not do.
    /// </summary>
    private ConnectException Explain(PathEvent.Failed failed, int pairsTried, string? whyNoDirectPath)
    {
        string direct = whyNoDirectPath is null ? "" : $"; {whyNoDirectPath}";
        return failed.Failure switch
        {
            PathFailure.Timeout => new ConnectException($"{failed.Reason} after trying {pairsTried} candidate pairs{direct}{WhyNoRelay()}", failure: ConnectFailure.NoPath),
            PathFailure.NoPath => new ConnectException($"no path to '{_peer}': {failed.Reason}{direct}{WhyNoRelay()}", failure: ConnectFailure.NoPath),
            _ => new ConnectException(failed.Reason),
        };
    }
}
