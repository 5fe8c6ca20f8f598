using System.Net;
using System.Text;
using NatPunch.Core;
using NatPunch.Protocol.Stun;

namespace NatPunch.Traversal;

public sealed partial class IceAgent
{
    private TimeSpan _lastConsent;
    private TimeSpan? _nextConsentAt;
    private bool _consentLost;

    /// <summary>When the selected pair last answered a consent check (RFC 7675 §5.1).</summary>
    public TimeSpan LastConsent => _lastConsent;

    private TimeSpan? NextConsentWakeUp =>
        _nextConsentAt is { } next && !_consentLost ? WakeUpTime.Earliest(next, _lastConsent + _options.ConsentTimeout) : null;

    private void StartConsent(TimeSpan now)
    {
        _lastConsent = now;
        _nextConsentAt = now + JitteredConsentInterval();
    }

    private void CheckConsent(TimeSpan now)
    {
        if (SelectedPair is not { } pair || _consentLost || _nextConsentAt is not { } next)
        {
            return;
        }
        if (now - _lastConsent >= _options.ConsentTimeout)
        {
            _consentLost = true;
            _events.Enqueue(new IceEvent.ConsentLost(pair.Remote.EndPoint, now - _lastConsent));
            return;
        }
        if (now >= next)
        {
            var id = TransactionId.NewRandom();
            TimeSpan interval = JitteredConsentInterval();
            StartTransaction(new IceTransaction
            {
                Id = id,
                Kind = IceTransactionKind.Consent,
                Destination = pair.Remote.EndPoint,
                Schedule = IceTransaction.Scheduled(BuildCheck(id, pair, useCandidate: false), _options.ConsentRetransmit, _options.MaxCheckRetransmit, now + interval),
                Pair = pair,
            }, now);
            _nextConsentAt = now + interval;
        }
    }

    private void HandleConsentResponse(StunMessage response, IPEndPoint from, TimeSpan now)
    {
        if (SelectedPair is { } pair && from.Equals(pair.Remote.EndPoint) && _remote is not null
            && response.Type.Class == StunClass.SuccessResponse
            && response.VerifyMessageIntegrity(Encoding.UTF8.GetBytes(_remote.Pwd)))
        {
            _lastConsent = now;
        }
    }

    /// <summary>
    /// The peer sent a consent check on the selected pair, signed with our password: it is there and
    /// wants our traffic, which is what our own check would find out, so it counts as consent and
    /// ours waits another interval. Between two NatPunch peers only the side whose timer fires first
    /// checks (one request and one answer per interval instead of two each, which is what an idle
    /// session costs). If our answers stop reaching the peer, its checks go unanswered, it declares
    /// the path dead and restarts the session, and its checks stop: then ours run again.
    /// </summary>
    private void ConsentCheckReceived(TimeSpan now)
    {
        if (_consentLost || _nextConsentAt is null)
        {
            return;
        }
        _lastConsent = now;
        _nextConsentAt = now + JitteredConsentInterval();
    }

    /// <summary>RFC 7675 §5.1: the interval is randomized between 0.8 and 1.2 times the base.</summary>
    private TimeSpan JitteredConsentInterval() => _options.ConsentInterval * (0.8 + 0.4 * Random.Shared.NextDouble());
}
