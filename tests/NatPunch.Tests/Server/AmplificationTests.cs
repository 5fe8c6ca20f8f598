using System.Net;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Protocol.Stun;
using NatPunch.Server.Rendezvous;
using NatPunch.Server.Stun;
using NatPunch.Server.Turn;
using NatPunch.Tests.Turn;

namespace NatPunch.Tests.Server;

/// <summary>
/// The server is no amplifier: no request without credentials gets an answer more than
/// <see cref="Allowance"/> bytes larger than itself (the STUN Binding allowance, the XOR-MAPPED-ADDRESS
/// and the classic RFC 3489 attributes a Binding answer carries), for every kind of request it
/// takes, each at its smallest (a bare header, where an attacker gains most) and with FINGERPRINT.
/// Over UDP a source address can be forged, so this is what bounds a reflection attack; the
/// rendezvous runs over TCP, where it cannot, and is held to the same bound anyway.
/// </summary>
public sealed class AmplificationTests
{
    private const int Allowance = 84;
    private static readonly IPEndPoint ServerAddress = IPEndPoint.Parse("198.51.100.1:3478");

    public static TheoryData<StunMethod, bool> TurnRequests => new()
    {
        { StunMethod.Allocate, false }, { StunMethod.Allocate, true },
        { StunMethod.Refresh, false }, { StunMethod.Refresh, true },
        { StunMethod.CreatePermission, false }, { StunMethod.CreatePermission, true },
        { StunMethod.ChannelBind, false }, { StunMethod.ChannelBind, true },
        { (StunMethod)0x00A, false }, { (StunMethod)0x00A, true }, // a method the relay does not have
    };

    [Theory]
    [MemberData(nameof(TurnRequests))]
    public void AnUnauthenticatedTurnRequestGetsAtMostTheAllowanceMore(StunMethod method, bool fingerprint)
    {
        var environment = new FakeTurnEnvironment();
        var core = new TurnCore(new TurnOptions { Secret = "s" }, environment, random: new Random(1));
        byte[] request = Request(method, StunClass.Request, fingerprint);

        core.HandleFromClient(TurnClient.Create(IPEndPoint.Parse("192.0.2.9:4000"), ServerAddress, TurnClientTransport.Udp), request, DateTimeOffset.UnixEpoch);

        byte[] answer = environment.TakeLast();
        answer.Length.ShouldBeLessThanOrEqualTo(request.Length + Allowance, $"{method} of {request.Length} bytes got {answer.Length}");
    }

    [Theory]
    [InlineData(StunMethod.Send)]
    [InlineData(StunMethod.Data)]
    public void AnIndicationOrChannelDataWithoutAnAllocationGetsNothing(StunMethod method)
    {
        var environment = new FakeTurnEnvironment();
        var core = new TurnCore(new TurnOptions { Secret = "s" }, environment, random: new Random(1));
        var client = TurnClient.Create(IPEndPoint.Parse("192.0.2.9:4000"), ServerAddress, TurnClientTransport.Udp);

        core.HandleFromClient(client, Request(method, StunClass.Indication, fingerprint: false), DateTimeOffset.UnixEpoch);
        core.HandleFromClient(client, [0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4], DateTimeOffset.UnixEpoch);

        environment.ToClients.ShouldBeEmpty();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ABindingRequestGetsAtMostTheAllowanceMore(bool fingerprint)
    {
        var responder = new StunBindingResponder(new ServerAddressSet(ServerAddress, null));
        byte[] request = Request(StunMethod.Binding, StunClass.Request, fingerprint);
        byte[] response = new byte[StunBindingResponder.MaxResponseLength(request.Length)];

        StunResponse outcome = responder.Respond(request, IPAddress.Parse("192.0.2.9").GetAddressBytes(), 4000, 0, overTcp: false, response);

        outcome.HasResponse.ShouldBeTrue();
        outcome.Length.ShouldBeLessThanOrEqualTo(request.Length + Allowance);
    }

    public static TheoryData<RendezvousMessage> RendezvousRequests => new()
    {
        new PingMessage(1),
        new ConnectMessage("b", 0, new PeerOffer("u", "p", [])),
        new UpdateOfferMessage(new PeerOffer("u", "p", [])),
        new CandidateMessage("s", new CandidateInfo("host", "1.2.3.4:5", 1, "f")),
        new RestartMessage("s", new PeerOffer("u", "p", [])),
        new SealedSignalMessage("s", "x"),
        new ResumeMessage("s", "b"),
        new ResumeKeyMessage("s", "a"),
        new RegisterMessage("x", "wrong", null, null, null),
        new RegisterMessage("bad name!", null, null, null, null),
        new PongMessage(1),
        new PeerGoneMessage("s", "b", "r"), // one a client does not send
    };

    [Theory]
    [MemberData(nameof(RendezvousRequests))]
    public void AnUnregisteredRendezvousClientGetsAtMostTheAllowanceMore(RendezvousMessage message)
    {
        var directory = new RendezvousDirectory(RendezvousOptions.Default with { Token = "t" });
        directory.Connected(1, IPEndPoint.Parse("192.0.2.9:4000"), TimeSpan.Zero);
        int request = RendezvousCodec.Encode(message).Length;

        directory.Received(1, message, TimeSpan.Zero);

        int answered = 0;
        while (directory.TryPollOutput(out RendezvousOutput output))
        {
            answered += output.Message is null ? 0 : RendezvousCodec.Encode(output.Message).Length;
        }
        answered.ShouldBeLessThanOrEqualTo(request + Allowance, $"{message.GetType().Name} of {request} bytes got {answered}");
    }

    private static byte[] Request(StunMethod method, StunClass kind, bool fingerprint)
    {
        byte[] buffer = new byte[64];
        var builder = new StunMessageBuilder(buffer, new StunMessageType(method, kind), TransactionId.NewRandom());
        if (fingerprint)
        {
            builder.AddFingerprint();
        }
        return builder.Written.ToArray();
    }
}
