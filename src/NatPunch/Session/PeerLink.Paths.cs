using System.Threading.Channels;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Security;

namespace NatPunch.Session;

/// <summary>
/// From the introduction on, the session core's path management runs (<see cref="PeerSession.RunPaths"/>):
/// the link carries the peer's signalling in through one pump and out through another, in order (sealed
/// boxes must arrive in the order they were sealed), and tells its host what the core reports.
/// </summary>
internal sealed partial class PeerLink
{
    // Loop-owned once RunPaths has run.
    private SessionSignals? _signals;
    private IPathHost? _pathHost;
    private readonly Channel<(RendezvousMessage Message, bool Plain)> _signalsOut = Channel.CreateUnbounded<(RendezvousMessage, bool)>(new UnboundedChannelOptions { SingleReader = true });
    private Task _signalPumps = Task.CompletedTask;

    /// <summary>On the loop: whether the peer may still send candidates unsealed (see <see cref="PeerSession.PlainCandidatesWelcome"/>).</summary>
    public bool PlainCandidatesWelcome => _session.PlainCandidatesWelcome(Now);

    /// <summary>
    /// Hands the introduced session to the loop: round 0 starts with the peer's offer (checks
    /// <paramref name="startIn"/> later), and the path manager runs on the loop until the link closes.
    /// </summary>
    /// <param name="startedAt">Timestamp (of the link's <see cref="TimeProvider"/>) the first attempt's <paramref name="timeLimit"/> runs from.</param>
    public void RunPaths(string session, string peer, PeerOffer theirs, TimeSpan startIn, TimeSpan timeLimit, long startedAt,
        SessionSignals signals, ChannelReader<RendezvousMessage> incoming, Func<TimeSpan, SessionHandshake> newHandshake,
        TimeSpan plainCandidateGrace, IPathHost host)
    {
        _loop.TryPost(() =>
        {
            _signals = signals;
            _pathHost = host;
            _session.RunPaths(session, peer, theirs, startIn, timeLimit, _time.GetElapsedTime(_epoch, startedAt), newHandshake, plainCandidateGrace, Now);
        });
        _signalPumps = Task.WhenAll(
            Task.Run(() => PumpIncomingSignalsAsync(incoming, _stopping.Token)),
            Task.Run(() => PumpOutgoingSignalsAsync(_stopping.Token)));
    }

    /// <summary>The path management's requests and reports (<see cref="SessionEvent"/>s other than the relay's and the agent's).</summary>
    private void HandlePathEvent(SessionEvent e)
    {
        switch (e)
        {
            case SessionEvent.Punching punching:
                _pathHost!.Punching(punching.Pairs);
                break;
            case SessionEvent.PathReport path:
                _pathHost!.PathEvent(path.Event, path.PairsTried);
                break;
            case SessionEvent.Signal signal:
                _signalsOut.Writer.TryWrite((signal.Message, signal.Plain));
                break;
        }
    }

    /// <summary>The peer's messages for the session, opened (sealed ones) or refused, onto the loop.</summary>
    private async Task PumpIncomingSignalsAsync(ChannelReader<RendezvousMessage> incoming, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (RendezvousMessage received in incoming.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                _loop.TryPost(() =>
                {
                    if (_signals!.Open(received) is { } message)
                    {
                        _session.HandleSignal(message, Now);
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
