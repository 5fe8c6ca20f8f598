using System.Net;
using NatPunch.Protocol.Stun;
using NatPunch.Protocol.Turn;
using NatPunch.Server.Turn;

namespace NatPunch.Tests.Turn;

/// <summary>Builds requests the way a TURN client does, and reads the core's answers.</summary>
internal sealed class TurnTestClient
{
    public const string Realm = "test.realm";

    private readonly TurnCore _core = null!;
    private readonly FakeTurnEnvironment _environment = null!;
    // Instead of the core: hands a request over and returns the answer (a TurnService test).
    private readonly Func<byte[], byte[]>? _exchange;

    public TurnTestClient(TurnCore core, FakeTurnEnvironment environment, TurnClient client)
    {
        _core = core;
        _environment = environment;
        Client = client;
    }

    public TurnTestClient(TurnClient client, Func<byte[], byte[]> exchange)
    {
        Client = client;
        _exchange = exchange;
    }

    public TurnClient Client { get; }
    public string? Username { get; set; }
    public string? Password { get; set; }
    public string? Nonce { get; set; }
    public DateTimeOffset Now { get; set; } = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);

    public byte[] Key => StunCredentials.LongTermKey(Username!, Realm, Password!);

    public delegate void Attributes(ref StunMessageBuilder builder);

    /// <summary>Sends a request (signed when there is a user and a nonce) and returns the response bytes.</summary>
    public byte[] Request(StunMethod method, Attributes? attributes = null, bool sign = true, TransactionId? id = null)
    {
        byte[] buffer = new byte[2048];
        var builder = new StunMessageBuilder(buffer, new StunMessageType(method, StunClass.Request), id ?? TransactionId.NewRandom());
        attributes?.Invoke(ref builder);
        if (sign && Username is not null && Nonce is not null)
        {
            builder.AddString(StunAttributeType.Username, Username);
            builder.AddString(StunAttributeType.Realm, Realm);
            builder.AddString(StunAttributeType.Nonce, Nonce);
            builder.AddMessageIntegrity(Key);
        }
        builder.AddFingerprint();
        if (_exchange is not null)
        {
            return _exchange(builder.Written.ToArray());
        }
        _core.HandleFromClient(Client, builder.Written, Now);
        return _environment.TakeLast();
    }

    public void Indication(StunMethod method, Attributes attributes)
    {
        byte[] buffer = new byte[2048];
        var builder = new StunMessageBuilder(buffer, new StunMessageType(method, StunClass.Indication), TransactionId.NewRandom());
        attributes(ref builder);
        _core.HandleFromClient(Client, builder.Written, Now);
    }

    public void ChannelData(ushort channel, byte[] data)
    {
        byte[] buffer = new byte[data.Length + 8];
        int length = Protocol.Turn.ChannelData.Write(buffer, channel, data, pad: false);
        _core.HandleFromClient(Client, buffer.AsSpan(0, length), Now);
    }

    /// <summary>An unsigned Allocate to learn the nonce, then the signed one.</summary>
    public Response Allocate(Attributes? extra = null)
    {
        if (Username is not null && Nonce is null)
        {
            Response challenge = Parse(Request(StunMethod.Allocate, RequestedUdp));
            challenge.ErrorCode.ShouldBe(401);
            Nonce = challenge.Nonce;
        }
        return Parse(Request(StunMethod.Allocate, (ref StunMessageBuilder b) =>
        {
            RequestedUdp(ref b);
            extra?.Invoke(ref b);
        }));
    }

    public static void RequestedUdp(ref StunMessageBuilder builder) =>
        builder.AddUInt32(StunAttributeType.RequestedTransport, (uint)TurnTransport.Udp << 24);

    public static Attributes Peer(IPEndPoint peer) => (ref StunMessageBuilder b) => b.AddXorAddress(StunAttributeType.XorPeerAddress, peer);

    public static Attributes Channel(ushort channel, IPEndPoint peer) => (ref StunMessageBuilder b) =>
    {
        b.AddUInt32(StunAttributeType.ChannelNumber, (uint)channel << 16);
        b.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
    };

    public static Attributes Lifetime(uint seconds) => (ref StunMessageBuilder b) => b.AddUInt32(StunAttributeType.Lifetime, seconds);

    public Response Parse(byte[] bytes)
    {
        StunMessage.TryParse(bytes, out StunMessage message, out _).ShouldBeTrue();
        var response = new Response { Class = message.Type.Class, Method = message.Type.Method };
        if (message.TryGetErrorCode(out int code, out _))
        {
            response.ErrorCode = code;
        }
        if (message.TryGetString(StunAttributeType.Nonce, out string nonce))
        {
            response.Nonce = nonce;
        }
        if (message.TryGetString(StunAttributeType.Realm, out string realm))
        {
            response.Realm = realm;
        }
        if (message.TryGetXorAddress(StunAttributeType.XorRelayedAddress, out IPEndPoint relayed))
        {
            response.Relayed = relayed;
        }
        if (message.TryGetXorAddress(StunAttributeType.XorMappedAddress, out IPEndPoint mapped))
        {
            response.Mapped = mapped;
        }
        if (message.TryGetUInt32(StunAttributeType.Lifetime, out uint lifetime))
        {
            response.Lifetime = lifetime;
        }
        if (message.TryGetUInt64(StunAttributeType.ReservationToken, out ulong token))
        {
            response.ReservationToken = token;
        }
        response.HasIntegrity = message.IntegrityOffset >= 0;
        response.IntegrityValid = Username is not null && Password is not null && message.VerifyMessageIntegrity(Key);
        return response;
    }

    internal sealed class Response
    {
        public StunClass Class { get; set; }
        public StunMethod Method { get; set; }
        public int ErrorCode { get; set; }
        public string? Nonce { get; set; }
        public string? Realm { get; set; }
        public IPEndPoint? Relayed { get; set; }
        public IPEndPoint? Mapped { get; set; }
        public uint? Lifetime { get; set; }
        public ulong? ReservationToken { get; set; }
        public bool HasIntegrity { get; set; }
        public bool IntegrityValid { get; set; }
        public bool IsSuccess => Class == StunClass.SuccessResponse;

        public override string ToString() => $"{Method} {Class} {ErrorCode}";
    }
}
