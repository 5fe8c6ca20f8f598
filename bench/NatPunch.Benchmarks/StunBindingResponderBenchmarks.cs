using System.Net;
using BenchmarkDotNet.Attributes;
using NatPunch.Protocol.Stun;
using NatPunch.Server.Stun;

namespace NatPunch.Benchmarks;

/// <summary>
/// The pure responder core, per request kind: what the server's CPU does for one datagram
/// besides the system calls. Must not allocate.
/// </summary>
[MemoryDiagnoser]
public class StunBindingResponderBenchmarks
{
    private static readonly byte[] ClientAddress = [192, 0, 2, 1];
    private const int ClientPort = 54321;

    private readonly byte[] _response = new byte[StunBindingResponder.MaxResponseLength(1500)];
    private StunBindingResponder _responder = null!;
    private StunBindingResponder _behaviorDiscoveryResponder = null!;
    private byte[] _plain = null!;
    private byte[] _withFingerprint = null!;
    private byte[] _classic = null!;
    private byte[] _changeRequest = null!;

    [GlobalSetup]
    public void Setup()
    {
        _responder = new StunBindingResponder(new ServerAddressSet(new IPEndPoint(IPAddress.Parse("198.51.100.1"), 3478), null));
        _behaviorDiscoveryResponder = new StunBindingResponder(
            new ServerAddressSet(new IPEndPoint(IPAddress.Parse("198.51.100.1"), 3478), IPAddress.Parse("198.51.100.2")));
        _plain = Plain(fingerprint: false);
        _withFingerprint = Plain(fingerprint: true);
        _changeRequest = ChangeRequestMessage();
        // RFC 3489: no magic cookie, the 4 bytes are part of the 128-bit transaction id.
        _classic = new byte[StunConstants.HeaderLength];
        _ = new StunMessageBuilder(_classic, StunMessageType.BindingRequest.Value, 0x01020304, TransactionId.NewRandom());
    }

    private static byte[] Plain(bool fingerprint)
    {
        var buffer = new byte[256];
        var builder = new StunMessageBuilder(buffer, StunMessageType.BindingRequest, TransactionId.NewRandom());
        if (fingerprint)
        {
            builder.AddFingerprint();
        }
        return buffer[..builder.Length];
    }

    private static byte[] ChangeRequestMessage()
    {
        var buffer = new byte[256];
        var builder = new StunMessageBuilder(buffer, StunMessageType.BindingRequest, TransactionId.NewRandom());
        builder.AddUInt32(StunAttributeType.ChangeRequest, (uint)(ChangeRequestFlags.ChangeIP | ChangeRequestFlags.ChangePort));
        builder.AddFingerprint();
        return buffer[..builder.Length];
    }

    [Benchmark(Baseline = true, Description = "Binding, no attributes (RFC 8489)")]
    public int Plain() => _responder.Respond(_plain, ClientAddress, ClientPort, 0, overTcp: false, _response).Length;

    [Benchmark(Description = "Binding + FINGERPRINT")]
    public int Fingerprint() => _responder.Respond(_withFingerprint, ClientAddress, ClientPort, 0, overTcp: false, _response).Length;

    [Benchmark(Description = "Binding, RFC 3489 client")]
    public int Classic() => _responder.Respond(_classic, ClientAddress, ClientPort, 0, overTcp: false, _response).Length;

    [Benchmark(Description = "RFC 5780 CHANGE-REQUEST + FINGERPRINT")]
    public int ChangeRequest() => _behaviorDiscoveryResponder.Respond(_changeRequest, ClientAddress, ClientPort, 0, overTcp: false, _response).Length;
}
