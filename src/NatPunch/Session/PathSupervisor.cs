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
/// </summary>
internal sealed class PathSupervisor : IAsyncDisposable
{
    private static readonly TimeSpan RestartResend = TimeSpan.FromSeconds(3);

    private readonly PeerLink _link;
    private readonly RendezvousClient _rendezvous;
    private readonly string _session;
    private readonly Func<TimeSpan, IceAgent> _newAgent;
    private readonly TimeProvider _time;
    private readonly Action<PeerPath, TimeSpan> _onPath;
    private readonly Action<string> _onLost;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;
    // State below is touched only by the loop.
    private bool _restarting;
    private bool _gathered;
    private PeerOffer? _ourOffer;
    private PeerOffer? _theirOffer;
    private bool _checksStarted;
    private long _restartStartedAt;
    private long _offerSentAt;

    public PathSupervisor(PeerLink link, RendezvousClient rendezvous, string session, Func<TimeSpan, IceAgent> newAgent,
        TimeProvider time, Action<PeerPath, TimeSpan> onPath, Action<string> onLost)
    {
        _link = link;
        _rendezvous = rendezvous;
        _session = session;
        _newAgent = newAgent;
        _time = time;
        _onPath = onPath;
        _onLost = onLost;
        _loop = Task.Run(() => RunAsync(_stopping.Token));
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            Task<bool> linkReady = _link.Events.WaitToReadAsync(cancellationToken).AsTask();
            Task<bool> messagesReady = _rendezvous.SessionMessages.WaitToReadAsync(cancellationToken).AsTask();
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
                    while (_rendezvous.SessionMessages.TryRead(out RendezvousMessage? message))
                    {
                        if (message is RestartMessage restart && restart.Session == _session)
                        {
                            await PeerRestartedAsync(restart.Offer, cancellationToken).ConfigureAwait(false);
                        }
                    }
                    messagesReady = _rendezvous.SessionMessages.WaitToReadAsync(cancellationToken).AsTask();
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
            case IceEvent.ConsentLost lost when !_restarting:
                _onLost($"no answer from the peer at {lost.Remote} for {lost.Silence.TotalSeconds:0.#} s; re-establishing through the rendezvous");
                await BeginRestartAsync().ConfigureAwait(false);
                break;
            case IceEvent.Failed when _restarting:
                // Nothing worked this round: try again with a fresh gathering.
                await BeginRestartAsync().ConfigureAwait(false);
                break;
            case IceEvent.GatheringComplete when _restarting && !_gathered:
                _gathered = true;
                _ourOffer = await _link.InvokeAsync((agent, _) => agent.CreateOffer()).ConfigureAwait(false);
                await SendOfferAsync(cancellationToken).ConfigureAwait(false);
                await StartChecksIfReadyAsync().ConfigureAwait(false);
                break;
            case IceEvent.Selected selected when _restarting:
                _restarting = false;
                var path = new PeerPath(true, "udp", selected.Local.EndPoint, selected.Remote.EndPoint,
                    $"{selected.Local.Type.ToWire()}/{selected.Remote.Type.ToWire()}");
                _onPath(path, _time.GetElapsedTime(_restartStartedAt));
                break;
        }
    }

    private async Task BeginRestartAsync()
    {
        _restarting = true;
        _gathered = false;
        _checksStarted = false;
        _ourOffer = null;
        _theirOffer = null;
        _restartStartedAt = _time.GetTimestamp();
        await _link.RestartAgentAsync(_newAgent).ConfigureAwait(false);
    }

    private async Task PeerRestartedAsync(PeerOffer offer, CancellationToken cancellationToken)
    {
        if (!_restarting || _checksStarted)
        {
            // The peer noticed first (or restarted again): join its restart with one of our own.
            if (!_restarting)
            {
                _onLost("the peer is re-establishing the path");
            }
            await BeginRestartAsync().ConfigureAwait(false);
        }
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
            await _rendezvous.TrySendAsync(new RestartMessage(_session, _ourOffer), cancellationToken).ConfigureAwait(false);
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
