using NatPunch.Core;

namespace NatPunch.Session;

/// <summary>
/// When a relay is lost or in doubt, what to do and when, as a core without I/O (the link's loop
/// drives it and does the TURN work): after a loss, a round of re-allocation after
/// <see cref="RelayServer.ReallocateAfter"/>, twice as long after each round that fails, up to
/// <see cref="RelayServer.MaxReallocateAfter"/>, until one is granted; and a relay that has been quiet
/// for <see cref="RelayServer.QuietAfter"/> is asked whether it still exists (a Refresh), which it must
/// answer within <see cref="RelayServer.ConfirmTimeout"/>.
/// </summary>
internal sealed class RelayRecovery
{
    private TimeSpan _after;
    private TimeSpan? _roundAt;
    private TimeSpan? _confirmDeadline;

    /// <summary>A relay was lost and none granted since: a failed round is followed by another.</summary>
    public bool Reallocating { get; private set; }

    /// <summary>A question to a quiet relay is open: its candidate is held back from a new agent until it answers.</summary>
    public bool Confirming => _confirmDeadline is not null;

    public TimeSpan? NextWakeUp => WakeUpTime.Earliest(_roundAt, _confirmDeadline);

    /// <summary>The relay in use was lost: the first round of re-allocation is due after <see cref="RelayServer.ReallocateAfter"/>.</summary>
    public void Lost(RelayServer server, TimeSpan now)
    {
        _confirmDeadline = null;
        Reallocating = true;
        _after = server.ReallocateAfter;
        _roundAt = now + _after;
    }

    /// <summary>A round failed on every transport: the next waits twice as long (at most <see cref="RelayServer.MaxReallocateAfter"/>).</summary>
    public void RoundFailed(RelayServer server, TimeSpan now)
    {
        TimeSpan doubled = _after * 2;
        _after = doubled < server.MaxReallocateAfter ? doubled : server.MaxReallocateAfter;
        _roundAt = now + _after;
    }

    /// <summary>An allocation was granted: nothing is lost any more, and no round is due.</summary>
    public void Granted()
    {
        Reallocating = false;
        _roundAt = null;
    }

    /// <summary>New credentials: a round waiting out its back-off starts now (the last may have failed for the old ones), and the back-off starts over.</summary>
    public void CredentialsChanged(RelayServer server, TimeSpan now)
    {
        if (_roundAt is not null)
        {
            _after = server.ReallocateAfter;
            _roundAt = now;
        }
    }

    /// <summary>
    /// Whether to ask the relay last heard at <paramref name="lastHeard"/> if it still exists: true once,
    /// when it has been quiet for <see cref="RelayServer.QuietAfter"/> and no question is open (then send
    /// a Refresh). <see cref="Confirming"/> tells whether a question is open.
    /// </summary>
    public bool ShouldAsk(RelayServer server, TimeSpan lastHeard, TimeSpan now)
    {
        if (_confirmDeadline is not null || now - lastHeard < server.QuietAfter)
        {
            return false;
        }
        _confirmDeadline = now + server.ConfirmTimeout;
        return true;
    }

    /// <summary>The relay answered: alive. True if a question was open (an agent kept waiting gets the candidate now).</summary>
    public bool Confirmed()
    {
        bool wasOpen = _confirmDeadline is not null;
        _confirmDeadline = null;
        return wasOpen;
    }

    /// <summary>What is due at <paramref name="now"/>: a round of allocating, and/or the relay's failure to answer.</summary>
    public (bool AllocateNow, bool Unanswered) HandleTimeout(TimeSpan now)
    {
        bool allocate = _roundAt is { } due && now >= due;
        if (allocate)
        {
            _roundAt = null;
        }
        bool unanswered = _confirmDeadline is { } deadline && now >= deadline;
        if (unanswered)
        {
            _confirmDeadline = null;
        }
        return (allocate, unanswered);
    }
}
