using System.Threading.Channels;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Rendezvous;
using NatPunch.Traversal;

namespace NatPunch.Session;

/// <summary>
/// Watches an established path and, when consent checks find it dead (RFC 7675), re-establishes
/// it through the rendezvous instead of letting the session die: both peers restart ICE on their
/// sockets with fresh credentials and candidates exchanged as <see cref="RestartMessage"/>s, and
/// the first pair that works carries the data on. The stream above retransmits what was lost in between.
/// <para>
/// Restarts are numbered (<see cref="RestartMessage.Round"/>): both peers often notice a dead path at
/// the same moment (same consent timing), and each side's checks can fail and restart again at
/// its own time, so offers cross. A higher round than ours is a new restart, which we join; our own
/// round is the peer's agent for the restart we are in (taken once); a lower round is stale. Without
/// numbers an answer looked like a new restart, and two peers could restart each other forever.
/// </para>
/// <para>
/// A peer that left the rendezvous for good (<see cref="PeerGoneMessage"/>, or the server answering
/// that the session has ended) cannot answer a restart: the session ends, with that reason, as soon
/// as the path is lost (at once if it already is). While the path works the data goes on: only the
/// peer's rendezvous connection is gone. A server restart is not a departure: the rendezvous client
/// resumes the session and keeps what we sent meanwhile (<see cref="RendezvousClient.SendSessionMessageAsync"/>).
/// </para>
/// </summary>
internal sealed class PathSupervisor : IAsyncDisposable
{
    private static readonly TimeSpan RestartResend = TimeSpan.FromSeconds(3);

    private readonly PeerLink _link;
    private readonly string _session;
    private readonly Func<TimeSpan, IceAgent> _newAgent;
    private readonly TimeProvider _time;
    private readonly Action<PeerPath, TimeSpan> _onPath;
    private readonly Action<string> _onLost;
    private readonly Action<string> _onEnded;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;
    private readonly System.Threading.Channels.ChannelReader<RendezvousMessage> _sessionMessages;
    private readonly SessionSignals _signals;
    // State below is touched only by the loop.
    private bool _restarting;
    private bool _gathered;
    private PeerOffer? _ourOffer;
    private PeerOffer? _theirOffer;
    private bool _checksStarted;
    // Set when the rendezvous says the peer left: a lost path then ends the session instead of restarting.
    private string? _peerLeft;
    private bool _ended;
    // The round of the agent in use: 0 is the introduction's, each restart a higher one.
    private int _round;
    private long _restartStartedAt;
    private long _offerSentAt;
    private readonly long _connectedAt;

    /// <summary>Restarts and candidates from the rendezvous that were refused: not sealed by the peer.</summary>
    public long RefusedSignals => _signals.Refused;

    public PathSupervisor(PeerLink link, RendezvousClient rendezvous, string session, Func<TimeSpan, IceAgent> newAgent,
        TimeProvider time, Action<PeerPath, TimeSpan> onPath, Action<string> onLost, Action<string> onEnded)
    {
        _link = link;
        _session = session;
        _newAgent = newAgent;
        _time = time;
        _onPath = onPath;
        _onLost = onLost;
        _onEnded = onEnded;
        _connectedAt = time.GetTimestamp();
        _sessionMessages = rendezvous.SessionMessages(session);
        _signals = new SessionSignals(rendezvous, session, () => link.Crypto?.Signals);
        _loop = Task.Run(() => RunAsync(_stopping.Token));
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            Task<bool> linkReady = _link.Events.WaitToReadAsync(cancellationToken).AsTask();
            Task<bool> messagesReady = _sessionMessages.WaitToReadAsync(cancellationToken).AsTask();
            while (true)
            {
                Task tick = Task.Delay(TimeSpan.FromSeconds(1), _time, cancellationToken);
                Task done = await Task.WhenAny(linkReady, messagesReady, tick).ConfigureAwait(false);
                if (done == linkReady)
                {
                    if (!await linkReady.ConfigureAwait(false))
                    {
                        return; // the link is closed
                    }
                    while (_link.Events.TryRead(out IceEvent? e))
                    {
                        await HandleAsync(e, cancellationToken).ConfigureAwait(false);
                    }
                    linkReady = _link.Events.WaitToReadAsync(cancellationToken).AsTask();
                }
                else if (done == messagesReady)
                {
                    bool open;
                    try
                    {
                        open = await messagesReady.ConfigureAwait(false);
                    }
                    catch (RendezvousException)
                    {
                        open = false;
                    }
                    if (!open)
                    {
                        // Rendezvous gone for good: a dead path can no longer be re-established.
                        messagesReady = Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith(_ => false, TaskScheduler.Default);
                        continue;
                    }
                    while (_sessionMessages.TryRead(out RendezvousMessage? received))
                    {
                        switch (_signals.Open(received))
                        {
                            case RestartMessage restart when restart.Session == _session:
                                await PeerRestartedAsync(restart.Offer, restart.Round, cancellationToken).ConfigureAwait(false);
                                break;
                            case CandidateMessage trickled when trickled.Session == _session && Candidate.TryFromInfo(trickled.Candidate, out Candidate candidate):
                                // A late candidate (a relay granted late, a new mapping while on the relay): more pairs to try.
                                await _link.InvokeAsync((agent, now) => agent.AddRemoteCandidates([candidate], now)).ConfigureAwait(false);
                                break;
                            case PeerGoneMessage gone when gone.Session == _session:
                                PeerLeft($"'{gone.Peer}' left the rendezvous: {gone.Reason}");
                                break;
                            case ErrorMessage { Code: RendezvousErrorCodes.PeerGone } error when error.Session == _session:
                                PeerLeft($"the rendezvous server no longer knows this session ({error.Message})");
                                break;
                            // Other errors for the session change nothing: a restart offer is sent again until answered.
                        }
                    }
                    messagesReady = _sessionMessages.WaitToReadAsync(cancellationToken).AsTask();
                }
                else
                {
                    await ResendOfferIfUnansweredAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task HandleAsync(IceEvent e, CancellationToken cancellationToken)
    {
        switch (e)
        {
            case IceEvent.ConsentLost or IceEvent.PathLost when _peerLeft is not null:
                End();
                break;
            case IceEvent.ConsentLost lost when !_restarting:
                _onLost($"no answer from the peer at {lost.Remote} for {lost.Silence.TotalSeconds:0.#} s; re-establishing through the rendezvous");
                await BeginRestartAsync(_round + 1).ConfigureAwait(false);
                break;
            case IceEvent.PathLost lost when !_restarting:
                _onLost($"{lost.Reason}; re-establishing through the rendezvous");
                await BeginRestartAsync(_round + 1).ConfigureAwait(false);
                break;
            case IceEvent.Failed when _restarting && _checksStarted:
                // Nothing worked this round: try again with a fresh gathering. (Before checks start
                // in this round a Failed can only be the replaced agent's, already in the queue.)
                await BeginRestartAsync(_round + 1).ConfigureAwait(false);
                break;
            case IceEvent.GatheringComplete when _restarting && !_gathered:
                _gathered = true;
                _ourOffer = await _link.InvokeAsync((agent, _) => agent.CreateOffer()).ConfigureAwait(false);
                await SendOfferAsync(cancellationToken).ConfigureAwait(false);
                await StartChecksIfReadyAsync().ConfigureAwait(false);
                break;
            case IceEvent.Selected selected:
                // After a restart, or an upgrade from the relay to a direct pair of the same agent.
                TimeSpan took = _time.GetElapsedTime(_restarting ? _restartStartedAt : _connectedAt);
                _restarting = false;
                _onPath(PeerPath.FromSelection(selected.Local, selected.Remote, _link.RelayTransport), took);
                break;
            case IceEvent.CandidateGathered gathered when gathered.Candidate.Type is CandidateType.ServerReflexive or CandidateType.Relayed
                                                          && (!_restarting || _gathered):
                // Learnt after our offer went out: trickle it (the offer of a restart in progress carries the rest).
                await _signals.SendAsync(new CandidateMessage(_session, gathered.Candidate.ToInfo()), cancellationToken).ConfigureAwait(false);
                break;
        }
    }

    /// <summary>The rendezvous says the peer is gone: nobody will answer a restart.</summary>
    private void PeerLeft(string reason)
    {
        _peerLeft = reason;
        if (_restarting)
        {
            End();
        }
    }

    private void End()
    {
        if (!_ended)
        {
            _ended = true;
            _onEnded(_peerLeft!);
        }
    }

    private async Task BeginRestartAsync(int round)
    {
        _round = round;
        _restarting = true;
        _gathered = false;
        _checksStarted = false;
        _ourOffer = null;
        _theirOffer = null;
        _restartStartedAt = _time.GetTimestamp();
        await _link.RestartAgentAsync(_newAgent).ConfigureAwait(false);
    }

    private async Task PeerRestartedAsync(PeerOffer offer, int round, CancellationToken cancellationToken)
    {
        _peerLeft = null; // it is evidently back
        if (round <= 0)
        {
            // A peer without rounds: a new restart unless we are waiting for its offer.
            round = _restarting && !_checksStarted ? _round : _round + 1;
        }
        if (round < _round)
        {
            return; // stale: the peer will join our later round when our offer reaches it
        }
        if (round == _round)
        {
            // The peer's agent of the restart we are in (we both began it, or it answers ours). A
            // second copy (a resend that crossed ours) or one after we selected changes nothing.
            if (_restarting && _theirOffer is null)
            {
                _theirOffer = offer;
                await StartChecksIfReadyAsync().ConfigureAwait(false);
            }
            return;
        }
        // A newer round: the peer noticed first, or restarted again; join it with an agent of our own.
        if (!_restarting)
        {
            _onLost("the peer is re-establishing the path");
        }
        await BeginRestartAsync(round).ConfigureAwait(false);
        _theirOffer = offer;
        await StartChecksIfReadyAsync().ConfigureAwait(false);
    }

    private async Task StartChecksIfReadyAsync()
    {
        if (!_gathered || _theirOffer is not { } offer || _checksStarted)
        {
            return;
        }
        _checksStarted = true;
        var candidates = offer.Candidates.Select(c => Candidate.TryFromInfo(c, out Candidate parsed) ? parsed : null).OfType<Candidate>().ToList();
        await _link.InvokeAsync((agent, now) =>
        {
            agent.SetRemoteCredentials(new IceCredentials(offer.Ufrag, offer.Pwd));
            agent.AddRemoteCandidates(candidates, now);
            agent.StartChecks(now);
        }).ConfigureAwait(false);
    }

    private async Task SendOfferAsync(CancellationToken cancellationToken)
    {
        if (_ourOffer is not null)
        {
            _offerSentAt = _time.GetTimestamp();
            await _signals.SendAsync(new RestartMessage(_session, _ourOffer, _round), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The rendezvous may have been reconnecting when we sent: send again until the peer answers.</summary>
    private async Task ResendOfferIfUnansweredAsync(CancellationToken cancellationToken)
    {
        if (_restarting && _gathered && _theirOffer is null && _time.GetElapsedTime(_offerSentAt) >= RestartResend)
        {
            await SendOfferAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stopping.Cancel();
        await _loop.ConfigureAwait(false);
        _stopping.Dispose();
    }
}
