using System.Net;
using NatPunch.Protocol.Stun;

namespace NatPunch.Stun;

/// <summary>
/// One STUN client transaction as a state machine without I/O: the driver feeds it the current time
/// and the datagrams that arrive, and it says what to send and when to wake it up next.
/// <para>
/// Over UDP it retransmits per RFC 8489 §6.2.1: first after RTO, doubling the RTO after each send,
/// Rc sends in all, then it waits Rm × RTO before it times out. Over TCP (reliable) it sends once and
/// times out after <see cref="StunRetransmissionOptions.ReliableTimeout"/> (RFC 8489 §6.2.2).
/// </para>
/// <para>Times are offsets from any fixed origin the driver chooses (a monotonic clock). Not thread-safe.</para>
/// </summary>
public sealed class StunClientTransaction
{
    private readonly ReadOnlyMemory<byte> _request;
    private readonly StunRetransmissionOptions _options;
    private readonly StunMethod _method;
    private TimeSpan _rto;
    private TimeSpan _lastSend;
    private TimeSpan? _nextWakeUp;

    /// <param name="request">A complete, encoded STUN request; the transaction keeps a reference to it.</param>
    /// <param name="options">The retransmission schedule; <see cref="StunRetransmissionOptions.Default"/> if null.</param>
    /// <param name="reliable">True over TCP: no retransmissions, one timeout (RFC 8489 §6.2.2).</param>
    /// <exception cref="ArgumentException">The bytes are not a STUN request (a programming error).</exception>
    public StunClientTransaction(ReadOnlyMemory<byte> request, StunRetransmissionOptions? options = null, bool reliable = false)
    {
        if (!StunMessage.TryParse(request.Span, out StunMessage message, out StunParseError error))
        {
            throw new ArgumentException($"Not a STUN message: {error}.", nameof(request));
        }
        if (message.Type.Class != StunClass.Request)
        {
            throw new ArgumentException($"Not a request: {message.Type}.", nameof(request));
        }
        _options = options ?? StunRetransmissionOptions.Default;
        _options.Validate();
        _request = request;
        _method = message.Type.Method;
        Id = message.TransactionId;
        IsReliable = reliable;
        _rto = _options.InitialRto;
    }

    public TransactionId Id { get; }

    public bool IsReliable { get; }

    public StunTransactionState State { get; private set; }

    /// <summary>Sends so far, the first one included.</summary>
    public int SendCount { get; private set; }

    /// <summary>When the first send happened.</summary>
    public TimeSpan StartedAt { get; private set; }

    /// <summary>When the driver should poll next; null before the first poll and after the end.</summary>
    public TimeSpan? NextWakeUp => _nextWakeUp is { } next && GiveUpAt is { } limit && limit < next ? limit : _nextWakeUp;

    /// <summary>
    /// A time by which the transaction times out whatever its schedule (ICE's checks live until the
    /// check list's deadline, RFC 8445 §7.2.5.3, not for a number of sends). Null: the schedule alone.
    /// </summary>
    public TimeSpan? GiveUpAt { get; init; }

    /// <summary>The response, once <see cref="State"/> is <see cref="StunTransactionState.Completed"/>.</summary>
    public StunResponse? Response { get; private set; }

    /// <summary>The request bytes, as sent.</summary>
    public ReadOnlyMemory<byte> Request => _request;

    /// <summary>
    /// Advances the transaction to <paramref name="now"/>. The first poll sends the request; later
    /// polls at or after <see cref="NextWakeUp"/> retransmit or time the transaction out. A poll
    /// before the wake-up time does nothing.
    /// </summary>
    public StunTransactionStep Poll(TimeSpan now)
    {
        switch (State)
        {
            case StunTransactionState.NotStarted:
                State = StunTransactionState.Waiting;
                StartedAt = now;
                return Send(now);
            case StunTransactionState.Waiting when now >= GiveUpAt || now >= _nextWakeUp:
                if (IsReliable || SendCount >= _options.MaxSends || now >= GiveUpAt)
                {
                    State = StunTransactionState.TimedOut;
                    _nextWakeUp = null;
                    return new StunTransactionStep(default, null, State);
                }
                // RFC 8489 §6.2.1: "the value of RTO SHOULD be doubled after each retransmission".
                _rto = _options.NextRto(_rto);
                return Send(now);
            default:
                return new StunTransactionStep(default, NextWakeUp, State);
        }
    }

    private StunTransactionStep Send(TimeSpan now)
    {
        SendCount++;
        _lastSend = now;
        if (IsReliable)
        {
            _nextWakeUp = now + _options.ReliableTimeout;
        }
        else if (SendCount >= _options.MaxSends)
        {
            // RFC 8489 §6.2.1: after the last send, wait Rm times the (initial) RTO.
            _nextWakeUp = now + _options.InitialRto * _options.FinalWaitMultiplier;
        }
        else
        {
            _nextWakeUp = now + _rto;
        }
        return new StunTransactionStep(_request, NextWakeUp, State);
    }

    /// <summary>
    /// Sends again at the next poll and starts the schedule over from the initial RTO (RFC 8445
    /// §7.3.1.4: a check that is in progress when the peer's check arrives is triggered anew).
    /// </summary>
    public void RetransmitNow(TimeSpan now)
    {
        if (State == StunTransactionState.Waiting)
        {
            _rto = _options.InitialRto;
            _nextWakeUp = now;
        }
    }

    /// <summary>
    /// Offers a received datagram. Returns true, and completes the transaction, when it is a success
    /// or error response to this request (same transaction id, cookie and method; RFC 8489 §6.3).
    /// Anything else — other transactions, requests, indications, bytes that are not STUN — is
    /// ignored and returns false. Never throws.
    /// </summary>
    /// <param name="from">Where the datagram came from, recorded in the response.</param>
    public bool TryHandleResponse(ReadOnlySpan<byte> datagram, IPEndPoint? from, TimeSpan now)
    {
        if (State != StunTransactionState.Waiting
            || !StunMessage.TryParse(datagram, out StunMessage message, out _)
            || !message.HasMagicCookie
            || message.TransactionId != Id)
        {
            return false;
        }
        StunMessageType type = message.Type;
        if (type.Method != _method || type.Class is not (StunClass.SuccessResponse or StunClass.ErrorResponse))
        {
            return false;
        }
        Response = StunResponse.FromMessage(message, from, now - _lastSend, SendCount);
        State = StunTransactionState.Completed;
        _nextWakeUp = null;
        return true;
    }
}
