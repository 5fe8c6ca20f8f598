using System.Threading.Channels;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Security;
using NatPunch.Traversal;

namespace NatPunch.Session;

/// <summary>
/// The session's <see cref="PathManager"/> on the link's loop, the loop that owns the agent, the relay
/// and the handshake: from the introduction on, the agent's events go to it (not to <see cref="Events"/>),
/// what it asks of the agent is done at once, and its wake-up is one of the loop's. The peer's
/// signalling comes in through one pump and goes out through another, in order (sealed boxes must
/// arrive in the order they were sealed).
/// </summary>
internal sealed partial class PeerLink
{
    // Loop-owned once RunPaths has run.
    private PathManager? _paths;
    private SessionSignals? _signals;
    private IPathHost? _pathHost;
    private Func<TimeSpan, SessionHandshake>? _newHandshake;
    private readonly Queue<IceEvent> _eventsForPaths = new();
    private readonly Channel<(RendezvousMessage Message, bool Plain)> _signalsOut = Channel.CreateUnbounded<(RendezvousMessage, bool)>(new UnboundedChannelOptions { SingleReader = true });
    private Task _signalPumps = Task.CompletedTask;
    private TimeSpan _plainCandidateGrace;
    private TimeSpan? _establishedAt;

    /// <summary>
    /// On the loop: whether the peer may still send candidates unsealed. Until the session is
    /// established, and for a grace after it (the handshake's timeout), since the peer may get its
    /// keys a round trip after we got ours.
    /// </summary>
    public bool PlainCandidatesWelcome => _establishedAt is not { } at || Now - at < _plainCandidateGrace;

    /// <summary>
    /// Hands the introduced session to the loop: round 0 starts with the peer's offer (checks
    /// <paramref name="startIn"/> later), and the path manager runs on the loop until the link closes.
    /// </summary>
    /// <param name="startedAt">Timestamp (of the link's <see cref="TimeProvider"/>) the first attempt's <paramref name="timeLimit"/> runs from.</param>
    public void RunPaths(string session, string peer, PeerOffer theirs, TimeSpan startIn, TimeSpan timeLimit, long startedAt,
        SessionSignals signals, ChannelReader<RendezvousMessage> incoming, Func<TimeSpan, SessionHandshake> newHandshake,
        TimeSpan plainCandidateGrace, IPathHost host)
    {
        _commands.Writer.TryWrite(() =>
        {
            _plainCandidateGrace = plainCandidateGrace;
            _signals = signals;
            _pathHost = host;
            _newHandshake = newHandshake;
            _paths = new PathManager(session, peer, timeLimit, _time.GetElapsedTime(_epoch, startedAt));
            // Relayed candidates come after the offer (the grant arrives with the registration): trickled from the start.
            _paths.Start(theirs, startIn, _agent.RelayedCandidates.ToList(), Now);
            DrivePaths(Now);
        });
        _signalPumps = Task.WhenAll(
            Task.Run(() => PumpIncomingSignalsAsync(incoming, _stopping.Token)),
            Task.Run(() => PumpOutgoingSignalsAsync(_stopping.Token)));
    }

    /// <summary>An agent event: the path manager's once it runs, else the <see cref="Events"/> reader's.</summary>
    private void ReportIceEvent(IceEvent e)
    {
        if (_paths is not null)
        {
            _eventsForPaths.Enqueue(e); // handled after the agent is flushed: an action may replace the agent
        }
        else
        {
            _events.Writer.TryWrite(e);
        }
    }

    private TimeSpan? PathsWakeUp => _paths?.NextWakeUp;

    private void HandlePathsTimeout(TimeSpan now)
    {
        if (_paths?.NextWakeUp is { } due && due <= now)
        {
            _paths.HandleTimeout(now);
        }
    }

    /// <summary>Feeds the queued agent events to the path manager, does what it asks and reports what it says. True if anything was done.</summary>
    private bool DrivePaths(TimeSpan now)
    {
        if (_paths is not { } paths)
        {
            return false;
        }
        bool acted = false;
        while (_eventsForPaths.TryDequeue(out IceEvent? e))
        {
            acted = true;
            paths.HandleIceEvent(e, now);
        }
        while (paths.TryPollAction(out PathAction action))
        {
            acted = true;
            switch (action)
            {
                case PathAction.ApplyOffer apply:
                    _agent.ApplyRemoteOffer(apply.Offer, apply.ChecksAt, now);
                    if (paths.Round == 0)
                    {
                        _pathHost!.Punching(_agent.Pairs.Count);
                    }
                    break;
                case PathAction.AddCandidate add:
                    _agent.AddRemoteCandidates([add.Candidate], now);
                    break;
                case PathAction.NewAgent:
                    ReplaceAgent(_agentFactory, now);
                    break;
                case PathAction.MakeOffer make:
                    paths.HandleOurOffer(make.Round, _agent.CreateOffer(), now);
                    break;
                case PathAction.StartHandshake:
                    _handshake = _newHandshake!(now);
                    FlushHandshake(now);
                    break;
                case PathAction.Send send:
                    // Candidates go plain during the grace, when the peer may not have its keys yet.
                    _signalsOut.Writer.TryWrite((send.Message, send.Message is CandidateMessage && PlainCandidatesWelcome));
                    break;
            }
        }
        while (paths.TryPollEvent(out PathEvent e))
        {
            acted = true;
            _pathHost!.PathEvent(e, _agent.Pairs.Count);
        }
        return acted;
    }

    /// <summary>The peer's messages for the session, opened (sealed ones) or refused, onto the loop.</summary>
    private async Task PumpIncomingSignalsAsync(ChannelReader<RendezvousMessage> incoming, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (RendezvousMessage received in incoming.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                _commands.Writer.TryWrite(() =>
                {
                    if (_signals!.Open(received) is { } message)
                    {
                        _paths!.HandleSignal(message, Now);
                    }
                });
            }
        }
        catch (Exception e) when (e is OperationCanceledException or Rendezvous.RendezvousException or ChannelClosedException)
        {
            // Rendezvous gone for good, or the link closed: a dead path can no longer be re-established.
        }
    }

    /// <summary>What the path manager sends, one message at a time, so that they leave in the order they were sealed.</summary>
    private async Task PumpOutgoingSignalsAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach ((RendezvousMessage message, bool plain) in _signalsOut.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                await _signals!.SendAsync(message, plain, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}

/// <summary>Who hears what a link's path manager reports (on the link's loop: handlers must be quick and not call back into the link).</summary>
internal interface IPathHost
{
    /// <summary>Round 0's checks are under way on <paramref name="pairs"/> pairs.</summary>
    void Punching(int pairs);

    /// <summary>A <see cref="PathManager"/> event; <paramref name="pairsTried"/> is the agent's pair count, for a failure's message.</summary>
    void PathEvent(PathEvent e, int pairsTried);
}
