using System.Net;
using NatPunch.Stun;

namespace NatPunch.Discovery.Internal;

/// <summary>
/// The mapping lifetime search of RFC 5780 §4.6 as a core without I/O, bounded in time as
/// <see cref="MappingLifetimeOptions"/> describes. Each probe opens a fresh socket X, binds it
/// (creating a mapping), leaves it idle for its idle time, then from the checker socket Y sends a
/// Binding request with RESPONSE-PORT set to X's mapped port: a response on X means the mapping
/// lived. The idle times of one round run in parallel; a round ends early once a probe found the
/// mapping gone, as the longer idle times would find the same.
/// </summary>
internal sealed class MappingLifetimeSearch
{
    private readonly IPEndPoint _server;
    private readonly MappingLifetimeOptions _options;
    private readonly TimeSpan _checkTimeout;
    private readonly Func<int> _nextProbeId;
    private readonly TimeSpan _startedAt;
    private readonly List<Slot> _round = [];
    private int _nextSocketId = DiscoverySockets.FirstLifetimeProbe;
    private TimeSpan _alive;          // longest idle time survived (below the shortest expiry)
    private TimeSpan? _expired;       // shortest idle time after which the mapping was gone
    private bool _anyAlive;
    private int _probes;
    private int _rounds;
    private string? _note;

    /// <param name="checkTimeout">How long an unanswered check takes to give up (the probe's retransmission schedule).</param>
    /// <param name="nextProbeId">Hands out probe ids shared with the rest of the discovery.</param>
    public MappingLifetimeSearch(IPEndPoint server, MappingLifetimeOptions options, TimeSpan checkTimeout, Func<int> nextProbeId, TimeSpan now)
    {
        options.Validate();
        _server = server;
        _options = options;
        _checkTimeout = checkTimeout;
        _nextProbeId = nextProbeId;
        _startedAt = now;
    }

    public bool IsComplete { get; private set; }

    /// <summary>When a check falls due; null if none is waiting for its time.</summary>
    public TimeSpan? NextWakeUp
    {
        get
        {
            TimeSpan? next = null;
            foreach (Slot slot in _round)
            {
                if (slot.State == SlotState.Idle && (next is null || slot.CheckAt < next))
                {
                    next = slot.CheckAt;
                }
            }
            return next;
        }
    }

    public MappingLifetimeEstimate Result => new()
    {
        AtLeast = _anyAlive ? _alive : null,
        AtMost = _expired,
        Probes = _probes,
        Rounds = _rounds,
        Note = _note,
    };

    /// <summary>Starts the first round, and later the checks that have fallen due; stops the search when it is done.</summary>
    public void Poll(TimeSpan now, List<DiscoveryProbe> start)
    {
        if (IsComplete)
        {
            return;
        }
        if (_rounds == 0)
        {
            var idles = new List<TimeSpan>();
            for (int i = 1; i <= _options.ProbesPerRound; i++)
            {
                idles.Add(_options.MaxIdle * i / _options.ProbesPerRound);
            }
            StartRound(idles, start);
            return;
        }
        foreach (Slot slot in _round)
        {
            if (slot.State != SlotState.Idle || now < slot.CheckAt)
            {
                continue;
            }
            if (_round.Any(other => other.State == SlotState.Expired && other.Idle <= slot.Idle))
            {
                // A shorter idle time already lost its mapping: this one would too.
                slot.State = SlotState.Skipped;
                continue;
            }
            slot.State = SlotState.Checking;
            start.Add(new DiscoveryProbe(_nextProbeId(), ProbePurpose.LifetimeCheck, DiscoverySockets.LifetimeChecker, _server)
            {
                ResponsePort = slot.Mapped!.Port,
                ReceiverSocketId = slot.SocketId,
                Idle = slot.Idle,
            });
        }
        FinishRoundIfDone(now, start);
    }

    /// <summary>Takes the outcome of one of this search's probes.</summary>
    public void OnProbeCompleted(DiscoveryProbe probe, ProbeOutcome outcome, TimeSpan now, List<DiscoveryProbe> start)
    {
        Slot? slot = _round.Find(s => s.SocketId == (probe.Purpose == ProbePurpose.LifetimeBind ? probe.SocketId : probe.ReceiverSocketId));
        if (IsComplete || slot is null)
        {
            return;
        }
        if (probe.Purpose == ProbePurpose.LifetimeBind)
        {
            if (outcome.Response is { IsSuccess: true, MappedAddress: { } mapped })
            {
                slot.Mapped = mapped;
                slot.CheckAt = now + slot.Idle;
                slot.State = SlotState.Idle;
            }
            else
            {
                slot.State = SlotState.Failed;
            }
        }
        else if (outcome.Result == ProbeResult.Response && outcome.Response is { } response)
        {
            if (response.IsSuccess && outcome.ReceivedOnSocketId == slot.SocketId)
            {
                slot.State = SlotState.Alive;
            }
            else
            {
                // RFC 5780 §7.5: a server that does not support RESPONSE-PORT answers 420 to the sender.
                Stop(response.IsSuccess
                    ? "the server ignored RESPONSE-PORT (RFC 5780 §7.5), so the lifetime cannot be measured"
                    : $"the server rejected RESPONSE-PORT with error {response.ErrorCode} {response.ErrorReason}".TrimEnd());
                return;
            }
        }
        else
        {
            slot.State = outcome.Result == ProbeResult.TimedOut ? SlotState.Expired : SlotState.Failed;
        }
        FinishRoundIfDone(now, start);
    }

    private void StartRound(List<TimeSpan> idles, List<DiscoveryProbe> start)
    {
        _round.Clear();
        _rounds++;
        foreach (TimeSpan idle in idles)
        {
            var slot = new Slot(_nextSocketId++, idle);
            _round.Add(slot);
            _probes++;
            start.Add(new DiscoveryProbe(_nextProbeId(), ProbePurpose.LifetimeBind, slot.SocketId, _server) { Idle = idle });
        }
    }

    private void FinishRoundIfDone(TimeSpan now, List<DiscoveryProbe> start)
    {
        if (_round.Any(s => s.State is SlotState.Binding or SlotState.Checking))
        {
            return;
        }
        // Still idle slots are only worth waiting for while no shorter idle time has expired.
        if (_round.Any(s => s.State == SlotState.Idle && !_round.Any(o => o.State == SlotState.Expired && o.Idle <= s.Idle)))
        {
            return;
        }

        foreach (Slot slot in _round.Where(s => s.State == SlotState.Expired))
        {
            if (_expired is null || slot.Idle < _expired)
            {
                _expired = slot.Idle;
            }
        }
        foreach (Slot slot in _round.Where(s => s.State == SlotState.Alive))
        {
            // A survival beyond a known expiry contradicts it (the NAT is not monotonic); keep the safe bound.
            if ((_expired is null || slot.Idle < _expired) && (!_anyAlive || slot.Idle > _alive))
            {
                _alive = slot.Idle;
                _anyAlive = true;
            }
        }
        if (_round.All(s => s.State == SlotState.Failed))
        {
            Stop("the lifetime probes could not bind");
            return;
        }
        if (_expired is null)
        {
            Stop($"the mapping outlived the longest idle time probed, {_options.MaxIdle.TotalSeconds:0.#} s");
            return;
        }
        TimeSpan low = _anyAlive ? _alive : TimeSpan.Zero;
        TimeSpan high = _expired.Value;
        if (high - low <= _options.Resolution)
        {
            Stop(null);
            return;
        }
        var idles = new List<TimeSpan>();
        for (int i = 1; i <= _options.ProbesPerRound; i++)
        {
            idles.Add(low + (high - low) * i / (_options.ProbesPerRound + 1));
        }
        // The round lasts until its longest check gives up, at worst.
        TimeSpan roundTime = idles[^1] + _checkTimeout + _checkTimeout;
        if (now - _startedAt + roundTime > _options.Budget)
        {
            Stop($"stopped after {_rounds} round(s) to stay within the {_options.Budget.TotalSeconds:0} s budget");
            return;
        }
        StartRound(idles, start);
    }

    private void Stop(string? note)
    {
        _note = note;
        IsComplete = true;
        _round.Clear();
    }

    private enum SlotState : byte
    {
        Binding,
        Idle,
        Checking,
        Alive,
        Expired,
        Skipped,
        Failed,
    }

    /// <summary>One idle time of the current round, on its own socket.</summary>
    private sealed class Slot(int socketId, TimeSpan idle)
    {
        public int SocketId { get; } = socketId;
        public TimeSpan Idle { get; } = idle;
        public SlotState State { get; set; } = SlotState.Binding;
        public IPEndPoint? Mapped { get; set; }
        public TimeSpan CheckAt { get; set; }
    }
}
