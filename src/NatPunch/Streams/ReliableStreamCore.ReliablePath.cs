using NatPunch.Streams.Internal;

namespace NatPunch.Streams;

// A path that is reliable itself: while the session's data goes on a punched TCP connection
// (docs/tcp-punching.md), TCP delivers every segment in order and paces itself, so no second
// reliability layer runs on top of it. The core then sends within the peer's receive window only —
// no congestion window, pacing, loss detection, tail loss probes or retransmission timer, and the
// congestion controller hears nothing — and still keeps what it sent until it is acknowledged: when
// the path changes (to UDP, or to another connection), whatever is unacknowledged may have died with
// the old path, and it is sent again once on the new one. Acknowledgements and flow control run as
// always; so does the peer timeout.
public sealed partial class ReliableStreamCore
{
    private bool _pathReliable;

    /// <summary>Whether the path below delivers everything in order (TCP): then the core does not retransmit or limit its flight.</summary>
    public bool PathIsReliable => _pathReliable;

    /// <summary>The session's data moved to a path that is (or is not) reliable: see the file's comment.</summary>
    public void SetPathReliable(bool reliable, TimeSpan now)
    {
        if (reliable == _pathReliable)
        {
            return;
        }
        _pathReliable = reliable;
        for (int i = 0; i < _sent.Count; i++)
        {
            if (_sent[i].InFlight)
            {
                MarkLost(_sent[i]); // went on the old path: sent again once on the new one
            }
        }
        _rackValid = false;
        _rackTimer = null;
        _rtoDeadline = null;
        _rtoBackoff = 0;
        _tlpDeadline = null;
        _tlpPending = false;
        _probesThisStall = 0;
        _pacingReleaseTime = null;
        UpdateTimers(now);
        ReportFlight();
    }
}
