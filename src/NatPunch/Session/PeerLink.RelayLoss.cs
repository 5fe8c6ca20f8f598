using NatPunch.Core;
using NatPunch.Relay;

namespace NatPunch.Session;

/// <summary>
/// A relay lost mid-session (a restarted TURN server, a refresh answered 437 or not at all, the TCP
/// connection closed): it is reported (<see cref="RelayStatus.Lost"/>), the agent forgets its
/// candidate, and a new allocation is asked of the same server, after
/// <see cref="RelayServer.ReallocateAfter"/> and then twice as long after each round that fails, up
/// to <see cref="RelayServer.MaxReallocateAfter"/>, until one is granted (<see cref="RelayStatus.Ready"/>
/// again; the agent gets the new candidate, which the session trickles to the peer).
/// <para>
/// Over UDP a restarted server says nothing until it is asked, and the next refresh is minutes away.
/// So when a path through the relay stops answering consent, or a new agent is to get the relay (an
/// ICE restart), a relay not heard from for <see cref="RelayServer.QuietAfter"/> is asked at once
/// (a Refresh): 437 or no answer within <see cref="RelayServer.ConfirmTimeout"/> means it is lost. Until
/// it answers, the new agent does not get its candidate: a restarted agent only pairs a live relay.
/// </para>
/// The timing is <see cref="RelayRecovery"/>'s (a core without I/O); everything here runs on the link's loop.
/// </summary>
internal sealed partial class PeerLink
{
    // Loop-owned.
    private readonly RelayRecovery _recovery = new();

    /// <summary>
    /// New credentials for the relay server (a fresh grant after registering again: a restarted server
    /// has a new secret and refuses the old grant). The next allocation uses them; a round of
    /// re-allocation that is waiting out its back-off starts now, as the last one may have failed for them.
    /// The allocation in use keeps its credentials until it is lost.
    /// </summary>
    public Task UseRelayCredentialsAsync(TurnCredentials credentials) => InvokeAsync((_, now) =>
    {
        if (_relayServer is null || _relayServer.Credentials == credentials)
        {
            return;
        }
        _relayServer = _relayServer with { Credentials = credentials };
        _recovery.CredentialsChanged(_relayServer, now);
    });

    private TimeSpan? RelayRecoveryWakeUp => _recovery.NextWakeUp;

    private void HandleRelayRecoveryTimeouts(TimeSpan now)
    {
        (bool allocate, bool unanswered) = _recovery.HandleTimeout(now);
        if (allocate)
        {
            StartAllocating(now);
        }
        if (unanswered && _relay is { } relay)
        {
            RelayAttemptFailed(relay, $"no answer from the TURN server {relay.Server} to a refresh within {_relayServer!.ConfirmTimeout.TotalSeconds:0.#} s");
        }
    }

    /// <summary>
    /// Asks the relay whether it still exists if it has been quiet for <see cref="RelayServer.QuietAfter"/>.
    /// True while that question is open: its candidate is then held back from a new agent.
    /// </summary>
    private bool ConfirmRelayIfQuiet(TimeSpan now)
    {
        if (_relay is not { Core.State: TurnClientState.Allocated } relay)
        {
            return false;
        }
        if (_recovery.ShouldAsk(_relayServer!, relay.LastHeardAt, now))
        {
            relay.Core.RefreshNow(now);
            relay.Flush(now);
        }
        return _recovery.Confirming;
    }

    /// <summary>The relay answered a refresh: it is alive, and an agent that was kept waiting gets it now.</summary>
    private void RelayConfirmed()
    {
        if (_recovery.Confirmed())
        {
            OfferRelayTo(_agent);
        }
    }

    /// <summary>Reports the loss, takes the candidate from the agent and schedules the first round of re-allocation.</summary>
    private void RelayLost(RelayConnection lost, string reason)
    {
        _relay = null;
        _permissionsAsked.Clear(); // the next allocation starts without permissions
        RelayFailure = $"the relay was lost: {reason}";
        if (lost.Core.Allocation is { } allocation)
        {
            _agent.RemoveRelayedCandidate(allocation.RelayedAddress, RelayFailure);
        }
        RelayChanged?.Invoke(new RelayStatus.Lost(RelayFailure));
        _recovery.Lost(_relayServer!, Now);
    }

    /// <summary>A round of re-allocation failed on every transport: the next one waits twice as long.</summary>
    private void ReallocateLater(TimeSpan now) => _recovery.RoundFailed(_relayServer!, now);

    /// <summary>An allocation was granted: nothing is lost any more, and no round is due.</summary>
    private void RelayGranted()
    {
        _recovery.Granted();
        RelayFailure = null;
    }
}
